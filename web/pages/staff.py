"""The staff console (login): registries and import, plans, draws with the ceremony screen.

Every page checks the role as the API does (`require`), every form carries the session's CSRF
token (checked app-wide by web.registry_api.csrf_protect; the login form by the login view), and every
action reports the log entries it created, each with its seq and inclusion-proof link.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for

from drawsvc.draw.drand import round_after, round_time
from drawsvc.draw.errors import DrawError
from drawsvc.draws import precheck
from drawsvc.draws.inputs import InputsError
from drawsvc.draws.service import DrawNotFound, DrawStateError
from drawsvc.i18n import N_, tr
from drawsvc.inspections.errors import InspectionError
from drawsvc.registry import io as regio
from drawsvc.registry.authz import Actor, Forbidden
from drawsvc.registry.records import EXEMPTION_WORDS, RecordError
from drawsvc.registry.service import Conflict, NotFound, actor_id_for
from ledger import witnessing
from web import labels
from web.draws_api import service
from web.inspections_api import service as inspection_service
from web.limits import MAX_IMPORT_BYTES, lenient_int
from web.registry_api import registry
from web.security import client_ip, limiter, locked_message, throttle_hint

from .common import (
    STAFF_ROLES,
    csrf_token,
    entry_links,
    ledger,
    may_run,
    now_unix,
    privileged,
    require,
    seqs_from_args,
    today,
)
from .public import public_url, qr_svg

bp = Blueprint("staff", __name__, url_prefix="/staff")

REGISTRIES = {
    "items": ("item", ("code", "name", "department", "kind", "methods", "legal_basis", "version", "status")),
    "subjects": ("subject", ("code", "name", "region", "industry", "credit_class", "status", "complaints")),
    "inspectors": ("inspector", ("id", "name", "department", "cert_no", "cert_valid_to", "qualifications", "status")),
    "experts": ("expert", ("id", "name", "specialties", "organisation", "title", "status")),
    "sublibraries": ("sublibrary", ("code", "name", "department", "filter")),
    "departments": ("department", ("code", "name", "parent", "joint_group", "region")),
    "conflicts": ("conflict", ("inspector", "subject", "reason", "note")),
}
IMPORT_KINDS = {"subjects": "subject", "inspectors": "inspector"}
MAX_UPLOAD = MAX_IMPORT_BYTES  # the same bound as POST /api/v1/import/<kind> (web/limits.py)
ACTION_ERRORS = (DrawError, InputsError, DrawStateError, DrawNotFound, Forbidden, RecordError, NotFound, Conflict,
                 ValueError, KeyError, InspectionError)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.staff.dashboard")


def _do(a: Actor, fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[int], str | None]:
    """Run a service action; return its result, the log entries it created, or an error message."""
    led = ledger()
    before = led.size()
    try:
        result = fn(*args, **kwargs)
    except ACTION_ERRORS as exc:
        msg = str(exc)
        if isinstance(exc, RecordError):
            msg = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors)
        return None, [], msg or type(exc).__name__
    me = actor_id_for(a.id)
    seqs = [s for s in range(before, led.size()) if led.entry(s).actor_id == me]
    return result, seqs, None


def _back(endpoint: str, seqs: list[int], error: str | None, **values: Any):  # type: ignore[no-untyped-def]
    if error:
        flash(error, "error")
    url = url_for(endpoint, **values)
    if seqs:
        url += ("&" if "?" in url else "?") + urlencode({"entries": ",".join(map(str, seqs))})
    return redirect(url)


# --- login ------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    error = None
    status = 200
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        account = request.form.get("account", "").strip()[:100]
        password = request.form.get("password", "")
        expected = session.get("csrf", "")
        if not sent or not expected or not hmac.compare_digest(sent, expected):
            error, status = tr("表单已过期，请重试"), 400
        elif (refusal := limiter().check(account, client_ip())) is not None:
            error, status = locked_message(refusal), 429
        else:
            a = registry().authenticate(account, password)
            if a is None:
                limiter().failed(account, client_ip())
                error, status = tr("账户或密码错误"), 401
            else:
                limiter().succeeded(account, client_ip())
                session.clear()
                session["account"] = a.id
                session["csrf"] = secrets.token_urlsafe(32)
                return redirect(_safe_next(request.args.get("next")))
    return render_template("staff/login.html", error=error, csrf=csrf_token(), throttle_hint=throttle_hint()), status


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    session.clear()
    return redirect(url_for("pages.public.home"))


# --- dashboard, log -----------------------------------------------------------------------

@bp.get("/")
def dashboard():  # type: ignore[no-untyped-def]
    a = require(*STAFF_ROLES)
    draws = []
    if a.role in ("admin", "operator", "auditor"):
        depts = None if a.role in ("admin", "auditor") else list(a.departments)
        draws = service().list(departments=depts)[:8]
    has_inspections = any(r.rule.startswith("/api/v1/inspections") or r.rule.startswith("/api/v1/tasks")
                          for r in current_app.url_map.iter_rules())
    calendar = None
    if has_inspections and a.role in ("admin", "operator", "auditor"):
        calendar = {"missing": inspection_service().calendar_gaps(), "may_load": a.role == "admin"}
    return render_template("staff/dashboard.html", me=a, draws=draws, has_inspections=has_inspections, calendar=calendar,
                           assignments=_my_assignments(a) if a.role == "inspector" else [])


def _my_assignments(a: Actor) -> list[dict[str, Any]]:
    out = []
    for d in service().list(status=["published"]):
        for x in service().secret(d["id"], pools=False)["matching"]["assignments"]:
            if a.inspector and a.inspector in x["team"]:
                out.append({"draw": d["id"], "plan": d["plan"], "subject": x["subject"], "team": x["team"]})
    return out


@bp.get("/lockouts")
def lockouts():  # type: ignore[no-untyped-def]
    """Every login lockout (per account and address, or per address), newest first: an
    administrator sees who is being attacked from where."""
    require("admin", "auditor")
    return render_template("staff/lockouts.html", rows=limiter().lockouts(200))


@bp.get("/accounts")
def accounts():  # type: ignore[no-untyped-def]
    """Accounts and their signing keys: whether each holds an Ed25519 key in force and an SM2 key
    (SPEC §3 items 7, 11); the administrator issues a new key after a revocation or gives an SM2
    key here (the same actions as `drawsvc user new-key / sm2-key` and the API)."""
    a = require("admin")
    from ledger.rotation import key_state

    led = ledger()
    with led.engine.connect() as conn:
        state = key_state(conn)
    live = {owner for kid, (owner, _pk) in state.keys.items() if kid not in state.retired}
    sm2_on_log = led.sm2_actors()
    rows = [{**acc, "has_key": actor_id_for(acc["id"]) in live,
             "sm2_seq": sm2_on_log.get(actor_id_for(acc["id"]), (None,))[0]}
            for acc in registry().list("account")]
    return render_template("staff/accounts.html", rows=rows, me=a, created=entry_links(seqs_from_args()))


@bp.post("/accounts/<account_id>/<action>")
def account_key(account_id: str, action: str):  # type: ignore[no-untyped-def]
    a = require("admin")
    fn = {"new-key": registry().issue_new_key, "sm2-key": registry().give_sm2_key}.get(action)
    if fn is None:
        abort(404)
    led = ledger()
    before = led.size()
    _, _, err = _do(a, fn, a, account_id)
    if err is None:
        led.checkpoint()
        flash(tr("已为账户 %(id)s 签发新密钥", id=account_id) if action == "new-key"
              else tr("已为账户 %(id)s 登记国密 SM2 密钥：其此后的条目同时带两种签名", id=account_id), "ok")
    return _back("pages.staff.accounts", list(range(before, led.size())) if err is None else [], err)


@bp.get("/log")
def log():  # type: ignore[no-untyped-def]
    require("admin", "operator", "auditor")
    led = ledger()
    size = led.size()
    start = request.args.get("start", "")
    first = lenient_int(start, max(0, size - 50))
    seqs = list(range(first, min(size, first + 50)))
    return render_template("staff/log.html", entries=list(reversed(entry_links(seqs))), size=size, first=first)


# --- registries and import ----------------------------------------------------------------

@bp.get("/registries/<plural>")
def registry_list(plural: str):  # type: ignore[no-untyped-def]
    require("admin", "operator", "auditor")
    if plural not in REGISTRIES:
        abort(404)
    kind, cols = REGISTRIES[plural]
    from web.registry_api import _where

    page = request.args.get("page", "1")
    page_n = lenient_int(page, 1, 1, 10**6)
    rows = registry().list(kind, _where(kind), limit=51, offset=(page_n - 1) * 50)
    return render_template("staff/registry.html", plural=plural, kind=kind, cols=cols, rows=rows[:50],
                           more=len(rows) > 50, page=page_n, q=request.args.get("q", ""),
                           importable=plural in IMPORT_KINDS)


@bp.route("/import", methods=["GET", "POST"])
def import_page():  # type: ignore[no-untyped-def]
    a = require("admin", "operator")
    report, error, seqs, too_large = None, None, [], False
    kind = request.values.get("kind", "subjects")
    if request.method == "POST":
        f = request.files.get("file")
        dry = request.form.get("dry_run") == "1"
        if kind not in IMPORT_KINDS:
            error = tr("只能导入检查对象或执法检查人员")
        elif f is None or not f.filename:
            error = tr("请选择文件")
        else:
            name = f.filename
            data = f.read(MAX_UPLOAD + 1)
            ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            if len(data) > MAX_UPLOAD:
                too_large = True
                error = tr("文件超过 %(mb)s MB", mb=MAX_UPLOAD // 1024 // 1024)
            elif not data:
                error = tr("文件为空")
            elif ext not in ("csv", "xlsx", "xls"):
                error = tr("只接受 .csv、.xlsx 或 .xls 文件")
            elif ext == "xlsx" and not data.startswith(b"PK\x03\x04"):
                error = tr("不是有效的 .xlsx 文件")
            elif ext == "xls" and not data.startswith(OLE_MAGIC):
                error = tr("不是有效的 .xls 文件")
            elif ext == "csv" and b"\x00" in data[:4096]:
                error = tr("不是文本 CSV 文件")
            else:
                try:
                    report, seqs, error = _do(a, regio.import_file, registry(), a, IMPORT_KINDS[kind], data,
                                              f"upload.{ext}", dry_run=dry)
                except regio.ImportFormatError as exc:
                    error = str(exc)
                if report is not None:
                    report = report.to_json()
    # the outcome first; the (possibly many) log entries it wrote below it, folded
    return render_template("staff/import.html", kind=kind, report=report, error=error, import_entries=entry_links(seqs),
                           templates=TEMPLATE_FILES), _import_status(report, error, too_large)


def _import_status(report: dict | None, error: str | None, too_large: bool) -> int:
    """The page's status says what the message says (a client or a proxy log sees a refusal as a
    4xx): 413 for a file over the bound, 400 for a file that cannot be read, 422 for bad rows."""
    if too_large:
        return 413
    if report and not report["ok"]:
        return 422
    if error and request.method == "POST":
        return 400
    return 200


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old Excel .xls (a compound document)
TEMPLATE_DIR = Path(regio.__file__).resolve().parents[2] / "docs" / "templates"
TEMPLATE_FILES = {"subjects.xlsx": "subject", "subjects.csv": "subject", "inspectors.xlsx": "inspector",
                  "inspectors.csv": "inspector"}
TEMPLATE_TYPES = {"csv": "text/csv; charset=utf-8",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.get("/import/templates/<name>")
def import_template(name: str):  # type: ignore[no-untyped-def]
    """An import template to download: the documented one with its example rows, or, where the
    docs are not installed, the header row alone."""
    require("admin", "operator")
    if name not in TEMPLATE_FILES:
        abort(404)
    path = TEMPLATE_DIR / name
    ext = name.rsplit(".", 1)[1]
    data = path.read_bytes() if path.is_file() else regio.export_bytes([], TEMPLATE_FILES[name], ext)
    return Response(data, mimetype=TEMPLATE_TYPES[ext],
                    headers={"Content-Disposition": f"attachment; filename={name}"})


# --- plans --------------------------------------------------------------------------------

PLAN_STATUS = {"draft": N_("草稿"), "submitted": N_("待审批"),
               "approved": N_("已批准"), "published": N_("已公布")}
EXEMPTION_LABELS = EXEMPTION_WORDS  # the same words as `drawsvc plan show`
DRAW_STATUS = labels.DRAW_STATUS


def _plan_labels() -> dict[str, Any]:
    return {"plan_status": PLAN_STATUS, "exemption_labels": EXEMPTION_LABELS, "draw_status": DRAW_STATUS}


@bp.context_processor
def _status_words() -> dict[str, Any]:
    """Every staff page names a draw's status in words (the code stays in data-status)."""
    return {"draw_status": DRAW_STATUS}


