"""Stratum sizes, the rounding rule (docs/SPEC.md §D5), in exact fractions.

Why exact: a float product like 0.07 * 100 = 7.000000000000001 rounds up to 8; the spec reads
ratios as decimal strings and fractions, so must we, or we would disagree on honest draws.
"""

from __future__ import annotations

import re
from fractions import Fraction
from math import ceil
from typing import Any

__all__ = ["SizeError", "parse_ratio", "stratum_sizes"]

_RATIO = re.compile(r"(0|1)(\.[0-9]{1,12})?")


class SizeError(ValueError):
    """The spec's refusals: RatioInvalid, SampleTooLarge, EmptyPool, FloorUnreachable."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def parse_ratio(s: Any) -> Fraction:
    if not isinstance(s, str) or not _RATIO.fullmatch(s):
        raise SizeError("RatioInvalid", f"ratio {s!r} is not a decimal string <= 1")
    f = Fraction(s)
    if f > 1:
        raise SizeError("RatioInvalid", f"ratio {s} > 1")
    return f


def _ceil(f: Fraction) -> int:
    return ceil(f)


def stratum_sizes(counts: dict[str, int], ratios: dict[str, Any], floor: Any = "0.05",
                  key_item: bool = False) -> dict[str, int]:
    """k per stratum; a ratio is a decimal string, an int is a fixed count."""
    k: dict[str, int] = {}
    rat: dict[str, Fraction] = {}
    fixed: set[str] = set()
    for s, n in counts.items():
        if s not in ratios:
            raise SizeError("RatioInvalid", f"stratum {s} has no ratio")
        r = ratios[s]
        if type(r) is int:
            if r < 0 or r > n:
                raise SizeError("SampleTooLarge", f"stratum {s}: count {r} > {n}")
            k[s] = r
            fixed.add(s)
        else:
            rat[s] = parse_ratio(r)
            k[s] = _ceil(n * rat[s])
    total = sum(counts.values())
    if total == 0:
        raise SizeError("EmptyPool", "the pool is empty")
    if key_item:
        return k
    k_min = _ceil(total * parse_ratio(floor))
    if sum(k.values()) >= k_min:
        return k
    w = {s for s in rat if rat[s] > 0 and counts[s] > 0}
    whole: set[str] = set()
    m = Fraction(0)
    while True:
        need = k_min - sum(k[s] for s in fixed) - sum(counts[s] for s in whole)
        if need > 0 and not w:
            raise SizeError("FloorUnreachable", "the floor cannot be reached")
        if not w:
            break
        m = Fraction(need) / sum(counts[s] * rat[s] for s in w)
        moved = {s for s in w if rat[s] * m >= 1}
        if not moved:
            break
        w -= moved
        whole |= moved
    for s in whole:
        k[s] = counts[s]
    for s in w:
        k[s] = max(k[s], _ceil(counts[s] * rat[s] * m))
    return k
