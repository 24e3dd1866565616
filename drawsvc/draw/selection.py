"""Stratified selection: per stratum, the k subjects with the lowest tickets.

The rest of a stratum, in ticket order, is its replacement order (used when a drawn subject
turns out to be out of scope). Selection is heapq.nsmallest over (ticket, id) pairs; since
tickets are uniform, the pairs are first cut to those below a threshold a few standard deviations
above the k-th expected ticket (exact, not probabilistic: everything cut is above everything
kept, and if fewer than k pass the whole stratum is used). The full replacement order is only
sorted when asked for. The matching order of the selected
subjects is all strata together in (ticket, id) order, so no stratum is favoured in the
workload-capped inspector matching.
"""

from __future__ import annotations

import heapq
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from typing import Any

import orjson

from drawsvc.i18n import tr

from . import accel
from .codec import TAG_SUBJECT_TICKET, tag_prefix
from .errors import DrawError, EmptyPool, SampleTooLarge
from .parallel import MIN_PARALLEL, Pending, ranges, run_split, workers
from .tickets import subject_ticket, subject_tickets

Ticketed = tuple[bytes, str]  # (ticket, subject id)
_U32 = struct.Struct(">I")


@dataclass
class StratumDraw:
    """One stratum's draw: n members, the k selected in ticket order, and the cutoff."""

    stratum: str
    n: int
    k: int
    selected: list[Ticketed]
    _ids: Sequence[str] = field(repr=False, default=())
    _tickets: Sequence[bytes] = field(repr=False, default=())
    _seed: bytes = field(repr=False, default=b"")  # to re-hash _tickets when they were not kept

    @property
    def cutoff(self) -> Ticketed | None:
        """The largest selected (ticket, id): a subject is drawn iff (ticket, id) <= cutoff."""
        return self.selected[-1] if self.selected else None

    def replacement_order(self, count: int | None = None) -> list[Ticketed]:
        """The unselected members in ticket order (the first `count` of them if given).

        A large stratum drawn on several cores keeps only the tickets below its cut; its
        replacement order is then re-hashed from the seed (substitutions are rare)."""
        tickets = self._tickets
        if len(tickets) != len(self._ids):
            tickets = subject_tickets(self._seed, self._ids)
        pairs = zip(tickets, self._ids, strict=True)
        ordered = sorted(pairs) if count is None else heapq.nsmallest(self.k + count, pairs)
        return ordered[self.k:]


@dataclass
class Selection:
    """The subjects drawn from every stratum."""

    strata: dict[str, StratumDraw]

    @property
    def matching_order(self) -> list[str]:
        """Every selected subject, all strata merged, in (ticket, id) order."""
        return [sid for _, sid in sorted(p for d in self.strata.values() for p in d.selected)]

    def to_json(self) -> dict[str, Any]:
        return {
            s: {"n": d.n, "k": d.k, "selected": [{"id": sid, "ticket": t.hex()} for t, sid in d.selected]}
            for s, d in sorted(self.strata.items())
        }


def _threshold(n: int, k: int) -> bytes | None:
    """An 8-byte prefix T such that, for uniform tickets, more than k of n fall below T with
    overwhelming probability (about 8 standard deviations plus 64 of margin); None = keep all."""
    q = (k + 8 * math.sqrt(k * (1 - k / n)) + 64) / n
    if q >= 0.5:
        return None  # the cut would save little
    return int(q * 2**64).to_bytes(8, "big")


def _below_part(seed: bytes, jobs: Sequence[tuple[Sequence[str], int, int, bytes]]) -> Callable[[], bytes]:
    """A task over (ids, lo, hi, cut) jobs: for each, the (ticket || u32 index) of the members in
    [lo, hi) whose ticket is below the cut, as one length-prefixed blob per job."""
    def task() -> bytes:
        out = []
        for ids, lo, hi, t in jobs:
            tickets = subject_tickets(seed, ids[lo:hi])
            blob = b"".join([tk + _U32.pack(i) for i, tk in enumerate(tickets, lo) if tk < t])
            out += [_U32.pack(len(blob)), blob]
        return b"".join(out)
    return task


