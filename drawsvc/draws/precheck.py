"""The draw's rules checked before anything is committed (pure: no I/O).

A draw's commitment is permanent: once `draw.prepared` is signed, a draw that should never
have been made (outside its plan's window, or with an inspector pool that cannot give random
teams) can only be aborted in public. So the rules are checked first, by the same functions
the prepare page uses to show the official what will be frozen: the pools per stratum, the
inspectors who are eligible and those left out, each with the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from drawsvc.draw.matching import TeamRule, draw_ineligible_reason
from drawsvc.i18n import N_, tr

from .inputs import DrawInputs, InputsError

ON_DUTY = "在岗"
# why an inspector of the registry is not in the draw's candidate pool (labels: msgids of the catalogue)
LEFT_OUT = {
    "not_on_duty": N_("不在岗（停用、调离等）"),
    "wrong_department": N_("不属于本次抽签的部门"),
    "certificate_not_valid": N_("行政执法证在抽签日不在有效期内"),
    "missing_qualification": N_("缺少所需资格"),
}
EXCLUDED = {
    "frequency_cap": N_("本年度已达抽查次数上限"),
    "checked_by_other_unit": N_("本年度已被本部门其他单位检查"),
    "deregistered": N_("已注销、吊销或撤销"),
    "not_operating": N_("停业"),
    "out_of_scope": N_("不在范围（迁出等）"),
}


def parse_draw_date(value: str) -> str:
    """The draw date as YYYY-MM-DD, or a refusal: a malformed date is never replaced by today."""
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InputsError(tr("抽签日期“%(value)s”不是有效日期（应为 YYYY-MM-DD）", value=value)) from None


def window_problem(plan: Mapping[str, Any], draw_date: str) -> str | None:
    """A draw outside its plan's window would create tasks overdue at birth (检查时限 ending
    before it starts): it is refused."""
    start, end = plan.get("window_start"), plan.get("window_end")
    if start and draw_date < start:
        return tr("抽签日期 %(date)s 早于计划 %(plan)s 的实施期限（%(start)s 至 %(end)s）",
                  date=draw_date, plan=plan["code"], start=start, end=end)
    if end and draw_date > end:
        return tr("抽签日期 %(date)s 晚于计划 %(plan)s 的实施期限（%(start)s 至 %(end)s），计划已结束",
                  date=draw_date, plan=plan["code"], start=start, end=end)
    return None


def team_problem(eligible: int, team_size: int) -> str | None:
    """Random teams need more eligible inspectors than a team holds: with exactly `team_size`
    every subject gets the same team (nothing random about it) and a recusal has nobody to
    bring in."""
    if eligible < team_size:
        return tr("抽签日可参加的执法检查人员只有 %(eligible)s 名，少于计划规定的每组 %(team_size)s 人，无法组成检查组",
                  eligible=eligible, team_size=team_size)
    if eligible == team_size:
        return tr("抽签日可参加的执法检查人员只有 %(eligible)s 名，恰好等于每组人数 %(team_size)s："
                  "每个检查对象都会分到同一组，既不随机，回避时也无人递补；请先补充人员名录",
                  eligible=eligible, team_size=team_size)
    return None


def inspector_overview(records: Iterable[Mapping[str, Any]], rule: TeamRule,
                       conflicts: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every inspector of the registry, sorted into eligible and left out (with why), and the
    declared conflicts of the eligible ones (recused from those subjects only)."""
    from drawsvc.draw.matching import Inspector

    eligible, left_out = [], []
    for r in sorted(records, key=lambda x: x["id"].encode()):
        row = {"id": r["id"], "name": r.get("name", ""), "department": r.get("department", ""),
               "cert_valid_to": r.get("cert_valid_to")}
        if r.get("status") != ON_DUTY:
            left_out.append({**row, "reason": "not_on_duty", "detail": r.get("status")})
            continue
        insp = Inspector.from_record({**r, "cert_valid_until": r.get("cert_valid_to")})
        reason = draw_ineligible_reason(insp, rule)
        if reason:
            left_out.append({**row, "reason": reason, "detail": r.get("cert_valid_to") if
                             reason == "certificate_not_valid" else r.get("department")})
        else:
            eligible.append(row)
    ids = {r["id"] for r in eligible}
    recused = sorted(({"inspector": c["inspector"], "subject": c["subject"], "reason": c.get("reason", "")}
                      for c in conflicts if c["inspector"] in ids), key=lambda c: (c["inspector"], c["subject"]))
    return {"eligible": eligible, "left_out": left_out, "recused": recused}


def strata_table(inputs: DrawInputs, sizes: Mapping[str, int]) -> list[dict[str, Any]]:
    """Per stratum: the pool's count, the ratio and the number to be drawn."""
    counts = inputs.pool.counts()
    return [{"stratum": s, "pool": counts.get(s, 0), "ratio": inputs.ratios.get(s), "drawn": sizes.get(s, 0)}
            for s in sorted(set(counts) | set(inputs.ratios))]


def excluded_counts(excluded: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(e["reason"] for e in excluded).items()))


def problems(plan: Mapping[str, Any], draw_date: str, eligible: int, team_size: int) -> list[str]:
    """Every rule the draw breaks, in the reader's language (the service refuses on any)."""
    return [p for p in (window_problem(plan, draw_date), team_problem(eligible, team_size)) if p]
