"""Who may change what (pure). Reads are decided in web/registry_api.py by role.

- system: everything (bootstrap, demo data).
- admin: everything.
- operator: items, inspectors, sub-libraries and plans of their own departments (old and new
  record alike); subjects, experts (shared registries); conflicts of their departments' inspectors;
  their own API tokens.
- inspector: conflict declarations about themselves; their own API tokens.
- auditor (纪检监察): reads everything, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drawsvc.i18n import tr
from ledger.keys import ActorSigner


class Forbidden(Exception):
    """The actor's role or department does not allow this change."""


@dataclass(frozen=True)
class Actor:
    id: str
    role: str  # system | admin | operator | inspector | auditor
    departments: tuple[str, ...] = ()
    inspector: str | None = None
    signer: ActorSigner | None = field(default=None, compare=False, repr=False)


def _depts(kind: str, record: dict[str, Any] | None, ctx_get: Any) -> set[str] | None:
    """The departments a record belongs to, or None when it belongs to none (shared)."""
    if record is None:
        return set()
    if kind in ("item", "inspector"):
        return {record["department"]}
    if kind == "sublibrary":
        return {record["department"]} if record.get("department") else None
    if kind == "plan":
        return set(record["departments"])
    if kind == "conflict":
        insp = ctx_get("inspector", record["inspector"])
        return {insp["department"]} if insp else set()
    return None


def authorize(actor: Actor, kind: str, old: dict | None, new: dict | None, ctx_get: Any = None) -> None:
    """Raise Forbidden unless `actor` may turn `old` into `new` (None = absent)."""
    role = actor.role
    if role in ("system", "admin"):
        return
    if role == "auditor":
        raise Forbidden(tr("审计（纪检监察）账户只读"))
    if kind == "token":
        rec = new or old
        if rec is not None and rec["account"] == actor.id:
            return
        raise Forbidden(tr("只能管理自己的令牌"))
    if role == "inspector":
        if kind == "conflict" and all(r is None or r["inspector"] == actor.inspector for r in (old, new)):
            return
        raise Forbidden(tr("检查人员只能申报本人的回避事项"))
    if role != "operator":
        raise Forbidden(tr("未知的角色 %(role)s", role=role))
    if kind in ("department", "account"):
        raise Forbidden(tr("只有管理员可以管理部门和账户"))
    if kind in ("subject", "expert"):
        return
    mine = set(actor.departments)
    if kind == "sublibrary" and any(r is not None and not r.get("department") for r in (old, new)):
        raise Forbidden(tr("全局子库只有管理员可以管理"))
    for rec in (old, new):
        depts = _depts(kind, rec, ctx_get or (lambda k, key: None))
        if depts is None:
            continue
        if not depts <= mine:
            raise Forbidden(tr("不属于本部门（%(value)s）", value=', '.join(sorted(depts - mine))))
