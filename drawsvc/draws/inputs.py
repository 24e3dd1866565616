"""From registry records and a plan to a draw's frozen inputs (pure: no I/O).

The rules of the seeds, applied before prepare (docs/SPEC.md §10.2):
- scope: the plan's filter and, for a directed draw, its sub-libraries (003 第十七条) define
  the universe; inside it, a subject not operating (注销/吊销/撤销/迁出/停业) is excluded
  `out_of_scope`;
- frequency cap: a subject checked `frequency_cap` times this year is excluded, unless it is
  on the serious-violation or abnormal lists or was penalised (002 五, 003 第十六条);
- a subject already checked this year by another unit of the same department is excluded
  `checked_by_other_unit` (same exemptions);
- differentiated ratios: stratum = credit class, but a subject on the abnormal or
  serious-dishonest lists, recently penalised, or with many complaints is drawn in stratum D
  (000 三(二), 003 第十三条, 004 三(四));
- general items have a floor (5% unless an item sets another), key items none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drawsvc.draw.matching import TeamRule
from drawsvc.registry.records import ACTIVE_SUBJECT_STATUSES, match_filter

COMPLAINTS_HIGH_RISK = 3
DEFAULT_FLOOR_BP = 500
_STATUS_REASON = {"注销": "deregistered", "吊销": "deregistered", "撤销": "deregistered",
                  "迁出": "out_of_scope", "停业": "not_operating"}


class InputsError(ValueError):
    """The plan cannot be drawn as asked (named field and reason)."""


@dataclass(frozen=True)
class PriorCheck:
    subject: str
    department: str
    kind: str  # random | not_random


@dataclass
class DrawInputs:
    pool: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    inspectors: list[dict[str, Any]]
    conflicts: list[list[str]]  # [inspector, subject], sorted
    ratios: dict[str, str]
    floor: str
    key_item: bool
    rule: TeamRule
    parameters: dict[str, Any] = field(default_factory=dict)


def bp_to_decimal(bp: int) -> str:
    """Basis points to the exact decimal string the draw rules read (1 → '0.0001')."""
    if not 0 <= bp <= 10000:
        raise InputsError(f"ratio {bp} bp is outside 0..10000")
    if bp == 10000:
        return "1"
    if bp == 0:
        return "0"
    return ("0." + f"{bp:04d}").rstrip("0")


def stratum_of(subject: Mapping[str, Any]) -> str:
    """Credit class, raised to D for high-risk flags (the differentiated-ratio rule)."""
    risky = (subject.get("abnormal") or subject.get("serious_dishonest") or subject.get("penalized_on")
             or subject.get("complaints", 0) >= COMPLAINTS_HIGH_RISK)
    return "D" if risky else subject["credit_class"]


def exempt_from_cap(subject: Mapping[str, Any], exemptions: Iterable[str]) -> bool:
    ex = set(exemptions)
    return bool(("serious_dishonest" in ex and subject.get("serious_dishonest"))
                or ("abnormal" in ex and subject.get("abnormal"))
                or ("penalized" in ex and subject.get("penalized_on")))


def same_unit_family(a: str, b: str, parents: Mapping[str, str | None]) -> bool:
    """Two departments are units of the same department if one is the other or they share a parent."""
    pa, pb = parents.get(a) or a, parents.get(b) or b
    return a == b or pa in (pb, b) or pb == a


def build_inputs(plan: Mapping[str, Any], department: str, items: Sequence[Mapping[str, Any]],
                 subjects: Iterable[Mapping[str, Any]], sublibraries: Mapping[str, Mapping[str, Any]],
                 inspectors: Iterable[Mapping[str, Any]], conflicts: Iterable[Mapping[str, Any]],
                 prior: Sequence[PriorCheck], parents: Mapping[str, str | None], draw_date: str) -> DrawInputs:
    """Pools, exclusions, ratios and the team rule for one draw of `plan` by `department`."""
    if department not in plan["departments"]:
        raise InputsError(f"department {department} is not in plan {plan['code']}")
    joint = bool(plan.get("joint"))
    departments = [department] + ([d for d in plan["departments"] if d != department] if joint else [])
    filters = [sublibraries[c]["filter"] for c in plan.get("sublibraries", []) if c in sublibraries]
    exemptions = plan.get("exemptions", [])
    cap = plan.get("frequency_cap", 2)
    counts: dict[str, int] = {}
    by_unit: dict[str, set[str]] = {}
    for p in prior:
        counts[p.subject] = counts.get(p.subject, 0) + 1
        by_unit.setdefault(p.subject, set()).add(p.department)

    pool: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    for s in subjects:
        if not match_filter(s, plan.get("filter") or {}):
            continue
        if filters and not any(match_filter(s, f) for f in filters):
            continue
        stratum = stratum_of(s)
        reason = None
        if s["status"] not in ACTIVE_SUBJECT_STATUSES:
            reason = _STATUS_REASON.get(s["status"], "out_of_scope")
        elif not exempt_from_cap(s, exemptions):
            if counts.get(s["code"], 0) >= cap:
                reason = "frequency_cap"
            elif any(d != department and same_unit_family(d, department, parents)
                     for d in by_unit.get(s["code"], ())):
                reason = "checked_by_other_unit"
        if reason:
            excluded.append({"id": s["code"], "stratum": stratum, "reason": reason})
        else:
            pool.append({"id": s["code"], "name": s["name"], "stratum": stratum})

    key_item = any(i.get("kind") == "key" for i in items)
    floor_bp = max([i.get("ratio_min_bp", DEFAULT_FLOOR_BP) for i in items if i.get("kind") != "key"]
                   or [DEFAULT_FLOOR_BP])
    ratios = {k: bp_to_decimal(v) for k, v in plan["ratios_bp"].items()}
    wanted = set(departments)
    insp_records = sorted(
        ({"id": i["id"], "department": i["department"], "qualifications": sorted(i.get("qualifications", [])),
          "cert_valid_from": i["cert_valid_from"], "cert_valid_until": i["cert_valid_to"]}
         for i in inspectors if i["department"] in wanted and i.get("status") == "在岗"),
        key=lambda r: r["id"].encode())
    insp_ids = {r["id"] for r in insp_records}
    pool_ids = {r["id"] for r in pool}
    pairs = sorted({(c["inspector"], c["subject"]) for c in conflicts
                    if c["inspector"] in insp_ids and c["subject"] in pool_ids})
    rule = TeamRule(draw_date=draw_date, departments=tuple(departments), team_size=plan.get("team_size", 2))
    parameters = {
        "ratios": ratios, "floor": bp_to_decimal(floor_bp), "key_item": key_item,
        "frequency_cap": cap, "exemptions": sorted(exemptions), "filter": plan.get("filter") or {},
        "sublibraries": sorted(plan.get("sublibraries", [])), "joint": joint,
        "team_rule": {"draw_date": draw_date, "departments": departments, "team_size": rule.team_size,
                      "qualification": None, "max_assignments": None, "experts": 0, "expert_field": None},
        "stratum_rule": f"credit class; D for abnormal, serious_dishonest, penalized or >= {COMPLAINTS_HIGH_RISK} complaints",
    }
    return DrawInputs(pool, excluded, insp_records, [list(p) for p in pairs], ratios,
                      bp_to_decimal(floor_bp), key_item, rule, parameters)
