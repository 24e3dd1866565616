"""Staff pages of the inspections (issue 6): tasks, evidence, results and their review,
publication, corrections, the subject's answer, follow-ups, penalty publication, deadlines,
reports, the holiday calendar, and an inspector's own conflict-of-interest declaration.

Roles mirror web.inspections_api exactly: who may read a task (`_visible`), who may change what
(the service decides department and team membership, and refuses a confirmation by the person
who entered; the page shows that refusal as it is). Every action redirects back with the log
entries it created (seq + inclusion-proof link), as the draw pages do.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from drawsvc.i18n import N_, NC_, tr
from drawsvc.inspections import categories as cats
from drawsvc.inspections import evidence as ev
from drawsvc.inspections import schema as ins_schema
from drawsvc.inspections import workdays
from drawsvc.inspections.errors import InspectionError, NotFound
from drawsvc.inspections.export import SUMMARY_LABELS, SUMMARY_VALUE_LABELS
from drawsvc.registry.authz import Actor, Forbidden
from drawsvc.registry.records import CONFLICT_REASONS, RecordError
from drawsvc.registry.service import Conflict, actor_id_for
from drawsvc.registry.service import NotFound as RegNotFound
from web.inspections_api import REPORT_KINDS
from web.inspections_api import service as ins
from web.limits import YEAR_MAX, YEAR_MIN, lenient_int
from web.registry_api import registry

from .common import entry_links, ledger, require, seqs_from_args

bp = Blueprint("inspections", __name__, url_prefix="/staff")

STAFF = ("admin", "operator", "inspector", "auditor")
ERRORS = (InspectionError, Forbidden, RecordError, Conflict, RegNotFound, ValueError, KeyError)
STATUS_ZH = {"open": NC_("status", "待检查"), "checked": NC_("status", "已检查"), "pending": NC_("status", "待审核"), "returned": NC_("status", "退回"), "confirmed": NC_("status", "已确认"),
             "published": NC_("status", "已公示")}
DEADLINE_KINDS = {"check": N_("实施检查"), "report": N_("检查报告"),
                  "publication": N_("结果公示"), "penalty_publication": N_("处罚信息公示"),
                  "disclosure": N_("计划执行情况公开")}
MAX_CAL = 256 * 1024
HISTORY_SCAN = 20000


def _do(a: Actor, fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[int], str | None, bool]:
    """Run a service step: (result, log entries it created, error message, refused-by-role?)."""
    led = ledger()
    before = led.size()
    try:
        result = fn(*args, **kwargs)
    except ERRORS as exc:
        msg = str(exc)
        if isinstance(exc, RecordError):
            msg = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors)
        return None, [], msg or type(exc).__name__, isinstance(exc, Forbidden)
    me = actor_id_for(a.id)
    return result, [s for s in range(before, led.size()) if led.entry(s).actor_id == me], None, False


def _back(endpoint: str, seqs: list[int], error: str | None, refused: bool = False, **values: Any):  # type: ignore[no-untyped-def]
    if error:
        flash(error, "refused" if refused else "error")
    url = url_for(endpoint, **values)
    if seqs:
        url += ("&" if "?" in url else "?") + urlencode({"entries": ",".join(map(str, seqs))})
    return redirect(url)


def _visible(a: Actor, task: dict[str, Any]) -> None:
    """Who may read a task: as web.inspections_api._visible_task."""
    if a.role in ("admin", "auditor"):
        return
    if a.role == "operator" and (task["department"] in a.departments or set(task["departments"]) & set(a.departments)):
        return
    if a.role == "inspector" and a.inspector in task["team"]:
        return
    abort(403)


def _task(a: Actor, task_id: str) -> dict[str, Any]:
    try:
        task = ins().task(task_id)
    except NotFound:
        abort(404)
    _visible(a, task)
    return task


def _result(a: Actor, result_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        res = ins().result(result_id)
    except NotFound:
        abort(404)
    return res, _task(a, res["task_id"])


def _depts() -> dict[str, str]:
    return {d["code"]: d["name"] for d in registry().list("department")}


def _insp() -> dict[str, str]:
    return {r["id"]: r.get("name", "") for r in registry().list("inspector")}


def _deadlines(a: Actor, soon: int = 3, late: bool = False) -> tuple[str, list[dict[str, Any]]]:
    svc = ins()
    rows = svc.deadlines(list(a.departments) if a.role == "operator" else None, soon=soon, include_late_done=late)
    return svc.today().isoformat(), rows


def _category_table() -> dict[str, dict[str, Any]]:
    with ins().ledger.engine.connect() as conn:
        return cats.all_categories(conn)


# --- tasks ---------------------------------------------------------------------------------

@bp.get("/inspections/tasks")
def tasks():  # type: ignore[no-untyped-def]
    """Operators: their departments' tasks; inspectors: their own teams' (我的任务); admin, auditor: all."""
    a = require(*STAFF)
    status = request.args.get("status", "").strip() or None
    draw = request.args.get("draw", "").strip() or None
    rows = ins().list_tasks(a, status, draw)
    today, dls = _deadlines(a)
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for d in dls:
        if d["status"] in ("overdue", "due_soon"):
            by_ref.setdefault(d["ref"].split(":")[0], []).append(d)
    for r in rows:
        r["deadlines"] = by_ref.get(r["id"], [])
        r["flag"] = "overdue" if any(d["status"] == "overdue" for d in r["deadlines"]) else \
            "due_soon" if r["deadlines"] else ""
    draws = sorted({r["draw_id"] for r in ins().list_tasks(a) if r["draw_id"]})
    return render_template("staff/ins_tasks.html", me=a, tasks=rows, status=status or "", draw=draw or "",
                           draws=draws, today=today, kinds=DEADLINE_KINDS, status_zh=STATUS_ZH, depts=_depts())


@bp.get("/inspections/tasks/<task_id>")
def task(task_id: str):  # type: ignore[no-untyped-def]
    a = require(*STAFF)
    t = _task(a, task_id)
    may_enter = a.role in ("admin", "operator", "inspector")
    return render_template("staff/ins_task.html", me=a, task=t, may_enter=may_enter, labels=ev.LABELS,
                           created=entry_links(seqs_from_args()), depts=_depts(), insp=_insp(), status_zh=STATUS_ZH,
                           today=ins().today().isoformat(),
                           evidence_links=entry_links([e["seq"] for e in t["evidence"]]))


@bp.get("/inspections/tasks/<task_id>/notice")
def notice(task_id: str):  # type: ignore[no-untyped-def]
    """行政检查通知书, printable (the browser's print; print CSS hides the page chrome)."""
    a = require(*STAFF)
    t = _task(a, task_id)
    return render_template("staff/ins_notice.html", me=a, task=t, n=t["notice"])


@bp.post("/inspections/tasks/<task_id>/checked")
def checked(task_id: str):  # type: ignore[no-untyped-def]
    a = require("admin", "operator", "inspector")
    _task(a, task_id)
    _, seqs, err, refused = _do(a, ins().record_check, a, task_id, request.form.get("check_date", ""))
    return _back("pages.inspections.task", seqs, err, refused, task_id=task_id)


@bp.post("/inspections/tasks/<task_id>/evidence")
def evidence(task_id: str):  # type: ignore[no-untyped-def]
    a = require("admin", "operator", "inspector")
    _task(a, task_id)
    files = [f for f in request.files.getlist("file") if f and f.filename]
    if not files:
        return _back("pages.inspections.task", [], tr("请选择文件"), task_id=task_id)
    seqs: list[int] = []
    for f in files:
        data = f.read(ins().max_upload + 1)
        _, s, err, refused = _do(a, ins().add_evidence, a, task_id, f.filename or "", data, f.mimetype,
                                 request.form.get("label", "其他"))
        seqs += s
        if err:
            return _back("pages.inspections.task", seqs, f"{f.filename}: {err}", refused, task_id=task_id)
    return _back("pages.inspections.task", seqs, None, task_id=task_id)


# --- result entry (and corrections) ---------------------------------------------------------

def _form_data(form: Any) -> dict[str, Any]:
    return {"department": form.get("department", ""), "categories": form.getlist("categories"),
            "items": form.getlist("items"), "check_date": form.get("check_date", ""),
            "findings": form.get("findings", ""), "evaluation": form.get("evaluation", ""),
            "handling_opinion": form.get("handling_opinion", ""),
            "follow_up": {"kind": form.get("follow_up", "none"), "note": form.get("follow_up_note", "")}}


@bp.route("/inspections/tasks/<task_id>/result", methods=["GET", "POST"])
def enter(task_id: str):  # type: ignore[no-untyped-def]
    """Result entry (待审核); for a department with a result already, a correction (a new version)."""
    a = require("admin", "operator", "inspector")
    t = _task(a, task_id)
    depts = list(dict.fromkeys([*t["departments"], t["department"]]))
    dept = request.values.get("department") or (t["results_missing"] or depts)[0]
    if dept not in depts:
        abort(404)
    current = next((r for r in t["results"] if r["department"] == dept), None)
    error, status = None, 200
    if request.method == "POST":
        data = _form_data(request.form)
        data["department"] = dept
        res, seqs, error, refused = _do(a, ins().enter_result, a, task_id, data)
        if error is None:
            return _back("pages.inspections.result", seqs, None, result_id=res["id"])
        status = 403 if refused else 422
        values = {**data, "follow_up_note": data["follow_up"]["note"], "follow_up": data["follow_up"]["kind"]}
    elif current is not None:
        c = current["content"]
        values = {**c, "follow_up": c["follow_up"]["kind"], "follow_up_note": c["follow_up"].get("note", "")}
    else:
        values = {"categories": [], "items": [i["code"] for i in t["items"]], "check_date": t.get("check_date") or "",
                  "follow_up": "none", "follow_up_note": ""}
    table = _category_table()
    groups = {g: [c for c in table.values() if c["group"] == g and c["active"]] for g in cats.GROUPS}
    return render_template("staff/ins_enter.html", me=a, task=t, dept=dept, depts=depts, current=current,
                           values=values, groups=groups, follow_kinds=cats.FOLLOW_UP_KINDS, error=error,
                           refused=status == 403, names=_depts(), today=ins().today().isoformat()), status


# --- results: review, publication and what follows --------------------------------------------

@bp.get("/inspections/results/<path:result_id>")
def result(result_id: str):  # type: ignore[no-untyped-def]
    a = require(*STAFF)
    r, t = _result(a, result_id)
    led = ledger()
    size = led.size()
    versions = []
    for v in r["versions"]:
        e = led.entry(v["seq"])
        versions.append({**v, "time": e.time, "corrects": e.payload.get("corrects"),
                         "proof": f"/api/v1/log/proof/inclusion?index={v['seq']}&size={size}"})
    seqs = {*[v["seq"] for v in r["versions"]], *[e["seq"] for e in r["events"] if e.get("seq") is not None]}
    # confirmations, returns and publications are not rows of their own: read them off the log
    # after the first version (bounded, so a huge log does not make the page slow)
    first = min(v["seq"] for v in r["versions"]) if r["versions"] else size
    for s in range(first, min(size, first + HISTORY_SCAN)):
        e = led.entry(s)
        if e.type.startswith("inspection.result.") and e.payload.get("result_id") == result_id:
            seqs.add(s)
    history = entry_links(sorted(seqs))
    reviewed = [h for h in history if h["type"] in ("inspection.result.confirmed", "inspection.result.returned",
                                                    "inspection.result.published")]
    published_content = None
    if r["published_version"] is not None:
        for h in reviewed:
            p = led.entry(h["seq"]).payload
            if h["type"] == "inspection.result.published" and p["version"] == r["published_version"]:
                published_content = p["content"]
    return render_template("staff/ins_result.html", me=a, r=r, task=t, versions=versions, history=history,
                           created=entry_links(seqs_from_args()), follow_kinds=cats.FOLLOW_UP_KINDS,
                           ends=cats.FOLLOW_UP_ENDS, published_content=published_content, depts=_depts(),
                           status_zh=STATUS_ZH, today=ins().today().isoformat(),
                           entered_by_me=r["entered_by"] == a.id)


STEPS = {
    "confirm": ("admin", "operator", "inspector"),
    "return": ("admin", "operator", "inspector"),
    "publish": ("admin", "operator"),
    "answer": ("admin", "operator"),
    "followup": ("admin", "operator"),
    "followup-close": ("admin", "operator"),
    "penalty-published": ("admin", "operator"),
}


@bp.post("/inspections/results/<path:result_id>/<step>")
def result_step(result_id: str, step: str):  # type: ignore[no-untyped-def]
    if step not in STEPS:
        abort(404)
    a = require(*STEPS[step])
    _result(a, result_id)
    svc, f = ins(), request.form
    if step == "confirm":
        v = f.get("version", "")
        _, seqs, err, refused = _do(a, svc.confirm, a, result_id, lenient_int(v, 0, 1, 10**6) or None)
    elif step == "return":
        _, seqs, err, refused = _do(a, svc.return_result, a, result_id, f.get("reason", ""))
    elif step == "publish" and f.get("confirm") != "1":  # irreversible: the official ticks a confirmation
        seqs, err, refused = [], tr("公示不可撤销：请勾选确认后再公示"), False
    elif step == "publish":
        _, seqs, err, refused = _do(a, svc.publish, a, result_id)
    elif step == "answer":
        _, seqs, err, refused = _do(a, svc.record_answer, a, result_id, {
            "answer": f.get("answer", ""), "received_on": f.get("received_on", ""), "channel": f.get("channel", "")})
    elif step == "followup":
        _, seqs, err, refused = _do(a, svc.add_followup, a, result_id, {"kind": f.get("kind"),
                                                                        "note": f.get("note", "")})
    elif step == "followup-close":
        _, seqs, err, refused = _do(a, svc.close_followup, a, result_id, {
            k: f.get(k, "") for k in ("outcome", "decision_date", "decision_no", "authority", "note")})
    else:
        _, seqs, err, refused = _do(a, svc.publish_penalty, a, result_id)
    return _back("pages.inspections.result", seqs, err, refused, result_id=result_id)


@bp.get("/inspections/review")
def review():  # type: ignore[no-untyped-def]
    """Results awaiting a second person (待审核), and confirmed ones awaiting publication."""
    a = require(*STAFF)
    rows = []
    for task in ins().list_tasks(a):
        if task["status"] == "open":
            continue
        for r in ins().task(task["id"])["results"]:
            if r["status"] in ("pending", "confirmed", "returned"):
                rows.append(r)
    return render_template("staff/ins_review.html", me=a, rows=rows, status_zh=STATUS_ZH, depts=_depts())


# --- deadlines, reports, calendar --------------------------------------------------------------

@bp.get("/inspections/deadlines")
def deadlines():  # type: ignore[no-untyped-def]
    """Operators: overdue and due soon; auditors: overdue and late (overdue publication included)."""
    a = require("admin", "operator", "auditor")
    raw = request.args.get("soon", "3")
    today, rows = _deadlines(a, soon=lenient_int(raw, 3, 0, 366), late=a.role in ("admin", "auditor"))
    keep = ("overdue", "late") if a.role == "auditor" else ("overdue", "due_soon", "late")
    rows = [r for r in rows if r["status"] in keep]
    return render_template("staff/ins_deadlines.html", me=a, rows=rows, today=today, kinds=DEADLINE_KINDS,
                           depts=_depts(), calendar={"missing": ins().calendar_gaps(), "may_load": a.role == "admin"})


def _bars(data: dict[str, int], width: int = 600) -> dict[str, Any]:
    """A horizontal bar chart as plain data for an inline SVG (no script): the label column is as
    wide as the longest label (CJK characters count double)."""
    top = max(data.values(), default=0) or 1
    longest = max((sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(k)) for k in data), default=4)
    x0 = min(300, 16 + 7 * longest)
    bars = [{"label": k, "value": v, "w": round((width - x0 - 40) * v / top, 1), "y": 8 + 26 * i}
            for i, (k, v) in enumerate(data.items())]
    return {"bars": bars, "height": 16 + 26 * len(bars), "width": width, "x0": x0}


