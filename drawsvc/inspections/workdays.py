"""Working days (工作日) with China's official calendar: holidays and make-up working days (调休).

The `chinese-calendar` package carries the State Council's yearly notices up to its release.
For a year it does not know yet, an administrator loads the notice as a small data file
(drawsvc/data/calendar/<year>.json) without a new release; the loaded days are logged
(`inspection.calendar.loaded`) so any deadline computed later can be re-checked.
A year known to neither is computed with weekends only and marked approximate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar

from ledger.canonical import canonical_bytes

from .errors import InvalidInput

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "calendar"


def package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class LoadedYear:
    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]  # make-up working days on weekends (调休上班)


@dataclass
class WorkCalendar:
    """Working-day arithmetic. `loaded` years take precedence over the package."""

    loaded: dict[int, LoadedYear] = field(default_factory=dict)
    _memo: dict[date, bool] = field(default_factory=dict, repr=False)
    _adds: dict[tuple[date, int], date] = field(default_factory=dict, repr=False)

    def knows(self, year: int) -> bool:
        return year in self.loaded or package_knows(year)

    def is_workday(self, day: date) -> bool:
        # memoised: chinese_calendar validates every call against its whole table (slow in bulk)
        hit = self._memo.get(day)
        if hit is not None:
            return hit
        y = self.loaded.get(day.year)
        if y is not None:
            value = day in y.workdays or (day.weekday() < 5 and day not in y.holidays)
        else:
            try:
                value = bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                value = day.weekday() < 5
        self._memo[day] = value
        return value

    def add(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (the start day itself is not counted)."""
        hit = self._adds.get((start, days))
        if hit is not None:
            return hit
        self._adds[(start, days)] = value = self._add(start, days)
        return value

    def _add(self, start: date, days: int) -> date:
        d = start
        n = 0
        while n < days:
            d += timedelta(days=1)
            if self.is_workday(d):
                n += 1
        return d

    def between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        n, d = 0, start
        while d < end:
            d += timedelta(days=1)
            n += self.is_workday(d)
        return n

    def approximate(self, *days: date) -> bool:
        return any(not self.knows(d.year) for d in days)


def _dates(values: Any, name: str, year: int) -> list[str]:
    if not isinstance(values, list):
        raise InvalidInput(f"{name} 应为日期列表 / {name} must be a list of dates")
    out = []
    for v in values:
        if isinstance(v, dict):  # {"name": "春节", "dates": [...]} groups are allowed
            out += _dates(v.get("dates"), name, year)
            continue
        try:
            d = date.fromisoformat(str(v))
        except ValueError:
            raise InvalidInput(f"{name}: {v!r} 不是 YYYY-MM-DD 日期 / not a date") from None
        if d.year != year:
            raise InvalidInput(f"{name}: {v} 不在 {year} 年 / not in year {year}")
        out.append(d.isoformat())
    if len(set(out)) != len(out):
        raise InvalidInput(f"{name} 有重复日期 / {name} has duplicate dates")
    return sorted(out)


def normalize_year(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a year file: {year, source, holidays: [dates or {name, dates}], workdays: [dates]}."""
    try:
        year = int(data["year"])
    except (KeyError, TypeError, ValueError):
        raise InvalidInput("year 必填且为整数 / year is required") from None
    if not 2000 <= year <= 2200:
        raise InvalidInput("year 超出范围 / year out of range")
    holidays = _dates(data.get("holidays", []), "holidays", year)
    workdays = _dates(data.get("workdays", []), "workdays", year)
    if not holidays:
        raise InvalidInput("holidays 不能为空 / holidays must not be empty")
    both = set(holidays) & set(workdays)
    if both:
        raise InvalidInput(f"日期同时是假日和调休工作日 / both holiday and working day: {', '.join(sorted(both))}")
    weekdays = [d for d in workdays if date.fromisoformat(d).weekday() < 5]
    if weekdays:
        raise InvalidInput(f"调休工作日应为周末 / make-up working days must be weekend days: {', '.join(weekdays)}")
    source = str(data.get("source", "")).strip()
    if not source:
        raise InvalidInput("source 必填（国务院办公厅通知文号）/ source (the State Council notice) is required")
    return {"year": year, "source": source, "holidays": holidays, "workdays": workdays}


def year_sha256(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(dict(doc))).hexdigest()


def loaded_from_docs(docs: Iterable[Mapping[str, Any]]) -> dict[int, LoadedYear]:
    return {d["year"]: LoadedYear(d["year"], frozenset(date.fromisoformat(x) for x in d["holidays"]),
                                  frozenset(date.fromisoformat(x) for x in d["workdays"])) for d in docs}


def read_year_file(year: int | None = None, path: Path | None = None) -> dict[str, Any]:
    path = path or DATA_DIR / f"{year}.json"
    if not path.exists():
        raise InvalidInput(f"没有日历文件 / no calendar file {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: 不是有效的 JSON / not valid JSON: {exc}") from None
