"""Long reports and exports as background jobs, and the per-request memory budget (issue 13).

A view that can be asked for a large amount of work (a report over the whole log, the export
of a whole registry) estimates the memory that work needs before doing any of it (`estimate_*`,
from drawsvc.i18n import tr
from the number of log entries or registry rows and a per-row cost measured on the portal
benchmark's 100,000-subject instance, docs/PERFORMANCE.md) and calls `offload`:

- estimate within the request budget (`JOB_REQUEST_BYTES`, $DRAWSVC_REQUEST_MEMORY_MB, default
  64 MiB): the view computes it in the request, as before;
- beyond it but within the job budget (`JOB_MEMORY_BYTES`, $DRAWSVC_JOB_MEMORY_MB, default
  768 MiB): a job is queued and the answer is `202` with `{"job": {...}, "url": …}` and a
  `Location` header; `?async=1` asks for a job whatever the size;
- beyond the job budget: `400 over_memory_budget` naming the estimate and the budget, computed
  from counts only — nothing is allocated;
- too many jobs queued or running: `503 busy` (everyone's) or `429 busy` (this account's), with
  Retry-After.

`GET /api/v1/jobs/<id>` reports the status and progress (0–100); once done, `GET
/api/v1/jobs/<id>/result` serves the result with its own media type and file name. A job is
readable by the account that asked for it and by admins; a job asked for anonymously (public
registry exports) by whoever holds its 128-bit URL. How jobs run is in drawsvc.jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import func, select

import drawsvc.jobs as jobq
from drawsvc.i18n import tr
from drawsvc.instance import Instance

from .errors import ApiError

bp = Blueprint("jobs", __name__, url_prefix="/api/v1")

# Bytes of memory per unit of work: the growth of a job process's peak address space, measured on
# the portal benchmark's instance (an annual report over 150,467 log entries: +136 MiB, json or
# pdf; an export of 100,000 subjects: +255 MiB, csv or xlsx), rounded up by a quarter
# (docs/PERFORMANCE.md, "Background jobs").
REPORT_BYTES_PER_ENTRY = 1200          # folding one log entry into a report's state
REPORT_FIXED = {"json": 2 * jobq.MIB, "xlsx": 16 * jobq.MIB, "pdf": 16 * jobq.MIB}
EXPORT_BYTES_PER_ROW = {"csv": 3200, "xlsx": 3200}   # one registry record read, filtered and written
EXPORT_FIXED = {"csv": 2 * jobq.MIB, "xlsx": 8 * jobq.MIB}
STATE_BYTES_PER_RECORD = 6000          # the registries rebuilt from the log (+490 MiB for 100,300 records)


def budget() -> jobq.Budget:
    return jobq.Budget.from_env(current_app.config)


def estimate_report(log_size: int, fmt: str) -> int:
    """A report folds every relevant entry of the log: the log's size bounds that work."""
    return log_size * REPORT_BYTES_PER_ENTRY + REPORT_FIXED.get(fmt, REPORT_FIXED["pdf"])


def estimate_export(engine: Any, singular: str, fmt: str) -> int:
    """An export reads every record of one registry (one indexed count tells how many)."""
    from drawsvc.registry import schema

    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(schema.TABLES[singular])).scalar_one()
    return int(rows) * EXPORT_BYTES_PER_ROW[fmt] + EXPORT_FIXED[fmt]


def estimate_registry_state(engine: Any) -> int:
    """Rebuilding the registries from the log holds every record twice (rebuilt and stored) and
    answers them all: the registries' current row count bounds that work."""
    from drawsvc.registry import schema

    with engine.connect() as conn:
        rows = sum(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in schema.TABLES.values())
    return int(rows) * STATE_BYTES_PER_RECORD + 2 * jobq.MIB


def _mib(n: int) -> str:
    return f"{n / jobq.MIB:.0f}"


def _job_json(state: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": state["id"], "kind": state["kind"], "status": state["status"],
                           "progress": state["progress"], "params": state["params"],
                           "url": f"/api/v1/jobs/{state['id']}"}
    if state["status"] == "done":
        out["result_url"] = f"/api/v1/jobs/{state['id']}/result"
        out["result_bytes"] = state.get("result_bytes")
        out["filename"] = state.get("result_filename")
    if state["status"] == "failed":
        out["error"] = {"code": state["error_code"], "message": state["error_message"]}
    return out


def _runner() -> jobq.Runner | None:
    if current_app.config.get("JOB_RUNNER", True) is False:  # jobs wait for `drawsvc jobs run`
        return None
    instance: Instance = current_app.extensions["instance"]
    return jobq.ensure_runner(current_app.extensions["engine"], instance.home, budget())


