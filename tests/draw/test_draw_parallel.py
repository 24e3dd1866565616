"""The draw's multi-core paths give exactly what the one-process paths give.

At a million subjects the pool commitment, the tickets and the matching are split over forked
processes (drawsvc.draw.parallel). Here the thresholds are lowered so small pools take those
paths too, and every result is compared with the sequential computation — including pools
whose records need JCS escaping, unsorted pools, repeated ids, and a child that dies.
"""

from __future__ import annotations

import os
import random

import pytest

import drawsvc.draw.matching as matching
import drawsvc.draw.parallel as parallel
import drawsvc.draw.pool as pool
import drawsvc.draw.selection as selection
from drawsvc.draw.errors import PoolInvalid, TooFewInspectors
from drawsvc.draw.matching import Inspector, TeamRule, match_inspectors
from drawsvc.draw.pool import SubjectPool, commit_pool, commit_subjects
from drawsvc.draw.selection import draw_subjects, select_stratum
from drawsvc.draw.tickets import subject_ticket

SEED = bytes(range(32))
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the parallel paths fork")


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parallel paths from 8 items up, on 2 or 3 processes."""
    monkeypatch.setenv("DRAWSVC_DRAW_WORKERS", "3")
    for mod in (pool, selection):
        monkeypatch.setattr(mod, "MIN_PARALLEL", 8)
    monkeypatch.setattr(matching, "PARALLEL_SUBJECTS", 8)


def _pool(n: int, rng: random.Random, *, sort: bool) -> SubjectPool:
    ids = sorted(f"91{rng.randrange(10**16):016d}" for _ in range(n)) if sort else \
        [f"91{rng.randrange(10**16):016d}" for _ in range(n)]
    ids = list(dict.fromkeys(ids))
    return SubjectPool(ids, [f"企业{i}" for i in range(len(ids))], [rng.choice("ABCD") for _ in ids])


@pytest.mark.parametrize("n", [1, 2, 3, 8, 9, 31, 64, 65, 100, 257, 1000])
@pytest.mark.parametrize("sort", [True, False])
def test_subject_commitment_equals_the_record_by_record_one(forced: None, n: int, sort: bool) -> None:
    p = _pool(n, random.Random(n), sort=sort)
    assert commit_subjects(p) == commit_pool(p.records(), "subjects")


def test_subject_commitment_with_values_jcs_escapes(forced: None) -> None:
    p = SubjectPool([f"id{i}" for i in range(20)] + ['q"uote', "back\\slash", "tab\there"],
                    ["名"] * 20 + ["a\nb", "c", "d\u2028"], ["A"] * 23)
    assert commit_subjects(p) == commit_pool(p.records(), "subjects")


def test_subject_commitment_refuses_a_repeated_id(forced: None) -> None:
    p = SubjectPool([f"id{i:03d}" for i in range(30)] + ["id007"], ["x"] * 31, ["A"] * 31)
    with pytest.raises(PoolInvalid, match="id007 在名录池中出现两次"):
        commit_subjects(p)


@pytest.mark.parametrize("n,k", [(50, 3), (200, 10), (1000, 50), (1000, 400)])
def test_parallel_selection_equals_the_full_ranking(forced: None, n: int, k: int) -> None:
    strata = {"A": [f"S{i:05d}" for i in range(n)], "B": [f"T{i:05d}" for i in range(n // 3)], "C": ["U1", "U2"]}
    sizes = {"A": k, "B": k // 4, "C": 1}
    calls: list[int] = []
    real = selection.run_split
    selection.run_split = lambda tasks: calls.append(len(tasks)) or real(tasks)  # type: ignore[assignment]
    try:
        sel = draw_subjects(SEED, strata, sizes)
    finally:
        selection.run_split = real  # type: ignore[assignment]
    assert calls == ([3] if (n, k) == (1000, 50) else calls)  # one split for all strata with a cut
    for s, ids in strata.items():
        ranked = sorted((subject_ticket(SEED, i), i) for i in ids)
        d = sel.strata[s]
        assert d.selected == ranked[:sizes[s]]
        assert d.replacement_order(3) == ranked[sizes[s]:sizes[s] + 3]  # re-hashed: the cut kept only the low tickets
        assert d.replacement_order() == ranked[sizes[s]:]
        assert d.selected == select_stratum(SEED, s, ids, sizes[s]).selected


def test_parallel_matching_equals_one_pass(forced: None, monkeypatch: pytest.MonkeyPatch) -> None:
    inspectors = [Inspector(f"P{i:03d}", "scj" if i % 3 else "swj", cert_valid_from="2020-01-01",
                            cert_valid_until="2030-12-31") for i in range(40)]
    rule = TeamRule(draw_date="2026-03-02", departments=("scj", "swj"), team_size=3)
    subjects = [f"S{i:04d}" for i in range(500)]
    conflicts = [(f"P{i:03d}", f"S{i * 7:04d}") for i in range(40)]
    fast = match_inspectors(SEED, subjects, inspectors, rule, conflicts)
    monkeypatch.setenv("DRAWSVC_DRAW_WORKERS", "1")
    assert fast.to_json() == match_inspectors(SEED, subjects, inspectors, rule, conflicts).to_json()


def test_a_workload_cap_keeps_the_matching_in_one_pass(forced: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = matching.run_split
    monkeypatch.setattr(matching, "run_split", lambda tasks: calls.append(len(tasks)) or real(tasks))
    inspectors = [Inspector(f"P{i:03d}", "scj", cert_valid_from="2020-01-01", cert_valid_until="2030-12-31")
                  for i in range(30)]
    rule = TeamRule(draw_date="2026-03-02", departments=("scj",), team_size=2, max_assignments=40)
    match_inspectors(SEED, [f"S{i:04d}" for i in range(100)], inspectors, rule)
    assert calls == []  # the load carries from one subject to the next: no split


def test_an_error_in_a_part_is_raised_as_in_one_pass(forced: None) -> None:
    inspectors = [Inspector(p, "scj", cert_valid_from="2020-01-01", cert_valid_until="2030-12-31") for p in ("P1", "P2")]
    rule = TeamRule(draw_date="2026-03-02", departments=("scj",), team_size=2)
    subjects = [f"S{i:04d}" for i in range(30)]
    with pytest.raises(TooFewInspectors) as err:
        match_inspectors(SEED, subjects, inspectors, rule, [("P1", "S0025")])
    assert "S0025" in str(err.value)


def test_a_child_that_dies_is_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAWSVC_DRAW_WORKERS", "2")
    parent = os.getpid()

    def task() -> bytes:
        if os.getpid() != parent:
            os._exit(3)  # killed mid-way: no answer
        return b"computed here"

    assert parallel.run_split([lambda: b"first", task]) == [b"first", b"computed here"]


def test_split_results_come_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAWSVC_DRAW_WORKERS", "4")
    big = os.urandom(3 << 20)  # larger than a pipe's buffer
    out = parallel.run_split([lambda i=i: bytes([i]) + big for i in range(4)])
    assert [o[0] for o in out] == [0, 1, 2, 3] and all(o[1:] == big for o in out)
    assert parallel.ranges(10, 3) == [(0, 4), (4, 7), (7, 10)] and parallel.ranges(2, 5) == [(0, 1), (1, 2)]


def test_a_plain_team_is_exactly_what_the_walk_accepts() -> None:
    """The one-department, no-cap shortcut (no walk for a subject without conflicts)."""
    inspectors = [Inspector(f"P{i:03d}", "scj", cert_valid_from="2020-01-01", cert_valid_until="2030-12-31")
                  for i in range(20)]
    rule = TeamRule(draw_date="2026-03-02", departments=("scj",), team_size=3)
    subjects = [f"S{i:04d}" for i in range(200)]
    conflicts = [(f"P{i % 20:03d}", f"S{i * 3:04d}") for i in range(60)]
    result = match_inspectors(SEED, subjects, inspectors, rule, conflicts)
    cands, _ = matching.candidates(inspectors, rule)
    by_subject = matching.conflicts_by_subject(conflicts)
    for a in result.assignments:
        order = matching.candidate_order(SEED, a.subject, cands)
        expected = matching.walk(a.subject, order, cands, 0, [], 3, rule, by_subject.get(a.subject, set()), {},
                                 rule.departments)
        assert (a.team, a.skipped, a.examined) == expected


@pytest.mark.parametrize("bad_at", [0, 15, 39])
def test_sorted_pool_with_one_value_to_escape_in_one_part(forced: None, bad_at: int) -> None:
    names = [f"企业{i}" for i in range(40)]
    names[bad_at] = 'say "hi"\n'
    p = SubjectPool([f"id{i:03d}" for i in range(40)], names, ["A", "B"] * 20)
    assert commit_subjects(p) == commit_pool(p.records(), "subjects")


def test_an_id_that_is_not_a_string_is_named(forced: None) -> None:
    p = SubjectPool([f"id{i:03d}" for i in range(20)] + [None], ["x"] * 21, ["A"] * 21)  # type: ignore[list-item]
    with pytest.raises(PoolInvalid, match="non-empty string id"):
        commit_subjects(p)


@pytest.mark.parametrize("m", [1, 2, 3, 5, 7, 30, 300, 3000])
def test_first_positions_is_the_keyed_shuffle_prefix(m: int) -> None:
    from drawsvc.draw.tickets import KeyedShuffle, first_positions, order_base

    base = order_base(SEED)
    for i in range(60):
        subject = f"S{i:04d}" if i % 7 else f"企业{i}"
        for n in (1, 2, 3, m, m + 2):
            assert first_positions(base, subject, m, n) == KeyedShuffle(SEED, subject, m, base=base).prefix(n)


def test_pending_gives_the_task_result_and_redoes_a_failed_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A background child's answer is taken only when it exits cleanly with a whole answer;
    otherwise the task runs again here (the stream's hashing never trusts a child blindly)."""
    import os

    from drawsvc.draw.parallel import Pending

    monkeypatch.setenv("DRAWSVC_DRAW_WORKERS", "2")
    parent = os.getpid()
    assert Pending(lambda: b"x" * 200_000).result() == b"x" * 200_000  # larger than a pipe's buffer

    def lies_in_child() -> bytes:
        if os.getpid() != parent:
            os._exit(3)
        return b"honest"
    assert Pending(lies_in_child).result() == b"honest"
    p = Pending(lambda: (__import__("time").sleep(30), b"late")[1])
    p.cancel()  # a cancelled child is killed and reaped, not waited for
