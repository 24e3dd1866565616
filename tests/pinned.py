"""The moment the test session is pinned to, and the day it is in China.

Fixtures count their dates from `TODAY` rather than writing literals that age. The root
conftest travels there (time-machine, ticking forward) for the whole session.
`SPOTCHECK_TEST_NOW` moves the pin: an ISO time with a zone, or `wall` for the machine's clock
(`make test-dates` runs the suite under `faketime` with the pin following the faked clock).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

from drawsvc.clock import china_date

DEFAULT_TEST_NOW = "2026-11-25T10:00:00+08:00"


def _test_now() -> datetime:
    raw = os.environ.get("SPOTCHECK_TEST_NOW", DEFAULT_TEST_NOW)
    if raw == "wall":
        return datetime.now(UTC)
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        raise ValueError(f"SPOTCHECK_TEST_NOW must carry a time zone: {raw!r}")
    return moment.astimezone(UTC)


TEST_NOW: datetime = _test_now()
TODAY: date = china_date(TEST_NOW)


def drand_demo_now() -> datetime:
    """A moment whose demo (drawsvc.demo.create_demo) holds its published ceremony on the day of
    the recorded quicknet round 123, so that draw replays a real drand round
    (drawsvc/draws/demo.py: recorded_round_on). The verifier's and the pages' tests use it."""
    from drawsvc.clock import beijing
    from drawsvc.draws.demo import DEMO_ROUND, PUBLISHED_DAYS_AGO, quicknet_round

    chain, _ = quicknet_round()
    due = datetime.fromtimestamp(chain["genesis_time"] + (DEMO_ROUND - 1) * chain["period"], UTC)
    return beijing(china_date(due) + timedelta(days=PUBLISHED_DAYS_AGO), 12)


def before_drand_round(seconds: int = 86400) -> datetime:
    """`seconds` before the recorded quicknet round 123. Entry times never run backwards, so a
    test that prepares a draw on that real round needs a log begun before it: it builds its
    instance (or ledger) at this moment, then sets the clock to just before the round."""
    from drawsvc.draws.demo import DEMO_ROUND, quicknet_round

    chain, _ = quicknet_round()
    return datetime.fromtimestamp(chain["genesis_time"] + (DEMO_ROUND - 1) * chain["period"] - seconds, UTC)


def days(n: int) -> str:
    """The day `n` days after TODAY (before, if negative), as YYYY-MM-DD."""
    return (TODAY + timedelta(days=n)).isoformat()
