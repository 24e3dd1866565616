"""Security of the pages: CSP without inline script, cookies, CSRF on every form, login rate
limiting and lockout (page and API), uploads checked, roles on every page, and sealed draws
invisible on every public page."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.web.conftest import PASSWORDS, csrf_of, draw_ids, login, make_app

PUBLIC_PAGES = ["/", "/public/items", "/public/inspectors", "/public/plans", "/public/draws", "/public/search",
                "/public/search?q=固阳", "/public/result-categories", "/public/checkpoint", "/verify", "/staff/login"]
ROLES = {"anonymous": None, "admin": "admin", "operator": "op-scjg", "inspector": "insp-p001", "auditor": "auditor"}


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.handlers: list[str] = []
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.handlers += [k for k in a if k.startswith("on")]
        # a JSON data block (the scripts' message table, web/i18n.py js_messages) is not run: CSP
        # does not apply to it and it needs no 'unsafe-inline'; any other inline script counts
        if tag == "script" and not a.get("src") and a.get("type") != "application/json":
            self.inline_scripts += 1
        if tag == "form":
            self._form = {"method": (a.get("method") or "get").lower(), "csrf": False, "action": a.get("action")}
            self.forms.append(self._form)
        if tag == "input" and self._form is not None and a.get("name") == "csrf_token" and a.get("value"):
            self._form["csrf"] = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def scan(html: bytes) -> _Scan:
    s = _Scan()
    s.feed(html.decode("utf-8"))
    return s


def staff_pages(demo: Any) -> list[str]:
    ids = draw_ids(demo)
    pub, sealed = ids["published"], ids["drawn"]
    return ["/staff/", "/staff/registries/subjects", "/staff/registries/items", "/staff/registries/conflicts",
            "/staff/import", "/staff/plans", "/staff/draws", f"/staff/draws/{pub}", f"/staff/draws/{sealed}",
            f"/staff/draws/{sealed}/ceremony", "/staff/log", "/staff/inspections/deadlines",
            "/staff/inspections/reports"]


# expected status per role for each staff page (200 allowed, 403 forbidden, 302 to login)
def expected(role: str, path: str) -> int:
    if role == "anonymous":
        return 302
    if path == "/staff/":
        return 200
    if role == "inspector":
        return 403
    if path == "/staff/import":
        return 403 if role == "auditor" else 200
    return 200


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_with_every_role(role: str, demo: Any) -> None:
    app = make_app(demo)
    c = app.test_client()
    if ROLES[role]:
        login(c, ROLES[role])
    for path in PUBLIC_PAGES:
        r = c.get(path)
        assert r.status_code == 200, (role, path, r.status_code)
    for path in staff_pages(demo):
        r = c.get(path)
        assert r.status_code == expected(role, path), (role, path, r.status_code)
        if r.status_code == 302:
            assert "/staff/login" in r.headers["Location"]
    # the draw-changing actions need an operator of the department or an admin
    sealed = draw_ids(demo)["drawn"]
    tok = csrf_of(c.get("/staff/login").data) if ROLES[role] is None else None
    with c.session_transaction() as s:
        tok = s.get("csrf", tok)
    r = c.post(f"/staff/draws/{sealed}/abort", data={"csrf_token": tok, "reason": "x", "confirm": "1"})
    assert r.status_code == {"anonymous": 302, "admin": 302, "operator": 302, "inspector": 403, "auditor": 403}[role]
    if role in ("admin", "operator"):  # allowed, but a drawn draw cannot be aborted: the service says so
        assert c.get(f"/staff/draws/{sealed}").status_code == 200
        assert draw_ids(demo)["drawn"] == sealed


def test_operator_of_another_department_cannot_open_the_draw(demo: Any) -> None:
    c = make_app(demo).test_client()
    login(c, "op-rfb")
    sealed = draw_ids(demo)["drawn"]
    assert c.get(f"/staff/draws/{sealed}").status_code == 403
    assert c.get(f"/staff/draws/{sealed}/ceremony").status_code == 403


def test_csp_headers_and_no_inline_script_anywhere(demo: Any) -> None:
    c = make_app(demo).test_client()
    login(c, "admin")
    for path in PUBLIC_PAGES + staff_pages(demo):
        r = c.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        s = scan(r.data)
        assert s.inline_scripts == 0, path
        assert s.handlers == [], (path, s.handlers)
        for f in s.forms:  # every state-changing form carries the CSRF token
            if f["method"] == "post":
                assert f["csrf"], (path, f)


def test_forms_without_csrf_token_are_refused(demo: Any) -> None:
    c = make_app(demo).test_client()
    r = c.post("/staff/login", data={"account": "admin", "password": PASSWORDS["admin"]})
    assert r.status_code == 400
    login(c, "op-scjg")
    sealed = draw_ids(demo)["drawn"]
    for path, data in ((f"/staff/draws/{sealed}/publish", {}), ("/staff/logout", {}),
                       ("/staff/plans/x/approve", {}), ("/staff/import", {"kind": "subjects"})):
        r = c.post(path, data={**data, "csrf_token": "wrong"})
        assert r.status_code == 403, path
    assert draw_ids(demo)["drawn"] == sealed


def test_session_cookie_flags(demo: Any) -> None:
    app = make_app(demo)
    for base, secure in (("https://spotcheck.example", True), ("http://127.0.0.1", False),
                         ("http://spotcheck.example", True)):
        c = app.test_client()
        r = c.get("/staff/login", base_url=base)
        cookie = r.headers.get("Set-Cookie", "")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie
        assert ("Secure" in cookie) is secure, (base, cookie)


def _throttled_app(demo: Any) -> tuple[Any, Any]:
    """An app whose login throttle reads a clock the test moves (never the wall clock)."""
    from datetime import UTC, datetime

    from drawsvc.clock import ForwardClock
    from drawsvc.registry.throttle import LoginThrottle

    app = make_app(demo)
    clock = ForwardClock(datetime(2040, 1, 1, tzinfo=UTC))  # later than any other test's throttle rows
    app.extensions["login_limiter"] = LoginThrottle(app.extensions["ledger"].engine, clock)
    return app, clock


def _from(app: Any, address: str) -> Any:
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c


def test_login_page_describes_the_throttle_the_code_applies(demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from drawsvc.registry import throttle as th

    c = make_app(demo).test_client()
    zh = c.get("/staff/login").data.decode()
    assert "连续 5 次密码错误将锁定账户 15 分钟" not in zh  # the old per-account rule
    hint = re.search(r'<p class="hint" id="throttle-hint">([^<]*)</p>', zh).group(1)
    for n in (th.FREE_FAILURES, th.PAIR_LOCK_AFTER, th.ADDRESS_LIMIT, th.LOCK_SECONDS // 60, th.WINDOW // 60):
        assert str(n) in hint, (n, hint)
    assert "其他地址" in hint and not re.search(r"[A-Za-z]{3,}", hint)
    en = c.get("/staff/login?lang=en").data.decode()
    hint_en = re.search(r'<p class="hint" id="throttle-hint">([^<]*)</p>', en).group(1)
    assert "another address" in hint_en and str(th.ADDRESS_LIMIT) in hint_en
    # the numbers come from the constants, not from literals in the text
    monkeypatch.setattr(th, "PAIR_LOCK_AFTER", 17)
    monkeypatch.setattr(th, "ADDRESS_LIMIT", 71)
    hint = re.search(r'id="throttle-hint">([^<]*)<', c.get("/staff/login").data.decode()).group(1)
    assert "17" in hint and "71" in hint


def test_login_throttle_cannot_lock_an_official_out(demo: Any) -> None:
    from datetime import timedelta

    from drawsvc.registry import throttle as th

    app, clock = _throttled_app(demo)
    attacker, office = _from(app, "198.51.100.7"), _from(app, "198.51.100.8")
    # the attacker's failures on the page and the API count alike; then growing waits (429 + Retry-After)
    for i in range(th.FREE_FAILURES):
        if i % 2:
            assert attacker.post("/api/v1/session", json={"account": "auditor", "password": "x"}).status_code == 401
        else:
            tok = csrf_of(attacker.get("/staff/login").data)
            r = attacker.post("/staff/login", data={"csrf_token": tok, "account": "auditor", "password": "wrong"})
            assert r.status_code == 401
    waits = []
    for _ in range(th.PAIR_LOCK_AFTER - th.FREE_FAILURES):
        assert attacker.post("/api/v1/session", json={"account": "auditor", "password": "x"}).status_code == 401
        r = attacker.post("/api/v1/session", json={"account": "auditor", "password": PASSWORDS["auditor"]})
        assert r.status_code == 429 and r.json["error"]["code"] == "login_throttled"
        waits.append(int(r.headers["Retry-After"]))
        if len(waits) < th.PAIR_LOCK_AFTER - th.FREE_FAILURES:
            clock.set(clock() + timedelta(seconds=waits[-1]))
    assert waits[:-1] == sorted(waits[:-1]) and waits[-1] == th.LOCK_SECONDS, waits
    tok = csrf_of(attacker.get("/staff/login").data)
    r = attacker.post("/staff/login", data={"csrf_token": tok, "account": "auditor", "password": PASSWORDS["auditor"]})
    assert r.status_code == 429 and "锁定" in r.data.decode()
    # the auditor, from the office, is not locked out
    assert office.post("/api/v1/session", json={"account": "auditor", "password": PASSWORDS["auditor"]}).status_code == 200
    # the admin sees the lockout (API and page)
    admin = _from(app, "198.51.100.9")
    login(admin, "admin")
    rows = admin.get("/api/v1/login-lockouts").json["lockouts"]
    assert (rows[0]["account"], rows[0]["address"], rows[0]["scope"]) == ("auditor", "198.51.100.7", "pair")
    assert "198.51.100.7" in admin.get("/staff/lockouts").data.decode()
    assert office.get("/api/v1/login-lockouts").status_code == 200  # auditors read it too
    assert attacker.get("/api/v1/login-lockouts").status_code == 401
    # one address spraying many accounts is stopped for every account
    sprayer = _from(app, "198.51.100.10")
    for i in range(th.ADDRESS_LIMIT):
        sprayer.post("/api/v1/session", json={"account": f"nobody{i}", "password": "x"})
    r = sprayer.post("/api/v1/session", json={"account": "op-scjg", "password": PASSWORDS["op-scjg"]})
    assert r.status_code == 429 and str(th.ADDRESS_LIMIT) in r.json["error"]["message"]


def test_uploads_are_checked(demo: Any) -> None:
    import io

    c = make_app(demo).test_client()
    login(c, "op-scjg")
    with c.session_transaction() as s:
        tok = s["csrf"]
    cases = [("evil.exe", b"MZ...", "csv"), ("fake.xlsx", b"not a zip", "xlsx"), ("empty.csv", b"", "csv"),
             ("bin.csv", b"\x00\x01\x02", "csv")]
    for name, data, _ in cases:
        r = c.post("/staff/import", data={"csrf_token": tok, "kind": "subjects", "file": (io.BytesIO(data), name)},
                   content_type="multipart/form-data")
        assert r.status_code == 400 and b'id="import-error"' in r.data, name
    r = c.post("/staff/import", data={"csrf_token": tok, "kind": "accounts", "file": (io.BytesIO(b"a,b\n"), "a.csv")},
               content_type="multipart/form-data")
    assert b'id="import-error"' in r.data


def test_sealed_and_aborted_draws_are_invisible_on_every_public_page(demo: Any) -> None:
    from drawsvc.draws.service import DrawService
    from drawsvc.registry.service import Registry

    ids = draw_ids(demo)
    sealed, aborted = ids["drawn"], ids["aborted"]
    svc = DrawService(demo.ledger(), Registry(demo.ledger(), demo.passphrase()))
    secret = svc.secret(sealed)
    drawn_subjects = [a["subject"] for a in secret["matching"]["assignments"]]
    c = make_app(demo).test_client()
    pages = [*PUBLIC_PAGES, "/public/search?q=" + drawn_subjects[0]] + \
        [f"/public/search?q={s}" for s in drawn_subjects[:5]]
    for path in pages:
        body = c.get(path).data.decode()
        assert sealed not in body, path
        assert secret["seed"] not in body and secret["nonce"] not in body
    assert c.get(f"/public/draws/{sealed}").status_code == 404
    assert c.get(f"/api/v1/public/draws/{sealed}").status_code == 404
    # an abort stays public (中止记录永久公开): listed, its page says ABORTED with reason, time and actor
    assert aborted in c.get("/public/draws").data.decode()
    page = c.get(f"/public/draws/{aborted}")
    assert page.status_code == 200
    html = page.data.decode()
    view = c.get(f"/api/v1/public/draws/{aborted}").get_json()
    assert view["status"] == "aborted" and view["abort"]["reason"] and "content" not in view
    for value in (view["abort"]["reason"], view["abort"]["time"], view["abort"]["actor"], 'id="draw-status"'):
        assert value in html
    assert secret["nonce"] not in html and secret["seed"] not in html
    # the search lists no check from the sealed draw for a company it drew
    body = c.get(f"/public/search?q={drawn_subjects[0]}").data.decode()
    assert re.search(r"D\d{14}-[0-9a-f]{4}", body) is None or sealed not in body