@bp.get("/plans")
def plans():  # type: ignore[no-untyped-def]
    a = require("admin", "operator", "auditor")
    rows = registry().list("plan")
    return render_template("staff/plans.html", plans=rows, me=a, created=entry_links(seqs_from_args()),
                           dept_names=_dept_names(), **_plan_labels())


def _percent_to_bp(raw: str, stratum: str) -> int:
    """A ratio typed as a percentage ("1", "0.5") to basis points, refused when it is not one."""
    from decimal import Decimal, InvalidOperation

    raw = raw.strip().rstrip("%")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(tr("%(stratum)s 类抽查比例“%(raw)s”不是数字", stratum=stratum, raw=raw)) from None
    bp_value = value * 100
    if not value.is_finite() or bp_value != bp_value.to_integral_value() or not 0 <= bp_value <= 10000:
        raise ValueError(tr("%(stratum)s 类抽查比例应在 0–100%% 之间，最多两位小数", stratum=stratum))
    return int(bp_value)


def _plan_from_form(form: Any) -> dict[str, Any]:
    """The plan record as the registry takes it (it validates every field and names the bad ones)."""
    data: dict[str, Any] = {k: form.get(k, "").strip() for k in ("code", "name", "year", "frequency_cap", "team_size",
                                                                  "window_start", "window_end", "note")}
    data = {k: v for k, v in data.items() if v != "" or k in ("code", "name", "year")}
    data["departments"] = form.getlist("departments")
    data["items"] = form.getlist("items")
    data["sublibraries"] = form.getlist("sublibraries")
    data["exemptions"] = form.getlist("exemptions")
    data["joint"] = form.get("joint") == "1"
    data["ratios_bp"] = {k: _percent_to_bp(form.get(f"ratio_{k}", ""), k) for k in ("A", "B", "C", "D")}
    return data