def _below_threshold(seed: bytes, strata: Sequence[tuple[Sequence[str], bytes]]) -> list[list[Ticketed]]:
    """For each (ids, cut): (ticket, id) of every member whose ticket is below the cut.

    One split over every stratum at once (one fork per core, not per stratum), each process
    taking its share of each; only these few (about k per stratum) come back, not a million
    tickets."""
    parts = workers()
    slices = [ranges(len(ids), parts) for ids, _ in strata]
    tasks = [_below_part(seed, [(ids, *sl[p], t) for (ids, t), sl in zip(strata, slices, strict=True) if p < len(sl)])
             for p in range(parts)]
    found: list[list[Ticketed]] = [[] for _ in strata]
    for p, blob in enumerate(run_split(tasks)):
        pos = 0
        for j, ((ids, _), sl) in enumerate(zip(strata, slices, strict=True)):
            if p >= len(sl):
                continue
            (size,) = _U32.unpack_from(blob, pos)
            pos += 4
            found[j] += [(blob[q:q + 32], ids[_U32.unpack_from(blob, q + 32)[0]]) for q in range(pos, pos + size, 36)]
            pos += size
    return found


def select_stratum(seed: bytes, stratum: str, ids: Sequence[str], k: int) -> StratumDraw:
    """The k lowest (ticket, id) pairs of one stratum."""
    if k < 0:
        raise DrawError(f"stratum {stratum}: k must not be negative")
    if k > len(ids):
        raise SampleTooLarge(tr("第 %(stratum)s 层要抽取 %(k)s 户，但只有 %(n)s 户", stratum=stratum, k=k, n=len(ids)))
    t = _threshold(len(ids), k) if k else None
    tickets = subject_tickets(seed, ids)
    selected: list[Ticketed] = []
    if k:
        below: list[Ticketed] | None = None
        if t is not None:
            # every ticket >= t is above every ticket < t, so the k lowest are among those < t
            below = list(compress(zip(tickets, ids, strict=True), map(t.__gt__, tickets)))  # ticket < t
            if len(below) < k:
                below = None  # (never seen) too few below the cut: use the whole stratum
        selected = heapq.nsmallest(k, zip(tickets, ids, strict=True) if below is None else below)
    return StratumDraw(stratum=stratum, n=len(ids), k=k, selected=selected, _ids=ids, _tickets=tickets)


def draw_subjects(seed: bytes, strata: Mapping[str, Sequence[str]], sizes: Mapping[str, int]) -> Selection:
    """Select sizes[s] subjects from each stratum s (ids must be unique across the pool)."""
    if sum(len(v) for v in strata.values()) == 0:
        raise EmptyPool(tr("检查对象名录为空，无可抽取的对象"))
    unknown = sorted(set(sizes) - set(strata))
    if any(sizes[s] for s in unknown):
        raise SampleTooLarge(tr("这些层没有检查对象，却给出了抽取数：%(strata)s", strata="、".join(unknown)))
    draws: dict[str, StratumDraw] = {}
    # large strata: the tickets below each one's cut, hashed on every core in one split
    cut = {s: _threshold(len(ids), sizes[s]) for s, ids in strata.items() if 0 < sizes.get(s, 0) <= len(ids)}
    big = [s for s, ids in sorted(strata.items()) if cut.get(s) is not None and len(ids) < 2**32]
    if big and sum(len(strata[s]) for s in big) >= MIN_PARALLEL and workers() > 1:
        for s, below in zip(big, _below_threshold(seed, [(strata[s], cut[s]) for s in big]), strict=True):  # type: ignore[misc]
            if len(below) >= sizes[s]:  # (never seen otherwise) else the whole stratum, below
                draws[s] = StratumDraw(stratum=s, n=len(strata[s]), k=sizes[s], selected=heapq.nsmallest(sizes[s], below),
                                       _ids=strata[s], _seed=seed)
    for s, ids in sorted(strata.items()):
        if s not in draws:
            draws[s] = select_stratum(seed, s, ids, sizes.get(s, 0))
    return Selection(dict(sorted(draws.items())))


@dataclass(frozen=True)
class Verdict:
    """Answer to "would this subject have been drawn?"."""

    subject: str
    ticket: bytes
    stratum: str
    cutoff_ticket: bytes | None
    cutoff_id: str | None
    drawn: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject, "stratum": self.stratum, "ticket": self.ticket.hex(),
            "cutoff_ticket": self.cutoff_ticket.hex() if self.cutoff_ticket else None,
            "cutoff_id": self.cutoff_id, "drawn": self.drawn,
        }


