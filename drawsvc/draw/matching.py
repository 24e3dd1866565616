"""Matching inspectors (and experts) to the selected subjects, by a keyed shuffle per subject.

For each selected subject, in the matching order, the candidates are walked in the order of a
lazy keyed Fisher-Yates shuffle over (seed, subject) (tickets.KeyedShuffle); a candidate is
skipped, with a reason code, when it cannot serve this subject; the walk stops when the team is
full. Only the positions the walk reaches are generated, so a subject costs O(team + skips)
hashes whatever the size of the inspector pool. Nobody chooses a team: the order is fixed by the
seed and the committed candidate list, and every skip is recorded so a verifier can re-check it.

Candidates are the members of the committed inspector pool whose department participates in the
check and who are eligible for the whole draw (valid 行政执法证 on the draw date, required
qualification). Those who are not are listed once, with a reason, in ``draw_ineligible``.
Per-subject skip reasons, tested in this order:
  conflict_declared  — the inspector declared a conflict of interest with this subject;
  unavailable        — (substitutions only) the inspector is known unavailable;
  workload_cap       — the inspector already has the maximum number of assignments
                       (prior load + assignments made earlier in this draw);
  department_quota   — the remaining places are reserved for participating departments
                       that have nobody on the team yet (joint checks: >= 1 per department).
See docs/SPEC.md §D7.
"""

from __future__ import annotations

import gc
import pickle
import struct
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from drawsvc.i18n import tr

from . import accel
from .codec import TAG_INSPECTOR_ORDER, tag_prefix
from .errors import DrawError, EmptyPool, TooFewInspectors
from .parallel import ranges, run_split, workers
from .tickets import KeyedShuffle, first_positions, order_base

PARALLEL_SUBJECTS = 20_000  # below this a fork costs more than the matching it shares
SKIP_REASONS = ("conflict_declared", "unavailable", "workload_cap", "department_quota")
DRAW_INELIGIBLE_REASONS = ("certificate_not_valid", "missing_qualification", "wrong_department")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a draw (restored after, even on error).

    A draw allocates one small object graph per subject and creates no reference cycles, but with
    a million-member pool alive each automatic collection rescans the whole heap: pausing it
    halves the matching time at 1 M subjects. Reference counting still frees everything.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            # Everything allocated meanwhile is still in the youngest generation: enabling the
            # collector as it is would scan all of it at the next allocation (1.5 s after a
            # province's draw, for no garbage). freeze + unfreeze moves it to the oldest
            # generation unscanned (two list splices); it is collected there as usual later.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


@dataclass(frozen=True)
class Inspector:
    """An inspector (or expert) as committed in the pool, with what eligibility needs."""

    id: str
    department: str
    qualifications: frozenset[str] = frozenset()
    cert_valid_from: str | None = None  # ISO date YYYY-MM-DD, inclusive
    cert_valid_until: str | None = None  # ISO date, inclusive
    max_assignments: int | None = None  # overrides the rule's cap for this person

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Inspector:
        return cls(
            id=rec["id"], department=rec.get("department") or rec.get("field") or "",
            qualifications=frozenset(rec.get("qualifications", ())),
            cert_valid_from=rec.get("cert_valid_from"), cert_valid_until=rec.get("cert_valid_until"),
            max_assignments=rec.get("max_assignments"),
        )


@dataclass(frozen=True)
class TeamRule:
    """What every team of this draw needs (from the plan and the items)."""

    draw_date: str  # ISO date: certificates must be valid on it
    departments: tuple[str, ...]  # participating departments, initiating one first; >= 1 each
    team_size: int = 2
    qualification: str | None = None  # required of every inspector (directed draw)
    max_assignments: int | None = None  # workload cap per inspector, prior load included
    experts: int = 0  # experts per subject when the item asks for them
    expert_field: str | None = None  # required expert field (matched against qualifications)

    def check(self) -> None:
        if self.team_size < 2:
            raise DrawError(tr("检查组至少2名执法人员（002 九(四)）"))
        if not self.departments or len(set(self.departments)) != len(self.departments):
            raise DrawError(tr("参与部门须为不重复的非空列表"))
        if self.team_size < len(self.departments):
            raise DrawError(tr("检查组 %(size)s 人，容纳不下 %(n)s 个参与部门各一名执法人员", size=self.team_size, n=len(self.departments)))
        if self.experts < 0:
            raise DrawError(tr("专家人数不能为负数"))


