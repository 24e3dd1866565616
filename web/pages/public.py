"""The public portal (公示, no login) and the in-browser verifier page.

Only published material is shown: a draw appears on no public page before `draw.published`
(the list, the detail, the search and the QR page all read published draws alone).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import segno
from flask import Blueprint, abort, current_app, g, render_template, request, send_file, url_for
from sqlalchemy import or_, select

from drawsvc.draws.service import DrawNotFound
from drawsvc.i18n import tr
from drawsvc.registry import schema as reg_schema
from ledger import witnessing
from verifier.render import MESSAGES
from web.cache import per_version
from web.draws_api import abort_record, plan_history, service
from web.limits import MAX_SEARCH
from web.registry_api import PUBLIC_FIELDS, registry

from .common import actor, ledger

bp = Blueprint("public", __name__)

#: drawverify's Chinese words, which the page in the browser uses too (one catalogue for both).
VERIFIER_MESSAGES = MESSAGES / "zh.json"

PAGE = 50


def public_below() -> int | None:
    """Entries below this seq are witnessed, i.e. public (None: no quorum to wait for). It
    depends only on the checkpoints, cosignatures, witnesses and k, all in the public version,
    so it is read once per version rather than by every part of every page (three queries)."""
    return witness_state().public_below


def witness_state() -> witnessing.WitnessState:
    return per_version("witness_state", lambda: witnessing.state(ledger()))


def published_draws() -> list[dict[str, Any]]:
    """Published draws that are public: with a witness quorum, only those whose publication k
    witnesses have cosigned (the others are awaiting_draws(), shown as 等待见证)."""
    below = public_below()
    rows = _published_on_log()
    return rows if below is None else [d for d in rows if d["seqs"]["published"] < below]


def awaiting_draws() -> list[dict[str, Any]]:
    """Published on the log, not yet cosigned by k witnesses: not public yet (等待见证)."""
    below = public_below()
    return [] if below is None else [d for d in _published_on_log() if d["seqs"]["published"] >= below]


def _published_on_log() -> list[dict[str, Any]]:
    """Every draw with a draw.published entry, read once per public version (callers must not mutate)."""
    return per_version("published_draws", lambda: service().list(status=["published"]))


def published_draw(draw_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        draw = service().get(draw_id)
    except DrawNotFound:
        abort(404)
    if draw["status"] != "published":
        abort(404)  # sealed, aborted or in progress: not public
    return draw, service().secret(draw_id)


def public_url(endpoint: str, **values: Any) -> str:
    base = current_app.config.get("SPOTCHECK_PUBLIC_URL")
    path = url_for(endpoint, **values)
    return (base.rstrip("/") + path) if base else url_for(endpoint, _external=True, **values)


def qr_svg(url: str, scale: int = 8) -> str:
    return str(segno.make_qr(url, error="m").svg_inline(scale=scale, dark="#111", light="#fff", border=2))


def names(kind: str) -> dict[str, str]:
    key = "code" if kind == "subject" else "id"
    return per_version(f"names:{kind}", lambda: {r[key]: r.get("name", "") for r in registry().list(kind)})


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    from web.limits import lenient_int

    return lenient_int(raw, 1, 1, 10**6)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    draws = published_draws()[:10]
    cp = ledger().latest_checkpoint()
    plans = [p for p in registry().list("plan") if p["status"] == "published"]
    return render_template("public/home.html", draws=draws, checkpoint=cp, plans=plans, me=actor())


@bp.get("/public/items")
def items():  # type: ignore[no-untyped-def]
    rows = [r for r in registry().list("item") if r.get("status", "active") != "withdrawn"]
    depts = {d["code"]: d["name"] for d in registry().list("department")}
    return render_template("public/items.html", items=rows, depts=depts)


@bp.get("/public/inspectors")
def inspectors():  # type: ignore[no-untyped-def]
    q = request.args.get("q", "").strip()
    rows = [{k: r.get(k) for k in PUBLIC_FIELDS["inspector"]} for r in registry().list("inspector")]
    if q:
        rows = [r for r in rows if q in (r["name"] or "") or q in (r["id"] or "") or q == r["department"]]
    depts = {d["code"]: d["name"] for d in registry().list("department")}
    return render_template("public/inspectors.html", inspectors=rows, depts=depts, q=q)


@bp.get("/public/plans")
def plans():  # type: ignore[no-untyped-def]
    rows = [p for p in registry().list("plan") if p["status"] == "published"]
    depts = {d["code"]: d["name"] for d in registry().list("department")}
    return render_template("public/plans.html", plans=rows, depts=depts)


@bp.get("/public/draws")
def draws():  # type: ignore[no-untyped-def]
    depts = {d["code"]: d["name"] for d in registry().list("department")}
    return render_template("public/draws.html", draws=published_draws(), aborted=aborted_draws(), depts=depts,
                           awaiting=awaiting_draws())


def aborted_draws() -> list[dict[str, Any]]:
    """Aborted draws stay public for good (中止记录永久公开), with who, when and why."""
    return [{**d, "abort": abort_record(d)} for d in service().list(status=["aborted"])]


@bp.get("/public/draws/<draw_id>")
def draw(draw_id: str):  # type: ignore[no-untyped-def]
    try:
        current = service().get(draw_id)
    except DrawNotFound:
        abort(404)
    if current["status"] == "aborted":
        return aborted_draw(current)
    if current["status"] == "published" and not current["witnessing"]["witnessed"]:
        verify_url = public_url("pages.public.verify", draw_id=draw_id)
        depts = {x["code"]: x["name"] for x in registry().list("department")}
        return render_template("public/draw_waiting.html", d=current, depts=depts, verify_url=verify_url,
                               qr=qr_svg(verify_url, 6))
    d, secret = published_draw(draw_id)
    subj = {r["id"]: r for r in secret["pools"]["subjects"]}
    insp = names("inspector")
    verify_url = public_url("pages.public.verify", draw_id=draw_id)
    led = ledger()
    entries = [{"name": k, "seq": s, "proof": f"/api/v1/log/proof/inclusion?index={s}&size={led.size()}"}
               for k, s in d["seqs"].items() if s is not None]
    depts = {x["code"]: x["name"] for x in registry().list("department")}
    return render_template("public/draw.html", d=d, content=secret["content"], matching=secret["matching"],
                           substitutions=[s["record"] for s in secret["substitutions"]], subj=subj, insp=insp,
                           verify_url=verify_url, qr=qr_svg(verify_url, 6), entries=entries, depts=depts,
                           history=plan_history(d))


def aborted_draw(d: dict[str, Any]):  # type: ignore[no-untyped-def]
    """An aborted draw's public page: ABORTED, why, when, by whom, its entries, the plan's other draws."""
    verify_url = public_url("pages.public.verify", draw_id=d["id"])
    led = ledger()
    entries = [{"name": k, "seq": s, "proof": f"/api/v1/log/proof/inclusion?index={s}&size={led.size()}"}
               for k, s in d["seqs"].items() if s is not None]
    depts = {x["code"]: x["name"] for x in registry().list("department")}
    return render_template("public/draw_aborted.html", d=d, abort=abort_record(d), entries=entries, depts=depts,
                           verify_url=verify_url, qr=qr_svg(verify_url, 6), history=plan_history(d))


def _assignments(draw_id: str) -> list[dict[str, Any]]:
    return service().secret(draw_id, pools=False)["matching"]["assignments"]  # type: ignore[no-any-return]


def _checks_by_subject() -> dict[str, list[dict[str, Any]]]:
    """Every published check, by subject: one pass over the published draws' assignments."""
    out: dict[str, list[dict[str, Any]]] = {}
    insp = names("inspector")
    for d in published_draws():
        assignments = per_version(f"assignments:{d['id']}", partial(_assignments, d["id"]))
        for a in assignments:
            out.setdefault(a["subject"], []).append({
                "draw": d["id"], "plan": d["plan"], "department": d["department"], "date": d.get("draw_date"),
                "team": [insp.get(i, i) for i in a["team"]]})
    return out