def would_be_drawn(seed: bytes, subject_id: str, stratum: str, cutoff: Ticketed | None) -> Verdict:
    """Would `subject_id`, placed in `stratum`, be among the drawn (with the draw's k)?

    True iff (ticket, id) <= the stratum's cutoff. For a pool member this is exactly whether it
    was selected; for a subject removed before the draw it says whether it would have taken a
    place (it would then have pushed the cutoff subject out). Needs only the seed and the
    published cutoff, so a company can check its own draw alone.
    """
    t = subject_ticket(seed, subject_id)
    drawn = cutoff is not None and (t, subject_id) <= cutoff
    return Verdict(subject_id, t, stratum, cutoff[0] if cutoff else None, cutoff[1] if cutoff else None, drawn)


def removed_report(seed: bytes, removed: Sequence[Mapping[str, Any]], selection: Selection) -> list[Verdict]:
    """For every excluded record {id, stratum, reason}: would it have been drawn?"""
    out = []
    for rec in removed:
        d = selection.strata.get(rec.get("stratum", ""))
        out.append(would_be_drawn(seed, rec["id"], rec.get("stratum", ""), d.cutoff if d else None))
    return out


class StreamSelection:
    """draw_subjects over a pool that arrives one part at a time (the stratum counts known ahead).

    Why: a 20-million-subject pool grouped by stratum is ~20 million Python strings. Streamed,
    each part's tickets are hashed on every core and only those below each stratum's cut
    (`_threshold`, from the committed counts and the sizes) are kept, so what is held is about k
    per stratum. The selection is exactly draw_subjects': heapq.nsmallest over (ticket, id) of
    every member below the cut, and the cut keeps more than k with overwhelming probability;
    `finish` returns None if it ever did not (the caller then draws the whole pool at once)."""

    def __init__(self, seed: bytes, counts: Mapping[str, int], sizes: Mapping[str, int]) -> None:
        if sum(counts.values()) == 0:
            raise EmptyPool("the target pool is empty: nothing to draw")
        unknown = sorted(set(sizes) - set(counts))
        if any(sizes[s] for s in unknown):
            raise SampleTooLarge(f"sizes given for strata with no members: {unknown}")
        for s, n in counts.items():
            if sizes.get(s, 0) > n:
                raise SampleTooLarge(f"stratum {s}: k = {sizes[s]} but only {n} subjects")
        self.seed = seed
        self.counts = dict(counts)
        self.sizes = {s: sizes.get(s, 0) for s in counts}
        # a cut above every ticket (33 bytes > any 32) where the threshold would save little
        self.cut = {s: _threshold(n, k) or b"\xff" * 33 for s, n in counts.items() if (k := self.sizes[s]) > 0}
        self.seen: dict[str, int] = dict.fromkeys(counts, 0)
        self.kept: dict[str, list[Ticketed]] = {s: [] for s in counts}
        self.pending: list[tuple[tuple[Sequence[str], list[str]], Pending]] = []

    def add(self, ids: Sequence[str] | str | bytes, strata: Sequence[str]) -> None:
        """One part: its ids (a list, or the stored JSON array of them, which the child that
        hashes the part parses: the reading process then only reads) and its strata."""
        raw = isinstance(ids, str | bytes)
        if raw and (not self.cut or len(strata) < MIN_PARALLEL or workers() <= 1):
            ids = orjson.loads(ids)  # nothing to hash in a child: parse here
            raw = False
        if not raw and len(ids) != len(strata):
            raise DrawError("a part needs as many strata as ids")
        for st in set(strata):  # str.count / list.count: C-level passes
            if st not in self.seen:
                raise DrawError(f"stratum {st} is not among the committed counts")
            self.seen[st] += strata.count(st)
        if not strata or not self.cut:
            return
        names = sorted(self.cut)
        cuts = [self.cut[n] for n in names]
        if raw:
            task = _json_part_below(self.seed, ids, strata, names, cuts)  # type: ignore[arg-type]
        else:
            task = _part_below(self.seed, ids, strata, names, cuts)
        if len(strata) >= MIN_PARALLEL and workers() > 1 and len(names) < 256 and len(strata) < 2**32:
            # this part's tickets in a child while this process reads the next; two in flight at most
            if len(self.pending) >= 2:
                self._collect(*self.pending.pop(0))
            self.pending.append(((None if raw else ids, names), Pending(task)))  # type: ignore[arg-type]
            return
        self._collect((ids, names), task())  # type: ignore[arg-type]

    def _collect(self, part: tuple[Sequence[str] | None, list[str]], pending: Pending | bytes) -> None:
        ids, names = part
        blob = pending.result() if isinstance(pending, Pending) else pending
        kept = [self.kept[n] for n in names]
        if ids is None:  # a part given as JSON: the child sent back the kept ids
            if blob[:1] != b"\x00":
                raise DrawError("a part needs as many strata as ids")
            (size,) = _U32.unpack_from(blob, 1)
            found = orjson.loads(memoryview(blob)[5 + size:])
            for r, q in enumerate(range(5, 5 + size, 37)):
                kept[blob[q]].append((blob[q + 1:q + 33], found[r]))
            return
        unpack = _U32.unpack_from
        for q in range(0, len(blob), 37):
            kept[blob[q]].append((blob[q + 1:q + 33], ids[unpack(blob, q + 33)[0]]))

    def cancel(self) -> None:
        for _, p in self.pending:
            p.cancel()
        self.pending = []

    def finish(self) -> Selection | None:
        while self.pending:
            self._collect(*self.pending.pop(0))
        if self.seen != self.counts:
            raise DrawError(f"the streamed pool's counts {self.seen} are not the committed {self.counts}")
        draws = {}
        for s in sorted(self.counts):
            k, kept = self.sizes[s], self.kept[s]
            if len(kept) < k:
                return None  # (never seen) too few below a cut
            # what is kept is k and a few: sorting it whole (C, in place) is heapq.nsmallest's
            # answer (the pairs are distinct) at a fraction of its cost for k near the length.
            # By the ticket alone, stably: the parts come in id order, so members of equal
            # tickets (never seen: SHA-256) stay in id order, as (ticket, id) orders them, and
            # each comparison is one bytes comparison, not a tuple's two
            kept.sort(key=itemgetter(0))
            draws[s] = StratumDraw(stratum=s, n=self.counts[s], k=k, selected=kept[:k], _seed=self.seed)
        return Selection(draws)