@bp.get("/inspections/reports")
def reports_page():  # type: ignore[no-untyped-def]
    a = require("admin", "operator", "auditor")
    svc = ins()
    kind = request.args.get("kind", "monthly")
    if kind not in REPORT_KINDS:
        abort(404)
    today = svc.today()
    year_raw, month_raw, half_raw = (request.args.get(k, "") for k in ("year", "month", "half"))
    year = lenient_int(year_raw, today.year, YEAR_MIN, YEAR_MAX)
    month = lenient_int(month_raw, today.month, 1, 12)
    half = lenient_int(half_raw, 1 if today.month <= 6 else 2, 1, 2)
    department = request.args.get("department") or None
    if a.role == "operator" and department not in a.departments:
        if department is not None:
            abort(403)
        department = a.departments[0] if a.departments else None
    from web.jobs import report_download_for_page, report_for_page, report_too_large

    download = request.args.get("download")
    if download in ("xlsx", "pdf"):  # a large report's file: a job, then its result
        job, error = report_download_for_page(svc.ledger, a.id, kind, year, month, half, department, download)
        if job is not None and job["status"] == "done":
            return redirect(job["result_url"])
        rep = None
    else:
        try:  # a report too large for one request is computed by a background job (web/jobs.py)
            rep, job, error = report_for_page(svc.ledger, a.id, kind, year, month, half, department)
        except ValueError as exc:
            rep, job, error = None, None, str(exc)
    query = {"year": year, "month": month, "half": half, **({"department": department} if department else {})}
    charts = {}
    if rep:
        charts = {k: _bars(v) for k, v in rep["charts"].items() if v}
    dept_choices = _depts() if a.role != "operator" else {d: _depts().get(d, d) for d in a.departments}
    return render_template("staff/ins_reports.html", me=a, rep=rep, summary_labels=SUMMARY_LABELS,
                           value_labels=SUMMARY_VALUE_LABELS, kind=kind, kinds=REPORT_KINDS, year=year,
                           month=month, half=half, department=department or "", error=error, charts=charts, job=job,
                           dept_choices=dept_choices, api=f"/api/v1/inspections/reports/{kind}?" + urlencode(query),
                           large=report_too_large(svc.ledger),
                           page="/staff/inspections/reports?" + urlencode({"kind": kind, **query}))


