"""Inspections, results and publication over HTTP (issue 6), under /api/v1.

Staff endpoints (`/inspections/...`) need a login; every change is one signed log entry by
the caller's key. Public endpoints (`/public/results`, `/public/subjects/<code>/results`,
`/public/result-categories`, `/public/disclosures`) serve only what a
`inspection.result.published` (or `inspection.disclosure.published`) entry made public.
The item list, inspector list and published plans are already public through the registry
API (`/api/v1/items`, `/api/v1/inspectors`, `/api/v1/plans`), published draws through
`/api/v1/public/draws`: they are not duplicated here.

Errors: 400 malformed, 401 login, 403 role/department or same-person confirmation, 404,
409 wrong state (e.g. publishing before confirmation), 413 file too big, 422 invalid input.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from drawsvc.i18n import tr
from drawsvc.inspections import categories as cats
from drawsvc.inspections import public, reports
from drawsvc.inspections.errors import InvalidInput, NotFound, StateError, TooLarge, UnknownReference
from drawsvc.inspections.service import InspectionService
from drawsvc.registry.authz import Forbidden

from .errors import ApiError, Refusal, refuser
from .jobs import estimate_report, offload
from .limits import MAX_SEARCH, check_year, page_args, parse_int
from .registry_api import body, need, registry

bp = Blueprint("inspections", __name__, url_prefix="/api/v1")

STAFF = ("admin", "operator", "inspector", "auditor")


def service() -> InspectionService:
    svc = current_app.extensions.get("inspections")
    if svc is None:
        root = None
        inst = current_app.extensions.get("instance")
        if inst is not None:
            root = inst.evidence_dir
        svc = InspectionService(current_app.extensions["ledger"], registry(), evidence_root=root,
                                max_upload=current_app.config.get("EVIDENCE_MAX_BYTES", 10 * 1024 * 1024))
        current_app.extensions["inspections"] = svc
    return svc


_call = refuser(
    Refusal((NotFound,), 404, "not_found"),
    Refusal((Forbidden,), 403, "forbidden"),
    Refusal((StateError,), 409, "wrong_state"),
    Refusal((UnknownReference,), 409, "unknown_reference"),
    Refusal((TooLarge,), 413, "too_large"),
    Refusal((InvalidInput,), 422, "invalid"),
)


def _year(default: int | None = None) -> int:
    raw = request.args.get("year", "")
    if not raw:
        if default is None:
            raise ApiError(400, "bad_parameter", tr("year 必填"))
        return default
    return check_year(parse_int("year", raw))


def _depts(actor: Any) -> list[str] | None:
    return list(actor.departments) if actor.role == "operator" else None


# --- tasks ---------------------------------------------------------------------------------


@bp.get("/inspections/tasks")
def list_tasks():  # type: ignore[no-untyped-def]
    """Tasks: operators see their departments', inspectors their own teams', admins and auditors all."""
    actor = need(*STAFF)
    limit, offset = page_args()  # paged like every list (limit ≤ MAX_PAGE, default 100; offset)
    return jsonify({"tasks": service().list_tasks(actor, request.args.get("status"), request.args.get("draw"),
                                                  limit=limit, offset=offset),
                    "limit": limit, "offset": offset})


@bp.post("/inspections/draws/<draw_id>/tasks")
def tasks_from_draw(draw_id: str):  # type: ignore[no-untyped-def]
    """Create a task for every drawn subject of a published draw (only the missing ones)."""
    actor = need("admin", "operator")
    created = _call(service().create_tasks_for_draw, actor, draw_id)
    return jsonify({"created": created}), 201


@bp.post("/inspections/tasks")
def create_not_random():  # type: ignore[no-untyped-def]
    """A not-random check (complaint, referral, assignment: 003 第九条); counts against the frequency cap."""
    actor = need("admin", "operator")
    return jsonify(_call(service().create_not_random, actor, body())), 201


def _visible_task(actor: Any, task: dict[str, Any]) -> None:
    if actor.role in ("admin", "auditor"):
        return
    if actor.role == "operator" and (task["department"] in actor.departments
                                     or set(task["departments"]) & set(actor.departments)):
        return
    if actor.role == "inspector" and actor.inspector in task["team"]:
        return
    raise ApiError(403, "forbidden", tr("无权查看该任务"))


@bp.get("/inspections/tasks/<task_id>")
def get_task(task_id: str):  # type: ignore[no-untyped-def]
    actor = need(*STAFF)
    task = _call(service().task, task_id)
    _visible_task(actor, task)
    return jsonify(task)


@bp.get("/inspections/tasks/<task_id>/notice")
def get_notice(task_id: str):  # type: ignore[no-untyped-def]
    """行政检查通知书 data."""
    actor = need(*STAFF)
    task = _call(service().task, task_id)
    _visible_task(actor, task)
    return jsonify(task["notice"])


@bp.post("/inspections/tasks/<task_id>/checked")
def record_check(task_id: str):  # type: ignore[no-untyped-def]
    actor = need("admin", "operator", "inspector")
    return jsonify(_call(service().record_check, actor, task_id, str(body().get("check_date", ""))))


@bp.post("/inspections/tasks/<task_id>/evidence")
def upload_evidence(task_id: str):  # type: ignore[no-untyped-def]
    """Multipart field `file` (one or more), optional `label` (检查笔录/照片/文书/其他). The SHA-256 of
    each file goes on the log; the file is kept under the instance's evidence directory."""
    actor = need("admin", "operator", "inspector")
    files = request.files.getlist("file")
    if not files:
        raise ApiError(400, "no_file", tr("没有上传文件（字段 file）"))
    label = request.form.get("label", "其他")
    out = []
    for f in files:
        data = f.read()
        out.append(_call(service().add_evidence, actor, task_id, f.filename or "", data, f.mimetype, label))
    return jsonify({"evidence": out}), 201


