"""Pool commitments (docs/SPEC.md §D4): sorted records, JCS leaves, RFC 9162 root.

Why: the prepared entry commits to the pools before the seed exists; recomputing the root and
the per-group counts from the records shows the pool the draw ran on is the pool committed —
a subject quietly dropped after the seed changes the root.

Why two paths: issue 5 asks to check a million-subject draw within 1.5x of the time the
service took.  Records that are flat objects of strings with the same keys (every subject
record) have a JCS form that is one string template — members sorted, no whitespace, values
verbatim — as long as no value holds a character JCS escapes or cannot encode (checked for
the whole pool at once, with one regex over each column).  Those leaves are one SHA-256 each,
and the root is built level by level, the pool split in aligned power-of-two chunks over the
cores (:mod:`verifier.forking`).  Every other pool takes the general path (a JCS encoder per
record).  Both give the same commitment: the tests compare them, unsorted and escaped pools
included; any doubt (a repeated id, a key or value the template cannot hold) sends the pool
to the general path, which also writes the error.
"""

from __future__ import annotations

import hashlib
import operator
import pickle
import re
from collections import Counter
from collections.abc import Callable
from itertools import islice
from typing import Any

from .fastjcs import jcs_bytes
from .forking import parts_for, ranges, run_split
from .merkle import root_by_levels

__all__ = ["GROUP_FIELD", "PoolError", "commit", "commit_with", "conflicts_sha256", "prior_load_sha256"]

GROUP_FIELD = {"subjects": "stratum", "inspectors": "department", "experts": "field", "excluded": "reason"}
EXCLUDED_REASONS = frozenset({"frequency_cap", "checked_by_other_unit", "exempt_trusted", "out_of_scope",
                              "deregistered", "not_operating", "not_random_check"})

# a value JCS writes other than verbatim (quote, backslash, control character) or cannot write (surrogate)
_NEEDS_ESCAPE = re.compile("[\x00-\x1f\"\\\\\ud800-\udfff]")
# a key the template cannot hold verbatim (also "%", the template's own placeholder character)
_BAD_KEY = re.compile("[\x00-\x1f\"\\\\%]")


class PoolError(ValueError):
    """Records that cannot form a pool (missing id / group, repeated id)."""


#: extra(ids, groups, lo) -> bytes: more work on a slice of a pool's columns (records lo, lo+1, ...)
Extra = Callable[[list[str], list[str], int], bytes]


def commit(kind: str, records: list[Any]) -> dict[str, Any]:
    """The commitment ``{kind, size, root, counts}`` over ``records`` (sorted here by id bytes)."""
    return commit_with(kind, records)[0]


def commit_with(kind: str, records: list[Any], extra: Extra | None = None) -> tuple[dict[str, Any], list[bytes] | None]:
    """``commit`` and, if the pool is flat and already in id order, ``extra`` run over the slices of its
    id and group columns in the same pass (the answers in order; None when not run).

    Why: the draw check hashes every subject twice (leaf, ticket); reading the million records
    into columns once, in one forked pass, saves a pass over a large heap."""
    gf = GROUP_FIELD[kind]
    fast = _commit_flat(kind, gf, records, extra)
    return fast if fast is not None else (_commit_general(kind, gf, records), None)


