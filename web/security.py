"""Security of the pages (and the login API): headers, cookies, login rate limiting and lockout.

- Content-Security-Policy allows scripts from this origin only: no inline script, no inline
  event handlers (`script-src 'self'`, no `'unsafe-inline'`), no framing, forms to self only.
- Session cookie: HttpOnly, SameSite=Lax, and Secure whenever the request is not plain HTTP on
  the loopback interface (browsers refuse Secure cookies over http://, and a service reached over
  the network must be behind HTTPS anyway). `SPOTCHECK_COOKIE_SECURE` forces it either way.
- Login throttling (drawsvc.registry.throttle): growing delays and then a lockout per (account,
  client address) — another address does not inherit it — and a limit per address across
  accounts; counts in the database, shared by all workers; lockouts logged and listed for the
  admin. Applied to the login page and to POST /api/v1/session alike.
- CSRF: every session-authenticated change needs the session's token (web.registry_api.csrf_protect,
  app-wide); the login form, before any session exists, carries a pre-session token checked by
  the login view.
"""

from __future__ import annotations

import ipaddress

from flask import Flask, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface

from drawsvc.i18n import tr
from drawsvc.registry.throttle import LoginThrottle, Refusal

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


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


def limiter() -> LoginThrottle:
    """The app's login throttle: counts in the database (shared by all workers), the ledger's clock."""
    lim = current_app.extensions.get("login_limiter")
    if lim is None:
        ledger = current_app.extensions["ledger"]
        lim = current_app.extensions["login_limiter"] = LoginThrottle(ledger.engine, ledger.clock)
    return lim  # type: ignore[no-any-return]


def client_ip() -> str:
    return request.remote_addr or "?"


def locked_message(refusal: Refusal) -> str:
    return refusal.message()


def throttle_hint() -> str:
    """The login page's description of the throttle, its numbers read from the throttle's own
    constants (a hint written with literals once stayed at an old rule after the rule changed)."""
    from drawsvc.registry import throttle as th

    return tr("同一账户从同一地址连续输错密码 %(free)s 次后，每再错一次须等待的时间加倍（从 %(base)s 秒起，"
              "最长 %(max)s 秒）；%(window)s 分钟内错 %(lock)s 次，该账户从该地址锁定 %(minutes)s 分钟，"
              "从其他地址登录不受影响。同一地址 %(window)s 分钟内对任何账户累计错 %(addr)s 次，"
              "该地址锁定 %(minutes)s 分钟。",
              free=th.FREE_FAILURES, base=f"{th.BASE_DELAY:g}", max=f"{th.MAX_DELAY:g}", window=th.WINDOW // 60,
              lock=th.PAIR_LOCK_AFTER, minutes=th.LOCK_SECONDS // 60, addr=th.ADDRESS_LIMIT)


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

    @app.before_request
    def _api_login_throttle():  # type: ignore[no-untyped-def]
        if request.endpoint == "registry.login" and request.method == "POST":
            refusal = limiter().check(_login_account(), client_ip())
            if refusal:
                from .errors import error_response

                resp, status = error_response(429, "login_throttled", refusal.message())
                resp.headers["Retry-After"] = str(refusal.retry_after)
                return resp, status
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        if request.endpoint == "registry.login" and request.method == "POST":
            account = _login_account()
            if resp.status_code == 401:
                limiter().failed(account, client_ip())
            elif resp.status_code == 200:
                limiter().succeeded(account, client_ip())
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return resp