def checks_of(codes: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Every published check of these subjects: draw, plan, team (from published draws only). The
    index by subject is built once per public version, so a company page looks its checks up."""
    index = per_version("checks_by_subject", _checks_by_subject)
    return {c: [dict(x) for x in index.get(c, [])] for c in codes}


def public_read() -> Any:
    """A connection for a public page's reads. On PostgreSQL it is in autocommit: no transaction
    is opened, so none has to be rolled back when the connection goes back to the pool — one
    round trip less for a page that is not cached yet. The reads need no common snapshot: the
    page is cached under a version read before them, and a result newer than that version is
    shown with a proof in a tree that holds it (see company())."""
    conn = ledger().engine.connect()
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


@bp.get("/public/search")
def search():  # type: ignore[no-untyped-def]
    q = request.args.get("q", "").strip()
    if len(q) > MAX_SEARCH:
        # Why refuse rather than cut: a cut text searches for something the reader did not ask,
        # and the answer would look like "no such company". Say the limit instead.
        return render_template("public/search.html", q=q[:MAX_SEARCH], found=[], checks={}, results={},
                               max_search=MAX_SEARCH, error=tr("查询文字不能超过 %(limit)s 个字符", limit=MAX_SEARCH)), 400
    found: list[dict[str, Any]] = []
    if q:
        t = reg_schema.subjects
        with public_read() as conn:
            import json

            rows = conn.execute(select(t.c.doc).where(or_(t.c.name.contains(q), t.c.code.startswith(q.upper())))
                                .limit(PAGE)).scalars()
            found = [{k: json.loads(r).get(k) for k in PUBLIC_FIELDS["subject"]} for r in rows]
            results = published_results({s["code"] for s in found}, conn)
    else:
        results = {}
    checks = checks_of({s["code"] for s in found})
    return render_template("public/search.html", q=q, found=found, checks=checks, results=results,
                           max_search=MAX_SEARCH)


def published_results(codes: set[str], conn: Any) -> dict[str, list[dict[str, Any]]]:
    """Published inspection results of these subjects (drawsvc.inspections.public: published only)
    that k witnesses have cosigned; the others wait (split_witnessed)."""
    return {c: split_witnessed(rs)[0] for c, rs in _results_of(codes, conn).items()}


def _results_of(codes: set[str], conn: Any) -> dict[str, list[dict[str, Any]]]:
    from drawsvc.inspections import public as ins_public

    return {c: ins_public.for_subject(conn, c) for c in codes}


def split_witnessed(results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(public, awaiting): results whose publication k witnesses cosigned, and those published on
    the log but not cosigned yet (等待见证: not shown as public yet)."""
    below = public_below()
    if below is None:
        return results, []
    public = [r for r in results if r.get("published_seq") is None or r["published_seq"] < below]
    return public, [r for r in results if r.get("published_seq") is not None and r["published_seq"] >= below]


@bp.get("/public/companies/<code>")
def company(code: str):  # type: ignore[no-untyped-def]
    """One company: its public registry fields, every published check of it (draws and results)."""
    from drawsvc.registry.state import get_record

    code = code.strip().upper()[:18]
    # one connection for the page: on PostgreSQL each checkout costs a ping (and a rollback, but for
    # public_read's autocommit)
    with public_read() as conn:
        rec = get_record(conn, "subject", code)
        if rec is None:
            abort(404)
        results, waiting = split_witnessed(_results_of({code}, conn)[code])
    subject = {k: rec.get(k) for k in PUBLIC_FIELDS["subject"]}
    version = g.get("public_version")  # the log size this page is cached under (web/cache.py)
    size = int(version.split(".")[0]) if version else ledger().size()
    for r in results:
        seq = r.get("published_seq")
        # a tree that holds the entry: the version may be a moment older than the result just read
        r["proof"] = f"/api/v1/log/proof/inclusion?index={seq}&size={max(size, seq + 1)}" if seq is not None else None
    depts = per_version("depts", lambda: {x["code"]: x["name"] for x in registry().list("department")})
    items = per_version("items", lambda: {x["code"]: x["name"] for x in registry().list("item")})
    return render_template("public/company.html", s=subject, checks=checks_of({code})[code], results=results,
                           depts=depts, items=items, draws=published_draws(), waiting=waiting,
                           witnessing=witnessing.status(ledger(), waiting[-1]["published_seq"], witness_state())
                           if waiting else None)


@bp.get("/public/result-categories")
def result_categories():  # type: ignore[no-untyped-def]
    """The result category table, follow-up kinds and how a follow-up ends."""
    from drawsvc.inspections import categories as cats

    with ledger().engine.connect() as conn:
        table = cats.all_categories(conn)
    return render_template("public/categories.html", table=table, groups=cats.GROUPS,
                           kinds=cats.FOLLOW_UP_KINDS, ends=cats.FOLLOW_UP_ENDS)


@bp.get("/public/checkpoint")
def checkpoint():  # type: ignore[no-untyped-def]
    from ledger.schema import witnesses
    from web.log_api import current_checkpoint_note

    led = ledger()
    note = current_checkpoint_note(led) if led.latest_checkpoint() else ""
    with led.engine.connect() as conn:
        wits = [{"name": r.name, "verifier_key": r.verifier_key, "size": r.size, "last_error": r.last_error}
                for r in conn.execute(select(witnesses))]
    recent = list(reversed(led.list_checkpoints()))[:20]
    instance = current_app.extensions["instance"]
    return render_template("public/checkpoint.html", note=note, witnesses=wits, recent=recent,
                           quorum=witnessing.quorum(led.engine),
                           log_key=instance.genesis_log_key.encode(), origin=led.origin)


@bp.get("/public/keys")
def keys():  # type: ignore[no-untyped-def]
    """密钥与见证者: every actor, witness and log key with its history, read from the log's own key
    entries (what a verifier following the log from genesis sees); JSON at /api/v1/log/keys."""
    from ledger.rotation import key_history

    def build() -> dict[str, Any]:
        with ledger().engine.connect() as conn:
            return key_history(conn)

    history = per_version("key_history", build)
    instance = current_app.extensions["instance"]
    return render_template("public/keys.html", h=history, genesis_log_key=instance.genesis_log_key.encode())


@bp.get("/verify/messages/zh.json")
def verifier_messages():  # type: ignore[no-untyped-def]
    """The verifier's catalogue of Chinese words (titles, verdicts, statuses, codes, reasons)."""
    return send_file(VERIFIER_MESSAGES, mimetype="application/json", max_age=3600)


@bp.get("/verify")
@bp.get("/verify/<draw_id>")
def verify(draw_id: str = ""):  # type: ignore[no-untyped-def]
    draw_id = draw_id or request.args.get("draw", "")
    return render_template("public/verify.html", draw_id=draw_id[:100])