@dataclass
class Assignment:
    """One subject's team, and how the walk got there."""

    subject: str
    team: list[str]
    skipped: list[tuple[str, str]]
    examined: int  # how many candidates of the inspector order were looked at
    experts: list[str] = field(default_factory=list)
    experts_skipped: list[tuple[str, str]] = field(default_factory=list)
    experts_examined: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject, "team": list(self.team), "examined": self.examined,
            "skipped": [{"inspector": i, "reason": r} for i, r in self.skipped],
            "experts": list(self.experts), "experts_examined": self.experts_examined,
            "experts_skipped": [{"inspector": i, "reason": r} for i, r in self.experts_skipped],
        }


@dataclass
class MatchResult:
    assignments: list[Assignment]
    draw_ineligible: dict[str, str]

    def load(self, prior: Mapping[str, int] | None = None) -> dict[str, int]:
        """Assignments per inspector/expert: prior load plus every current team place."""
        out = dict(prior or {})
        for a in self.assignments:
            for i in (*a.team, *a.experts):
                out[i] = out.get(i, 0) + 1
        return out

    def find(self, subject: str) -> Assignment:
        for a in self.assignments:
            if a.subject == subject:
                return a
        raise KeyError(subject)

    def to_json(self) -> dict[str, Any]:
        return {"assignments": [a.to_json() for a in self.assignments],
                "draw_ineligible": dict(sorted(self.draw_ineligible.items()))}


def draw_ineligible_reason(insp: Inspector, rule: TeamRule, expert: bool = False) -> str | None:
    """Why `insp` cannot serve anywhere in this draw (None if it can)."""
    if expert:
        if rule.expert_field and rule.expert_field not in insp.qualifications:
            return "missing_qualification"
        return None
    if insp.department not in rule.departments:
        return "wrong_department"
    if not insp.cert_valid_from or not insp.cert_valid_until or not (
        insp.cert_valid_from <= rule.draw_date <= insp.cert_valid_until
    ):
        return "certificate_not_valid"
    if rule.qualification and rule.qualification not in insp.qualifications:
        return "missing_qualification"
    return None


def candidates(pool: Sequence[Inspector], rule: TeamRule, expert: bool = False) -> tuple[list[Inspector], dict[str, str]]:
    """(eligible candidates sorted by id bytes, {ineligible id: reason})."""
    ok, bad = [], {}
    for insp in pool:
        reason = draw_ineligible_reason(insp, rule, expert)
        if reason:
            bad[insp.id] = reason
        else:
            ok.append(insp)
    ok.sort(key=lambda i: i.id)  # str order == UTF-8 byte order
    return ok, bad


def candidate_order(seed: bytes, subject: str, cands: Sequence[Inspector] | int, expert: bool = False,
                    base: Any = None) -> KeyedShuffle:
    """This subject's lazy order of `cands` (or of range(cands) given a count): a sequence of indexes.

    `base` (tickets.order_base(seed, expert), computed once per draw) only saves time.
    """
    m = cands if isinstance(cands, int) else len(cands)
    return KeyedShuffle(seed, subject, m, expert, base)


def _cap(insp: Inspector, rule: TeamRule) -> int | None:
    return insp.max_assignments if insp.max_assignments is not None else rule.max_assignments


