"""The lazy keyed Fisher-Yates shuffle of §7: permutation, laziness, determinism, rejection."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawsvc.draw.errors import DrawError
from drawsvc.draw.matching import Inspector, TeamRule, candidate_order, candidates, walk
from drawsvc.draw.tickets import TWO64, KeyedShuffle, order_block, uniform

SEED = bytes.fromhex("5a" * 32)
subject_st = st.text(min_size=1, max_size=20)


def reference(seed: bytes, subject: str, m: int, expert: bool = False) -> list[int]:
    """An eager Fisher-Yates over a plain list, from the spec text (hashlib only)."""
    tag = b"spotcheck/draw/v1/expert-order" if expert else b"spotcheck/draw/v1/inspector-order"
    s = subject.encode()
    vals: list[int] = []
    b = 0

    def nxt() -> int:
        nonlocal b
        if not vals:
            vals.extend(struct.unpack(">4Q", hashlib.sha256(tag + b"\x00" + seed + struct.pack(">I", len(s)) + s
                                                           + struct.pack(">I", b)).digest()))
            b += 1
        return vals.pop(0)

    p = list(range(m))
    for j in range(m):
        r = m - j
        x = nxt()
        while x >= (TWO64 // r) * r:
            x = nxt()
        i = j + x % r
        p[j], p[i] = p[i], p[j]
    return p


@given(subject_st, st.integers(0, 300), st.data())
@settings(max_examples=150, deadline=None)
def test_prefix_is_a_permutation_prefix(subject, m, data):
    n = data.draw(st.integers(0, m))
    order = KeyedShuffle(SEED, subject, m)
    pre = order.prefix(n)
    assert len(pre) == n == len(set(pre)) and all(0 <= x < m for x in pre)
    assert order.generated == n  # nothing beyond what was asked
    full = list(order)
    assert sorted(full) == list(range(m))  # to position m: a full permutation
    assert full[:n] == pre
    assert full == reference(SEED, subject, m)


@given(subject_st, st.integers(1, 200), st.lists(st.integers(0, 10**6), max_size=20), st.booleans())
@settings(max_examples=100, deadline=None)
def test_any_access_pattern_gives_the_same_order(subject, m, probes, expert):
    a = KeyedShuffle(SEED, subject, m, expert)
    seen = {p % m: a[p % m] for p in probes}  # positions asked for out of order
    b = candidate_order(SEED, subject, m, expert=expert)
    full = [b[j] for j in range(m)]
    assert all(full[j] == v for j, v in seen.items())
    assert list(a) == full == reference(SEED, subject, m, expert)
    assert a[-1] == full[-1]
    with pytest.raises(IndexError):
        a[m]


def test_orders_differ_by_subject_tag_and_seed():
    base = list(KeyedShuffle(SEED, "S1", 50))
    assert list(KeyedShuffle(SEED, "S2", 50)) != base
    assert list(KeyedShuffle(SEED, "S1", 50, expert=True)) != base
    assert list(KeyedShuffle(bytes(32), "S1", 50)) != base
    with pytest.raises(DrawError):
        KeyedShuffle(b"short", "S1", 5)


def test_cost_is_independent_of_the_pool_size():
    for m in (3, 30, 3_000, 3_000_000):
        order = KeyedShuffle(SEED, "S1", m)
        order.prefix(4)
        assert order.blocks_used == 1 and len(order._swapped) <= 4  # 4 positions: one block, <= 4 swaps kept


def test_block_bytes():
    s = b"9111"
    want = hashlib.sha256(b"spotcheck/draw/v1/inspector-order\x00" + SEED + b"\x00\x00\x00\x04" + s
                          + b"\x00\x00\x00\x07").digest()
    assert order_block(SEED, "9111", 7) == want


def test_uniform_rejects_the_biased_tail():
    # r = 3: limit = floor(2^64 / 3) * 3 = 2^64 - 1, so x = 2^64 - 1 is rejected, the next one used
    vals = iter([TWO64 - 1, TWO64 - 1, 5])
    assert uniform(3, vals.__next__) == 2
    vals = iter([TWO64 - 2])
    assert uniform(3, vals.__next__) == (TWO64 - 2) % 3
    assert uniform(1, iter([TWO64 - 1]).__next__) == 0  # r = 1 consumes one value, never rejects
    assert uniform(8, iter([TWO64 - 1]).__next__) == 7  # a power of two never rejects
    with pytest.raises(DrawError):
        uniform(0, iter([1]).__next__)


def test_first_position_is_roughly_uniform():
    m, n = 5, 4000
    counts = [0] * m
    for k in range(n):
        counts[KeyedShuffle(SEED, f"S{k}", m)[0]] += 1
    chi2 = sum((c - n / m) ** 2 / (n / m) for c in counts)
    assert chi2 < 25  # 4 degrees of freedom: p < 1e-4


@given(st.integers(2, 60), subject_st, st.sets(st.integers(0, 59), max_size=30))
@settings(max_examples=80, deadline=None)
def test_walk_generates_only_what_it_examines(m, subject, conflict_idx):
    pool = [Inspector(f"i{k:02d}", "market", frozenset(), "2020-01-01", "2030-12-31") for k in range(m)]
    rule = TeamRule(draw_date="2026-06-01", departments=("market",), team_size=2)
    cands, _ = candidates(pool, rule)
    conflicts = {cands[k].id for k in conflict_idx if k < m}
    order = candidate_order(SEED, subject, cands)
    got, skipped, pos = walk(subject, order, cands, 0, [], 2, rule, conflicts, {}, rule.departments)
    assert order.generated == pos
    walked = [cands[j].id for j in reference(SEED, subject, m)[:pos]]
    assert [i for i in walked if i not in got] == [i for i, _ in skipped]
    assert got == [i for i in walked if i not in conflicts][:2]  # the first eligible ones, in order
    # continuing later from `pos` on a fresh order object gives the next eligible one
    more, _, pos2 = walk(subject, candidate_order(SEED, subject, cands), cands, pos, list(got), 3, rule, conflicts,
                         {}, rule.departments)
    rest = [i for i in [cands[j].id for j in reference(SEED, subject, m)[pos:]] if i not in conflicts]
    assert more == rest[:1]
