"""Inspector matching, substitutions, swaps, seal and pool commitments."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawsvc.draw.errors import (
    EmptyPool,
    NotNextEligible,
    PoolInvalid,
    SealInvalid,
    SealMismatch,
    SubstitutionInvalid,
    SwapInvalid,
    TooFewInspectors,
)
from drawsvc.draw.matching import Inspector, TeamRule, candidate_order, candidates, match_inspectors
from drawsvc.draw.pool import commit_pool, member_proof, verify_member
from drawsvc.draw.seal import check_seal, seal
from drawsvc.draw.selection import draw_subjects
from drawsvc.draw.substitution import (
    check_inspector_substitution,
    check_subject_substitution,
    check_swap,
    substitute_inspector,
    substitute_subject,
)

SEED = bytes.fromhex("11" * 32)
RULE = TeamRule(draw_date="2026-06-01", departments=("market", "health"), team_size=3, max_assignments=3)


def insp(i: int, dept: str = "market", valid: bool = True) -> Inspector:
    return Inspector(f"{dept}-{i:02d}", dept, frozenset({"food"}), "2024-01-01", "2027-12-31" if valid else "2025-01-01")


POOL = [insp(i) for i in range(10)] + [insp(i, "health") for i in range(5)] + [insp(99, valid=False)]
SUBJECTS = [f"S{i:03d}" for i in range(12)]


def test_teams_respect_every_rule():
    cands, _ = candidates(POOL, RULE)
    first_of_s001 = cands[candidate_order(SEED, "S001", cands)[0]].id
    conflicts = [(first_of_s001, "S001"), ("health-01", "S002")]
    res = match_inspectors(SEED, SUBJECTS, POOL, RULE, conflicts, {"market-03": 2})
    assert res.draw_ineligible == {"market-99": "certificate_not_valid"}
    load = res.load({"market-03": 2})
    assert max(load.values()) <= 3
    dept = {i.id: i.department for i in POOL}
    for a in res.assignments:
        assert len(a.team) == 3 == len(set(a.team))
        assert {"market", "health"} <= {dept[i] for i in a.team}
        assert all((i, a.subject) not in conflicts for i in a.team)
        cands, _ = candidates(POOL, RULE)
        order = [cands[j].id for j in candidate_order(SEED, a.subject, cands)][: a.examined]
        assert sorted(order) == sorted(a.team + [i for i, _ in a.skipped])
    assert res.find("S001").skipped[0] == (first_of_s001, "conflict_declared")


def test_too_few_inspectors_names_the_subject():
    with pytest.raises(TooFewInspectors) as info:
        match_inspectors(SEED, SUBJECTS, POOL[:3] + POOL[10:11], RULE)
    assert info.value.subject in SUBJECTS
    with pytest.raises(EmptyPool):
        match_inspectors(SEED, SUBJECTS, [insp(99, valid=False)], RULE)
    lone = TeamRule(draw_date="2026-06-01", departments=("market", "fire"), team_size=2)
    with pytest.raises(TooFewInspectors):
        match_inspectors(SEED, SUBJECTS[:1], POOL, lone)


def test_province_wide_pool():
    """Thousands of candidates: same teams whatever the pool's order, every rule still holds."""
    big = [insp(i, d) for d in ("market", "health") for i in range(2500)]
    big = [Inspector(f"{i.id}-{k}", i.department, i.qualifications, i.cert_valid_from, i.cert_valid_until)
           for k, i in enumerate(big)]
    res = match_inspectors(SEED, SUBJECTS, big, RULE)
    assert res.to_json() == match_inspectors(SEED, SUBJECTS, list(reversed(big)), RULE).to_json()
    dept = {i.id: i.department for i in big}
    for a in res.assignments:
        assert {"market", "health"} <= {dept[i] for i in a.team} and len(set(a.team)) == 3


def test_experts_are_added():
    experts = [Inspector(f"x{i}", "", frozenset({"lab"})) for i in range(3)]
    rule = TeamRule(draw_date="2026-06-01", departments=("market",), team_size=2, experts=1, expert_field="lab")
    res = match_inspectors(SEED, SUBJECTS[:4], POOL, rule, [("x0", "S000")], experts=experts)
    assert all(len(a.experts) == 1 for a in res.assignments)
    assert "x0" not in res.find("S000").experts


@given(st.integers(0, 11), st.integers(0, 2), st.sampled_from(["recusal_conflict", "cannot_attend"]))
@settings(max_examples=40, deadline=None)
def test_substitution_is_the_next_eligible(si, slot, reason):
    res = match_inspectors(SEED, SUBJECTS, POOL, RULE)
    a = res.find(SUBJECTS[si])
    leaving = a.team[slot]
    new, sub = substitute_inspector(SEED, res, a.subject, leaving, reason, POOL, RULE)
    na = new.find(a.subject)
    assert leaving not in na.team and sub.incoming in na.team and len(na.team) == 3
    assert na.team.index(sub.incoming) == slot
    cands, _ = candidates(POOL, RULE)
    order = [cands[j].id for j in candidate_order(SEED, a.subject, cands)]
    # the incoming one comes after every candidate examined before, and nobody between was eligible
    assert order.index(sub.incoming) == sub.examined_to - 1 >= a.examined
    between = order[a.examined:sub.examined_to - 1]
    assert between == [i for i, _ in sub.skipped]
    check_inspector_substitution(SEED, res, sub.to_json(), POOL, RULE)
    later = order[sub.examined_to:]
    if later:
        claim = dict(sub.to_json(), incoming=later[0])
        with pytest.raises(NotNextEligible):
            check_inspector_substitution(SEED, res, claim, POOL, RULE)


