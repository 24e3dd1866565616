"""Commitments to the pools a draw uses: targets, eligible inspectors, excluded subjects.

A pool is a list of records (JSON objects with a string ``id``). Its commitment is
{kind, size, root, counts}: the RFC 9162 Merkle root over leaf = JCS(record) of the records
sorted by the UTF-8 bytes of their id, and the count per group (stratum, department or
exclusion reason). Sorting by id makes the root independent of registry order; the Merkle tree
lets one member (a company asking "was I in the pool?") be proved alone with an inclusion proof
of log2(n) hashes, without publishing the pool. See docs/SPEC.md §D4.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, islice
from typing import Any

from drawsvc.i18n import tr
from ledger.canonical import EncodingError, canonical_bytes
from ledger.merkle import (
    ProofError,
    inclusion_plan,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_inclusion,
)

from . import accel
from .errors import PoolInvalid
from .parallel import MIN_PARALLEL, Pending, ranges, run_split, workers

GROUP_FIELD = {"subjects": "stratum", "inspectors": "department", "experts": "field", "excluded": "reason"}
EXCLUSION_REASONS = (
    "frequency_cap",  # already checked twice this year (002 五; 003 第十六条)
    "checked_by_other_unit",  # checked this year by another unit of the same department
    "exempt_trusted",  # trustworthy subject exempted from random checks (000 三(二))
    "out_of_scope",  # not in the item's object scope / directed-draw filter
    "deregistered",  # 注销 / 吊销 before the draw
    "not_operating",  # 歇业: cannot be found at its address
    "not_random_check",  # being checked this year outside the draw (complaint, referral: 003 第九条)
)


@dataclass(frozen=True)
class PoolCommitment:
    """What the prepared entry publishes about one pool."""

    kind: str
    size: int
    root: bytes
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "size": self.size, "root": self.root.hex(), "counts": dict(sorted(self.counts.items()))}


@dataclass(frozen=True)
class MemberProof:
    """One record's place in a committed pool."""

    record: Mapping[str, Any]
    index: int
    size: int
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {"record": dict(self.record), "index": self.index, "size": self.size, "proof": [p.hex() for p in self.proof]}


def _check_record(record: Mapping[str, Any], kind: str) -> bytes:
    group = GROUP_FIELD[kind]
    if not isinstance(record, Mapping):
        raise PoolInvalid(f"a {kind} record must be a JSON object")
    rid = record.get("id")
    if not isinstance(rid, str) or not rid:
        raise PoolInvalid(f"a {kind} record needs a non-empty string id: {record!r}")
    g = record.get(group)
    if not isinstance(g, str) or not g:
        raise PoolInvalid(f"{kind} record {rid} needs a non-empty string {group!r}")
    if kind == "excluded" and g not in EXCLUSION_REASONS:
        raise PoolInvalid(f"excluded record {rid}: unknown reason {g!r} (known: {', '.join(EXCLUSION_REASONS)})")
    # flat records of strings (the subject pool) are exactly JCS under the stdlib encoder
    simple = all(type(v) is str for v in record.values()) and all(k.isascii() for k in record)
    try:
        return canonical_bytes(record if isinstance(record, dict) else dict(record), known_simple=simple)
    except EncodingError as exc:
        raise PoolInvalid(f"{kind} record {rid}: {exc}") from None


def canonical_leaves(records: Iterable[Mapping[str, Any]], kind: str) -> list[tuple[bytes, bytes, Mapping[str, Any]]]:
    """[(id UTF-8, JCS leaf, record)] sorted by id bytes; repeated ids are refused."""
    if kind not in GROUP_FIELD:
        raise PoolInvalid(f"unknown pool kind {kind!r}")
    rows = [(r["id"].encode("utf-8") if isinstance(r, Mapping) and isinstance(r.get("id"), str) else b"",
             _check_record(r, kind), r) for r in records]
    rows.sort(key=lambda row: row[0])
    for a, b in zip(rows, rows[1:], strict=False):
        if a[0] == b[0]:
            raise PoolInvalid(tr("编号 %(id)s 在名录池中出现两次", id=a[0].decode()))
    return rows


def commit_pool(records: Iterable[Mapping[str, Any]], kind: str = "subjects") -> PoolCommitment:
    """The commitment {kind, size, root, counts} to a pool (an empty pool has root SHA-256(''))."""
    rows = canonical_leaves(records, kind)
    group = GROUP_FIELD[kind]
    counts = Counter(r[group] for _, _, r in rows)
    root = root_from_leaf_hashes([leaf_hash(leaf) for _, leaf, _ in rows])
    return PoolCommitment(kind=kind, size=len(rows), root=root, counts=dict(counts))