def offload(kind: str, params: Mapping[str, Any], estimate: int, owner: str | None) -> Any | None:
    """None when the request may compute this itself; otherwise the 202 answer of a queued job
    (or a refusal when even a job may not take it)."""
    b = budget()
    forced = request.args.get("async") in ("1", "true")
    if estimate <= b.request_bytes and not forced:
        return None
    engine = current_app.extensions["engine"]
    try:
        job_id, _ = jobq.submit(engine, kind, params, owner, estimate, b)
    except jobq.OverBudget as exc:
        raise ApiError(400, "over_memory_budget",
                       tr("所需内存估计约 %(value)s MiB，超过每项任务 %(value2)s MiB 的限制；请缩小范围（如按部门或月份）", value=_mib(exc.estimate), value2=_mib(exc.budget)),
                       {"estimate_bytes": exc.estimate, "budget_bytes": exc.budget}) from None
    except jobq.Busy as exc:
        err = ApiError(503 if exc.scope == "all" else 429, "busy",
                       tr("后台任务已满（%(limit)s 个在排队或运行），请稍后再试", limit=exc.limit),
                       {"retry_after": 30})
        raise err from None
    _runner()
    state = jobq.get(engine, job_id)
    assert state is not None
    resp = jsonify({"job": _job_json(state), "url": f"/api/v1/jobs/{job_id}"})
    resp.status_code = 202
    resp.headers["Location"] = f"/api/v1/jobs/{job_id}"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _readable(job_id: str) -> dict[str, Any]:
    from .registry_api import current_actor

    if not (0 < len(job_id) <= 64):
        raise ApiError(404, "not_found", tr("没有这个任务"))
    state = jobq.get(current_app.extensions["engine"], job_id)
    if state is None:
        raise ApiError(404, "not_found", tr("没有这个任务"))
    if state["owner"] is not None:
        actor = current_actor()
        if actor is None:
            raise ApiError(401, "login_required", tr("需要登录"))
        if actor.id != state["owner"] and actor.role != "admin":
            raise ApiError(404, "not_found", tr("没有这个任务"))
    return state


@bp.get("/jobs/<job_id>")
def job_status(job_id: str):  # type: ignore[no-untyped-def]
    """A background job's status and progress; `result_url` once it is done, `error` if it failed."""
    state = _readable(job_id)
    if state["status"] in ("queued", "running"):
        jobq.requeue_orphans(current_app.extensions["engine"])
        _runner()
    resp = jsonify(_job_json(state))
    resp.headers["Cache-Control"] = "no-store"
    if state["status"] in ("queued", "running"):
        resp.headers["Retry-After"] = "2"
    return resp


@bp.get("/jobs/<job_id>/result")
def job_result(job_id: str):  # type: ignore[no-untyped-def]
    """The finished job's result (a report or an export), as its own media type."""
    state = _readable(job_id)
    if state["status"] != "done":
        raise ApiError(409, "not_ready", tr("任务状态为 %(status)s，尚无结果", status=state['status']), {"status": state["status"]})
    got = jobq.result(current_app.extensions["engine"], job_id)
    assert got is not None
    data, mime, filename = got
    headers = {"Cache-Control": "private, no-store"}
    if filename:
        headers["Content-Disposition"] = f"attachment; filename={filename}"
    return Response(data, content_type=mime, headers=headers)


# --- computing a job (in the child process of drawsvc.jobs.child) ---------------------------------


def preload() -> None:
    """Import everything a job may use before its memory limit is set."""
    import openpyxl  # noqa: F401
    import reportlab.pdfgen.canvas  # noqa: F401

    import drawsvc.inspections.export  # noqa: F401
    import drawsvc.inspections.reports  # noqa: F401
    import drawsvc.registry.io  # noqa: F401
    import drawsvc.registry.service  # noqa: F401
    import drawsvc.registry.state  # noqa: F401
    import web.registry_api  # noqa: F401


def compute_report(instance: Instance, params: Mapping[str, Any], progress: Callable[[float], None]) \
        -> tuple[bytes, str, str]:
    import orjson

    from drawsvc.inspections import export, reports

    ledger = instance.ledger()
    fold = reports.fold_ledger(ledger, upto=params.get("log_size"), progress=progress)
    rep = reports.build(fold, params["report"], params["year"], month=params["month"], half=params["half"],
                        department=params["department"])
    fmt = params["format"]
    name = export.filename(rep)
    if fmt == "xlsx":
        return export.to_xlsx(rep), export.XLSX_MIME, f"{name}.xlsx"
    if fmt == "pdf":
        return export.to_pdf(rep), "application/pdf", f"{name}.pdf"
    return orjson.dumps(rep), "application/json", f"{name}.json"


def export_records(reg: Any, singular: str, actor: Any) -> list[dict]:
    """The records of one registry that `actor` (None: anonymous) may export, in their public form
    for anonymous readers."""
    from .registry_api import _public_view, _visible

    rows = [r for r in reg.list(singular) if _visible(singular, actor, r)]
    return [_public_view(singular, r) for r in rows] if actor is None else rows