@bp.get("/inspections/tasks/<task_id>/evidence/<int:n>")
def download_evidence(task_id: str, n: int):  # type: ignore[no-untyped-def]
    actor = need(*STAFF)
    meta, data = _call(service().evidence_file, actor, task_id, n)
    return Response(data, mimetype=meta["media_type"],
                    headers={"X-Content-SHA256": meta["sha256"], "X-Content-Type-Options": "nosniff",
                             "Content-Disposition": "attachment"})


# --- results -------------------------------------------------------------------------------


@bp.post("/inspections/tasks/<task_id>/results")
def enter_result(task_id: str):  # type: ignore[no-untyped-def]
    """Enter one department's result (待审核); entering again is a correction (a new version)."""
    actor = need("admin", "operator", "inspector")
    return jsonify(_call(service().enter_result, actor, task_id, body())), 201


def _result_for(actor: Any, result_id: str) -> dict[str, Any]:
    res = _call(service().result, result_id)
    task = _call(service().task, res["task_id"])
    _visible_task(actor, task)
    return res


@bp.get("/inspections/results/<path:result_id>")
def get_result(result_id: str):  # type: ignore[no-untyped-def]
    actor = need(*STAFF)
    return jsonify(_result_for(actor, result_id))


def _step_args(fn_name: str, data: dict[str, Any]) -> tuple[Any, ...]:
    """What a result step's service method takes after the result id: confirm a version, return
    a reason, the publications nothing, the others the body."""
    if fn_name == "confirm":
        return (data.get("version"),)
    if fn_name == "return_result":
        return (str(data.get("reason", "")),)
    if fn_name in ("publish", "publish_penalty"):
        return ()
    return (data,)


def _step(name: str, fn_name: str, roles: tuple[str, ...], with_body: bool = True) -> None:
    # one call site per view, naming its method by `fn_name`: the OpenAPI scan lists each step's
    # own refusals (a publication cannot answer the 422 a return's missing reason gets)
    def view(result_id: str):  # type: ignore[no-untyped-def]
        actor = need(*roles)
        data = body() if with_body and request.get_data() else {}
        return jsonify(_call(getattr(service(), fn_name), actor, result_id, *_step_args(fn_name, data)))

    view.__name__ = f"result_{name.replace('/', '_').replace('-', '_')}"
    view.__doc__ = f"Result step {name} (logged)."
    bp.add_url_rule(f"/inspections/results/<path:result_id>/{name}", view.__name__, view, methods=["POST"])


