"""Shared helpers of the pages: who is calling, role checks, CSRF, log-entry links."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from flask import Flask, abort, current_app, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from drawsvc.clock import china_date
from drawsvc.registry.authz import Actor
from web.errors import ApiError, http_words

STAFF_ROLES = ("admin", "operator", "inspector", "auditor")


class LoginRedirect(HTTPException):
    code = 302


def actor() -> Actor | None:
    from web.registry_api import current_actor

    try:
        return current_actor()
    except ApiError:
        return None


def require(*roles: str) -> Actor:
    """The page's role check, as the API's `need`: anonymous → login page, wrong role → 403."""
    a = actor()
    if a is None:
        raise LoginRedirect(response=redirect(url_for("pages.staff.login", next=request.full_path.rstrip("?"))))
    if roles and a.role not in roles:
        abort(403)
    return a


def may_run(a: Actor, department: str) -> bool:
    return a.role == "admin" or (a.role == "operator" and department in a.departments)


def privileged(a: Actor | None, department: str) -> bool:
    return a is not None and (a.role in ("admin", "auditor") or (a.role == "operator" and department in a.departments))


def csrf_token() -> str:
    """The session's CSRF token (created before login too, for the login form itself)."""
    tok = session.get("csrf")
    if not tok:
        tok = session["csrf"] = secrets.token_urlsafe(32)
    return str(tok)


def ledger() -> Any:
    return current_app.extensions["ledger"]


def now_unix() -> int:
    """Now, by the service's one clock (the ledger's), as Unix seconds."""
    return int(ledger().clock().timestamp())


def today() -> date:
    """Today in China by the service's one clock."""
    return china_date(ledger().clock())


def entry_links(seqs: list[int]) -> list[dict[str, Any]]:
    """Log entries with their inclusion-proof link, for "this action created entry #seq"."""
    led = ledger()
    size = led.size()
    out = []
    for seq in seqs:
        if 0 <= seq < size:
            e = led.entry(seq)
            out.append({"seq": seq, "type": e.type, "time": e.time, "actor": e.actor_id if hasattr(e, "actor_id") else
                        e.to_json()["actor"]["id"], "leaf_hash": e.leaf_hash().hex(),
                        "proof": f"/api/v1/log/proof/inclusion?index={seq}&size={size}",
                        "entry_url": f"/api/v1/log/entries/{seq}"})
    return out


def seqs_from_args() -> list[int]:
    raw = request.args.get("entries", "")
    return [int(x) for x in raw.split(",")[:50] if x.isascii() and x.isdigit() and len(x) < 16]


def dept_name(code: str) -> str:
    """A department's name for a page (its code is an identifier, not a word), read once a request."""
    from flask import g

    from web.registry_api import registry

    if "dept_names" not in g:
        g.dept_names = {r["code"]: r.get("name") or r["code"] for r in registry().list("department")}
    return str(g.dept_names.get(code, code))


def register_page_errors(app: Flask) -> None:
    def _page(exc: HTTPException):  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/") or request.path in ("/checkpoint",) or request.path.startswith("/tile/"):
            return None
        if isinstance(exc, LoginRedirect):
            return exc.response
        # Werkzeug's own paragraphs are English: a page says it in the reader's language, and
        # keeps a description the code gave (already from the catalogue)
        own = exc.description if exc.description != type(exc).description else None
        code = exc.code or 500
        title, message = http_words(code)
        return render_template("error.html", code=code, title=title, message=own or message), code

    # pages get HTML errors; the API keeps its JSON ones (web.errors handles those first)
    previous = app.error_handler_spec.get(None, {}).get(None, {}).get(HTTPException)

    def _dispatch(exc: HTTPException):  # type: ignore[no-untyped-def]
        resp = _page(exc)
        if resp is not None:
            return resp
        return previous(exc) if previous else exc

    app.register_error_handler(HTTPException, _dispatch)
    app.register_error_handler(LoginRedirect, lambda exc: exc.response)