def test_substitution_refusals():
    res = match_inspectors(SEED, SUBJECTS, POOL, RULE)
    a = res.assignments[0]
    with pytest.raises(SubstitutionInvalid):
        substitute_inspector(SEED, res, a.subject, a.team[0], "felt_like_it", POOL, RULE)
    outsider = next(i.id for i in POOL if i.id not in a.team)
    with pytest.raises(SubstitutionInvalid):
        substitute_inspector(SEED, res, a.subject, outsider, "cannot_attend", POOL, RULE)
    with pytest.raises(SubstitutionInvalid):
        substitute_inspector(SEED, res, "nobody", a.team[0], "cannot_attend", POOL, RULE)


def test_subject_substitution_takes_the_next_unused():
    strata = {"A": [f"A{i:02d}" for i in range(20)], "B": [f"B{i:02d}" for i in range(10)]}
    sel = draw_subjects(SEED, strata, {"A": 3, "B": 2})
    res = match_inspectors(SEED, sel.matching_order, POOL, RULE)
    leaving = sel.strata["A"].selected[0][1]
    new, sub = substitute_subject(SEED, sel, res, leaving, "deregistered", [], POOL, RULE)
    assert sub.incoming == sel.strata["A"].replacement_order(1)[0][1]
    assert leaving not in {x.subject for x in new.assignments}
    check_subject_substitution(SEED, sel, res, sub.to_json(), [], POOL, RULE)
    # a second one skips the first replacement
    new2, sub2 = substitute_subject(SEED, sel, new, sub.incoming, "not_operating", [leaving], POOL, RULE)
    assert sub2.incoming == sel.strata["A"].replacement_order(2)[1][1]
    wrong = dict(sub.to_json(), incoming=sel.strata["A"].replacement_order(2)[1][1])
    with pytest.raises(NotNextEligible):
        check_subject_substitution(SEED, sel, res, wrong, [], POOL, RULE)


def test_swap_rules():
    res = match_inspectors(SEED, SUBJECTS, POOL, RULE)
    dept = {i.id: i.department for i in POOL}
    x, y = res.assignments[0], res.assignments[1]
    pair = next((p, q) for p in x.team for q in y.team
                if dept[p] == dept[q] and p not in y.team and q not in x.team)
    claim = {"inspector_a": pair[0], "subject_a": x.subject, "inspector_b": pair[1], "subject_b": y.subject}
    new = check_swap(res, claim, POOL, RULE)
    assert pair[1] in new.find(x.subject).team and pair[0] in new.find(y.subject).team
    with pytest.raises(SwapInvalid):
        check_swap(res, claim, POOL, RULE, conflicts=[(pair[0], y.subject)])
    with pytest.raises(SwapInvalid):
        check_swap(res, dict(claim, subject_b=x.subject), POOL, RULE)
    with pytest.raises(SwapInvalid):
        check_swap(res, dict(claim, inspector_a=pair[1]), POOL, RULE)


def test_seal_roundtrip_and_mismatch():
    salt = bytes(32)
    content = {"selected": ["a", "b"], "teams": {"a": ["x", "y"]}}
    c = seal(content, salt)
    check_seal(content, salt, c)
    changed = copy.deepcopy(content)
    changed["selected"].append("c")
    with pytest.raises(SealMismatch):
        check_seal(changed, salt, c)
    with pytest.raises(SealMismatch):
        check_seal(content, b"\x01" * 32, c)
    with pytest.raises(SealInvalid):
        seal(content, b"short")
    with pytest.raises(SealInvalid):
        seal({"x": float("nan")}, salt)


def test_pool_commitment_and_proofs():
    recs = [{"id": f"9111{i:04d}", "stratum": "ABCD"[i % 4], "name": f"企业{i}"} for i in range(37)]
    c = commit_pool(recs)
    assert c.size == 37 and c.counts == {"A": 10, "B": 9, "C": 9, "D": 9}
    assert commit_pool(list(reversed(recs))).root == c.root  # registry order does not matter
    for r in recs:
        p = member_proof(recs, r["id"])
        assert verify_member(r, p.index, p.size, p.proof, c.root)
        assert not verify_member(dict(r, stratum="Z"), p.index, p.size, p.proof, c.root)
    with pytest.raises(PoolInvalid):
        commit_pool(recs + [recs[0]])
    with pytest.raises(PoolInvalid):
        commit_pool([{"id": "x"}])
    with pytest.raises(PoolInvalid):
        commit_pool([{"id": "x", "reason": "dislike"}], "excluded")
    assert commit_pool([{"id": "x", "reason": "frequency_cap"}], "excluded").counts == {"frequency_cap": 1}
