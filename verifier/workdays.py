"""Working days (工作日) per docs/SPEC.md §R6, re-implemented: years loaded on the log
(`inspection.calendar.loaded`) first, then China's official calendar (`chinese-calendar`),
then Monday-Friday (marked approximate)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

try:  # optional: without it every year not loaded on the log is approximate
    import chinese_calendar as _cc
except ImportError:  # pragma: no cover
    _cc = None

__all__ = ["WorkCalendar"]


class WorkCalendar:
    def __init__(self) -> None:
        self.loaded: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
        self._memo: dict[date, bool] = {}
        self._known: dict[int, bool] = {}

    def load(self, doc: Mapping[str, Any]) -> None:
        """An `inspection.calendar.loaded` payload (the latest for a year wins)."""
        self.loaded[int(doc["year"])] = (frozenset(map(str, doc.get("holidays", []))),
                                         frozenset(map(str, doc.get("workdays", []))))
        self._memo.clear()

    def knows(self, year: int) -> bool:
        if year in self.loaded:
            return True
        hit = self._known.get(year)
        if hit is None:
            hit = False
            if _cc is not None:
                try:
                    _cc.is_workday(date(year, 6, 1))
                    hit = True
                except NotImplementedError:
                    pass
            self._known[year] = hit
        return hit

    def is_workday(self, d: date) -> bool:
        hit = self._memo.get(d)
        if hit is not None:
            return hit
        y = self.loaded.get(d.year)
        if y is not None:
            iso = d.isoformat()
            value = iso in y[1] or (d.weekday() < 5 and iso not in y[0])
        elif self.knows(d.year) and _cc is not None:
            value = bool(_cc.is_workday(d))
        else:
            value = d.weekday() < 5
        self._memo[d] = value
        return value

    def add(self, start: date, n: int) -> date:
        """The n-th working day strictly after `start`."""
        d, k = start, 0
        while k < n:
            d += timedelta(days=1)
            k += self.is_workday(d)
        return d

    def between(self, a: date, b: date) -> int:
        """Working days x with a < x <= b."""
        n, d = 0, a
        while d < b:
            d += timedelta(days=1)
            n += self.is_workday(d)
        return n

    def approximate(self, *days: date) -> bool:
        """Whether counting working days up to these days needs a year of unknown holidays."""
        return any(not self.knows(d.year) for d in days)
