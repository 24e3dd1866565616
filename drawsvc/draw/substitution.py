"""Substitutions after the draw: never a choice, always the next eligible one in the drawn order.

- An inspector who leaves a team (reason code in INSPECTOR_LEAVE_REASONS) is replaced by
  continuing that subject's candidate walk where it stopped (``examined``), with the same skip
  rules; the subject's keyed shuffle is regenerated deterministically and extended as far as
  needed. The walk only moves forward, but a swap can put an inspector on a team whose walk has
  not reached them yet: from v2 on the leaving inspector and everyone who left that subject
  before are never candidates for it again (skipped as "left_subject"; §D8).
- A subject out of scope (SUBJECT_LEAVE_REASONS) is replaced by the first subject of its
  stratum's replacement order that has not been used yet; the newcomer gets a team by the
  normal walk, with the current workloads (the leaving subject's team is released first).
- A target swap between two drawn inspectors on two different subjects (003 第十五条) is a
  checked operation: both must be on the named teams, neither may have a conflict with the new
  subject, and each team must still have one inspector of each participating department.
Each operation returns a record for the *substituted* log entry; the check_* functions
recompute it and refuse a record that differs (NotNextEligible / SwapInvalid).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drawsvc.i18n import tr

from .errors import NotNextEligible, SubstitutionInvalid, SwapInvalid, TooFewInspectors
from .matching import (
    Assignment,
    Inspector,
    MatchResult,
    TeamRule,
    candidate_order,
    candidates,
    conflicts_by_subject,
    walk,
)
from .selection import Selection

INSPECTOR_LEAVE_REASONS = ("recusal_conflict", "cannot_attend", "certificate_lapsed", "left_department")
SUBJECT_LEAVE_REASONS = ("deregistered", "not_operating", "out_of_scope")


@dataclass(frozen=True)
class InspectorSubstitution:
    subject: str
    leaving: str
    reason: str
    incoming: str
    skipped: tuple[tuple[str, str], ...]
    examined_from: int
    examined_to: int
    expert: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": "inspector", "subject": self.subject, "leaving": self.leaving, "reason": self.reason,
                "incoming": self.incoming, "expert": self.expert, "examined_from": self.examined_from,
                "examined_to": self.examined_to,
                "skipped": [{"inspector": i, "reason": r} for i, r in self.skipped]}


def substitute_inspector(seed: bytes, result: MatchResult, subject: str, leaving: str, reason: str,
                         inspectors: Sequence[Inspector], rule: TeamRule,
                         conflicts: Collection[tuple[str, str]] = (), prior_load: Mapping[str, int] | None = None,
                         unavailable: Collection[str] = (), experts: Sequence[Inspector] = (),
                         left: Collection[str] | None = None) -> tuple[MatchResult, InspectorSubstitution]:
    """Replace `leaving` on `subject`'s team by the next eligible candidate. Pure: returns a new result.

    `left` (v2 rules; None = v1) = who left this subject by earlier inspector substitutions: they
    and `leaving` are barred from the walk, so a recused inspector cannot come back as their own
    replacement (e.g. after a swap put them on a team whose walk had not reached them)."""
    if reason not in INSPECTOR_LEAVE_REASONS:
        raise SubstitutionInvalid(tr("不是执法人员的递补原因：%(reason)s", reason=reason))
    try:
        a = result.find(subject)
    except KeyError:
        raise SubstitutionInvalid(tr("检查对象 %(subject)s 未被抽中", subject=subject)) from None
    is_expert = leaving in a.experts
    if leaving not in a.team and not is_expert:
        raise SubstitutionInvalid(f"{leaving} is not on the team of {subject}")
    new = copy.deepcopy(result)
    na = new.find(subject)
    members = na.experts if is_expert else na.team
    slot = members.index(leaving)
    members.remove(leaving)
    load = new.load(prior_load)
    cands, _ = candidates(experts if is_expert else inspectors, rule, expert=is_expert)
    order = candidate_order(seed, subject, cands, expert=is_expert)
    conf = conflicts_by_subject(conflicts).get(subject, set())
    start = na.experts_examined if is_expert else na.examined
    size = rule.experts if is_expert else rule.team_size
    depts = () if is_expert else rule.departments
    barred = frozenset() if left is None else frozenset([*left, leaving])
    got, skipped, pos = walk(subject, order, cands, start, members, size, rule, conf, load, depts, unavailable,
                             {c.id: c.department for c in cands}, barred=barred)
    if not got:
        raise TooFewInspectors(subject, tr("第 %(start)s 位之后没有可以替换 %(leaving)s 的合格人员", start=start, leaving=leaving))
    members.insert(slot, got[0])
    if is_expert:
        na.experts_skipped.extend(skipped)
        na.experts_examined = pos
    else:
        na.skipped.extend(skipped)
        na.examined = pos
    return new, InspectorSubstitution(subject, leaving, reason, got[0], tuple(skipped), start, pos, is_expert)


def check_inspector_substitution(seed: bytes, result: MatchResult, claimed: Mapping[str, Any],
                                 inspectors: Sequence[Inspector], rule: TeamRule,
                                 conflicts: Collection[tuple[str, str]] = (), prior_load: Mapping[str, int] | None = None,
                                 unavailable: Collection[str] = (), experts: Sequence[Inspector] = (),
                                 left: Collection[str] | None = None) -> MatchResult:
    """Recompute a claimed inspector substitution; raise NotNextEligible unless it matches."""
    new, sub = substitute_inspector(seed, result, claimed["subject"], claimed["leaving"], claimed["reason"],
                                    inspectors, rule, conflicts, prior_load, unavailable, experts, left)
    if claimed.get("incoming") != sub.incoming:
        raise NotNextEligible(tr("检查对象 %(subject)s：%(leaving)s 的下一位符合条件的递补人员是 %(incoming)s，不是 %(claimed)s",
                                 subject=sub.subject, leaving=sub.leaving, incoming=sub.incoming, claimed=claimed.get("incoming")))
    if claimed.get("skipped") is not None and claimed["skipped"] != sub.to_json()["skipped"]:
        raise NotNextEligible(tr("检查对象 %(subject)s：跳过的候选人与复算结果不同", subject=sub.subject))
    return new


@dataclass(frozen=True)
class SubjectSubstitution:
    stratum: str
    leaving: str
    reason: str
    incoming: str
    incoming_ticket: bytes
    assignment: Assignment

    def to_json(self) -> dict[str, Any]:
        return {"kind": "subject", "stratum": self.stratum, "leaving": self.leaving, "reason": self.reason,
                "incoming": self.incoming, "incoming_ticket": self.incoming_ticket.hex(),
                "assignment": self.assignment.to_json()}


def substitute_subject(seed: bytes, selection: Selection, result: MatchResult, subject: str, reason: str,
                       used: Collection[str], inspectors: Sequence[Inspector], rule: TeamRule,
                       conflicts: Collection[tuple[str, str]] = (), prior_load: Mapping[str, int] | None = None,
                       experts: Sequence[Inspector] = ()) -> tuple[MatchResult, SubjectSubstitution]:
    """Replace a drawn subject found out of scope by the next unused subject of its stratum.

    `used` = every subject that already entered by an earlier substitution or left (a
    replacement is never drawn twice). The newcomer takes the leaving subject's place in the
    matching order and is matched with the current workloads.
    """
    if reason not in SUBJECT_LEAVE_REASONS:
        raise SubstitutionInvalid(tr("不是检查对象的递补原因：%(reason)s", reason=reason))
    stratum = next((s for s, d in selection.strata.items() if any(sid == subject for _, sid in d.selected)), None)
    current = {a.subject for a in result.assignments}
    if subject not in current:
        raise SubstitutionInvalid(tr("检查对象 %(subject)s 未被抽中", subject=subject))
    if stratum is None:  # itself a replacement: find its stratum through the replacement orders
        stratum = next((s for s, d in selection.strata.items()
                        if any(sid == subject for _, sid in d.replacement_order(len(used) + 1))), None)
    if stratum is None:
        raise SubstitutionInvalid(tr("检查对象 %(subject)s 不属于本次抽签的任何一层", subject=subject))
    d = selection.strata[stratum]
    skip = set(used) | current
    nxt = next(((t, sid) for t, sid in d.replacement_order(len(skip) + 1) if sid not in skip), None)
    if nxt is None:
        raise SubstitutionInvalid(tr("第 %(stratum)s 层已没有可递补 %(subject)s 的检查对象", stratum=stratum, subject=subject))
    new = copy.deepcopy(result)
    idx = [a.subject for a in new.assignments].index(subject)
    new.assignments.pop(idx)
    load = new.load(prior_load)
    one = _match_one(seed, nxt[1], inspectors, rule, conflicts, load, experts)
    new.assignments.insert(idx, one)
    return new, SubjectSubstitution(stratum, subject, reason, nxt[1], nxt[0], one)


def _match_one(seed: bytes, subject: str, inspectors: Sequence[Inspector], rule: TeamRule,
               conflicts: Collection[tuple[str, str]], load: dict[str, int], experts: Sequence[Inspector]) -> Assignment:
    cands, _ = candidates(inspectors, rule)
    conf = conflicts_by_subject(conflicts).get(subject, set())
    order = candidate_order(seed, subject, cands)
    team, skipped, pos = walk(subject, order, cands, 0, [], rule.team_size, rule, conf, load, rule.departments)
    if len(team) < rule.team_size:
        raise TooFewInspectors(subject, tr("只有 %(n)s 名合格人员，需要 %(size)s 名", n=len(team), size=rule.team_size))
    a = Assignment(subject, team, skipped, pos)
    if rule.experts:
        ecands, _ = candidates(experts, rule, expert=True)
        eorder = candidate_order(seed, subject, ecands, expert=True)
        ex, eskip, epos = walk(subject, eorder, ecands, 0, [], rule.experts, rule, conf, load)
        if len(ex) < rule.experts:
            raise TooFewInspectors(subject, f"only {len(ex)} of {rule.experts} experts eligible")
        a.experts, a.experts_skipped, a.experts_examined = ex, eskip, epos
    return a


def check_subject_substitution(seed: bytes, selection: Selection, result: MatchResult, claimed: Mapping[str, Any],
                               used: Collection[str], inspectors: Sequence[Inspector], rule: TeamRule,
                               conflicts: Collection[tuple[str, str]] = (), prior_load: Mapping[str, int] | None = None,
                               experts: Sequence[Inspector] = ()) -> MatchResult:
    """Recompute a claimed subject substitution; raise NotNextEligible unless it matches."""
    new, sub = substitute_subject(seed, selection, result, claimed["leaving"], claimed["reason"], used,
                                  inspectors, rule, conflicts, prior_load, experts)
    if claimed.get("incoming") != sub.incoming:
        raise NotNextEligible(tr("第 %(stratum)s 层下一个未用的递补对象是 %(incoming)s，不是 %(claimed)s",
                                 stratum=sub.stratum, incoming=sub.incoming, claimed=claimed.get("incoming")))
    if claimed.get("assignment") is not None and claimed["assignment"] != sub.assignment.to_json():
        raise NotNextEligible(tr("%(incoming)s 的检查组与复算结果不同", incoming=sub.incoming))
    return new


def swap_targets(result: MatchResult, inspector_a: str, subject_a: str, inspector_b: str, subject_b: str,
                 inspectors: Sequence[Inspector], rule: TeamRule,
                 conflicts: Collection[tuple[str, str]] = ()) -> MatchResult:
    """Inspector a (on subject a) and inspector b (on subject b) exchange targets (003 第十五条).

    Refused (SwapInvalid) if either is not on the named team, the subjects are the same, either
    would land on a team they are already on, has a declared conflict with the new subject, or a
    team would lose its only inspector of a participating department.
    """
    try:
        a, b = result.find(subject_a), result.find(subject_b)
    except KeyError as missing:
        raise SwapInvalid(tr("检查对象 %(subject)s 未被抽中", subject=missing.args[0])) from None
    if inspector_a not in a.team or inspector_b not in b.team:
        raise SwapInvalid(tr("每名执法人员须在与其一同填写的检查对象的检查组中"))
    if subject_a == subject_b:
        raise SwapInvalid(tr("互换需要两个不同的检查对象"))
    if inspector_a in b.team or inspector_b in a.team:
        raise SwapInvalid(tr("互换后同一名执法人员会在一个检查组中出现两次"))
    conf = set(conflicts)
    if (inspector_a, subject_b) in conf or (inspector_b, subject_a) in conf:
        raise SwapInvalid(tr("执法人员与其将调往的检查对象有已申报的利害关系"))
    dept = {i.id: i.department for i in inspectors}
    new = copy.deepcopy(result)
    na, nb = new.find(subject_a), new.find(subject_b)
    na.team[na.team.index(inspector_a)] = inspector_b
    nb.team[nb.team.index(inspector_b)] = inspector_a
    for t in (na, nb):
        if set(rule.departments) - {dept.get(i) for i in t.team}:
            raise SwapInvalid(tr("互换后 %(subject)s 的检查组缺少参与部门的人员", subject=t.subject))
    return new


def check_swap(result: MatchResult, claimed: Mapping[str, Any], inspectors: Sequence[Inspector], rule: TeamRule,
               conflicts: Collection[tuple[str, str]] = ()) -> MatchResult:
    """Check a claimed swap record {inspector_a, subject_a, inspector_b, subject_b}; return the new result."""
    return swap_targets(result, claimed["inspector_a"], claimed["subject_a"], claimed["inspector_b"],
                        claimed["subject_b"], inspectors, rule, conflicts)