def _chunks(n: int, parts: int) -> tuple[int, list[tuple[int, int]]]:
    """Chunks of 2^j leaves (a few per part) and the contiguous groups of chunk numbers per part.

    With chunks of 2^j leaves, every full chunk is a complete subtree of the RFC 9162 tree at
    an aligned position and the last chunk is the tree of the remainder, so folding the chunk
    roots level by level gives the root of the whole (see merkle.root_by_levels)."""
    chunk = 1 << max(0, (n // (2 * parts)).bit_length() - 1) if parts > 1 else max(1, n)
    count = -(-n // chunk)
    return chunk, ranges(count, parts)


def _root(n: int, leaf_hashes: Callable[[int, int], list[bytes]]) -> bytes:
    """Root over n leaves; ``leaf_hashes(lo, hi)`` gives the leaf hashes of positions [lo, hi)."""
    if n == 0:
        return root_by_levels([])
    parts = parts_for(n)
    chunk, groups = _chunks(n, parts)

    def part(g0: int, g1: int) -> Callable[[], bytes]:
        return lambda: b"".join(root_by_levels(leaf_hashes(c * chunk, min(n, (c + 1) * chunk)))
                                for c in range(g0, g1))
    roots = b"".join(run_split([part(g0, g1) for g0, g1 in groups]))
    return root_by_levels([roots[i:i + 32] for i in range(0, len(roots), 32)])


def _flat_keys(gf: str, records: Any) -> list[str] | None:
    """The sorted key set of the first record, if a pool could be flat (else None)."""
    if type(records) is not list or len(records) < 2 or type(records[0]) is not dict:
        return None
    try:
        keys = sorted(records[0])
    except TypeError:
        return None
    if "id" not in keys or gf not in keys or any(type(k) is not str or not k.isascii() or _BAD_KEY.search(k)
                                                 for k in keys):
        return None  # JCS sorts keys by UTF-16 code units: for ASCII keys, Python's sort is that order
    return keys


def _flat_columns(records: list[Any], keys: list[str]) -> list[list[str]] | None:
    """The records as one column per key, if every one is a dict of exactly these keys, of strings JCS
    writes verbatim, with a non-empty id; else None."""
    if set(map(type, records)) != {dict} or set(map(len, records)) != {len(keys)}:
        return None
    try:  # same size as the key set and holding each of its keys: exactly the key set
        cols = [list(map(operator.itemgetter(k), records)) for k in keys]
    except KeyError:
        return None
    for col in cols:
        try:
            joined = "\x7f".join(col)  # TypeError unless every value is a str
        except TypeError:
            return None
        if _NEEDS_ESCAPE.search(joined):
            return None
    return cols if all(cols[keys.index("id")]) else None


def _increasing(ids: list[str]) -> bool:
    """Strictly increasing: sorted by id bytes, no id twice (str order is code-point order, which is
    UTF-8 byte order for strings without surrogates, as flat columns are)."""
    return all(map(operator.lt, ids, islice(ids, 1, None)))


def _leaf_function(keys: list[str]) -> Callable[[list[list[str]], int, int], list[bytes]]:
    """leaf(cols, lo, hi): SHA-256(0x00 || JCS(record)) of rows [lo, hi) of flat columns."""
    sha256 = hashlib.sha256
    if keys == ["id", "name", "stratum"]:
        def leaf3(cols: list[list[str]], lo: int, hi: int) -> list[bytes]:
            a, b, c = cols
            return [sha256(f'\x00{{"id":"{i}","name":"{m}","stratum":"{s}"}}'.encode()).digest()
                    for i, m, s in zip(a[lo:hi], b[lo:hi], c[lo:hi], strict=True)]
        return leaf3
    template = "\x00{" + ",".join(f'"{k}":"%s"' for k in keys) + "}"

    def leaf(cols: list[list[str]], lo: int, hi: int) -> list[bytes]:
        return [sha256((template % v).encode()).digest() for v in zip(*(col[lo:hi] for col in cols), strict=True)]
    return leaf


def _commit_flat(kind: str, gf: str, records: Any, extra: Extra | None = None,
                 ) -> tuple[dict[str, Any], list[bytes] | None] | None:
    """The commitment of a pool of flat string records with one key set, or None (use the general path).

    Each part checks its own slice (flat, sorted, strictly above the last id of the slice before
    it) and hashes it; if any part finds otherwise, the whole pool is looked at here
    (:func:`_commit_flat_sorting`), which sorts it or leaves it to the general path."""
    keys = _flat_keys(gf, records)
    if keys is None:
        return None
    n = len(records)
    parts = parts_for(n)
    if parts == 1:
        return _commit_flat_sorting(kind, gf, records, keys, extra)
    chunk, groups = _chunks(n, parts)
    leaf = _leaf_function(keys)
    ii, gi = keys.index("id"), keys.index(gf)

    def part(g0: int, g1: int) -> Callable[[], bytes]:
        def run() -> bytes:
            lo, hi = g0 * chunk, min(n, g1 * chunk)
            cols = _flat_columns(records[lo:hi], keys)
            if cols is None or not _increasing(cols[ii]):
                return pickle.dumps(None)
            if lo > 0:
                prev = records[lo - 1]
                if type(prev) is not dict or type(prev.get("id")) is not str or not prev["id"] < cols[ii][0]:
                    return pickle.dumps(None)
            roots = b"".join(root_by_levels(leaf(cols, a, min(hi - lo, a + chunk))) for a in range(0, hi - lo, chunk))
            more = extra(cols[ii], cols[gi], lo) if extra is not None else b""
            return pickle.dumps((roots, Counter(cols[gi]), more))
        return run
    results = [pickle.loads(x) for x in run_split([part(g0, g1) for g0, g1 in groups])]
    if any(r is None for r in results):
        return _commit_flat_sorting(kind, gf, records, keys, extra)
    counts: Counter[str] = Counter()
    for _, c, _ in results:
        counts.update(c)
    root = root_by_levels([r[i:i + 32] for r, _, _ in results for i in range(0, len(r), 32)])
    return ({"kind": kind, "size": n, "root": root.hex(), "counts": dict(counts)},
            [x for _, _, x in results] if extra is not None else None)


def _commit_flat_sorting(kind: str, gf: str, records: list[Any], keys: list[str], extra: Extra | None = None,
                         ) -> tuple[dict[str, Any], list[bytes] | None] | None:
    """_commit_flat over the whole pool at once, sorting it by id first if need be."""
    cols = _flat_columns(records, keys)
    if cols is None:
        return None
    ii, gi = keys.index("id"), keys.index(gf)
    n = len(records)
    more = None
    if _increasing(cols[ii]):
        more = [extra(cols[ii], cols[gi], 0)] if extra is not None else None
    else:
        order = sorted(range(n), key=cols[ii].__getitem__)
        cols = [[col[i] for i in order] for col in cols]
        if not _increasing(cols[ii]):
            return None  # a repeated id: the general path names it
    leaf = _leaf_function(keys)
    root = _root(n, lambda lo, hi: leaf(cols, lo, hi))
    return {"kind": kind, "size": n, "root": root.hex(), "counts": dict(Counter(cols[gi]))}, more


def _commit_general(kind: str, gf: str, records: list[Any]) -> dict[str, Any]:
    keyed = []
    for r in records:
        if not isinstance(r, dict) or not isinstance(r.get("id"), str) or not r["id"]:
            raise PoolError(f"{kind}: a record without a non-empty string id")
        if not isinstance(r.get(gf), str):
            raise PoolError(f"{kind}: record {r['id']} has no string {gf!r}")
        keyed.append((r["id"].encode("utf-8"), r))
    keyed.sort(key=lambda t: t[0])
    counts: dict[str, int] = {}
    prev = None
    for k, r in keyed:
        if k == prev:
            raise PoolError(f"{kind}: id {r['id']} appears twice")
        prev = k
        counts[r[gf]] = counts.get(r[gf], 0) + 1
    recs = [r for _, r in keyed]

    def leaf_hashes(lo: int, hi: int) -> list[bytes]:
        return [hashlib.sha256(b"\x00" + jcs_bytes(r)).digest() for r in recs[lo:hi]]
    try:
        root = _root(len(recs), leaf_hashes)
    except ValueError as exc:  # a record with no JCS form (NaN, an integer beyond 2**53...)
        raise PoolError(f"{kind}: a record has no JCS form: {exc}") from exc
    return {"kind": kind, "size": len(keyed), "root": root.hex(), "counts": counts}


def conflicts_sha256(conflicts: Any) -> str:
    """hex SHA-256 of JCS(conflicts), the sorted list of [inspector id, subject id] pairs."""
    return hashlib.sha256(jcs_bytes(conflicts)).hexdigest()



def prior_load_sha256(prior_load: Any) -> str:
    """hex SHA-256 of JCS(prior_load), the {inspector or expert id: assignments before this draw}
    the §D7 workload cap reads (v2). Raises ``ValueError`` unless it is such an object."""
    if not isinstance(prior_load, dict) or not all(isinstance(k, str) and type(v) is int and v >= 0
                                                   for k, v in prior_load.items()):
        raise ValueError("prior_load must be an object {id: non-negative integer}")
    return hashlib.sha256(jcs_bytes(prior_load)).hexdigest()