_step("confirm", "confirm", ("admin", "operator", "inspector"))
_step("return", "return_result", ("admin", "operator", "inspector"))
_step("publish", "publish", ("admin", "operator"), with_body=False)
_step("answer", "record_answer", ("admin", "operator"))
_step("followup", "add_followup", ("admin", "operator"))
_step("followup-close", "close_followup", ("admin", "operator"))
_step("penalty-published", "publish_penalty", ("admin", "operator"), with_body=False)


# --- deadlines, settings, categories, calendar -----------------------------------------------


@bp.get("/inspections/deadlines")
def list_deadlines():  # type: ignore[no-untyped-def]
    """Operators: overdue and due-soon items of their departments. Auditors and admins: everything
    overdue, plus completions that were late (?late=1)."""
    actor = need("admin", "operator", "auditor")
    svc = service()
    soon = parse_int("soon", request.args.get("soon") or "3", 0, 366)
    rows = svc.deadlines(_depts(actor), soon=soon, include_late_done=actor.role in ("admin", "auditor"))
    if actor.role == "auditor":
        rows = [r for r in rows if r["status"] in ("overdue", "late")]
    else:
        rows = [r for r in rows if r["status"] in ("overdue", "due_soon", "late")]
    return jsonify({"today": svc.today().isoformat(), "items": rows})


@bp.get("/inspections/settings/<department>")
def get_settings(department: str):  # type: ignore[no-untyped-def]
    need(*STAFF)
    return jsonify(service().get_settings(department))


@bp.put("/inspections/settings/<department>")
def put_settings(department: str):  # type: ignore[no-untyped-def]
    actor = need("admin", "operator")
    return jsonify(_call(service().set_settings, actor, department, body()))


@bp.post("/inspections/categories")
def add_category():  # type: ignore[no-untyped-def]
    actor = need("admin")
    return jsonify(_call(service().add_category, actor, body())), 201


@bp.post("/inspections/calendar")
def load_calendar():  # type: ignore[no-untyped-def]
    """Load a year's holidays and make-up working days (admin): JSON body, or ?year=N for the file
    shipped in drawsvc/data/calendar/N.json. ?override=1 to replace a year the package knows."""
    from drawsvc.inspections import workdays

    actor = need("admin")
    if request.args.get("year"):
        year = _year()
        if not (workdays.DATA_DIR / f"{year}.json").is_file():  # the package ships no such file: nothing to load
            raise ApiError(404, "not_found", tr("没有 %(year)s 年的日历文件", year=year))
        data = _call(workdays.read_year_file, year)
    else:
        data = body()
    return jsonify(_call(service().load_calendar_year, actor, data,
                         override=request.args.get("override") in ("1", "true"))), 201


@bp.get("/inspections/calendar/<int:year>")
def calendar_year(year: int):  # type: ignore[no-untyped-def]
    """Working days of a year as the service computes them (source: package, loaded file or weekends only)."""
    from datetime import timedelta

    check_year(year)
    svc = service()
    cal = svc.calendar()
    source = "loaded" if year in cal.loaded else "chinese-calendar" if cal.knows(year) else "weekends-only"
    d, off, extra = date(year, 1, 1), [], []
    while d.year == year:
        wd = cal.is_workday(d)
        if not wd and d.weekday() < 5:
            off.append(d.isoformat())
        if wd and d.weekday() >= 5:
            extra.append(d.isoformat())
        d += timedelta(days=1)
    return jsonify({"year": year, "source": source, "holidays_on_weekdays": off, "workdays_on_weekends": extra})


# --- reports ---------------------------------------------------------------------------------


REPORT_KINDS = ("monthly", "half-year", "annual", "plan-execution")


