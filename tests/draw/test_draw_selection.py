"""Stratum sizes and ticket selection: properties and refusals."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawsvc.draw.errors import EmptyPool, FloorUnreachable, RatioInvalid, SampleTooLarge
from drawsvc.draw.rules import stratum_sizes
from drawsvc.draw.selection import draw_subjects, select_stratum, would_be_drawn
from drawsvc.draw.tickets import subject_ticket, subject_tickets

SEED = bytes(range(32))
ids_st = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60, unique=True)
ratio_st = st.sampled_from(["0", "0.01", "0.03", "0.1", "0.2", "0.5", "1", "0.333"])


@given(ids_st, st.data())
@settings(max_examples=80, deadline=None)
def test_selection_is_the_k_lowest(ids, data):
    k = data.draw(st.integers(0, len(ids)))
    d = select_stratum(SEED, "A", ids, k)
    assert len(d.selected) == k
    ranked = sorted((subject_ticket(SEED, i), i) for i in ids)
    assert d.selected == ranked[:k]
    assert d.replacement_order() == ranked[k:]
    assert d.replacement_order(2) == ranked[k:k + 2]
    assert select_stratum(SEED, "A", list(reversed(ids)), k).selected == d.selected  # order-free, deterministic
    for t, i in ranked:
        assert would_be_drawn(SEED, i, "A", d.cutoff).drawn == ((t, i) in d.selected)


@given(ids_st, st.integers(0, 59), st.text(min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_changing_one_id_changes_only_its_ticket(ids, pos, new_id):
    if new_id in ids:
        return
    pos %= len(ids)
    before = subject_tickets(SEED, ids)
    changed = list(ids)
    changed[pos] = new_id
    after = subject_tickets(SEED, changed)
    assert [a == b for a, b in zip(before, after, strict=True)] == [i != pos for i in range(len(ids))]


@given(st.dictionaries(st.sampled_from("ABCD"), st.integers(0, 5000), min_size=1), st.data(), st.booleans())
@settings(max_examples=150, deadline=None)
def test_stratum_sizes_properties(counts, data, key_item):
    if sum(counts.values()) == 0:
        with pytest.raises(EmptyPool):
            stratum_sizes(counts, {s: "0.1" for s in counts})
        return
    ratios = {s: data.draw(ratio_st) for s in counts}
    try:
        sizes = stratum_sizes(counts, ratios, "0.05", key_item)
    except FloorUnreachable:
        assert not key_item
        reachable = sum(n for s, n in counts.items() if Fraction(ratios[s]) > 0)
        assert reachable < math.ceil(sum(counts.values()) * Fraction("0.05"))
        return
    for s, n in counts.items():
        base = math.ceil(n * Fraction(ratios[s]))
        assert base <= sizes[s] <= n
        if key_item:
            assert sizes[s] == base
        if Fraction(ratios[s]) == 0:
            assert sizes[s] == 0
    if not key_item:
        assert sum(sizes.values()) >= math.ceil(sum(counts.values()) * Fraction("0.05"))


def test_sizes_refusals():
    with pytest.raises(EmptyPool):
        stratum_sizes({"A": 0}, {"A": "0.1"})
    with pytest.raises(SampleTooLarge):
        stratum_sizes({"A": 3}, {"A": 4})
    with pytest.raises(RatioInvalid):
        stratum_sizes({"A": 3}, {"A": 0.1})  # type: ignore[dict-item]  # floats are refused
    with pytest.raises(RatioInvalid):
        stratum_sizes({"A": 3}, {"A": "1.5"})
    with pytest.raises(RatioInvalid):
        stratum_sizes({"A": 3, "B": 4}, {"A": "0.1"})
    with pytest.raises(FloorUnreachable):
        stratum_sizes({"A": 10, "T": 900}, {"A": "0.01", "T": "0"})


def test_draw_refusals():
    with pytest.raises(EmptyPool):
        draw_subjects(SEED, {"A": []}, {"A": 0})
    with pytest.raises(SampleTooLarge):
        draw_subjects(SEED, {"A": ["x", "y"]}, {"A": 3})


def test_matching_order_merges_strata_by_ticket():
    strata = {"A": [f"a{i}" for i in range(30)], "B": [f"b{i}" for i in range(30)]}
    sel = draw_subjects(SEED, strata, {"A": 5, "B": 4})
    order = sel.matching_order
    assert len(order) == 9
    assert [subject_ticket(SEED, i) for i in order] == sorted(subject_ticket(SEED, i) for i in order)


@given(st.integers(1000, 4000), st.data())
@settings(max_examples=30, deadline=None)
def test_threshold_cut_selects_exactly_the_k_lowest(n, data):
    """The pre-cut below a threshold (large strata) never changes the selection."""
    from drawsvc.draw import selection as S

    k = data.draw(st.integers(1, n // 10))
    ids = [f"X{i:05d}" for i in range(n)]
    assert S._threshold(n, k) is not None  # the cut path is taken
    d = select_stratum(SEED, "A", ids, k)
    assert d.selected == sorted(zip(subject_tickets(SEED, ids), ids, strict=True))[:k]


def test_threshold_fallback_when_too_few_pass(monkeypatch):
    from drawsvc.draw import selection as S

    ids = [f"X{i:05d}" for i in range(500)]
    want = select_stratum(SEED, "A", ids, 40).selected
    monkeypatch.setattr(S, "_threshold", lambda n, k: b"\x00\x00\x00\x01")  # almost nothing passes
    assert select_stratum(SEED, "A", ids, 40).selected == want