@bp.route("/inspections/calendar", methods=["GET", "POST"])
def calendar():  # type: ignore[no-untyped-def]
    """Admin: load a year's holidays and make-up working days (调休) from a data file."""
    a = require("admin")
    svc = ins()
    error, seqs = None, []
    if request.method == "POST":
        f = request.files.get("file")
        year = request.form.get("year", "").strip()
        override = request.form.get("override") == "1"
        data: Any = None
        if f is not None and f.filename:
            raw = f.read(MAX_CAL + 1)
            if len(raw) > MAX_CAL:
                error = tr("文件过大")
            elif not f.filename.lower().endswith(".json"):
                error = tr("只接受 .json 文件")
            else:
                try:
                    data = workdays.parse_year_text(raw.decode("utf-8"), f.filename,
                                                    lenient_int(year, 0, YEAR_MIN, YEAR_MAX) or None)
                except UnicodeDecodeError:
                    error = tr("文件不是 UTF-8 编码的文本")
                except InspectionError as exc:
                    error = str(exc)
        elif lenient_int(year, 0, YEAR_MIN, YEAR_MAX):
            try:
                data = workdays.read_year_file(int(year))
            except InspectionError as exc:
                error = str(exc)
        else:
            error = tr("请选择文件或填写年份")
        if data is not None and error is None:
            if not isinstance(data, dict):
                error = tr("文件应为 JSON 对象")
            else:
                res, seqs, error, _ = _do(a, svc.load_calendar_year, a, data, override=override)
                if error is None:
                    if res.get("unchanged"):
                        flash(tr("%(year)s 年与已加载的内容相同，未重复记录（条目 #%(seq)s）", year=res["year"], seq=res["seq"]), "ok")
                    return _back("pages.inspections.calendar", seqs, None)
        if error:
            flash(error, "error")
    cal = svc.calendar()
    with svc.ledger.engine.connect() as conn:
        loaded = [{"year": r.year, "sha256": r.sha256, "seq": r.seq, "doc": json.loads(r.doc)}
                  for r in conn.execute(select(ins_schema.calendar_years).order_by(ins_schema.calendar_years.c.year))]
    this = svc.today().year
    years = [{"year": y, "source": "loaded" if y in cal.loaded else "chinese-calendar" if cal.knows(y)
              else "weekends-only"} for y in range(this - 1, this + 3)]
    shipped = sorted(p.stem for p in workdays.DATA_DIR.glob("*.json") if p.stem.isdigit())
    moved = sorted(({"kind": k[0], "department": k[1], "ref": k[2], **v} for k, v in svc.deadline_changes().items()),
                   key=lambda m: (-m["calendar_seq"], m["ref"]))
    return render_template("staff/ins_calendar.html", me=a, loaded=loaded, years=years, shipped=shipped, moved=moved,
                           kinds=DEADLINE_KINDS, depts=_depts(),
                           created=entry_links(seqs or seqs_from_args())), (422 if error else 200)