@dataclass(frozen=True)
class SubjectPool:
    """The target pool as columns: record i is {id: ids[i], name: names[i], stratum: strata[i]}.

    A million-subject pool as a million dicts costs seconds to build, canonicalise, store and
    parse again; as three lists it costs a fraction of that. The order is the registry's; the
    commitment sorts by id itself, and the draw does not depend on the order.
    """

    ids: list[str]
    names: list[str]
    strata: list[str]

    def __post_init__(self) -> None:
        if not len(self.ids) == len(self.names) == len(self.strata):
            raise PoolInvalid("a subject pool needs as many names and strata as ids")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> SubjectPool:
        rows = list(records)
        for r in rows:
            _check_record(r, "subjects")
        return cls([r["id"] for r in rows], [r.get("name", "") for r in rows], [r["stratum"] for r in rows])

    def records(self) -> list[dict[str, str]]:
        return [{"id": i, "name": n, "stratum": s} for i, n, s in zip(self.ids, self.names, self.strata, strict=True)]

    def counts(self) -> dict[str, int]:
        return dict(Counter(self.strata))

    def by_stratum(self) -> dict[str, list[str]]:
        return group_by_stratum(self.ids, self.strata)


def group_by_stratum(ids: Sequence[str], strata: Sequence[str]) -> dict[str, list[str]]:
    """{stratum: ids in pool order}: one C-level pass over the column per stratum (`strata` may
    be the stored string of one-character strata)."""
    return {s: list(compress(ids, map(s.__eq__, strata))) for s in sorted(set(strata))}


# a string that JCS would escape (quote, backslash, control character) or cannot encode (surrogate)
_NEEDS_ESCAPE = re.compile("[\x00-\x1f\"\\\\\ud800-\udfff]")


def _subject_leaf_hashes(ids: Sequence[str], names: Sequence[str], strata: Sequence[str]) -> list[bytes]:
    """Leaf hashes SHA-256(0x00 || JCS({id, name, stratum})) of plain records.

    JCS of a record whose three values need no escaping is exactly this f-string: members in
    code-unit order (id < name < stratum), no whitespace, UTF-8 (the caller has checked)."""
    sha256 = hashlib.sha256
    return [sha256(f'\x00{{"id":"{i}","name":"{n}","stratum":"{s}"}}'.encode()).digest()
            for i, n, s in zip(ids, names, strata, strict=True)]


def _increasing(ids: Sequence[str]) -> bool:
    """The ids are strictly increasing (sorted, no repeats); TypeError if one is not a str.
    The C accelerator's loop where it is built (the Python one costs ~0.3 s a million)."""
    fast = accel.FAST
    if fast is not None and isinstance(ids, list):
        answer = fast.increasing(ids)
        if answer is not None:
            return bool(answer)
    if not all(type(i) is str for i in ids):
        raise TypeError("an id that is not a string")
    return all(map(operator.lt, ids, islice(ids, 1, None)))


def _plain_root(ids: list[str], names: list[str], strata: Sequence[str]) -> bytes | None:
    """MTH of the records (ids[i], names[i], strata[i]) in this order, or None when one is not
    plain (a value JCS escapes, an empty id or stratum, a non-string): the C accelerator's
    loop where it is built, else _subject_leaf_hashes folded by root_from_leaf_hashes (the
    same bytes: tests compare them)."""
    fast = accel.FAST
    if fast is not None:
        strata_arg = strata if isinstance(strata, str | list) else list(strata)
        root = fast.subject_root(ids, names, strata_arg)
        if root is not None:
            return root
        # not plain for the C loop: the Python check below decides (and says the same)
    if not _plain_columns(ids, names, strata):  # type: ignore[arg-type]
        return None
    return root_from_leaf_hashes(_subject_leaf_hashes(ids, names, strata))