def walk(subject: str, order: Sequence[int], cands: Sequence[Inspector], start: int, team: list[str],
         size: int, rule: TeamRule, conflicts: Collection[str], load: dict[str, int],
         departments: tuple[str, ...] = (), unavailable: Collection[str] = (),
         dept_of: Mapping[str, str] | None = None,
         caps: Sequence[int | None] | None = None,
         barred: Collection[str] = ()) -> tuple[list[str], list[tuple[str, str]], int]:
    """Continue the walk at position `start` until `team` has `size` members.

    `order` is the subject's candidate order (a KeyedShuffle, generated only as far as the walk
    goes, or any sequence of indexes into `cands`). Returns (accepted ids, skipped (id, reason),
    next position); mutates `load`. `conflicts` holds the inspector ids with a declared conflict
    with this subject. `caps` (each candidate's workload cap, precomputed once per draw) only
    saves time. `barred` (v2 substitutions, §D8) holds who left this subject's team: the leaving
    inspector and earlier leavers, skipped as "left_subject" — a recusal never brings anyone back.
    """
    if team and dept_of is None:
        dept_of = {c.id: c.department for c in cands}
    missing = set(departments) - {dept_of[i] for i in team if dept_of and i in dept_of} if departments else set()
    accepted: list[str] = []
    skipped: list[tuple[str, str]] = []
    pos = start
    m = len(order)
    free = size - len(team)  # places still open
    ensure = getattr(order, "ensure", None)
    seq: Sequence[int] = order if ensure is None else ensure(pos + free)
    while free > 0 and pos < m:
        if pos >= len(seq):
            seq = ensure(pos + free)  # type: ignore[misc]  # lazily: only as far as the walk needs
        c = seq[pos]
        insp = cands[c]
        iid = insp.id
        pos += 1
        if iid in team:
            continue  # already on this team (after a swap): not a candidate, not a skip
        cap = caps[c] if caps is not None else _cap(insp, rule)
        if iid in barred:
            skipped.append((iid, "left_subject"))
        elif iid in conflicts:
            skipped.append((iid, "conflict_declared"))
        elif iid in unavailable:
            skipped.append((iid, "unavailable"))
        elif cap is not None and load.get(iid, 0) >= cap:
            skipped.append((iid, "workload_cap"))
        elif missing and insp.department not in missing and free <= len(missing):
            skipped.append((iid, "department_quota"))
        else:
            accepted.append(iid)
            load[iid] = load.get(iid, 0) + 1
            missing.discard(insp.department)
            free -= 1
    return accepted, skipped, pos


def conflicts_by_subject(conflicts: Collection[tuple[str, str]]) -> dict[str, set[str]]:
    """{subject: {inspector ids}} from declared (inspector, subject) conflicts."""
    out: dict[str, set[str]] = {}
    for insp, subj in conflicts:
        out.setdefault(subj, set()).add(insp)
    return out


def match_inspectors(seed: bytes, subjects: Sequence[str], inspectors: Sequence[Inspector], rule: TeamRule,
                     conflicts: Collection[tuple[str, str]] = (), prior_load: Mapping[str, int] | None = None,
                     experts: Sequence[Inspector] = ()) -> MatchResult:
    """Teams for `subjects` (in the given matching order). Raises TooFewInspectors naming the subject."""
    with gc_paused():
        return _match_inspectors(seed, subjects, inspectors, rule, conflicts, prior_load, experts)


