"""Published lottery numbers as a seed source, encoded as RFC 3797 §3.2 encodes its sources.

Each group of numbers (e.g. the six red balls, then the blue ball, of one 双色球 draw period) is
sorted ascending; every number is written in decimal without leading zeros and followed by a
period; every group ends with a slash. So red {3, 9, 12, 18, 25, 31} and blue {7} give
``3.9.12.18.25.31./7./``. Sorting makes the encoding independent of the order the balls fell
in, which is what a reader of the official announcement can reproduce without ambiguity.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import LotteryInvalid


def rfc3797_encode(groups: Sequence[Sequence[int]]) -> str:
    """The RFC 3797 string of the groups of numbers (ASCII)."""
    if not groups:
        raise LotteryInvalid("lottery result has no groups of numbers")
    out = []
    for g in groups:
        if not g:
            raise LotteryInvalid("a lottery group has no numbers")
        for n in g:
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise LotteryInvalid(f"lottery number {n!r} is not a non-negative integer")
        out.append("".join(f"{n}." for n in sorted(g)) + "/")
    return "".join(out)