@bp.get("/inspections/reports/<kind>")
def report(kind: str):  # type: ignore[no-untyped-def]
    """Reports computed from the log: ?year=&month= (monthly) / &half=1|2 / &department= ;
    ?format=json|xlsx|pdf. A report too large for one request (or with ?async=1) answers 202
    with a background job's URL (web/jobs.py)."""
    actor = need("admin", "operator", "auditor")
    if kind not in REPORT_KINDS:
        raise ApiError(404, "not_found", tr("报表种类：%(value)s", value=', '.join(REPORT_KINDS)))
    svc = service()
    year = _year(svc.today().year)
    department = request.args.get("department") or None
    if actor.role == "operator" and department not in actor.departments:
        department = department or (actor.departments[0] if actor.departments else None)
        if department not in actor.departments:
            raise ApiError(403, "forbidden", tr("只能查看本部门报表"))
    month = parse_int("month", request.args.get("month") or "0", 0, 12)
    half = parse_int("half", request.args.get("half") or "0", 0, 2)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "xlsx", "pdf"):
        raise ApiError(400, "bad_parameter", "format 应为 json、xlsx 或 pdf")
    try:
        reports._period(kind, year, month, half)  # a bad month or half is refused here, not in a job
    except ValueError as exc:
        raise ApiError(400, "bad_parameter", str(exc)) from None
    log_size = svc.ledger.size()
    params = {"report": kind, "year": year, "month": month, "half": half, "department": department,
              "format": fmt, "log_size": log_size}
    queued = offload("report", params, estimate_report(log_size, fmt), actor.id)
    if queued is not None:  # too much work for one request: a background job (web/jobs.py)
        return queued
    fold = reports.fold_ledger(svc.ledger, upto=log_size)
    rep = reports.build(fold, kind, year, month=month, half=half, department=department)
    if fmt == "json":
        return jsonify(rep)
    from drawsvc.inspections import export

    if fmt == "xlsx":
        return Response(export.to_xlsx(rep), mimetype=export.XLSX_MIME,
                        headers={"Content-Disposition": f"attachment; filename={export.filename(rep)}.xlsx"})
    return Response(export.to_pdf(rep), mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename={export.filename(rep)}.pdf"})


@bp.post("/inspections/disclosures/<department>/<int:year>")
def publish_disclosure(department: str, year: int):  # type: ignore[no-untyped-def]
    """Publish last year's plan execution (003 第二十三条: by end of February)."""
    actor = need("admin", "operator")
    check_year(year)
    return jsonify(_call(reports.publish_disclosure, service(), actor, department, year)), 201


# --- public (一公开): published results only ------------------------------------------------------


@bp.get("/public/results")
def public_results():  # type: ignore[no-untyped-def]
    """Published results by subject name or unified social credit code (?q=)."""
    q = request.args.get("q", "")
    if len(q) > MAX_SEARCH:
        raise ApiError(400, "too_long", tr("q 超过 %(MAX_SEARCH)s 字符", MAX_SEARCH=MAX_SEARCH))
    with service().ledger.engine.connect() as conn:
        return jsonify({"q": q, "results": public.search(conn, q)})


@bp.get("/public/subjects/<code>/results")
def public_subject_results(code: str):  # type: ignore[no-untyped-def]
    with service().ledger.engine.connect() as conn:
        return jsonify({"subject": code.upper(), "results": public.for_subject(conn, code)})


@bp.get("/public/result-categories")
def public_categories():  # type: ignore[no-untyped-def]
    """The result category table (国家企业信用信息公示系统 categories), follow-up kinds and ends."""
    with service().ledger.engine.connect() as conn:
        table = cats.all_categories(conn)
    return jsonify({"categories": list(table.values()), "follow_up_kinds": cats.FOLLOW_UP_KINDS,
                    "follow_up_ends": cats.FOLLOW_UP_ENDS})


@bp.get("/public/disclosures")
def public_disclosures():  # type: ignore[no-untyped-def]
    """Annual plan-execution disclosures that were published (003 第二十三条)."""
    raw = request.args.get("year")
    year = check_year(parse_int("year", raw)) if raw else None
    with service().ledger.engine.connect() as conn:
        return jsonify({"disclosures": public.disclosures(conn, year)})
