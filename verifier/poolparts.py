"""The subject pool read in parts (docs/SPEC.md §D12.1): commitment, counts and tickets, one part at a time.

Why: a province's pool (20 million subjects) as one JSON list is ~1.9 GB and one object per
record (~17 GiB); the check of its draw must stay within a few GiB. A part is the leaves of 2^p
consecutive records, `JCS(record)` and a line feed each, so its bytes are hashed as they are
(no re-encoding). A full part is a complete, aligned subtree of the pool's RFC 9162 tree: the
part roots fold, level by level, to the root of the whole (the argument of
:func:`verifier.merkle.root_by_levels`).

Each part is scanned once (in a forked child, one per core, see :mod:`verifier.forking`): its
SHA-256, its lines (each must be the JCS of a record with a non-empty string id and a string
stratum), its ids strictly increasing, its subtree root, its counts per stratum, which of a few
wanted ids it holds (the excluded subjects: the pool and the exclusions must be disjoint), and
the tickets (§D6) below each stratum's cut. What stays here is per part a few numbers and the
kept tickets: per stratum at most ``need`` = k + (subject substitutions) after each prune.

The cut is a heuristic only (from the committed counts), never the result: a stratum for which
fewer than needed tickets were kept is read again, every ticket of it kept (bounded by ``need``
per part), so the selection is exactly the k smallest of the records read.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import operator
import pickle
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from .fastjcs import jcs_bytes
from .forking import run_split, workers
from .merkle import root_by_levels
from .recipe import TAGS
from .tickets import Selection, _threshold

__all__ = ["ENCODING", "MAX_PART_SIZE", "PartsSelection", "PoolParts", "check_description", "scan_part",
           "stream_pool"]

ENCODING = "spotcheck-pool-part/1"
MAX_PART_SIZE = 1 << 22  # a reader holds one part (and one per core): a bound it can promise

Key = tuple[bytes, bytes]
_ALL = b"\xff" * 33
_HEX64 = re.compile(r"[0-9a-f]{64}")
# A subject record JCS writes as this template: three members in JCS order, values written verbatim
# (no quote, backslash or control character). A line that is not one takes the general reader.
_FLAT = re.compile(rb'^\{"id":"([^"\\\x00-\x1f]+)","name":"[^"\\\x00-\x1f]*","stratum":"([^"\\\x00-\x1f]*)"\}$',
                   re.M)

#: read(n) -> the bytes of part n (a file of the bundle directory, or the server's response)
Reader = Callable[[int], bytes]


def check_description(desc: Any) -> str | None:
    """Why a `pool_parts.subjects` description is malformed (None if it is well formed)."""
    if not isinstance(desc, dict) or desc.get("encoding") != ENCODING:
        return f"pool_parts.subjects must be {{encoding: {ENCODING!r}, part_size, parts}}"
    size = desc.get("part_size")
    if type(size) is not int or size < 1 or size & (size - 1) or size > MAX_PART_SIZE:
        return f"part_size must be a power of two from 1 to {MAX_PART_SIZE}"
    parts = desc.get("parts")
    if not isinstance(parts, list):
        return "parts must be a list"
    for n, p in enumerate(parts):
        if not isinstance(p, dict) or type(p.get("records")) is not int or not isinstance(p.get("sha256"), str) \
                or not _HEX64.fullmatch(p["sha256"]):
            return f"parts[{n}] must be {{records: integer, sha256: 64 lowercase hex}}"
        last = n == len(parts) - 1
        if not (1 <= p["records"] <= size) or (not last and p["records"] != size):
            return (f"parts[{n}] holds {p['records']} records: every part but the last holds part_size "
                    f"({size}), the last 1 to part_size")
    return None


def _general(line: bytes) -> tuple[bytes, bytes] | str:
    """(id bytes, stratum bytes) of a line that is JCS(record), else why not."""
    try:
        rec = json.loads(line)
    except ValueError:
        return "not a JSON record"
    if not isinstance(rec, dict) or not isinstance(rec.get("id"), str) or not rec["id"] \
            or not isinstance(rec.get("stratum"), str):
        return "a record without a non-empty string id and a string stratum"
    try:
        canon = jcs_bytes(rec)
    except ValueError:
        return "a record with no JCS form"
    if canon != line:
        return "not the JCS form of its record (a leaf is JCS(record), §D4)"
    return rec["id"].encode("utf-8"), rec["stratum"].encode("utf-8")


#: a part is scanned in blocks of whole lines of about this many bytes: what is alive at once is the
#: part's bytes, its leaf hashes and one block's records (not a million of each)
BLOCK_BYTES = 8 << 20


def _blocks(data: bytes) -> list[tuple[int, int]]:
    """[start, end) of consecutive blocks of whole lines (each ends after a line feed, but the last)."""
    out, pos, n = [], 0, len(data)
    while pos < n:
        end = data.find(b"\n", pos + BLOCK_BYTES - 1) if pos + BLOCK_BYTES < n else -1
        end = n if end < 0 else end + 1
        out.append((pos, end))
        pos = end
    return out


def _columns(block: bytes, lines: list[bytes], first: int, problem: list[str]) -> tuple[list[bytes], list[bytes]]:
    """(ids, strata) of a block's lines; a line that is not a subject record's JCS is named in ``problem``."""
    flat = _FLAT.findall(block)
    if len(flat) == len(lines):  # each match is one whole line, so every line is a flat record
        return [i for i, _ in flat], [s for _, s in flat]
    ids, strata = [], []
    for j, line in enumerate(lines):
        got = _general(line)
        if isinstance(got, str):
            problem.append(f"record {first + j}: {got}")
            continue
        ids.append(got[0])
        strata.append(got[1])
    return ids, strata


def scan_part(data: bytes, seed: bytes | None, thr: dict[bytes, bytes], wanted: frozenset[bytes]) -> dict[str, Any]:
    """Everything the check needs of one part, from its bytes (pure: run in a child)."""
    problem: list[str] = []
    if data and not data.endswith(b"\n"):
        problem.append("the part does not end with a line feed")
    sha256 = hashlib.sha256
    leaves: list[bytes] = []
    counts: Counter[bytes] = Counter()
    found: dict[bytes, bytes] = {}
    kept: list[tuple[bytes, bytes, bytes]] = []
    first: bytes | None = None
    prev: bytes | None = None
    base = sha256(TAGS["subject"] + b"\x00" + seed) if seed is not None else None
    for a, b in _blocks(data):
        block = data[a:b]
        try:
            block.decode("utf-8")  # a block ends at a line feed: no character is cut
        except UnicodeDecodeError as exc:
            problem.append(f"not UTF-8 at byte {a + exc.start}")
        lines = block.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        ids, strata = _columns(block, lines, len(leaves), problem)
        if ids:
            if prev is not None and not prev < ids[0]:
                what = "appears twice" if prev == ids[0] else "is out of id byte order"
                problem.append(f"record {len(leaves)}: id {ids[0].decode('utf-8', 'replace')} {what}")
            if not all(map(operator.lt, ids, islice(ids, 1, None))):
                j = next(j for j in range(1, len(ids)) if not ids[j - 1] < ids[j])
                what = "appears twice" if ids[j - 1] == ids[j] else "is out of id byte order"
                problem.append(f"record {len(leaves) + j}: id {ids[j].decode('utf-8', 'replace')} {what}")
            first = ids[0] if first is None else first
            prev = ids[-1]
        leaves += [sha256(b"\x00" + line).digest() for line in lines]
        del lines, block
        counts.update(strata)
        if wanted:
            found.update((i, s) for i, s in zip(ids, strata, strict=True) if i in wanted)
        if base is not None:
            copy, keep, get = base.copy, kept.append, thr.get
            for i, s in zip(ids, strata, strict=True):
                h = copy()
                h.update(i)
                d = h.digest()
                if d < get(s, _ALL):
                    keep((d, i, s))
    return {"sha256": sha256(data).hexdigest(), "problem": problem[0] if problem else None, "records": len(leaves),
            "first": first, "last": prev, "root": root_by_levels(leaves), "counts": dict(counts), "found": found,
            "kept": kept}


@dataclass
class PoolParts:
    """What the parts showed: the commitment recomputed, the problems found, the kept tickets."""

    size: int = 0
    root: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[str, str, str, Any, Any]] = field(default_factory=list)  # (code, where, msg, want, got)
    kept: dict[str, list[Key]] = field(default_factory=dict)  # per stratum, ascending, at most `need`
    found: dict[str, str] = field(default_factory=dict)  # the wanted ids that are in the pool: their stratum
    parts: int = 0

    def commitment(self) -> dict[str, Any]:
        return {"kind": "subjects", "size": self.size, "root": self.root, "counts": self.counts}


def _prune(keys: list[Key], need: int) -> list[Key]:
    """The ``need`` smallest, ascending."""
    return heapq.nsmallest(need, keys) if need < len(keys) else sorted(keys)


def _scan_all(desc: dict[str, Any], read: Reader, seed: bytes | None, thr: dict[bytes, bytes],
              wanted: frozenset[bytes], need: dict[bytes, int], extra: int,
              take: Callable[[int, dict[str, Any] | str], None]) -> None:
    """Scan every part, ``workers()`` at a time (one here, the others in forked children)."""
    n_parts = len(desc["parts"])
    width = max(1, workers())

    def task(n: int) -> Callable[[], bytes]:
        def run() -> bytes:
            try:
                data = read(n)
            except Exception as exc:  # noqa: BLE001 - any failure to read is a missing part, named
                return pickle.dumps(f"{type(exc).__name__}: {exc}")
            r = scan_part(data, seed, thr, wanted)
            del data
            # prune in the child too: a part keeps at most `need` per stratum
            by: dict[bytes, list[Key]] = {}
            for d, i, s in r["kept"]:
                by.setdefault(s, []).append((d, i))
            r["kept"] = {s: _prune(v, need.get(s, extra)) for s, v in by.items()}
            return pickle.dumps(r)
        return run
    for lo in range(0, n_parts, width):
        batch = list(range(lo, min(n_parts, lo + width)))
        for n, raw in zip(batch, run_split([task(n) for n in batch]), strict=True):
            take(n, pickle.loads(raw))


def stream_pool(desc: dict[str, Any], read: Reader, seed: bytes | None, sizes: dict[str, int] | None,
                expect: dict[str, Any] | None, extra: int, wanted: set[str]) -> PoolParts:
    """Read a well-formed description's parts (check_description first) and recompute the pool.

    ``sizes``: k per stratum (§D5, from the committed counts); ``extra``: how many beyond k each
    stratum must keep (the subject substitutions' replacement order); ``expect``: the committed
    counts, for the cut only; ``wanted``: ids whose membership is asked (the excluded)."""
    res = PoolParts(parts=len(desc["parts"]))
    size = desc["part_size"]
    need = {s.encode("utf-8"): max(0, k) + extra for s, k in (sizes or {}).items() if type(k) is int}
    thr = {s.encode("utf-8"): _threshold(c, need.get(s.encode("utf-8"), extra)) for s, c in (expect or {}).items()
           if isinstance(s, str) and type(c) is int and c > 0}
    wanted_b = frozenset(w.encode("utf-8") for w in wanted)
    roots: list[bytes] = []
    counts: Counter[bytes] = Counter()
    kept: dict[bytes, list[Key]] = {}
    prev_last: list[bytes | None] = [None]

    def take(n: int, r: dict[str, Any] | str) -> None:
        where = f"pool_parts/subjects/parts/{n}"
        if isinstance(r, str):
            res.problems.append(("POOL_PART_MISMATCH", where, f"part {n} could not be read: {r}", None, None))
            roots.append(b"")
            return
        d = desc["parts"][n]
        if r["sha256"] != d["sha256"] or r["records"] != d["records"]:
            res.problems.append(("POOL_PART_MISMATCH", where, "the part's bytes are not the ones the bundle "
                                 "describes (SHA-256 or record count)", {k: d[k] for k in ("records", "sha256")},
                                 {k: r[k] for k in ("records", "sha256")}))
        if r["records"] > size or (n < res.parts - 1 and r["records"] != size) or r["records"] == 0:
            res.problems.append(("POOL_PARTS_INVALID", where, f"part {n} holds {r['records']} records: every part "
                                 f"but the last holds part_size ({size}), the last 1 to part_size", size,
                                 r["records"]))
        if r["problem"]:
            res.problems.append(("POOL_INVALID", where, r["problem"], None, None))
        if r["first"] is not None and prev_last[0] is not None and not prev_last[0] < r["first"]:
            res.problems.append(("POOL_INVALID", where, "the part's first id is not above the previous part's "
                                 "last (records sorted by id bytes, no id twice)",
                                 prev_last[0].decode("utf-8", "replace"), r["first"].decode("utf-8", "replace")))
        if r["last"] is not None:
            prev_last[0] = r["last"]
        roots.append(r["root"])
        res.size += r["records"]
        counts.update(r["counts"])
        res.found.update((x.decode("utf-8", "replace"), s.decode("utf-8", "replace")) for x, s in r["found"].items())
        for s, keys in r["kept"].items():
            cur = kept.setdefault(s, [])
            cur += keys
            k = need.get(s, extra)
            if len(cur) > 2 * k + 1024:
                kept[s] = _prune(cur, k)

    _scan_all(desc, read, seed, thr, wanted_b, need, extra, take)
    if any(not r for r in roots):
        res.root = ""
    else:
        res.root = root_by_levels(roots).hex()
    if seed is not None:
        short = [s for s, c in counts.items() if len(kept.get(s, [])) < min(need.get(s, extra), c)]
        if short:  # the cut kept too few (never expected): those strata again, every ticket kept
            again = {s: _ALL for s in short}
            redo: dict[bytes, list[Key]] = {s: [] for s in short}

            def take_again(n: int, r: dict[str, Any] | str) -> None:
                if isinstance(r, str):
                    return
                for s, keys in r["kept"].items():
                    if s in redo:
                        redo[s] = _prune(redo[s] + keys, need.get(s, extra))
            _scan_all(desc, read, seed, {**{s: b"" for s in counts}, **again}, frozenset(), need, extra, take_again)
            kept.update(redo)
    res.counts = {s.decode("utf-8", "replace"): c for s, c in counts.items()}
    res.kept = {s.decode("utf-8", "replace"): _prune(v, need.get(s, extra)) for s, v in kept.items()}
    return res


class PartsSelection(Selection):
    """The selection (§D6) from the kept tickets of a pool read in parts: the k smallest per stratum
    are selected, the kept ones after them begin the replacement order (as far as substitutions need)."""

    def __init__(self, seed: bytes, kept: dict[str, list[Key]], counts: dict[str, int],
                 sizes: dict[str, int]) -> None:
        self.seed = seed
        self.records = []
        self.counts = dict(counts)
        self._members = {}
        self.selected = {}
        self._rest: dict[str, list[Key]] = {}
        for s in self.counts:
            keys = kept.get(s, [])
            k = sizes.get(s, 0)
            self.selected[s] = [] if k <= 0 else keys[:k]
            self._rest[s] = keys[max(0, k):]

    def members_of(self, stratum: Any) -> list[Key]:
        """Only the kept tickets are known (the pool was read in parts)."""
        return list(self.selected.get(stratum, [])) + list(self._rest.get(stratum, []))

    def replacement_order(self, stratum: str) -> list[str]:
        """The beginning of the replacement order: every place a substitution of this draw can reach."""
        return [i.decode("utf-8") for _, i in self._rest.get(stratum, [])]

    def strata_of_kept(self) -> dict[str, str]:
        """{id: stratum} of every kept subject (a substitution's leaving subject is one of them)."""
        return {i.decode("utf-8"): s for s in self.counts
                for _, i in self.selected.get(s, []) + self._rest.get(s, [])}