def _match_inspectors(seed: bytes, subjects: Sequence[str], inspectors: Sequence[Inspector], rule: TeamRule,
                      conflicts: Collection[tuple[str, str]], prior_load: Mapping[str, int] | None,
                      experts: Sequence[Inspector]) -> MatchResult:
    rule.check()
    cands, bad = candidates(inspectors, rule)
    if not cands:
        raise EmptyPool(tr("参与部门没有符合本次抽签条件的执法人员"))
    ecands, ebad = candidates(experts, rule, expert=True) if rule.experts else ([], {})
    for k, v in ebad.items():
        bad.setdefault(k, v)
    by_subject = conflicts_by_subject(conflicts)
    load = dict(prior_load or {})
    base, ebase = order_base(seed), order_base(seed, expert=True)
    caps = [_cap(c, rule) for c in cands]
    ecaps = [_cap(c, rule) for c in ecands]
    size, depts, n_cands = rule.team_size, rule.departments, len(cands)
    none: set[str] = set()

    # With one department and no workload cap, a subject without a declared conflict can skip
    # nobody: its team is the first `size` positions of its order (what walk() would accept).
    plain = (len(depts) == 1 and n_cands >= size and all(c is None for c in caps)
             and all(c is None for c in ecaps))  # (load counts only against a cap)
    cand_ids = [c.id for c in cands]

    def fast_teams(part: Sequence[str]) -> Callable[[int], tuple[int, ...]] | None:
        """The first `size` positions of every subject of the part at once, by the C loop
        (tickets.first_positions' walk: a test compares them); None without it."""
        fast = accel.FAST
        if not plain or fast is None or not size:
            return None
        blob = fast.first_positions(tag_prefix(TAG_INSPECTOR_ORDER) + seed, list(part), n_cands, size)
        if blob is None:
            return None
        unpack = struct.Struct(f">{size}I").unpack_from
        return lambda q: unpack(blob, 4 * size * q)

    def match_all(part: Sequence[str]) -> list[Assignment]:
        out = []
        firsts = fast_teams(part)
        for q, subject in enumerate(part):
            conf = by_subject.get(subject, none)
            if plain and not conf:
                first = firsts(q) if firsts is not None else first_positions(base, subject, n_cands, size)
                team, skipped, pos = [cand_ids[c] for c in first], [], size
            else:
                order = KeyedShuffle(seed, subject, n_cands, False, base)
                team, skipped, pos = walk(subject, order, cands, 0, [], size, rule, conf, load, depts, none, None,
                                          caps)
            if len(team) < rule.team_size:
                raise TooFewInspectors(subject, f"only {len(team)} of {rule.team_size} inspectors eligible "
                                                f"({len(skipped)} skipped, {len(cands)} candidates)")
            a = Assignment(subject, team, skipped, pos)
            if rule.experts:
                eorder = KeyedShuffle(seed, subject, len(ecands), True, ebase)
                ex, eskip, epos = walk(subject, eorder, ecands, 0, [], rule.experts, rule, conf, load, (), none,
                                       None, ecaps)
                if len(ex) < rule.experts:
                    raise TooFewInspectors(subject, f"only {len(ex)} of {rule.experts} experts eligible")
                a = replace(a, experts=ex, experts_skipped=eskip, experts_examined=epos)
            out.append(a)
        return out

    # Without a workload cap one subject's team does not depend on another's: the subjects can
    # be matched in parallel, each part in order, with the same result as one pass.
    independent = all(c is None for c in caps) and all(c is None for c in ecaps)
    if not independent or len(subjects) < PARALLEL_SUBJECTS or workers() <= 1:
        return MatchResult(match_all(subjects), bad)

    def part(lo: int, hi: int) -> Callable[[], bytes]:
        return lambda: pickle.dumps([(a.subject, a.team, a.skipped, a.examined, a.experts, a.experts_skipped,
                                      a.experts_examined) for a in match_all(subjects[lo:hi])], protocol=5)

    # the first part is matched here (run_split runs it in this process): kept as it is, not
    # pickled to itself and rebuilt (half a million assignments at a province's draw)
    (lo0, hi0), *rest = ranges(len(subjects), workers())
    mine: list[Assignment] = []

    def first() -> bytes:
        mine[:] = match_all(subjects[lo0:hi0])
        return b""

    blobs = run_split([first, *[part(lo, hi) for lo, hi in rest]])
    out = mine + [Assignment(*t) for blob in blobs[1:]
                  for t in pickle.loads(blob)]  # noqa: S301 - our own forked child's output
    return MatchResult(out, bad)