def _chunk_plan(n: int, parts: int) -> tuple[int, list[int], list[tuple[int, int]]]:
    """Chunks of 2^j leaves (a few per part) and the contiguous groups of chunks each part takes.

    With chunks of 2^j leaves, the first floor(n / 2^j) chunks are complete subtrees of the
    RFC 9162 tree and the last one is MTH of the remainder; combining the chunk roots by the
    same rule (split at the largest power of two) gives MTH of the whole, because that split
    point is a multiple of 2^j whenever it is at least 2^j."""
    chunk = 1 << max(0, (n // (2 * parts)).bit_length() - 1)
    starts = list(range(0, n, chunk))
    return chunk, starts, ranges(len(starts), parts)


def _plain_columns(ids: list[str], names: list[str], strata: list[str]) -> bool:
    """All three columns are strings JCS writes verbatim (ids and strata non-empty)."""
    try:
        joined = ["\x7f".join(col) for col in (ids, names, strata)]  # TypeError unless all str
    except TypeError:
        return False
    return all(ids) and all(strata) and not any(_NEEDS_ESCAPE.search(j) for j in joined)


def commit_subjects(pool: SubjectPool) -> PoolCommitment:
    """commit_pool(pool.records(), "subjects"), computed from the columns on both cores.

    Same bytes, same root (a test compares them on random and adversarial pools); records
    with a value JCS must escape take the general path. A pool already in id order (the
    registry read in key order) skips the sort and hashes each chunk's leaves where its
    subtree is folded; otherwise one process sorts while the other hashes."""
    n = len(pool)
    ids, names, strata = pool.ids, pool.names, pool.strata
    if n < 2:
        return commit_pool(pool.records(), "subjects")
    parts = workers() if n >= MIN_PARALLEL else 1
    chunk, starts, groups = _chunk_plan(n, parts)
    # str order is code-point order, which is UTF-8 byte order (no surrogates: checked)
    try:
        in_order = _increasing(ids)  # strictly increasing: sorted, no repeats
    except TypeError:  # an id that is not a string: the general path names it
        return commit_pool(pool.records(), "subjects")
    if in_order:
        def sorted_part(lo: int, hi: int) -> Callable[[], bytes]:
            def task() -> bytes:  # each part checks its own records are plain (b"" if not)
                roots = [_plain_root(ids[a:a + chunk], names[a:a + chunk], strata[a:a + chunk])
                         for a in starts[lo:hi]]
                return b"" if None in roots else b"".join(roots)  # type: ignore[arg-type]
            return task
        answers = run_split([sorted_part(lo, hi) for lo, hi in groups])
        if any(not a for a in answers):
            return commit_pool(pool.records(), "subjects")
        roots = b"".join(answers)
    elif not _plain_columns(ids, names, strata):
        return commit_pool(pool.records(), "subjects")
    else:
        order: list[int] = []

        def sort_ids() -> None:
            order.extend(sorted(range(n), key=ids.__getitem__))

        cut = n * 3 // 5 if parts > 1 else 0  # the child hashes more while this process sorts
        first, rest = run_split([
            lambda: (sort_ids(), b"".join(_subject_leaf_hashes(ids[cut:], names[cut:], strata[cut:])))[1],
            lambda: b"".join(_subject_leaf_hashes(ids[:cut], names[:cut], strata[:cut]))])
        if len(set(ids)) != n:
            dup = next(i for i, c in Counter(ids).items() if c > 1)
            raise PoolInvalid(tr("编号 %(id)s 在名录池中出现两次", id=dup))
        joined = rest + first

        def permuted_part(lo: int, hi: int) -> Callable[[], bytes]:
            return lambda: b"".join(root_from_leaf_hashes([joined[32 * i:32 * i + 32] for i in order[a:a + chunk]])
                                    for a in starts[lo:hi])
        roots = b"".join(run_split([permuted_part(lo, hi) for lo, hi in groups]))
    root = root_from_leaf_hashes([roots[i:i + 32] for i in range(0, len(roots), 32)])
    return PoolCommitment(kind="subjects", size=n, root=root, counts=pool.counts())


def _levels(hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Complete-subtree hashes per level: levels[L][i] covers leaves [i*2^L, (i+1)*2^L)."""
    levels = [list(hashes)]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        levels.append([node_hash(cur[i], cur[i + 1]) for i in range(0, len(cur) - 1, 2)])
    return levels


def _range_root(levels: list[list[bytes]], lo: int, hi: int) -> bytes:
    # the RFC 9162 ranges of a proof start aligned: fold the maximal aligned blocks from the right
    blocks = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        while lo % (1 << level):
            level -= 1
        blocks.append(levels[level][lo >> level])
        lo += 1 << level
    acc = blocks[-1]
    for b in reversed(blocks[:-1]):
        acc = node_hash(b, acc)
    return acc


def member_proof(records: Iterable[Mapping[str, Any]], member_id: str, kind: str = "subjects") -> MemberProof:
    """The inclusion proof of the record with `member_id` in the pool's Merkle tree."""
    rows = canonical_leaves(records, kind)
    key = member_id.encode("utf-8")
    index = next((i for i, row in enumerate(rows) if row[0] == key), None)
    if index is None:
        raise PoolInvalid(f"{member_id} is not in the {kind} pool")
    levels = _levels([leaf_hash(leaf) for _, leaf, _ in rows])
    proof = tuple(_range_root(levels, lo, hi) for lo, hi in inclusion_plan(index, len(rows)))
    return MemberProof(record=rows[index][2], index=index, size=len(rows), proof=proof)


def verify_member(record: Mapping[str, Any], index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True iff JCS(record) sits at `index` of the pool of `size` whose root is `root`."""
    try:
        verify_inclusion(index, size, leaf_hash(canonical_bytes(dict(record))), list(proof), root)
    except (ProofError, EncodingError):
        return False
    return True


def check_disjoint(pool: Iterable[Mapping[str, Any]], excluded: Iterable[Mapping[str, Any]]) -> None:
    """Refuse a subject listed both in the target pool and in the excluded list."""
    both = {r["id"] for r in pool} & {r["id"] for r in excluded}
    if both:
        raise PoolInvalid(tr("这些检查对象既在名录池中又被列为排除：%(ids)s", ids="、".join(sorted(both)[:5])))


STREAM_CHUNK = 1 << 20  # leaves per streamed subtree: a complete, aligned subtree of the RFC 9162 tree


class NotInIdOrder(PoolInvalid):
    """The streamed records cannot be streamed as given: not in strictly increasing id order,
    or (stored as columns) a stratum that is not one character. The caller commits another way."""


def subject_leaves(ids: list[str], names: list[str], strata: str | list[str]) -> bytes:
    """The leaf hashes SHA-256(0x00 || JCS({id, name, stratum})) of the records, 32 bytes each,
    in order: the C accelerator's loop for plain records, else the Python one, else (a value
    JCS escapes, a bad record) the general encoder, which names what is wrong (PoolInvalid)."""
    fast = accel.FAST
    if fast is not None and type(ids) is list and type(names) is list:
        out = fast.subject_leaves(ids, names, strata)
        if out is not None:
            return out
    if len(ids) == len(names) == len(strata) and _plain_columns(ids, names, strata):  # type: ignore[arg-type]
        return b"".join(_subject_leaf_hashes(ids, names, strata))
    if not len(ids) == len(names) == len(strata):
        raise PoolInvalid("a subject pool needs as many names and strata as ids")
    return b"".join(leaf_hash(_check_record({"id": i, "name": n, "stratum": s}, "subjects"))
                    for i, n, s in zip(ids, names, strata, strict=True))


def hashes_root(hashes: bytes) -> bytes:
    """MTH over concatenated 32-byte hashes (a positive multiple of 32 bytes)."""
    fast = accel.FAST
    if fast is not None:
        return fast.merkle_root(hashes)
    return root_from_leaf_hashes([hashes[i:i + 32] for i in range(0, len(hashes), 32)])


class LeafFold:
    """The RFC 9162 root of a pool whose leaf hashes arrive in runs of any length, in order.

    Why: a province's pool (20 million subjects) is read and hashed a registry part at a time
    in forked children, and a part's pool is what the rules leave of it, so the parts do not
    fall on the tree's subtrees. The children hand back their leaf hashes (32 bytes a record);
    here they are cut into chunks of 2^j leaves. With chunks of 2^j leaves, every full chunk
    is a complete, aligned subtree and the last one is MTH of the remainder, and folding the
    chunk roots by the same rule (split at the largest power of two, a multiple of 2^j once it
    is at least 2^j) gives MTH of the whole (the argument of `_chunk_plan`). A full chunk's root
    is computed in a child (two in flight) while the next runs arrive.

    `add(leaves)` takes the next run; `root()` the root of everything added (SHA-256('') when
    nothing was: commit_pool's root of an empty pool)."""

    def __init__(self, chunk: int = STREAM_CHUNK) -> None:
        if chunk < 1 or chunk & (chunk - 1):
            raise ValueError("the chunk is a power of two")
        self.chunk = chunk
        self.size = 0
        self._runs: list[memoryview] = []  # the leaf hashes not yet in a full chunk
        self._held = 0  # their bytes
        self._roots: list[bytes | Pending] = []

    def add(self, leaves: bytes) -> None:
        if len(leaves) % 32:
            raise ValueError("leaf hashes are 32 bytes each")
        self.size += len(leaves) // 32
        view, step = memoryview(leaves), 32 * self.chunk
        while self._held + len(view) >= step:  # a full chunk: its runs joined once
            take = step - self._held
            full = b"".join([*self._runs, view[:take]])
            self._runs, self._held, view = [], 0, view[take:]
            if self.chunk < MIN_PARALLEL:
                self._roots.append(hashes_root(full))
                continue
            if sum(isinstance(r, Pending) for r in self._roots) >= 2:
                self._roots = [r.result() if isinstance(r, Pending) else r for r in self._roots]
            self._roots.append(Pending(lambda full=full: hashes_root(full)))
        if len(view):
            self._runs.append(view)
            self._held += len(view)

    def root(self) -> bytes:
        roots = [r.result() if isinstance(r, Pending) else r for r in self._roots]
        if self._held:
            roots.append(hashes_root(b"".join(self._runs)))
        return root_from_leaf_hashes(roots)

    def cancel(self) -> None:
        """Stop the chunks still hashing (the stream is abandoned)."""
        for r in self._roots:
            if isinstance(r, Pending):
                r.cancel()
