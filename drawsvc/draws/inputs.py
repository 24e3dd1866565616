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
from itertools import compress
from typing import Any

from drawsvc.draw.matching import TeamRule
from drawsvc.draw.pool import SubjectPool
from drawsvc.i18n import tr
from drawsvc.registry.records import ACTIVE_SUBJECT_STATUSES, match_filter

COMPLAINTS_HIGH_RISK = 3
DEFAULT_FLOOR_BP = 500
_STATUS_REASON = {"注销": "deregistered", "吊销": "deregistered", "撤销": "deregistered",
                  "迁出": "out_of_scope", "停业": "not_operating"}


class InputsError(ValueError):
    """The plan cannot be drawn as asked (named field and reason)."""


class UnknownReference(InputsError):
    """A well-formed request naming a record (a plan) the registry does not hold: a conflict with
    the registry's state (HTTP 409), not malformed input."""


@dataclass(frozen=True)
class PriorCheck:
    subject: str
    department: str
    kind: str  # random | not_random


SUBJECT_COLUMNS = ("code", "name", "region", "industry", "status", "credit_class", "abnormal", "serious_dishonest",
                   "penalized_on", "complaints")
RISK_COLUMNS = ("credit_class", "abnormal", "serious_dishonest", "penalized_on", "complaints")


@dataclass
class SubjectColumns:
    """The registry's subjects as one list per field (row i across the lists is one subject).

    A million subjects read as a million dicts cost most of a draw's preparation; as columns
    they come from the database in a few aggregate values and the rules below run over them
    in C-level passes. Only what the rules need is held: the fields of the stratum rule, and
    the status of the subjects that are not active (`inactive`: row -> status; every other row
    is active). `rows` holds the full records when a filter needs to look at them.
    """

    code: list[str]
    name: list[str]
    credit_class: Sequence[str]
    abnormal: Sequence[Any]
    serious_dishonest: Sequence[Any]
    penalized_on: Sequence[Any]
    complaints: Sequence[int]
    inactive: Mapping[int, str]
    rows: list[dict[str, Any]] | None = None
    # the only rows whose flags may be set (read from the partial index of special subjects);
    # None: any row may be
    special: Sequence[int] | None = None

    def __len__(self) -> int:
        return len(self.code)

    def row(self, i: int) -> dict[str, Any]:
        if self.rows is not None:
            return self.rows[i]
        return {"code": self.code[i], "name": self.name[i], "status": self.inactive.get(i, ACTIVE_SUBJECT_STATUSES[0]),
                **{f: getattr(self, f)[i] for f in RISK_COLUMNS}}

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> SubjectColumns:
        """Columns of full records (kept as `rows`, for filters)."""
        rows = [dict(r) for r in records]
        active = frozenset(ACTIVE_SUBJECT_STATUSES)
        return cls(code=[r["code"] for r in rows], name=[r["name"] for r in rows],
                   credit_class=[r["credit_class"] for r in rows], abnormal=[r.get("abnormal") for r in rows],
                   serious_dishonest=[r.get("serious_dishonest") for r in rows],
                   penalized_on=[r.get("penalized_on") for r in rows],
                   complaints=[r.get("complaints") or 0 for r in rows],
                   inactive={i: r["status"] for i, r in enumerate(rows) if r["status"] not in active}, rows=rows)


@dataclass
class DrawInputs:
    pool: SubjectPool
    excluded: list[dict[str, Any]]
    inspectors: list[dict[str, Any]]
    conflicts: list[list[str]]  # [inspector, subject], sorted
    ratios: dict[str, str]
    floor: str
    key_item: bool
    rule: TeamRule
    parameters: dict[str, Any] = field(default_factory=dict)
    # what the matching also reads (§D7): committed at prepare even when empty, so a bundle
    # cannot bring in an expert pool or prior loads the draw was not made with
    experts: list[dict[str, Any]] = field(default_factory=list)
    prior_load: dict[str, int] = field(default_factory=dict)


