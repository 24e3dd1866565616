"""Login throttling cannot be turned against officials (issue 13): an attacker's failures from
one address slow down and lock only (account, that address); the official's own address logs in;
one address trying many accounts is stopped; lockouts are recorded; state is in the database so
every worker (here: a second throttle on the same database) sees it. The clock is injected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from drawsvc.clock import ForwardClock
from drawsvc.instance import make_engine, migrate
from drawsvc.registry import throttle as th
from tests.pinned import TEST_NOW

ATTACKER, OFFICE = "203.0.113.9", "10.1.2.3"


def _throttles(url: str) -> tuple[Any, Any, ForwardClock]:
    engine = make_engine(url)
    migrate(engine)
    clock = ForwardClock(TEST_NOW)
    # two throttles on one database stand for two worker processes
    return th.LoginThrottle(engine, clock), th.LoginThrottle(make_engine(url), clock), clock


def _scenario(url: str) -> None:
    a, b, clock = _throttles(url)
    # the first failures are free, then each failure doubles the wait
    for _ in range(th.FREE_FAILURES):
        assert a.check("admin", ATTACKER) is None
        a.failed("admin", ATTACKER)
    assert b.check("admin", ATTACKER) is None
    waits = []
    for _ in range(th.PAIR_LOCK_AFTER - th.FREE_FAILURES - 1):
        b.failed("admin", ATTACKER)
        refusal = a.check("admin", ATTACKER)  # the other worker sees the delay
        assert refusal is not None and refusal.reason == "delay"
        waits.append(refusal.retry_after)
        clock.set(clock() + timedelta(seconds=refusal.retry_after))
        assert a.check("admin", ATTACKER) is None
    assert waits == sorted(waits) and waits[0] < waits[-1], waits
    # the official, from the office, is not slowed down at all and logs in
    assert a.check("admin", OFFICE) is None
    a.succeeded("admin", OFFICE)
    # the last failure locks the pair, logs a lockout; the office still is not affected
    a.failed("admin", ATTACKER)
    refusal = b.check("admin", ATTACKER)
    assert refusal is not None and refusal.reason == "locked" and refusal.retry_after == th.LOCK_SECONDS
    assert "其他地址不受影响" in refusal.message()
    assert b.check("admin", OFFICE) is None
    [lock] = b.lockouts()
    assert (lock["scope"], lock["account"], lock["address"], lock["failures"]) == \
        ("pair", "admin", ATTACKER, th.PAIR_LOCK_AFTER)
    # the lock ends after LOCK_SECONDS
    clock.set(clock() + timedelta(seconds=th.LOCK_SECONDS - 1))
    assert a.check("admin", ATTACKER) is not None
    clock.set(clock() + timedelta(seconds=1))
    assert a.check("admin", ATTACKER) is None


def _spray(url: str) -> None:
    a, b, clock = _throttles(url)
    # one address trying many accounts: blocked for every account, other addresses unaffected
    for i in range(th.ADDRESS_LIMIT):
        assert a.check(f"user{i}", ATTACKER) is None, i
        a.failed(f"user{i}", ATTACKER)
    refusal = b.check("admin", ATTACKER)
    assert refusal is not None and refusal.reason == "address" and str(th.ADDRESS_LIMIT) in refusal.message()
    assert b.check("admin", OFFICE) is None
    assert [(x["scope"], x["account"], x["address"]) for x in a.lockouts()] == [("addr", "*", ATTACKER)]
    # failures further apart than the window never add up
    clock.set(clock() + timedelta(seconds=th.LOCK_SECONDS))
    for _ in range(th.PAIR_LOCK_AFTER + 2):
        a.failed("auditor", OFFICE)
        clock.set(clock() + timedelta(seconds=th.WINDOW))
    assert a.check("auditor", OFFICE) is None
    assert len(a.lockouts()) == 1


def test_delays_grow_and_lock_only_the_attackers_address_sqlite(sqlite_url: str) -> None:
    _scenario(sqlite_url)


def test_an_address_spraying_accounts_is_stopped_sqlite(sqlite_url: str) -> None:
    _spray(sqlite_url)


@pytest.mark.postgres
def test_delays_grow_and_lock_only_the_attackers_address_postgres(pg_url: str) -> None:
    _scenario(pg_url)


@pytest.mark.postgres
def test_an_address_spraying_accounts_is_stopped_postgres(pg_url: str) -> None:
    _spray(pg_url)


def test_delay_schedule() -> None:
    assert [th.delay_after(n) for n in range(1, th.FREE_FAILURES + 1)] == [0.0] * th.FREE_FAILURES
    assert th.delay_after(th.FREE_FAILURES + 1) == th.BASE_DELAY
    assert th.delay_after(th.FREE_FAILURES + 2) == 2 * th.BASE_DELAY
    assert th.delay_after(1000) == th.MAX_DELAY
