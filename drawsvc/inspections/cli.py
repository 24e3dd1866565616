"""`drawsvc inspection calendar-load|tasks-from-draw|deadlines|report|disclose`.

Every change acts as a named account (`--as ACCOUNT`), whose own key signs the log entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from drawsvc.registry.authz import Forbidden

from .errors import InspectionError


class _Fail(click.ClickException):
    exit_code = 2


def _service(ctx: click.Context) -> Any:
    from drawsvc.registry.service import Registry

    from .service import InspectionService

    inst = ctx.find_object(object).instance  # the drawsvc Ctx
    ledger = inst.ledger()
    return InspectionService(ledger, Registry(ledger, inst.passphrase()), evidence_root=inst.evidence_dir)


def _actor(svc: Any, account: str) -> Any:
    rec = svc.registry.get("account", account)
    if rec is None:
        raise _Fail(f"no account {account!r}")
    return svc.registry.actor_for(rec)


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except (InspectionError, Forbidden) as exc:
        raise _Fail(f"{type(exc).__name__}: {exc}") from None


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group()
def inspection() -> None:
    """Inspections, results, deadlines and reports (检查、结果公示、时限、报表)."""


@inspection.command("calendar-load")
@click.argument("year", type=int, required=False)
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "account", required=True, help="An admin account")
@click.option("--override", is_flag=True, help="Replace a year the chinese-calendar package already knows")
@click.pass_context
def calendar_load(ctx: click.Context, year: int | None, path: Path | None, account: str, override: bool) -> None:
    """Load a year's holidays and make-up working days (drawsvc/data/calendar/<YEAR>.json or --file)."""
    from .workdays import read_year_file

    if year is None and path is None:
        raise _Fail("give YEAR or --file")
    svc = _service(ctx)
    data = _run(read_year_file, year, path)
    _echo(_run(svc.load_calendar_year, _actor(svc, account), data, override=override))


@inspection.command("tasks-from-draw")
@click.argument("draw_id")
@click.option("--as", "account", required=True)
@click.pass_context
def tasks_from_draw(ctx: click.Context, draw_id: str, account: str) -> None:
    """Create the inspection tasks of a published draw (only missing ones)."""
    svc = _service(ctx)
    created = _run(svc.create_tasks_for_draw, _actor(svc, account), draw_id)
    _echo({"created": [t["task_id"] for t in created]})


@inspection.command("deadlines")
@click.option("--department", multiple=True)
@click.option("--soon", type=int, default=3, show_default=True, help="Working days counted as due soon")
@click.pass_context
def deadlines_cmd(ctx: click.Context, department: tuple[str, ...], soon: int) -> None:
    """Overdue and due-soon items (report, publication, penalty information, disclosure)."""
    svc = _service(ctx)
    rows = svc.deadlines(list(department) or None, soon=soon, include_late_done=True)
    _echo([r for r in rows if r["status"] != "ok"])


@inspection.command("report")
@click.argument("kind", type=click.Choice(["monthly", "half-year", "annual", "plan-execution"]))
@click.option("--year", type=int, required=True)
@click.option("--month", type=int, default=0)
@click.option("--half", type=int, default=0)
@click.option("--department")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write .json, .xlsx or .pdf")
@click.pass_context
def report_cmd(ctx: click.Context, kind: str, year: int, month: int, half: int, department: str | None,
               out: Path | None) -> None:
    """A report computed from the log."""
    from . import export, reports

    svc = _service(ctx)
    try:
        rep = reports.build(reports.fold_ledger(svc.ledger), kind, year, month=month, half=half, department=department)
    except ValueError as exc:
        raise _Fail(str(exc)) from None
    if out is None:
        _echo(rep)
        return
    data = export.to_xlsx(rep) if out.suffix == ".xlsx" else export.to_pdf(rep) if out.suffix == ".pdf" else \
        json.dumps(rep, ensure_ascii=False, indent=2).encode()
    out.write_bytes(data)
    click.echo(f"wrote {out} ({len(data)} bytes)")


@inspection.command("disclose")
@click.argument("department")
@click.argument("year", type=int)
@click.option("--as", "account", required=True)
@click.pass_context
def disclose(ctx: click.Context, department: str, year: int, account: str) -> None:
    """Publish a department's plan execution of YEAR (003 第二十三条)."""
    from .reports import publish_disclosure

    svc = _service(ctx)
    res = _run(publish_disclosure, svc, _actor(svc, account), department, year)
    _echo({k: res[k] for k in ("department", "year", "sha256", "seq")})
