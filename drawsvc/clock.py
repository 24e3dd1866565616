"""The service's one clock, and the calendar day it means in China.

Every service reads time from its ledger (`Ledger.clock`, UTC): entries, checkpoints, deadlines,
certificate validity and the pages all see the same "now". Tests and the demo replace that one
callable instead of patching the wall clock piecemeal. Deadlines and certificate dates are
calendar days in Beijing time (UTC+8), whatever the server's time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

Clock = Callable[[], datetime]
CHINA = timedelta(hours=8)


def china_date(moment: datetime) -> date:
    """The calendar day in China (UTC+8) at `moment`."""
    return (moment.astimezone(UTC) + CHINA).date()


def beijing(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """`day` at `hour:minute` Beijing time, as a UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - CHINA


class ForwardClock:
    """A settable clock that never goes backwards (the demo's history, tests' pinned time).

    The log promises non-decreasing entry times, so a scripted history must be written in
    order: `set()` to a moment earlier than one set before is a programming error. Each reading
    advances by one microsecond, so readings stay strictly ordered even at one set moment.
    """

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._last = self._now - timedelta(microseconds=1)

    def set(self, moment: datetime) -> None:
        moment = moment.astimezone(UTC)
        if moment < self._now:
            raise ValueError(f"clock moved backwards: {moment.isoformat()} < {self._now.isoformat()}")
        self._now = moment

    def __call__(self) -> datetime:
        self._last = max(self._now, self._last + timedelta(microseconds=1))
        return self._last
