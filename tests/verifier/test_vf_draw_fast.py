"""The fast paths of the draw check (issue 5) give exactly what the plain definitions give.

Pools (flat-record template, level-by-level root, forked chunks), tickets (forked parts with a
cut threshold), matching (plain walks) and the seal's JCS are each compared with a reference
written the slow, obvious way — on small inputs with the split thresholds lowered so that the
forked paths really run, on unsorted pools and on records that need JCS escaping.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import random

import pytest
import rfc8785
from vf_drawkit import run

from verifier import forking, pools, tickets
from verifier.canonical import jcs
from verifier.fastjcs import is_plain, jcs_bytes
from verifier.matching import ORDER_TAG, Matcher, MatchError, Rule, ShuffleOrder, first_positions
from verifier.merkle import root_by_levels, root_from_leaf_hashes
from verifier.pools import PoolError, commit
from verifier.seal import seal
from verifier.tickets import Selection, subject_ticket


@pytest.fixture
def split(monkeypatch):
    """Force every split on: fork from the first item, two workers."""
    monkeypatch.setattr(forking, "MIN_PARALLEL", 1)
    monkeypatch.setenv("SPOTCHECK_VERIFY_WORKERS", "2")


@pytest.fixture
def inline(monkeypatch):
    monkeypatch.setenv("SPOTCHECK_VERIFY_WORKERS", "1")


def ref_commit(kind: str, records: list[dict]) -> dict:
    """§D4 written out: sort by id bytes, leaf = SHA-256(0x00 || rfc8785(record)), recursive MTH."""
    gf = pools.GROUP_FIELD[kind]
    rs = sorted(records, key=lambda r: r["id"].encode("utf-8"))
    hs = [hashlib.sha256(b"\x00" + rfc8785.dumps(r)).digest() for r in rs]
    counts: dict[str, int] = {}
    for r in rs:
        counts[r[gf]] = counts.get(r[gf], 0) + 1
    return {"kind": kind, "size": len(rs), "root": root_from_leaf_hashes(hs).hex(), "counts": counts}


def pool(n: int, seed: int = 1, weird: bool = False, shuffle: bool = False) -> list[dict]:
    rnd = random.Random(seed)
    names = ["企业", "Firma", "a\"b", "back\\slash", "tab\there", "nl\n", "ctl\x01", "😀astral", "\u2028ls",
             "é", "", "%s %d"] if weird else ["企业", "Firma", "é", ""]
    recs = [{"id": f"91{i:08d}", "name": rnd.choice(names) + str(i), "stratum": rnd.choice("ABCD")}
            for i in range(n)]
    if shuffle:
        rnd.shuffle(recs)
    return recs


def test_root_by_levels_is_the_recursive_root():
    for n in range(0, 300):
        hs = [hashlib.sha256(n.to_bytes(4, "big") + i.to_bytes(4, "big")).digest() for i in range(n)]
        assert root_by_levels(hs) == root_from_leaf_hashes(hs), n


@pytest.mark.parametrize("mode", ["split", "inline"])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 33, 257, 1000])
def test_subject_pool_commitment_matches_reference(request, mode, n):
    request.getfixturevalue(mode)
    for weird in (False, True):
        for shuffle in (False, True):
            recs = pool(n, seed=n, weird=weird, shuffle=shuffle)
            assert commit("subjects", recs) == ref_commit("subjects", recs), (n, weird, shuffle)
    recs = sorted(pool(n, seed=n), key=lambda r: r["id"])
    halves = recs[n // 2:] + recs[:n // 2]  # each part sorted, the pool not
    assert commit("subjects", halves) == ref_commit("subjects", recs)


@pytest.mark.usefixtures("split")
def test_other_record_shapes_match_reference():
    excl = [{"id": f"X{i:04d}", "reason": "out_of_scope", "name": f"n{i}"} for i in range(50)][::-1]
    assert commit("excluded", excl) == ref_commit("excluded", excl)
    insp = [{"id": f"P{i:03d}", "department": "scj" if i % 3 else "swj", "qualifications": ["food"] * (i % 2),
             "cert_valid_from": "2020-01-01", "cert_valid_until": "2030-12-31"} for i in range(40)]
    assert commit("inspectors", insp) == ref_commit("inspectors", insp)
    mixed = pool(60) + [{"id": "91zz", "name": "x", "stratum": "A", "extra": 1}]  # one record unlike the rest
    assert commit("subjects", mixed) == ref_commit("subjects", mixed)
    odd_key = [{"id": f"k{i}", "stratum": "A", "n%me": "v"} for i in range(10)]  # "%": not templatable
    assert commit("subjects", odd_key) == ref_commit("subjects", odd_key)
    nonstr = [{"id": f"k{i}", "stratum": "A", "name": i} for i in range(10)]  # a value that is no string
    assert commit("subjects", nonstr) == ref_commit("subjects", nonstr)
    non_ascii_id = [{"id": f"企{i}", "stratum": "A", "name": "v"} for i in range(300, 0, -1)] + \
        [{"id": "\U0001f600", "stratum": "B", "name": "w"}, {"id": "\uffff", "stratum": "B", "name": "w"}]
    assert commit("subjects", non_ascii_id) == ref_commit("subjects", non_ascii_id)


@pytest.mark.parametrize("mode", ["split", "inline"])
def test_pool_errors_are_the_same(request, mode):
    request.getfixturevalue(mode)
    recs = pool(40, shuffle=True)
    dup = recs + [dict(recs[7], name="other")]
    with pytest.raises(PoolError, match=f"id {recs[7]['id']} appears twice"):
        commit("subjects", dup)
    srt = sorted(recs, key=lambda r: r["id"])
    for at in (1, 20, 39):  # a repeat next to its twin, wherever the parts are cut
        with pytest.raises(PoolError, match=f"id {srt[at]['id']} appears twice"):
            commit("subjects", [*srt[:at], dict(srt[at], name="twin"), *srt[at:]])
    with pytest.raises(PoolError, match="without a non-empty string id"):
        commit("subjects", [*recs, {"id": "", "name": "x", "stratum": "A"}])
    with pytest.raises(PoolError, match="has no string 'stratum'"):
        commit("subjects", [*recs, {"id": "zz", "name": "x", "stratum": 3}])
    with pytest.raises(PoolError, match="no JCS form"):
        commit("subjects", [*recs, {"id": "zz", "name": "lone \ud800", "stratum": "A"}])


def ref_selection(seed: bytes, recs: list[dict], sizes: dict[str, int]) -> dict[str, list]:
    by: dict[str, list] = {}
    for r in recs:
        by.setdefault(r["stratum"], []).append((subject_ticket(seed, r["id"]), r["id"].encode()))
    return {s: heapq.nsmallest(sizes.get(s, 0), keys) for s, keys in by.items()}


@pytest.mark.parametrize("mode", ["split", "inline"])
def test_selection_matches_reference(request, mode, monkeypatch):
    request.getfixturevalue(mode)
    recs = pool(3000, seed=7, weird=True, shuffle=True)
    seed = hashlib.sha256(b"seed").digest()
    exact = {s: sum(r["stratum"] == s for r in recs) for s in "ABCD"}
    for sizes, expect in [({"A": 30, "B": 1, "C": 700, "D": 0}, None), ({"A": 10_000, "B": 5, "C": 3}, exact),
                          ({}, None), ({"A": 30, "B": 1, "C": 700}, {"A": 1, "B": 10**9, "C": "x", "Z": 5})]:
        sel = Selection(seed, recs, sizes, expect)  # expect (right or wrong) sets thresholds, never the result
        want = ref_selection(seed, recs, sizes)
        assert sel.selected == want
        assert sel.counts == {s: sum(r["stratum"] == s for r in recs) for s in "ABCD"}
        assert {s: len(v) for s, v in sel.members.items()} == sel.counts
        for s in "ABCD":
            chosen = set(want[s])
            allk = sorted((subject_ticket(seed, r["id"]), r["id"].encode()) for r in recs if r["stratum"] == s)
            assert sel.replacement_order(s) == [i.decode() for t, i in allk if (t, i) not in chosen]
    # a threshold that keeps too few: the stratum is recomputed in full, same answer
    monkeypatch.setattr(tickets, "_threshold", lambda n, k: b"\x00\x01" if k else b"")
    sizes = {"A": 30, "B": 1, "C": 700}
    assert Selection(seed, recs, sizes).selected == ref_selection(seed, recs, sizes)


def test_first_positions_is_the_shuffle():
    seed = hashlib.sha256(b"s").digest()
    for m in (1, 2, 3, 7, 64, 300, 5000):
        for subj in ("a", "91000001", "企业"):
            o = ShuffleOrder(ORDER_TAG, seed, subj, m)
            for t in {t for t in (0, 1, 2, 5, m if m <= 64 else 9) if t <= m}:
                assert first_positions(ORDER_TAG, seed, subj, m, t) == [o.at(j) for j in range(t)]


def _inspectors(n: int, depts: tuple[str, ...] = ("scj",)) -> list[dict]:
    return [{"id": f"P{i:03d}", "department": depts[i % len(depts)], "qualifications": [],
             "cert_valid_from": "2020-01-01", "cert_valid_until": "2030-12-31"} for i in range(n)]


@pytest.mark.parametrize("team_size", [0, 2, 3, 7])
def test_plain_matching_equals_the_walk(monkeypatch, team_size):
    seed = hashlib.sha256(b"m").digest()
    subjects = [f"91{i:06d}" for i in range(400)]
    conflicts = [(f"P{j:03d}", subjects[i]) for i in range(0, 400, 10) for j in range(0, 12, 3)] + [("P001", "91x")]
    rule = Rule("2026-03-02", ["scj"], team_size)
    m = Matcher(seed, rule, _inspectors(12), conflicts)
    assert m._plain_walks()
    fast = m.match(subjects)
    monkeypatch.setattr(Matcher, "_plain_walks", lambda self: False)
    slow = Matcher(seed, rule, _inspectors(12), conflicts).match(subjects)
    assert fast == slow
    assert team_size == 0 or any(a["skipped"] for a in slow["assignments"])  # the conflicts were walked


@pytest.mark.usefixtures("split")
@pytest.mark.parametrize("rule", [
    Rule("2026-03-02", ["scj"], 3),
    Rule("2026-03-02", ["scj", "swj"], 3),
    Rule("2026-03-02", ["scj", "swj"], 2, experts=1),
    Rule("2026-03-02", ["scj"], 2, max_assignments=100),  # capped: one walk after the other, not split
])
def test_split_matching_equals_one_walk_after_the_other(rule, monkeypatch):
    seed = hashlib.sha256(b"split").digest()
    subjects = [f"91{i:06d}" for i in range(300)]
    insp = _inspectors(14, ("scj", "swj"))
    experts = [{"id": f"E{i}", "field": "food", "qualifications": []} for i in range(5)]
    conflicts = [(f"P{j:03d}", subjects[i]) for i in range(0, 300, 7) for j in range(0, 14, 4)]
    fast = Matcher(seed, rule, insp, conflicts, {}, experts).match(subjects)
    monkeypatch.setattr(Matcher, "_uncapped", lambda self: False)
    slow = Matcher(seed, rule, insp, conflicts, {}, experts).match(subjects)
    assert fast == slow


@pytest.mark.usefixtures("split")
def test_split_matching_raises_like_the_walk():
    subjects = [f"91{i:06d}" for i in range(50)]
    conflicts = [(f"P{j:03d}", subjects[30]) for j in range(4)]  # subject 30 has 2 of 6: too few for 3
    m = Matcher(b"\x02" * 32, Rule("2026-03-02", ["scj"], 3), _inspectors(5), conflicts)
    with pytest.raises(MatchError, match=subjects[30]):
        m.match(subjects)


def test_plain_matching_not_taken_when_it_would_differ():
    seed = b"\x01" * 32
    assert not Matcher(seed, Rule("2026-03-02", ["scj", "swj"], 2), _inspectors(9, ("scj", "swj")))._plain_walks()
    assert not Matcher(seed, Rule("2026-03-02", ["scj"], 2, max_assignments=3), _inspectors(9))._plain_walks()
    assert not Matcher(seed, Rule("2026-03-02", ["scj"], 2, experts=1), _inspectors(9))._plain_walks()
    assert not Matcher(seed, Rule("2026-03-02", ["scj"], 20), _inspectors(9))._plain_walks()  # too few: the walk says so
    capped = _inspectors(9)
    capped[4]["max_assignments"] = 1
    assert not Matcher(seed, Rule("2026-03-02", ["scj"], 2), capped)._plain_walks()


JSON_VALUES = [
    {"b": 1, "a": [True, False, None, -5, 2**53 - 1], "é": "x", "Z": {"y": "\n\t\x01\"\\"}},
    {"\U0001f600": 1, "\uffff": 2},  # a non-BMP key: UTF-16 order differs from code-point order
    {"f": 1.0}, {"f": 1e21}, [1.5, "x"], "\u2028\u2029\x7f", [], {}, 0, None,
    {"nested": [{"k": [[], {"a": "😀"}]}]},
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=range(len(JSON_VALUES)))
def test_fast_jcs_equals_reference(value):
    assert jcs_bytes(value) == jcs(value) == rfc8785.dumps(value)


def test_fast_jcs_refuses_what_jcs_refuses():
    for bad in ({"s": "\ud800"}, {"n": float("nan")}, {"big": 2**60}):
        with pytest.raises(ValueError):
            jcs(bad)
        with pytest.raises(ValueError):
            jcs_bytes(bad)
    assert not is_plain({"x": 1.0}) and not is_plain({1: "a"}) and not is_plain([2**53])


def test_fast_jcs_escapes_every_code_point_like_the_standard_encoder():
    s = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert jcs_bytes({"s": s}) == json.dumps({"s": s}, ensure_ascii=False, separators=(",", ":")).encode()


def test_seal_uses_exact_jcs():
    content = {"algorithm": "spotcheck-draw/1", "sizes": {"A": 1}, "matching": {"assignments": [
        {"subject": "x", "team": ["a", "b"], "examined": 2}]}, "strata": {"A": {"n": 3, "k": 1, "selected": []}}}
    salt = b"\x07" * 32
    tag = b"spotcheck/draw/v1/seal"
    assert seal(salt, content) == hashlib.sha256(tag + b"\x00" + salt + rfc8785.dumps(content)).digest()


def test_run_split_redoes_a_failed_child(monkeypatch):
    monkeypatch.setenv("SPOTCHECK_VERIFY_WORKERS", "3")
    parent = os.getpid()

    def flaky(x: bytes):
        def task() -> bytes:
            if os.getpid() != parent:
                os._exit(3)  # a child dies without answering
            return x
        return task
    assert forking.run_split([flaky(b"a"), flaky(b"bb"), flaky(b"")]) == [b"a", b"bb", b""]
    assert forking.run_split([lambda: b"x" * 3_000_000, lambda: b"y" * 2_000_000]) == [b"x" * 3_000_000,
                                                                                         b"y" * 2_000_000]

    def boom() -> bytes:
        raise KeyError("in the part")
    with pytest.raises(KeyError):
        forking.run_split([lambda: b"", boom])  # the child fails, the part is redone here: the error is raised


def test_run_split_does_not_wait_forever_for_a_hung_child(monkeypatch):
    import time

    monkeypatch.setenv("SPOTCHECK_VERIFY_WORKERS", "2")
    monkeypatch.setattr(forking, "GRACE", 0.5)
    parent = os.getpid()

    def hang() -> bytes:
        if os.getpid() != parent:
            time.sleep(60)  # a child that never answers
        return b"here"
    t0 = time.monotonic()
    assert forking.run_split([lambda: b"a", hang]) == [b"a", b"here"]
    assert time.monotonic() - t0 < 30


def test_bundle_report_is_the_same_split_or_not(demo, monkeypatch):
    b = demo.load("published")
    monkeypatch.setenv("SPOTCHECK_VERIFY_WORKERS", "1")
    seq, _ = run(b, log_key=demo.log_key)
    monkeypatch.setenv("SPOTCHECK_VERIFY_WORKERS", "2")
    monkeypatch.setattr(forking, "MIN_PARALLEL", 1)
    par, _ = run(b, log_key=demo.log_key)
    assert seq.ok and par.ok
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k != "info"}  # noqa: E731
    assert strip(seq) == strip(par)


@pytest.mark.parametrize("mode", ["split", "inline"])
def test_tickets_found_with_the_pool_commitment(request, mode):
    request.getfixturevalue(mode)
    seed = hashlib.sha256(b"with").digest()
    recs = sorted(pool(2000, seed=3), key=lambda r: r["id"])  # flat: no value needs escaping
    sizes = {"A": 20, "B": 300, "C": 1, "D": 0}
    counts = {s: sum(r["stratum"] == s for r in recs) for s in "ABCD"}
    for expect in (counts, {"A": 5, "B": 10**6}):  # the thresholds' counts may be wrong: same selection
        got, more = pools.commit_with("subjects", recs, tickets.ticket_rows(seed, tickets.thresholds(sizes, expect)))
        assert got == ref_commit("subjects", recs) and more is not None
        sel = Selection(seed, recs, sizes, rows=(more, got["counts"]))
        assert sel.selected == ref_selection(seed, recs, sizes)
        assert sel.counts == counts
    shuffled = pool(2000, seed=3, weird=True, shuffle=True)  # not in id order: no rows (they index records)
    got, more = pools.commit_with("subjects", shuffled, tickets.ticket_rows(seed, {}))
    assert got == ref_commit("subjects", shuffled) and more is None