# --- conflicts of interest (回避申报) ----------------------------------------------------------

@bp.route("/conflicts", methods=["GET", "POST"])
def conflicts():  # type: ignore[no-untyped-def]
    """Inspectors declare their own conflicts (and see only theirs); operators and admins record any;
    auditors read. As the registry API: write roles admin, operator, inspector."""
    a = require(*STAFF)
    if request.method == "POST":
        if a.role not in ("admin", "operator", "inspector"):
            abort(403)
        f = request.form
        inspector = a.inspector if a.role == "inspector" else f.get("inspector", "").strip()
        data = {"inspector": inspector or "", "subject": f.get("subject", "").strip().upper(),
                "reason": f.get("reason", "其他"), "note": f.get("note", "").strip()[:500] or None}
        _, seqs, err, refused = _do(a, registry().save, a, "conflict", data, create=True)
        return _back("pages.inspections.conflicts", seqs, err, refused)
    rows = registry().list("conflict")
    if a.role == "inspector":
        rows = [r for r in rows if r["inspector"] == a.inspector]
    subjects = {}
    if rows:
        codes = {r["subject"] for r in rows}
        subjects = {s["code"]: s["name"] for s in registry().list("subject") if s["code"] in codes}
    return render_template("staff/ins_conflicts.html", me=a, rows=rows, subjects=subjects,
                           created=entry_links(seqs_from_args()), insp=_insp(),
                           reasons=CONFLICT_REASONS)
