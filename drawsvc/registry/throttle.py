"""Login throttling that cannot be turned against officials (issue 13).

Why this shape: a per-account lockout lets anyone lock `admin` out by typing wrong passwords from
anywhere. Here failures are counted per (account, client address): that pair is slowed down
with growing delays and, after many failures, locked — but the same account from another
address is not affected. A separate per-address count stops one address from trying many
accounts. The counts live in the database (tables `login_throttle`, `login_lockouts`), so all
worker processes share them, and every lockout is recorded for the administrator.

Time comes from the service's one clock (the ledger's `clock`), so tests move it explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from drawsvc.i18n import tr

from .schema import login_lockouts, login_throttle

FREE_FAILURES = 3          # failures of one (account, address) before any delay
BASE_DELAY = 1.0           # seconds of wait after the first delayed failure; doubles each time
MAX_DELAY = 60.0           # a delay never grows beyond this
PAIR_LOCK_AFTER = 10       # failures of one (account, address) within WINDOW lock that pair
ADDRESS_LIMIT = 30         # failures from one address (any accounts) within WINDOW block the address
WINDOW = 15 * 60           # seconds over which failures are counted
LOCK_SECONDS = 15 * 60     # how long a lockout lasts

log = logging.getLogger("drawsvc.login")


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused before the password is checked, and for how long."""

    reason: str            # "delay" | "locked" | "address"
    retry_after: int       # seconds

    def message(self) -> str:
        s = self.retry_after
        if self.reason == "locked":
            return tr("该账户从此地址登录失败次数过多，已锁定 %(minutes)s 分钟（其他地址不受影响），请 %(s)s 秒后再试",
                      minutes=LOCK_SECONDS // 60, s=s)
        if self.reason == "address":
            return tr("此地址登录尝试过于频繁（每 %(minutes)s 分钟最多失败 %(limit)s 次），请 %(s)s 秒后再试", s=s,
                      limit=ADDRESS_LIMIT, minutes=WINDOW // 60)
        return tr("登录失败后需等待，请 %(s)s 秒后再试", s=s)


def delay_after(failures: int) -> float:
    """The wait imposed after the `failures`-th failure of a pair: none at first, then doubling."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, BASE_DELAY * 2 ** (failures - FREE_FAILURES - 1))


def _ms(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _pair(account: str, address: str) -> str:
    return f"{address}\x1f{account}"[:400]


class LoginThrottle:
    """Failed-login bookkeeping in the database; `clock` is the service's clock (UTC datetimes)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    # --- reading ---------------------------------------------------------------------------

    def check(self, account: str, address: str) -> Refusal | None:
        """A refusal when this attempt must not reach the password check."""
        now = _ms(self.clock())
        with self.engine.connect() as conn:
            rows = {r.scope: r for r in conn.execute(select(login_throttle).where(
                ((login_throttle.c.scope == "pair") & (login_throttle.c.key == _pair(account, address)))
                | ((login_throttle.c.scope == "addr") & (login_throttle.c.key == address[:400]))))}
        addr, pair = rows.get("addr"), rows.get("pair")
        if addr is not None and addr.locked_until_ms > now:
            return Refusal("address", _secs(addr.locked_until_ms - now))
        if pair is not None and pair.locked_until_ms > now:
            return Refusal("locked", _secs(pair.locked_until_ms - now))
        if pair is not None and pair.next_allowed_ms > now:
            return Refusal("delay", _secs(pair.next_allowed_ms - now))
        return None

    def lockouts(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest lockouts first (for the administrator)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(login_lockouts).order_by(login_lockouts.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    # --- writing ---------------------------------------------------------------------------

    def failed(self, account: str, address: str) -> None:
        """Count a failed attempt for the pair and for the address; lock either past its limit."""
        now = _ms(self.clock())
        for scope, key in (("pair", _pair(account, address)), ("addr", address[:400])):
            self._count(scope, key, account, address, now)

    def succeeded(self, account: str, address: str) -> None:
        """A correct password clears its pair's count (the address count keeps running)."""
        with self.engine.begin() as conn:
            conn.execute(delete(login_throttle).where(login_throttle.c.scope == "pair",
                                                      login_throttle.c.key == _pair(account, address)))

    def _count(self, scope: str, key: str, account: str, address: str, now: int) -> None:
        for _ in range(3):  # a concurrent first insert by another worker: read it again
            try:
                with self.engine.begin() as conn:
                    self._count_in(conn, scope, key, account, address, now)
                return
            except IntegrityError:
                continue

    def _count_in(self, conn: Connection, scope: str, key: str, account: str, address: str, now: int) -> None:
        t = login_throttle
        q = select(t).where(t.c.scope == scope, t.c.key == key)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None or now - row.window_start_ms >= WINDOW * 1000:
            failures, start, locked = 1, now, 0
        else:
            failures, start, locked = row.failures + 1, row.window_start_ms, row.locked_until_ms
        limit = PAIR_LOCK_AFTER if scope == "pair" else ADDRESS_LIMIT
        next_allowed = now + int(delay_after(failures) * 1000) if scope == "pair" else 0
        if failures >= limit and locked <= now:
            locked = now + LOCK_SECONDS * 1000
            conn.execute(insert(login_lockouts).values(
                at=_iso(now), scope=scope, account=account[:200] if scope == "pair" else "*",
                address=address[:64], failures=failures, until=_iso(locked)))
            log.warning("login lockout: scope=%s account=%s address=%s failures=%d until=%s",
                        scope, account[:200] if scope == "pair" else "*", address[:64], failures, _iso(locked))
            failures, start = 0, now  # a new window begins with the lock
        values = {"failures": failures, "window_start_ms": start, "next_allowed_ms": next_allowed,
                  "locked_until_ms": locked}
        if row is None:
            conn.execute(insert(t).values(scope=scope, key=key, **values))
        else:
            conn.execute(update(t).where(t.c.scope == scope, t.c.key == key).values(**values))


def _secs(ms: int) -> int:
    return max(1, -(-ms // 1000))
