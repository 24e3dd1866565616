"""How many subjects each stratum draws: exact rational arithmetic, never floats.

Rule (docs/SPEC.md §D5):
1. A stratum's ratio is an exact decimal string in [0, 1] ("0.03"), or an integer count.
   k_s = ceil(n_s * r_s) for a ratio, k_s = count for a count (k_s > n_s is refused).
2. General items (key_item = False): the total must reach K_min = ceil(N * floor), floor
   "0.05" by default (国发〔2019〕5号: never below 5%). If sum k_s < K_min, the ratios of the
   ratio-strata with r_s > 0 are scaled by one common factor m (water-filling: a stratum with
   r_s * m >= 1 is taken whole and m is recomputed over the others), and
   k_s = max(k_s, ceil(n_s * r_s * m)). So the floor never changes the *relative* weight of
   the credit classes the plan chose, and it is exact and reproducible.
3. Key items have no floor and no cap (ratio up to 1).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction

from drawsvc.i18n import tr

from .errors import EmptyPool, FloorUnreachable, RatioInvalid, SampleTooLarge

_DECIMAL = re.compile(r"^(0|1)(\.[0-9]{1,12})?$")
DEFAULT_FLOOR = "0.05"


def parse_ratio(value: str) -> Fraction:
    """An exact decimal string in [0, 1] as a Fraction ("0.03" → 3/100). Floats are refused."""
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise RatioInvalid(tr("抽查比例 %(value)s 须为 0 到 1 之间的小数，如“0.03”", value=repr(value)))
    r = Fraction(value)
    if r > 1:
        raise RatioInvalid(tr("抽查比例 %(value)s 大于 1", value=value))
    return r


def _ceil(x: Fraction) -> int:
    return -((-x.numerator) // x.denominator)


def stratum_sizes(counts: Mapping[str, int], ratios: Mapping[str, str | int],
                  floor: str = DEFAULT_FLOOR, key_item: bool = False) -> dict[str, int]:
    """k per stratum for pool counts n_s, by the rule in the module docstring.

    Every stratum in `counts` needs an entry in `ratios`; a ratio for an empty or absent
    stratum gives k = 0. Raises EmptyPool (N = 0), RatioInvalid, SampleTooLarge (count > n),
    FloorUnreachable (the floor needs more than the ratio-strata hold).
    """
    missing = sorted(set(counts) - set(ratios))
    if missing:
        raise RatioInvalid(tr("这些层没有抽查比例：%(strata)s", strata="、".join(missing)))
    total = sum(counts.values())
    if any(n < 0 for n in counts.values()):
        raise RatioInvalid(tr("某层的户数为负数"))
    if total == 0:
        raise EmptyPool(tr("检查对象名录为空，无可抽取的对象"))
    sizes: dict[str, int] = {}
    fractions: dict[str, Fraction] = {}
    for s, spec in ratios.items():
        n = counts.get(s, 0)
        if isinstance(spec, int) and not isinstance(spec, bool):
            if spec < 0:
                raise RatioInvalid(tr("第 %(stratum)s 层的抽取数为负数", stratum=s))
            if spec > n:
                raise SampleTooLarge(tr("第 %(stratum)s 层要抽取 %(k)s 户，但只有 %(n)s 户", stratum=s, k=spec, n=n))
            sizes[s] = spec
        else:
            r = parse_ratio(spec)  # type: ignore[arg-type]
            fractions[s] = r
            sizes[s] = _ceil(n * r)
    if key_item:
        return sizes
    k_min = _ceil(total * parse_ratio(floor))
    if sum(sizes.values()) >= k_min:
        return sizes
    # water-filling: one common factor m over the ratio-strata with r > 0
    fixed = {s for s in sizes if s not in fractions}
    active = {s for s, r in fractions.items() if r > 0 and counts.get(s, 0) > 0}
    whole: set[str] = set()
    while True:
        need = k_min - sum(sizes[s] for s in fixed) - sum(counts[s] for s in whole)
        weight = sum((counts[s] * fractions[s] for s in active), Fraction(0))
        if need <= 0:
            m = Fraction(0)
            break
        if weight == 0:
            raise FloorUnreachable(
                f"the general-item floor {floor} needs {k_min} subjects, the strata with a positive ratio hold "
                f"{sum(counts[s] for s in whole)}"
            )
        m = need / weight
        capped = {s for s in active if fractions[s] * m >= 1}
        if not capped:
            break
        whole |= capped
        active -= capped
    for s in whole:
        sizes[s] = counts[s]
    for s in active:
        sizes[s] = max(sizes[s], _ceil(counts[s] * fractions[s] * m))
    assert sum(sizes.values()) >= k_min  # ceil(x) >= x on every active stratum
    return sizes


def ceil_ratio(n: int, ratio: str) -> int:
    """ceil(n * ratio) exactly (helper for reports)."""
    return math.ceil(Fraction(n) * parse_ratio(ratio))
