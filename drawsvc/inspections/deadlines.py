"""Deadlines in working days (rule 9) and who is late.

- check: the task's window end (an unchecked task after it is overdue);
- report: 5 working days after the check (003 第十八条) — met by the first result entry;
- publication: N working days after the report (003 第十九条: 20; 001 四(四): 10 — per department);
- penalty information: 7 working days after the decision (002 十);
- plan-execution disclosure: end of February of the following year (003 第二十三条).

Operators see what is overdue or due soon in their departments; auditors see every overdue
item and every publication that was late, so lateness is itself visible (rule 8).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from drawsvc.draws import schema as draws_schema

from . import schema
from .workdays import WorkCalendar

DEFAULTS = {"publish_days": 20, "report_days": 5, "penalty_days": 7}


def _settings(conn: Connection) -> dict[str, dict[str, Any]]:
    return {r.department: {**DEFAULTS, **json.loads(r.doc)} for r in conn.execute(select(schema.settings))}


def compute(conn: Connection, cal: WorkCalendar, today: date, departments: Sequence[str] | None = None,
            soon: int = 3, include_late_done: bool = False, include_done: bool = False) -> list[dict[str, Any]]:
    """Every open deadline (and, for auditors, late completions; with `include_done`, every
    completion) with status overdue/due_soon/ok/late/met. `approximate` marks a deadline counted
    with weekends only because its year's holiday notice is not known."""
    sets = _settings(conn)

    def st(dept: str) -> dict[str, Any]:
        return sets.get(dept, DEFAULTS)

    out: list[dict[str, Any]] = []

    def add(kind: str, dept: str, ref: str, subject: str, due: date, done: str | None, start: str) -> None:
        if done is not None:
            late = date.fromisoformat(done) > due
            if (include_late_done and late) or include_done:
                out.append({"kind": kind, "department": dept, "ref": ref, "subject": subject, "start": start,
                            "due": due.isoformat(), "done": done, "status": "late" if late else "met",
                            "working_days_late": cal.between(due, date.fromisoformat(done)),
                            "approximate": cal.approximate(due)})
            return
        if today > due:
            status, left = "overdue", -cal.between(due, today)
        else:
            left = cal.between(today, due)
            status = "due_soon" if left <= soon else "ok"
        out.append({"kind": kind, "department": dept, "ref": ref, "subject": subject, "start": start,
                    "due": due.isoformat(), "done": None, "status": status, "working_days_left": left,
                    "approximate": cal.approximate(due, today)})

    t, r = schema.tasks, schema.results
    task_stmt = select(t.c.id, t.c.department, t.c.subject, t.c.status, t.c.check_date, t.c.window_end, t.c.doc)
    res_stmt = select(r.c.id, r.c.task_id, r.c.department, r.c.subject, r.c.check_date, r.c.report_date,
                      r.c.published_date)
    if departments is not None:
        task_stmt = task_stmt.where(t.c.department.in_(list(departments)))
        res_stmt = res_stmt.where(r.c.department.in_(list(departments)))
    results_by_task: dict[str, list[Any]] = {}
    res_rows = list(conn.execute(res_stmt))
    for x in res_rows:
        results_by_task.setdefault(x.task_id, []).append(x)
    for x in conn.execute(task_stmt):
        mine = results_by_task.get(x.id, [])
        if x.check_date is None and not mine:
            add("check", x.department, x.id, x.subject, date.fromisoformat(x.window_end), None, x.window_end)
            continue
        check = x.check_date or min(m.check_date for m in mine)
        due = cal.add(date.fromisoformat(check), st(x.department)["report_days"])
        done = min((m.report_date for m in mine), default=None)
        add("report", x.department, x.id, x.subject, due, done, check)
    for x in res_rows:
        due = cal.add(date.fromisoformat(x.report_date), st(x.department)["publish_days"])
        add("publication", x.department, x.id, x.subject, due, x.published_date, x.report_date)
    e = schema.events
    closed = {}
    published = {}
    for ev in conn.execute(select(e.c.result_id, e.c.kind, e.c.doc, e.c.date).where(
            e.c.kind.in_(("followup_closed", "penalty_published")))):
        doc = json.loads(ev.doc)
        if ev.kind == "followup_closed" and doc["outcome"] == "penalty":
            closed[ev.result_id] = doc["decision_date"]
        elif ev.kind == "penalty_published":
            published[ev.result_id] = ev.date
    if closed:
        info = {x.id: x for x in res_rows}
        for rid, decided in closed.items():
            if rid not in info:
                continue
            dept = info[rid].department
            add("penalty_publication", dept, rid, info[rid].subject,
                cal.add(date.fromisoformat(decided), st(dept)["penalty_days"]), published.get(rid), decided)
    # plan-execution disclosure: every department with tasks in a past year
    years = conn.execute(select(t.c.department, t.c.year).distinct()).all()
    done_disc = {(d.department, d.year): d.published_date for d in conn.execute(select(schema.disclosures))}
    for dept, year in years:
        if departments is not None and dept not in departments:
            continue
        if year >= today.year:
            continue
        due = date(year + 1, 3, 1) - timedelta(days=1)
        add("disclosure", dept, f"{year}", "", due, done_disc.get((dept, year)), f"{year}-12-31")
    order = {"overdue": 0, "late": 1, "due_soon": 2, "ok": 3, "met": 4}
    out.sort(key=lambda x: (order[x["status"]], x["due"], x["ref"]))
    return out


def moved(conn: Connection, before: WorkCalendar, after: WorkCalendar, today: date) -> list[dict[str, str]]:
    """Deadlines (open and completed) whose due day differs between two calendars: what loading
    a year's holiday notice changes, so the change can be recorded and shown."""
    def dues(cal: WorkCalendar) -> dict[tuple[str, str, str], str]:
        return {(x["kind"], x["department"], x["ref"]): x["due"]
                for x in compute(conn, cal, today, include_late_done=True, include_done=True)}
    old, new = dues(before), dues(after)
    return [{"kind": k[0], "department": k[1], "ref": k[2], "due_before": old[k], "due_after": new[k]}
            for k in sorted(old) if k in new and new[k] != old[k]]


def annotate(rows: list[dict[str, Any]], changes: dict[tuple[str, str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark each deadline a loaded calendar moved with where it was before (shown, never silent)."""
    for r in rows:
        change = changes.get((r["kind"], r["department"], r["ref"]))
        if change is not None and change["due_after"] == r["due"]:
            r["moved_from"] = change["due_before"]
            r["moved_by_calendar"] = change["calendar_seq"]
    return rows


def frequency_used(conn: Connection, subject: str, year: int) -> int:
    """How many checks (random and not random) a subject had this year (rule 2)."""
    c = draws_schema.checks
    return len(conn.execute(select(c.c.id).where(c.c.subject == subject, c.c.year == year)).all())
