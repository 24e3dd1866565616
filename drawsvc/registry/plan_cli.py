"""`drawsvc plan`: an annual plan from draft to publication, and reading it.

    drawsvc plan list
    drawsvc plan show CODE                         (content, draws and their state, history on the log)
    drawsvc plan draft FILE.json --as ACCOUNT      (a new plan: code, name, year, departments, items, …)
    drawsvc plan edit CODE FILE.json --as ACCOUNT  (fields to change; drafts only)
    drawsvc plan submit|approve|publish CODE --as ACCOUNT
    drawsvc plan return|reopen CODE --reason TEXT --as ACCOUNT

Approval needs a second person where the plan's departments ask for it (the default): the
account that submitted cannot approve. Every step is a log entry signed by the named account
(without --as, by `system`, which the four-eyes rule does not bind: bootstrap only).
Refusals exit 2 with the reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .authz import Forbidden
from .cli import _actor, _registry
from .records import EXEMPTION_WORDS, RecordError
from .service import PLAN_STATUS_ZH, Conflict, NotFound, Registry

DRAW_STATUS_ZH = {"prepared": "已承诺", "seeded": "种子已固定", "drawn": "已抽取（保密）", "published": "已公示",
                  "aborted": "已中止"}


def _refuse(exc: Exception | str) -> None:
    """A refusal: the reason (each bad field of a record) on stderr, exit status 2."""
    if isinstance(exc, RecordError):
        for e in exc.errors:
            click.echo(f"  {e['field']}: {e['message']}", err=True)
        exc = "计划内容有误，未保存"
    click.echo(f"错误：{exc}", err=True)
    sys.exit(2)


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _refuse(f"无法读取 {file}：{exc}")
    if not isinstance(data, dict):
        _refuse(f"{file} 应为一个 JSON 对象")
    return data  # type: ignore[no-any-return]


def plan_summary(reg: Registry, plan: dict[str, Any], draws: list[dict[str, Any]]) -> list[str]:
    """The lines `plan show` prints: what an official reads before approving or drawing."""
    depts = {d["code"]: d.get("name") or d["code"] for d in reg.list("department")}
    items = {i["code"]: i.get("name", "") for i in reg.list("item")}
    ratios = " · ".join(f"{k} {v / 100:g}%" for k, v in plan["ratios_bp"].items())
    lines = [f"{plan['code']}  {plan['name']}  [{PLAN_STATUS_ZH.get(plan['status'], plan['status'])}]",
             f"  年度：{plan['year']}    实施期限：{plan['window_start']} 至 {plan['window_end']}",
             "  实施部门：" + "、".join(depts.get(d, d) for d in plan["departments"])
             + ("（部门联合抽查）" if plan.get("joint") else ""),
             "  抽查事项：" + "；".join(f"{c} {items.get(c, '')}" for c in plan["items"]),
             "  检查对象子库：" + ("、".join(plan.get("sublibraries") or []) or "全部（不定向）"),
             f"  抽查比例：{ratios}",
             f"  年度抽查次数上限：{plan['frequency_cap']}    每组人数：{plan['team_size']}",
             "  不受上限限制：" + ("、".join(EXEMPTION_WORDS.get(e, e) for e in plan.get("exemptions") or []) or "—")]
    if plan.get("submitted_by"):
        lines.append(f"  提交人：{plan['submitted_by']}（待另一人批准）")
    lines.append(f"  抽签：{len(draws)}")
    lines += [f"    {d['id']}  {d['department']}  {d.get('draw_date', '')}  {DRAW_STATUS_ZH.get(d['status'], d['status'])}"
              for d in draws]
    return lines


@click.group("plan")
def plan_cmd() -> None:
    """Annual plans: draft, edit, submit, approve, return, publish, read."""


@plan_cmd.command("list")
@click.pass_context
def plan_list(ctx: click.Context) -> None:
    """Every plan with its state."""
    for p in _registry(ctx).list("plan"):
        click.echo(f"{p['code']}\t{p['year']}\t{PLAN_STATUS_ZH.get(p['status'], p['status'])}\t{p['name']}")


@plan_cmd.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="The record, its draws and its log entries as JSON")
@click.pass_context
def plan_show(ctx: click.Context, code: str, as_json: bool) -> None:
    """One plan: its content, its draws and their state, and its entries on the log."""
    from drawsvc.draws.service import DrawService

    reg = _registry(ctx)
    plan = reg.get("plan", code)
    if plan is None:
        _refuse(f"计划 {code} 不存在")
    draws = [d for d in DrawService(reg.ledger, reg).list() if d["plan"] == code]
    history = [(s, reg.ledger.entry(s)) for s in reg.plan_history(code)]
    if as_json:
        click.echo(json.dumps({"plan": plan, "draws": [{k: d[k] for k in ("id", "department", "status")} for d in draws],
                               "history": [{"seq": s, "type": e.type, "actor": e.actor_id} for s, e in history]},
                              ensure_ascii=False, indent=2))
        return
    for line in plan_summary(reg, plan, draws):  # type: ignore[arg-type]
        click.echo(line)
    click.echo("  日志：")
    for s, e in history:
        click.echo(f"    #{s}  {e.type}  {e.actor_id}")


@plan_cmd.command("draft")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "account", help="Account that signs the entry (default: system)")
@click.pass_context
def plan_draft(ctx: click.Context, file: Path, account: str | None) -> None:
    """Draft a new plan from a JSON file (status: draft)."""
    reg = _registry(ctx)
    try:
        plan = reg.save(_actor(reg, account), "plan", _read_json(file), create=True)
    except (RecordError, Conflict, Forbidden) as exc:
        _refuse(exc)
    click.echo(f"计划 {plan['code']} 已起草（草稿）")


@plan_cmd.command("edit")
@click.argument("code")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "account", help="Account that signs the entry (default: system)")
@click.pass_context
def plan_edit(ctx: click.Context, code: str, file: Path, account: str | None) -> None:
    """Change a draft plan: the fields in FILE replace the plan's."""
    reg = _registry(ctx)
    old = reg.get("plan", code)
    if old is None:
        _refuse(f"计划 {code} 不存在")
    changes = _read_json(file)
    try:
        plan = reg.save(_actor(reg, account), "plan", {**old, **changes, "code": code}, create=False)  # type: ignore[dict-item]
    except (RecordError, Conflict, Forbidden, NotFound) as exc:
        _refuse(exc)
    click.echo(f"计划 {plan['code']} 已修改")


