"""The demo's inspector on a team with tasks to record (`insp-team`).

The demo draw is random, so which inspector ends up on its teams differs from one demo to the
next: the account is made, after the tasks exist, for the inspector (without an account of their
own yet) on the most open tasks that have no result yet, so the inspector's own path (my tasks → record the check → enter the
result) can be walked from the demo alone.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from . import schema

TEAM_ACCOUNT = "insp-team"
PASSWORD = "demo-pass-2026"


def open_tasks_by_inspector(ledger: Any, draw_id: str) -> dict[str, list[str]]:
    """Open tasks of `draw_id` without any result, by team member."""
    with ledger.engine.connect() as conn:
        have = set(conn.execute(select(schema.results.c.task_id)).scalars())
        rows = conn.execute(select(schema.tasks.c.id, schema.tasks.c.doc).where(
            schema.tasks.c.draw_id == draw_id, schema.tasks.c.status == "open").order_by(schema.tasks.c.created_seq))
        out: dict[str, list[str]] = {}
        for tid, doc in rows:
            if tid not in have:
                for member in json.loads(doc).get("team", []):
                    out.setdefault(member, []).append(tid)
    return out


def seed_team_account(ledger: Any, registry: Any, draw_id: str) -> list[str]:
    """Create `insp-team` for the inspector with the most open tasks; returns lines to print."""
    if registry.get("account", TEAM_ACCOUNT) is not None:
        return []
    by_member = open_tasks_by_inspector(ledger, draw_id)
    taken = {a.get("inspector") for a in registry.list("account")}  # one account per inspector
    by_member = {i: tasks for i, tasks in by_member.items() if i not in taken}
    if not by_member:
        return []
    inspector = max(by_member, key=lambda i: (len(by_member[i]), i))
    record = registry.get("inspector", inspector) or {}
    admin = registry.actor_for(registry.get("account", "admin"))
    registry.create_account(admin, {"id": TEAM_ACCOUNT, "name": record.get("name") or "检查组成员", "role": "inspector",
                                    "inspector": inspector}, PASSWORD)
    return [f"demo account {TEAM_ACCOUNT} / password {PASSWORD} (inspector {inspector}, "
            f"{len(by_member[inspector])} open tasks to record)"]
