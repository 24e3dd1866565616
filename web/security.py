"""Security of the pages (and the login API): headers, cookies, login rate limiting and lockout.

- Content-Security-Policy allows scripts from this origin only: no inline script, no inline
  event handlers (`script-src 'self'`, no `'unsafe-inline'`), no framing, forms to self only.
- Session cookie: HttpOnly, SameSite=Lax, and Secure whenever the request is not plain HTTP on
  the loopback interface (browsers refuse Secure cookies over http://, and a service reached over
  the network must be behind HTTPS anyway). `SPOTCHECK_COOKIE_SECURE` forces it either way.
- Login throttling: per account, `LOCK_AFTER` failures within `WINDOW` seconds lock the account
  for `LOCK_SECONDS`; per client address, `IP_LIMIT` failures within `WINDOW` refuse further
  attempts until the window passes. Applied to the login page and to POST /api/v1/session alike.
  State is in process memory (one worker process per lock; documented in docs/WEB.md).
- CSRF: every session-authenticated change needs the session's token (web.registry_api.csrf_protect,
  app-wide); the login form, before any session exists, carries a pre-session token checked by
  the login view.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import defaultdict, deque
from typing import Any

from flask import Flask, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

LOCK_AFTER = 5
WINDOW = 15 * 60
LOCK_SECONDS = 15 * 60
IP_LIMIT = 30


def _loopback(host: str) -> bool:
    name = host[1:host.find("]")] if host.startswith("[") else host.split(":")[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _Sessions(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:  # type: ignore[override]
        forced = app.config.get("SPOTCHECK_COOKIE_SECURE")
        if forced is not None:
            return bool(forced)
        try:
            return request.is_secure or not _loopback(request.host)
        except RuntimeError:  # outside a request
            return True


class LoginLimiter:
    """Failed-login bookkeeping; thread-safe; clock injectable for tests."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._acct: dict[str, deque[float]] = defaultdict(deque)
        self._ip: dict[str, deque[float]] = defaultdict(deque)
        self._locked: dict[str, float] = {}

    def _trim(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - WINDOW:
            q.popleft()

    def blocked(self, account: str, ip: str) -> str | None:
        """A reason when this attempt must be refused without checking the password."""
        now = self.clock()
        with self._lock:
            until = self._locked.get(account)
            if until is not None and now < until:
                return "locked"
            q = self._ip[ip]
            self._trim(q, now)
            if len(q) >= IP_LIMIT:
                return "rate"
        return None

    def failed(self, account: str, ip: str) -> None:
        now = self.clock()
        with self._lock:
            for q in (self._acct[account], self._ip[ip]):
                q.append(now)
                self._trim(q, now)
            if len(self._acct[account]) >= LOCK_AFTER:
                self._locked[account] = now + LOCK_SECONDS
                self._acct[account].clear()

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._acct.pop(account, None)
            self._locked.pop(account, None)


def limiter() -> LoginLimiter:
    lim = current_app.extensions.get("login_limiter")
    if lim is None:
        lim = current_app.extensions["login_limiter"] = LoginLimiter()
    return lim  # type: ignore[no-any-return]


def client_ip() -> str:
    return request.remote_addr or "?"


def locked_message(reason: str) -> str:
    if reason == "locked":
        return f"登录失败次数过多，账户已锁定 {LOCK_SECONDS // 60} 分钟 / too many failed logins: account locked for {LOCK_SECONDS // 60} minutes"
    return "登录尝试过于频繁，请稍后再试 / too many login attempts from this address; try again later"


def _login_account() -> str:
    """The account a login request names; any other body shape names none (the view answers 400)."""
    from .limits import body_within_limits

    data = request.get_json(silent=True) if body_within_limits() else None
    account = data.get("account") if isinstance(data, dict) else None
    return account[:200] if isinstance(account, str) else ""


def init_security(app: Flask) -> None:
    if app.extensions.get("spotcheck_security"):
        return
    app.extensions["spotcheck_security"] = True
    app.session_interface = _Sessions()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.extensions.setdefault("login_limiter", LoginLimiter())

    @app.before_request
    def _api_login_throttle():  # type: ignore[no-untyped-def]
        if request.endpoint == "registry.login" and request.method == "POST":
            reason = limiter().blocked(_login_account(), client_ip())
            if reason:
                from .errors import error_response

                return error_response(429, "login_throttled", locked_message(reason))
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        if request.endpoint == "registry.login" and request.method == "POST":
            account = _login_account()
            if resp.status_code == 401:
                limiter().failed(account, client_ip())
            elif resp.status_code == 200:
                limiter().succeeded(account)
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return resp