def _plan_form(a: Actor, plan: dict[str, Any] | None, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    depts = [d for d in registry().list("department") if a.role == "admin" or d["code"] in a.departments]
    items = [i for i in registry().list("item") if i.get("status") == "active"]
    return render_template("staff/plan_form.html", me=a, plan=plan, error=error, departments=depts, items=items,
                           sublibraries=registry().list("sublibrary"), dept_names=_dept_names(),
                           **_plan_labels()), status


@bp.route("/plans/new", methods=["GET", "POST"])
def plan_new():  # type: ignore[no-untyped-def]
    a = require("admin", "operator")
    if request.method == "GET":
        year = today().year + (1 if today().month == 12 else 0)
        return _plan_form(a, {"year": year, "ratios_bp": {"A": 100, "B": 300, "C": 1000, "D": 2000},
                              "frequency_cap": 2, "team_size": 2, "exemptions": list(EXEMPTION_LABELS),
                              "departments": list(a.departments[:1]), "items": [], "sublibraries": []})
    return _plan_save(a, None)


@bp.route("/plans/<code>/edit", methods=["GET", "POST"])
def plan_edit(code: str):  # type: ignore[no-untyped-def]
    a = require("admin", "operator")
    plan = registry().get("plan", code)
    if plan is None:
        abort(404)
    if request.method == "GET":
        return _plan_form(a, plan)
    return _plan_save(a, plan)


def _plan_save(a: Actor, old: dict[str, Any] | None):  # type: ignore[no-untyped-def]
    try:
        data = _plan_from_form(request.form)
    except ValueError as exc:
        f = request.form
        echo = {**(old or {}), **{k: v for k, v in f.items() if not k.startswith("ratio_")},
                **{k: f.getlist(k) for k in ("departments", "items", "sublibraries", "exemptions")},
                "joint": f.get("joint") == "1", "ratios_raw": {k: f.get(f"ratio_{k}", "") for k in "ABCD"}}
        return _plan_form(a, echo, str(exc), 422)
    if old is not None:
        data["code"] = old["code"]
    saved, seqs, err = _do(a, registry().save, a, "plan", data, create=old is None)
    if err:
        return _plan_form(a, {**(old or {}), **data}, err, 422)
    return _back("pages.staff.plan", seqs, None, code=saved["code"])


@bp.get("/plans/<code>")
def plan(code: str):  # type: ignore[no-untyped-def]
    """One plan as the official reads it: its content, its draws and their state, its history
    on the log (who drafted, submitted, approved), and the next step."""
    a = require("admin", "operator", "auditor")
    p = registry().get("plan", code)
    if p is None:
        abort(404)
    draws_of = [d for d in service().list() if d["plan"] == code]
    items = {i["code"]: i for i in registry().list("item")}
    libs = {x["code"]: x for x in registry().list("sublibrary")}
    mine = a.role == "admin" or (a.role == "operator" and bool(set(p["departments"]) & set(a.departments)))
    with ledger().engine.connect() as conn:
        four_eyes = registry().four_eyes(conn, p["departments"])
    return render_template("staff/plan.html", p=p, me=a, may_change=mine, draws=draws_of, items=items, libs=libs,
                           history=entry_links(registry().plan_history(code)), created=entry_links(seqs_from_args()),
                           dept_names=_dept_names(), four_eyes=four_eyes, **_plan_labels())


@bp.post("/plans/<code>/<step>")
def plan_step(code: str, step: str):  # type: ignore[no-untyped-def]
    a = require("admin", "operator")
    status = {"submit": "submitted", "approve": "approved", "return": "draft", "publish": "published",
              "reopen": "draft"}.get(step)
    if status is None:
        abort(404)
    if step == "publish" and request.form.get("confirm") != "1":
        return _back("pages.staff.plan", [], tr("公布不可撤销：请勾选确认后再公布"), code=code)
    _, seqs, err = _do(a, registry().set_plan_status, a, code, status, request.form.get("reason", ""))
    return _back("pages.staff.plan", seqs, err, code=code)


# --- draws ----------------------------------------------------------------------------------

def _quicknet() -> Any:
    chains = service().chains
    quick = [c for c in chains.values() if c.scheme == "bls-unchained-g1-rfc9380"]
    return (quick or list(chains.values()) or [None])[0]


@bp.get("/draws")
def draws():  # type: ignore[no-untyped-def]
    a = require("admin", "operator", "auditor")
    depts = None if a.role in ("admin", "auditor") else list(a.departments)
    rows = service().list(departments=depts)
    plans = [p for p in registry().list("plan") if p["status"] in ("approved", "published")]
    plans = [p for p in plans if a.role == "admin" or set(p["departments"]) & set(a.departments)]
    chain = _quicknet()
    suggested = round_after(chain, now_unix() + 120) if chain else None
    mine = sorted({d for p in plans for d in p["departments"] if a.role == "admin" or d in a.departments})
    # the values of a prepare form just refused, so the official corrects one field, not all
    kept = session.pop("prepare_form", None) or {}
    return render_template("staff/draws.html", draws=rows, plans=plans, me=a, suggested_round=suggested,
                           today=today().isoformat(), created=entry_links(seqs_from_args()),
                           departments=mine, dept_names=_dept_names(), kept=kept)


DICE_MIN_DIGITS = 20
DICE_MAX_DIGITS = 200


def _positive_int(raw: str, what: str, low: int, high: int | None = None) -> int:
    """A form's whole number, refused with a message when it is not one or is out of range:
    what is signed into the permanent commitment is exactly what the official typed."""
    raw = raw.strip()
    if not re.fullmatch(r"[0-9]+", raw):
        raise ValueError(tr("%(what)s“%(raw)s”不是有效的正整数", what=tr(what), raw=raw))
    n = int(raw)
    if n < low or (high is not None and n > high):
        rng = f"{low}–{high}" if high is not None else f"≥ {low}"
        raise ValueError(tr("%(what)s应在 %(rng)s 之间，填写的是 %(n)s", what=tr(what), rng=rng, n=n))
    return n


def _sources_from_form(form: Any) -> list[dict[str, Any]]:
    """The declared public sources, every value validated: nothing is silently replaced."""
    sources: list[dict[str, Any]] = []
    if form.get("use_drand"):
        chain = _quicknet()
        if chain is None:
            raise ValueError(tr("未配置 drand 网络"))
        rnd = _positive_int(form.get("drand_round", ""), N_("drand 轮次"), 1)
        if round_time(chain, rnd) <= now_unix():
            raise ValueError(tr("drand 第 %(rnd)s 轮已经产生，必须声明一个将来的轮次", rnd=rnd))
        sources.append({"type": "drand", "chain_hash": chain.chain_hash_hex, "round": rnd})
    if form.get("use_dice"):
        md = _positive_int(form.get("dice_min_digits", ""), N_("骰子最少位数"),
                           DICE_MIN_DIGITS, DICE_MAX_DIGITS)
        sources.append({"type": "dice", "min_digits": md})
    lottery, period = form.get("lottery_name", "").strip(), form.get("lottery_period", "").strip()
    if lottery or period:
        if not (lottery and period):
            raise ValueError(tr("彩票须同时填写名称和期号"))
        sources.append({"type": "lottery", "name": lottery, "period": period})
    for i in (1, 2, 3):
        name = form.get(f"witness_{i}", "").strip()
        commitment = form.get(f"witness_commitment_{i}", "").strip().lower()
        if name or commitment:
            if not name:
                raise ValueError(tr("见证人 %(i)s 缺少姓名", i=i))
            if not re.fullmatch(r"[0-9a-f]{64}", commitment):
                raise ValueError(tr("见证人 %(name)s 的承诺应为 64 位十六进制", name=name))
            sources.append({"type": "witness", "witness": name, "commitment": commitment})
    if not sources:
        raise ValueError(tr("至少需要一个公开随机源"))
    return sources


def _draw_date_from_form(form: Any) -> str:
    raw = form.get("draw_date", "").strip()
    if not raw:
        raise ValueError(tr("请填写抽签日期"))
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise ValueError(tr("抽签日期“%(raw)s”不是有效日期", raw=raw)) from None


PREPARE_FIELDS = ("plan", "department", "draw_date", "use_dice", "dice_min_digits", "use_drand", "drand_round",
                  "lottery_name", "lottery_period", "witness_1", "witness_commitment_1", "witness_2",
                  "witness_commitment_2", "witness_3", "witness_commitment_3", "note")


def _refused_prepare(form: Any, error: str):  # type: ignore[no-untyped-def]
    """Back to the prepare form with the error and with what was typed (kept in the session for
    one page view: a few short fields), never with the defaults in its place."""
    session["prepare_form"] = {k: form.get(k, "")[:200] for k in PREPARE_FIELDS if form.get(k, "")}
    return _back("pages.staff.draws", [], error)


@bp.post("/draws/check")
def prepare_check():  # type: ignore[no-untyped-def]
    """Step one of prepare: validate the form and show what would be frozen, before anything is signed."""
    a = require("admin", "operator")
    f = request.form
    try:
        sources = _sources_from_form(f)
        draw_date = _draw_date_from_form(f)
    except ValueError as exc:
        return _refused_prepare(f, str(exc))
    preview, _, err = _do(a, service().preview, a, f.get("plan", ""), f.get("department", ""), draw_date)
    if err:
        return _refused_prepare(f, err)
    kept = {k: f.get(k, "") for k in PREPARE_FIELDS if f.get(k, "")}
    return render_template("staff/prepare.html", p=preview, sources=sources, kept=kept, me=a,
                           insp_labels=precheck.LEFT_OUT, excl_labels=precheck.EXCLUDED,
                           dept_names=_dept_names())


@bp.post("/draws")
def prepare():  # type: ignore[no-untyped-def]
    a = require("admin", "operator")
    f = request.form
    if f.get("confirm") != "1":
        return _refused_prepare(f, tr("请先核对名录池并勾选确认，再准备抽签"))
    try:
        sources = _sources_from_form(f)
        draw_date = _draw_date_from_form(f)
    except ValueError as exc:
        return _refused_prepare(f, str(exc))
    draw, seqs, err = _do(a, service().prepare, a, f.get("plan", ""), f.get("department", ""), sources,
                          draw_date=draw_date, note=f.get("note", "")[:500])
    if err:
        return _refused_prepare(f, err)
    return _back("pages.staff.draw", seqs, None, draw_id=draw["id"])


def _dept_names() -> dict[str, str]:
    return {r["code"]: r.get("name") or r["code"] for r in registry().list("department")}


def _load_draw(draw_id: str, a: Actor) -> dict[str, Any]:
    try:
        d = service().get(draw_id)
    except DrawNotFound:
        abort(404)
    if a.role == "operator" and d["department"] not in a.departments:
        abort(403)
    return d  # type: ignore[no-any-return]


@bp.get("/draws/<draw_id>")
def draw(draw_id: str):  # type: ignore[no-untyped-def]
    a = require("admin", "operator", "auditor")
    d = _load_draw(draw_id, a)
    secret = service().secret(draw_id, pools=False) if privileged(a, d["department"]) else {}
    led = ledger()
    lifecycle = entry_links([s for s in d["seqs"].values() if s is not None])
    subs = [e for e in (led.entry(s) for s in range(d["seqs"]["prepared"], led.size()))
            if e.type == "draw.substituted" and e.payload.get("draw_id") == draw_id]
    lifecycle += entry_links([e.seq for e in subs])
    lifecycle.sort(key=lambda x: x["seq"])
    # the witness state of the draw's latest step (等待见证 until k witnesses cosigned a checkpoint covering it)
    wit = witnessing.status(led, lifecycle[-1]["seq"]) if lifecycle else None
    return render_template("staff/draw.html", d=d, secret=secret, me=a, may_run=may_run(a, d["department"]),
                           lifecycle=lifecycle, created=entry_links(seqs_from_args()), witnessing=wit,
                           insp={r["id"]: r.get("name", "") for r in registry().list("inspector")})


def _reveals_from_form(d: dict[str, Any], form: Any) -> list[dict[str, Any]]:
    reveals = []
    for i, s in enumerate(d["seed_recipe"]["sources"]):
        t = s["type"]
        if t == "server_nonce":
            continue
        if t == "dice":
            reveals.append({"type": "dice", "digits": re.sub(r"\s+", "", form.get(f"src_{i}_digits", ""))})
        elif t == "witness":
            reveals.append({"type": "witness", "witness": s["witness"],
                            "contribution": form.get(f"src_{i}_contribution", "").strip().lower()})
        elif t == "drand":
            r: dict[str, Any] = {"type": "drand", "chain_hash": s["chain_hash"], "round": s["round"],
                                 "signature": form.get(f"src_{i}_signature", "").strip().lower()}
            prev = form.get(f"src_{i}_previous_signature", "").strip().lower()
            if prev:
                r["previous_signature"] = prev
            reveals.append(r)
        elif t == "lottery":
            groups = [[int(x) for x in re.findall(r"\d+", g)] for g in form.get(f"src_{i}_groups", "").split("|")]
            reveals.append({"type": "lottery", "name": s["name"], "period": s["period"], "groups": groups})
    return reveals


@bp.post("/draws/<draw_id>/<step>")
def draw_step(draw_id: str, step: str):  # type: ignore[no-untyped-def]
    a = require("admin", "operator")
    d = _load_draw(draw_id, a)
    svc = service()
    back = request.form.get("back") == "ceremony"
    endpoint = "pages.staff.ceremony" if back else "pages.staff.draw"
    f = request.form
    if step == "seed":
        _, seqs, err = _do(a, svc.seed, a, draw_id, _reveals_from_form(d, f))
    elif step == "run":
        _, seqs, err = _do(a, svc.run, a, draw_id)
    elif step in ("publish", "abort") and f.get("confirm") != "1":  # irreversible: confirmed by a tick
        seqs, err = [], tr("此操作不可撤销：请勾选确认后再提交")
    elif step == "publish":
        _, seqs, err = _do(a, svc.publish, a, draw_id)
    elif step == "abort":
        _, seqs, err = _do(a, svc.abort, a, draw_id, f.get("reason", ""))
    elif step == "tasks":  # one inspection task per drawn subject (only the missing ones)
        from web.inspections_api import service as inspections

        _, seqs, err = _do(a, inspections().create_tasks_for_draw, a, draw_id)
    elif step == "substitute":
        kind = f.get("kind")
        g = lambda k: f.get(k, "").strip()  # noqa: E731
        if kind == "inspector":
            unavailable = [x.strip() for x in g("unavailable").split(",") if x.strip()]
            _, seqs, err = _do(a, svc.substitute_inspector, a, draw_id, g("subject"), g("leaving"), g("reason"),
                               unavailable)
        elif kind == "subject":
            _, seqs, err = _do(a, svc.substitute_subject, a, draw_id, g("subject"), g("reason"))
        elif kind == "swap":
            _, seqs, err = _do(a, svc.swap, a, draw_id, g("inspector_a"), g("subject_a"), g("inspector_b"),
                               g("subject_b"))
        else:
            abort(400)
    else:
        abort(404)
    return _back(endpoint, seqs, err, draw_id=draw_id)


@bp.get("/draws/<draw_id>/status.json")
def draw_status(draw_id: str):  # type: ignore[no-untyped-def]
    """The draw's state, polled by the ceremony screen so that it follows the draw."""
    a = require("admin", "operator", "auditor")
    d = _load_draw(draw_id, a)
    return {"id": d["id"], "status": d["status"]}


@bp.get("/draws/<draw_id>/ceremony")
def ceremony(draw_id: str):  # type: ignore[no-untyped-def]
    a = require("admin", "operator", "auditor")
    d = _load_draw(draw_id, a)
    secret = service().secret(draw_id) if privileged(a, d["department"]) else {}
    chains = service().chains
    beacons = []
    for s in d["seed_recipe"]["sources"]:
        if s["type"] == "drand" and s["chain_hash"] in chains:
            beacons.append({"round": s["round"], "due": round_time(chains[s["chain_hash"]], s["round"]),
                            "chain": s["chain_hash"]})
    verify_url = public_url("pages.public.verify", draw_id=draw_id)
    plan = registry().get("plan", d["plan"]) or {}
    dept = registry().get("department", d["department"]) or {}
    names = {r["id"]: r.get("name", "") for r in secret.get("pools", {}).get("subjects", [])}
    insp = {r["id"]: r.get("name", "") for r in registry().list("inspector")}
    # after publication the nonce is public: the screen shows it instead of "revealed at publication"
    published = d["seqs"].get("published")
    revealed_nonce = ledger().entry(published).payload.get("nonce") if published is not None else None
    return render_template("staff/ceremony.html", revealed_nonce=revealed_nonce, d=d, secret=secret, me=a, may_run=may_run(a, d["department"]),
                           beacons=beacons, verify_url=verify_url, qr=qr_svg(verify_url, 7), plan=plan, dept=dept,
                           names=names, insp=insp, created=entry_links(seqs_from_args()),
                           now=now_unix(), sources_json=json.dumps(d["seed_recipe"]["sources"]))