def _step(name: str, status: str, needs_reason: bool) -> None:
    @plan_cmd.command(name)
    @click.argument("code")
    @click.option("--as", "account", help="Account that signs the entry (default: system)")
    @click.option("--reason", default="", help="Why (required to return or reopen; logged)")
    @click.pass_context
    def step(ctx: click.Context, code: str, account: str | None, reason: str) -> None:
        reg = _registry(ctx)
        if needs_reason and not reason.strip():
            _refuse("退回或重新打开计划须用 --reason 说明理由")
        try:
            plan = reg.set_plan_status(_actor(reg, account), code, status, reason)
        except (Conflict, Forbidden, NotFound, RecordError) as exc:
            _refuse(exc)
        click.echo(f"计划 {code}：{PLAN_STATUS_ZH.get(plan['status'], plan['status'])}")

    step.__doc__ = {"submit": "Submit a draft for approval.", "approve": "Approve (a second person, where required).",
                    "return": "Return a submitted plan to draft, with a reason.", "publish": "Publish an approved plan.",
                    "reopen": "Reopen an approved plan as a draft, with a reason."}[name]


for _name, _status, _reason in (("submit", "submitted", False), ("approve", "approved", False),
                                ("return", "draft", True), ("publish", "published", False),
                                ("reopen", "draft", True)):
    _step(_name, _status, _reason)