def compute_export(instance: Instance, params: Mapping[str, Any], progress: Callable[[float], None]) \
        -> tuple[bytes, str, str]:
    from drawsvc.registry import io as regio
    from drawsvc.registry.authz import Actor
    from drawsvc.registry.service import Registry

    a = params.get("actor")
    actor = None if a is None else Actor(a["id"], a["role"], tuple(a["departments"]), a.get("inspector"))
    reg = Registry(instance.ledger(), instance.passphrase())
    rows = export_records(reg, params["registry"], actor)
    progress(0.5)
    data = regio.export_bytes(rows, params["registry"], params["format"])
    return data, EXPORT_MIME[params["format"]], f"{params['plural']}.{params['format']}"


def compute_registry_state(instance: Instance, params: Mapping[str, Any], progress: Callable[[float], None]) \
        -> tuple[bytes, str, str]:
    import orjson

    from drawsvc.registry.state import diff_states, load_state, rebuild_from_ledger

    ledger = instance.ledger()
    at, size = params["at"], params["log_size"]
    rebuilt = rebuild_from_ledger(ledger, at)
    progress(0.7)
    out: dict[str, Any] = {"at": min(at, size), "state": rebuilt}
    if at >= size:
        with ledger.engine.connect() as conn:
            out["differences_from_database"] = diff_states(load_state(conn), rebuilt)[:100]
    return orjson.dumps(out), "application/json", f"registry-state-{min(at, size)}.json"


EXPORT_MIME = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
COMPUTE = {"report": compute_report, "registry_export": compute_export, "registry_state": compute_registry_state}


def compute(instance: Instance, kind: str, params: Mapping[str, Any], progress: Callable[[float], None]) \
        -> tuple[bytes, str, str]:
    return COMPUTE[kind](instance, params, progress)


def report_for_page(ledger: Any, owner: str, kind: str, year: int, month: int, half: int,
                    department: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """The staff reports page's report: (report, None, None) when computed here or ready as a
    job's result; (None, job, None) while its job runs (the page refreshes itself); (None, None,
    message) when refused or failed. Same budgets as the API."""
    import orjson

    from drawsvc.inspections import reports

    b = budget()
    log_size = ledger.size()
    est = estimate_report(log_size, "json")
    if est <= b.request_bytes:
        fold = reports.fold_ledger(ledger, upto=log_size)
        return reports.build(fold, kind, year, month=month, half=half, department=department), None, None
    params = {"report": kind, "year": year, "month": month, "half": half, "department": department,
              "format": "json", "log_size": log_size}
    engine = current_app.extensions["engine"]
    try:
        job_id, _ = jobq.submit(engine, "report", params, owner, est, b)
    except jobq.OverBudget as exc:
        return None, None, (tr("报表所需内存估计约 %(value)s MiB，超过 %(value2)s MiB 的限制；请按部门或月份缩小范围", value=_mib(exc.estimate), value2=_mib(exc.budget)))
    except jobq.Busy as exc:
        return None, None, tr("后台任务已满（%(limit)s 个），请稍后再试", limit=exc.limit)
    state = jobq.get(engine, job_id)
    assert state is not None
    if state["status"] == "done":
        got = jobq.result(engine, job_id)
        assert got is not None
        return orjson.loads(got[0]), None, None
    if state["status"] == "failed":
        return None, None, str(state["error_message"])
    _runner()
    return None, _job_json(state), None


def report_too_large(ledger: Any) -> bool:
    """Whether a report over this log is computed by a job rather than in the request."""
    return estimate_report(ledger.size(), "pdf") > budget().request_bytes


def report_download_for_page(ledger: Any, owner: str, kind: str, year: int, month: int, half: int,
                             department: str | None, fmt: str) -> tuple[dict[str, Any] | None, str | None]:
    """The staff reports page's download of a large report as .xlsx or .pdf: (job, None) — the page
    redirects to the result once the job is done, and shows its progress until then — or
    (None, message) when refused or failed."""
    b = budget()
    log_size = ledger.size()
    est = estimate_report(log_size, fmt)
    params = {"report": kind, "year": year, "month": month, "half": half, "department": department,
              "format": fmt, "log_size": log_size}
    engine = current_app.extensions["engine"]
    try:
        job_id, _ = jobq.submit(engine, "report", params, owner, est, b)
    except jobq.OverBudget as exc:
        return None, (tr("报表所需内存估计约 %(value)s MiB，超过 %(value2)s MiB 的限制；请按部门或月份缩小范围", value=_mib(exc.estimate), value2=_mib(exc.budget)))
    except jobq.Busy as exc:
        return None, tr("后台任务已满（%(limit)s 个），请稍后再试", limit=exc.limit)
    state = jobq.get(engine, job_id)
    assert state is not None
    if state["status"] == "failed":
        return None, str(state["error_message"])
    if state["status"] != "done":
        _runner()
    return _job_json(state), None
