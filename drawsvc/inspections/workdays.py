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

from drawsvc.i18n import tr
from drawsvc.raises import raises
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


class _Lines:
    """Where a value stands in the file an administrator wrote, so an error can name its line."""

    def __init__(self, text: str | None) -> None:
        self.lines = text.splitlines() if text is not None else None

    def at(self, value: str, nth: int = 1) -> str:
        """'第 N 行：' for the line of the nth listing of `value` (a JSON string or key), else ''."""
        if self.lines is None:
            return ""
        needle = json.dumps(value, ensure_ascii=False)
        seen = 0
        for number, line in enumerate(self.lines, 1):
            seen += line.count(needle)
            if seen >= nth:
                return tr("第 %(line)s 行：", line=number)
        return ""


def _dates(values: Any, name: str, year: int, where: _Lines) -> list[str]:
    if not isinstance(values, list):
        raise InvalidInput(where.at(name) + tr("%(name)s 应为日期列表", name=name))
    out = []
    for v in values:
        if isinstance(v, dict):  # {"name": "春节", "dates": [...]} groups are allowed
            out += _dates(v.get("dates"), name, year, where)
            continue
        try:
            d = date.fromisoformat(str(v))
        except ValueError:
            raise InvalidInput(where.at(v) + tr("%(name)s：%(value)s 不是 YYYY-MM-DD 日期", name=name, value=repr(v))) from None
        if d.year != year:
            raise InvalidInput(where.at(v) + tr("%(name)s：%(value)s 不在 %(year)s 年内", name=name, value=v, year=year))
        out.append(d.isoformat())
    return out


def _once(days: list[str], name: str, where: _Lines) -> list[str]:
    """Refuse a day listed twice (naming the line of its second listing)."""
    seen: set[str] = set()
    for d in days:
        if d in seen:
            raise InvalidInput(where.at(d, 2) + tr("%(name)s 中 %(value)s 列出了两次", name=name, value=d))
        seen.add(d)
    return sorted(days)


def normalize_year(data: Mapping[str, Any], text: str | None = None, expected_year: int | None = None) -> dict[str, Any]:
    """Validate a year file: {year, source, holidays: [dates or {name, dates}], workdays: [dates]}.

    `text` is the file as written: errors then name the line they are about. `expected_year`
    is the year the administrator asked to load (a file for another year is refused)."""
    where = _Lines(text)
    if not isinstance(data, Mapping):
        raise InvalidInput(tr("日历文件应为 JSON 对象 {year, source, holidays, workdays}"))
    try:
        year = int(data["year"])
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(where.at("year") + tr("year 必填且为整数")) from None
    if not 2000 <= year <= 2200:
        raise InvalidInput(where.at("year") + tr("year 超出范围（2000–2200）：%(year)s", year=year))
    if expected_year is not None and year != expected_year:
        raise InvalidInput(where.at("year") + tr("这是 %(year)s 年的日历文件，而要加载的是 %(expected)s 年", year=year,
                                                  expected=expected_year))
    holidays = _once(_dates(data.get("holidays", []), "holidays", year, where), "holidays（节假日）", where)
    workdays = _dates(data.get("workdays", []), "workdays", year, where)
    if not holidays:
        raise InvalidInput(where.at("holidays") + tr("holidays（节假日）不能为空"))
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise InvalidInput(where.at(both[0], 2) + tr("%(value)s 既列为节假日又列为调休工作日", value=both[0]))
    workdays = _once(workdays, "workdays（调休工作日）", where)
    weekdays = [d for d in workdays if date.fromisoformat(d).weekday() < 5]
    if weekdays:
        raise InvalidInput(where.at(weekdays[0]) + tr("调休工作日应为周六或周日：%(value)s", value=", ".join(weekdays)))
    source = str(data.get("source", "")).strip()
    if not source:
        raise InvalidInput(tr("source 必填（国务院办公厅通知文号）"))
    return {"year": year, "source": source, "holidays": holidays, "workdays": workdays}


def year_sha256(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(dict(doc))).hexdigest()


def loaded_from_docs(docs: Iterable[Mapping[str, Any]]) -> dict[int, LoadedYear]:
    return {d["year"]: LoadedYear(d["year"], frozenset(date.fromisoformat(x) for x in d["holidays"]),
                                  frozenset(date.fromisoformat(x) for x in d["workdays"])) for d in docs}


@raises(InvalidInput)
def read_year_file(year: int | None = None, path: Path | None = None) -> dict[str, Any]:
    """Read and validate a year file (drawsvc/data/calendar/<year>.json or `path`); errors name the line."""
    path = path or DATA_DIR / f"{year}.json"
    if not path.exists():
        raise InvalidInput(tr("没有日历文件 %(path)s", path=path))
    return parse_year_text(path.read_text(encoding="utf-8"), str(path), year)


def parse_year_text(text: str, name: str, expected_year: int | None = None) -> dict[str, Any]:
    """Parse an uploaded or read year file and validate it, naming the line of any error."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(tr("%(name)s 第 %(line)s 行：不是有效的 JSON（%(msg)s）", name=name, line=exc.lineno, msg=exc.msg)) from None
    return normalize_year(data, text, expected_year)
