"""Published lottery numbers as a seed source, encoded as RFC 3797 §3.2 encodes its sources.

Each group of numbers (e.g. the six red balls, then the blue ball, of one 双色球 draw period) is
sorted ascending; every number is written in decimal without leading zeros and followed by a
period; every group ends with a slash. So red {3, 9, 12, 18, 25, 31} and blue {7} give
``3.9.12.18.25.31./7./``. Sorting makes the encoding independent of the order the balls fell
in, which is what a reader of the official announcement can reproduce without ambiguity.
"""

from __future__ import annotations

from collections.abc import Sequence

from drawsvc.i18n import tr

from .errors import LotteryInvalid


def rfc3797_encode(groups: Sequence[Sequence[int]]) -> str:
    """The RFC 3797 string of the groups of numbers (ASCII)."""
    if not groups:
        raise LotteryInvalid(tr("彩票开奖结果没有号码组"))
    out = []
    for g in groups:
        if not g:
            raise LotteryInvalid(tr("彩票开奖号码组为空"))
        for n in g:
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise LotteryInvalid(tr("彩票号码 %(number)s 不是非负整数", number=repr(n)))
        out.append("".join(f"{n}." for n in sorted(g)) + "/")
    return "".join(out)