def _json_part_below(seed: bytes, ids_json: str | bytes, strata: Sequence[str], names: list[str],
                     cuts: list[bytes]) -> Callable[[], bytes]:
    """_part_below over a part whose ids are a JSON array (parsed in the child): 0x00 ||
    u32(size) || _part_below's records || the JSON array of their ids, in the same order; or
    0x01 when the part's ids and strata are not as many."""
    def task() -> bytes:
        ids = orjson.loads(ids_json)
        if not isinstance(ids, list) or len(ids) != len(strata):
            return b"\x01"
        blob = _part_below(seed, ids, strata, names, cuts)()
        found = [ids[_U32.unpack_from(blob, q + 33)[0]] for q in range(0, len(blob), 37)]
        return b"\x00" + _U32.pack(len(blob)) + blob + orjson.dumps(found)
    return task


def _part_below(seed: bytes, ids: Sequence[str], strata: Sequence[str], names: list[str],
                cuts: list[bytes]) -> Callable[[], bytes]:
    """A task: for every member of the part whose stratum has a cut and whose ticket is below it,
    u8(stratum's place in `names`) || ticket || u32(index in the part)."""
    def task() -> bytes:
        fast = accel.FAST
        if fast is not None and len(seed) == 32 and all(len(n) == 1 for n in names):
            blob = fast.tickets_below(tag_prefix(TAG_SUBJECT_TICKET) + seed, ids if isinstance(ids, list) else list(ids),
                                      strata if isinstance(strata, str | list) else list(strata), "".join(names), cuts)
            if blob is not None:
                return blob
        where = {n: (bytes([j]), c) for j, (n, c) in enumerate(zip(names, cuts, strict=True))}
        out = []
        for i, (t, st) in enumerate(zip(subject_tickets(seed, ids), strata, strict=True)):
            w = where.get(st)
            if w is not None and t < w[1]:
                out.append(w[0] + t + _U32.pack(i))
        return b"".join(out)
    return task