def bp_to_decimal(bp: int) -> str:
    """Basis points to the exact decimal string the draw rules read (1 → '0.0001')."""
    if not 0 <= bp <= 10000:
        raise InputsError(tr("比例 %(bp)s 基点超出 0–10000", bp=bp))
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


def strata_of_columns(cols: SubjectColumns) -> list[str]:
    """stratum_of for every row, in one pass (a test checks it agrees with stratum_of)."""
    k = COMPLAINTS_HIGH_RISK
    if cols.special is not None:  # every other row keeps its credit class: patch only these
        out = list(cols.credit_class)
        for i in cols.special:
            if cols.abnormal[i] or cols.serious_dishonest[i] or cols.penalized_on[i] or cols.complaints[i] >= k:
                out[i] = "D"
        return out
    if not (any(cols.abnormal) or any(cols.serious_dishonest) or any(cols.penalized_on)
            or max(cols.complaints, default=0) >= k):
        return list(cols.credit_class)  # nobody is raised to D: C-level passes only
    return ["D" if (ab or sd or pe or co >= k) else cc for cc, ab, sd, pe, co in
            zip(cols.credit_class, cols.abnormal, cols.serious_dishonest, cols.penalized_on, cols.complaints,
                strict=True)]


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
                 subjects: SubjectColumns, sublibraries: Mapping[str, Mapping[str, Any]],
                 inspectors: Iterable[Mapping[str, Any]], conflicts: Iterable[Mapping[str, Any]],
                 prior: Sequence[PriorCheck], parents: Mapping[str, str | None], draw_date: str) -> DrawInputs:
    """Pools, exclusions, ratios and the team rule for one draw of `plan` by `department`.

    The pool keeps the registry's order (the caller reads it in id order, which spares the
    commitment a sort)."""
    if department not in plan["departments"]:
        raise InputsError(tr("部门 %(department)s 不在计划 %(plan)s 的实施部门中", department=department, plan=plan["code"]))
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

    cols = subjects
    n = len(cols)
    plan_filter = plan.get("filter") or {}
    scope: Sequence[int] = range(n)
    if plan_filter or filters:
        scope = [i for i in range(n) if match_filter(r := cols.row(i), plan_filter)
                 and (not filters or any(match_filter(r, f) for f in filters))]
    strata = strata_of_columns(cols)
    code = cols.code
    # the exclusion rules touch few subjects: find them without a per-subject dict
    in_scope = (lambda i: True) if len(scope) == n else set(scope).__contains__  # noqa: E731
    reasons: dict[int, str] = {i: _STATUS_REASON.get(st, "out_of_scope")
                               for i, st in sorted(cols.inactive.items()) if in_scope(i)}
    if counts:
        for i in [j for j in scope if code[j] in counts and j not in reasons]:
            if exempt_from_cap(cols.row(i), exemptions):
                continue
            if counts[code[i]] >= cap:
                reasons[i] = "frequency_cap"
            elif any(d != department and same_unit_family(d, department, parents) for d in by_unit[code[i]]):
                reasons[i] = "checked_by_other_unit"
    excluded = [{"id": code[i], "stratum": strata[i], "reason": r} for i, r in sorted(reasons.items())]
    if len(scope) == n and not reasons:
        pool = SubjectPool(code, cols.name, strata)
    elif len(scope) == n:  # the few excluded rows masked out: C-level passes over the columns
        mask = bytearray(b"\x01") * n
        for i in reasons:
            mask[i] = 0
        pool = SubjectPool(list(compress(code, mask)), list(compress(cols.name, mask)), list(compress(strata, mask)))
    else:
        kept = [i for i in scope if i not in reasons]
        pool = SubjectPool([code[i] for i in kept], [cols.name[i] for i in kept], [strata[i] for i in kept])

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
    conflicts = [c for c in conflicts if c["inspector"] in insp_ids]
    pool_ids = set(pool.ids) if conflicts else set()
    pairs = sorted({(c["inspector"], c["subject"]) for c in conflicts if c["subject"] in pool_ids})
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
