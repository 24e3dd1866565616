"""Pool commitments (docs/SPEC.md §D4): sorted records, JCS leaves, RFC 9162 root.

Why: the prepared entry commits to the pools before the seed exists; recomputing the root and
the per-group counts from the records shows the pool the draw ran on is the pool committed —
a subject quietly dropped after the seed changes the root.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .canonical import jcs
from .merkle import TreeBuilder

__all__ = ["GROUP_FIELD", "PoolError", "commit", "conflicts_sha256"]

GROUP_FIELD = {"subjects": "stratum", "inspectors": "department", "experts": "field", "excluded": "reason"}
EXCLUDED_REASONS = frozenset({"frequency_cap", "checked_by_other_unit", "exempt_trusted", "out_of_scope",
                              "deregistered", "not_operating", "not_random_check"})


class PoolError(ValueError):
    """Records that cannot form a pool (missing id / group, repeated id)."""


def commit(kind: str, records: list[Any]) -> dict[str, Any]:
    """The commitment ``{kind, size, root, counts}`` over ``records`` (sorted here by id bytes)."""
    gf = GROUP_FIELD[kind]
    keyed = []
    for r in records:
        if not isinstance(r, dict) or not isinstance(r.get("id"), str) or not r["id"]:
            raise PoolError(f"{kind}: a record without a non-empty string id")
        if not isinstance(r.get(gf), str):
            raise PoolError(f"{kind}: record {r['id']} has no string {gf!r}")
        keyed.append((r["id"].encode("utf-8"), r))
    keyed.sort(key=lambda t: t[0])
    tree = TreeBuilder()
    counts: dict[str, int] = {}
    prev = None
    for k, r in keyed:
        if k == prev:
            raise PoolError(f"{kind}: id {r['id']} appears twice")
        prev = k
        tree.append(hashlib.sha256(b"\x00" + jcs(r)).digest())
        counts[r[gf]] = counts.get(r[gf], 0) + 1
    return {"kind": kind, "size": len(keyed), "root": tree.root().hex(), "counts": counts}


def conflicts_sha256(conflicts: Any) -> str:
    """hex SHA-256 of JCS(conflicts), the sorted list of [inspector id, subject id] pairs."""
    return hashlib.sha256(jcs(conflicts)).hexdigest()
