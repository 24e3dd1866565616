"""The C accelerator (drawsvc/draw/_fasthash.c) gives the Python loops' bytes, and without it
the Python loops are used (issue 16, point 1).

The accelerator is optional (built where a compiler and OpenSSL's headers exist): the
comparisons skip without it, the fallback tests run either way. Inputs are random, around the
sizes where the Merkle tree's shape changes (powers of two), and include every case the C
loops must hand back to Python (values JCS escapes, lone surrogates, empty ids, non-strings).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from drawsvc.draw import accel, pool, selection
from drawsvc.draw.codec import TAG_SUBJECT_TICKET, tag_prefix
from drawsvc.draw.pool import (
    LeafFold,
    SubjectPool,
    _subject_leaf_hashes,
    commit_pool,
    commit_subjects,
    subject_leaves,
)
from drawsvc.draw.selection import StreamSelection, _part_below, draw_subjects
from ledger.canonical import canonical_bytes
from ledger.merkle import leaf_hash, root_from_leaf_hashes

FAST = accel.FAST
needs_fast = pytest.mark.skipif(FAST is None, reason="the C accelerator is not built here")
SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 257, 1023, 1024, 1025]
NAMES = ["广州市泰隆健康有限公司", "plain", "", "😀 emoji", "é", "a b", "\u2028 (not escaped by JCS)", "\x7f"]


def _columns(n: int, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    ids = sorted({f"91{rng.randrange(10**16):016d}" for _ in range(n)})
    while len(ids) < n:
        ids = sorted(set(ids) | {f"92{rng.randrange(10**16):016d}"})
    names = [rng.choice(NAMES) + str(i) * rng.randrange(3) for i in range(n)]
    return ids, names, [rng.choice("ABCD") for _ in range(n)]


@needs_fast
@pytest.mark.parametrize("n", SIZES)
def test_subject_root_is_the_python_root(n: int) -> None:
    ids, names, strata = _columns(n, random.Random(n))
    want = root_from_leaf_hashes(_subject_leaf_hashes(ids, names, strata))
    assert FAST.subject_root(ids, names, strata) == want
    assert FAST.subject_root(ids, names, "".join(strata)) == want  # strata as one string
    if n:
        assert FAST.merkle_root(b"".join(_subject_leaf_hashes(ids, names, strata))) == want


@needs_fast
@pytest.mark.parametrize("bad", [('q"uote', "n", "A"), ("back\\slash", "n", "A"), ("id", "tab\there", "A"),
                                 ("id", "new\nline", "A"), ("id", "n", '"'), ("", "n", "A"), ("id", "n", ""),
                                 ("\ud800", "n", "A"), ("id", "\udfff", "A"), (7, "n", "A"), ("id", None, "A")])
def test_subject_root_hands_back_what_it_does_not_handle(bad: tuple) -> None:
    """None (the Python path decides and names the problem) for anything not plain."""
    ids, names, strata = _columns(20, random.Random(1))
    ids[9], names[9], strata[9] = bad
    assert FAST.subject_root(ids, names, strata) is None
    assert FAST.subject_root(ids, names[:-1], strata) is None  # columns of different lengths
    assert FAST.subject_root(ids, names, "ABé" + "A" * 17) is None  # a stratum string that is not ASCII


@needs_fast
def test_increasing_is_python_order() -> None:
    rng = random.Random(2)
    alphabet = ["a", "b", "é", "€", "😀", "\x00", "ab"]
    for _ in range(2000):
        ids = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(3))) for _ in range(rng.randrange(5))]
        assert FAST.increasing(ids) == all(a < b for a, b in zip(ids, ids[1:], strict=False)), ids
    assert FAST.increasing(["a", 1]) is None


@needs_fast
@pytest.mark.parametrize("n", [0, 1, 2, 17, 1000])
def test_tickets_below_is_the_python_part(n: int) -> None:
    rng = random.Random(n)
    ids, _, strata = _columns(n, rng)
    ids = [i + rng.choice(["", "é", "😀"]) for i in ids]
    seed = rng.randbytes(32)
    # an 8-byte cut, a cut above every ticket (33 bytes), a cut of one byte, no cut for "B"
    cuts = {"A": rng.randbytes(1) + bytes(7), "C": b"\xff" * 33, "D": bytes([rng.randrange(256)])}
    names = sorted(cuts)
    want = _part_below(seed, ids, strata, names, [cuts[s] for s in names])()
    prefix = tag_prefix(TAG_SUBJECT_TICKET) + seed
    assert FAST.tickets_below(prefix, ids, "".join(strata), "".join(names), [cuts[s] for s in names]) == want
    assert FAST.tickets_below(prefix, ids, strata, "".join(names), [cuts[s] for s in names]) == want
    assert FAST.tickets_below(prefix, ids, ["AB"] * n, "".join(names), [cuts[s] for s in names]) == \
        (None if n else b"")  # a stratum of two characters: the Python path


@needs_fast
def test_ticket_cut_comparison_at_equal_prefixes() -> None:
    """A ticket equal to an 8-byte cut on its first 8 bytes is not below it (bytes order)."""
    seed = bytes(32)
    ids = [f"id{i}" for i in range(50)]
    prefix = tag_prefix(TAG_SUBJECT_TICKET) + seed
    first = _part_below(seed, ids, ["A"] * 50, ["A"], [b"\xff" * 33])()
    t0 = first[1:33]
    for cut in (t0[:8], t0, t0 + b"\x00", t0[:8] + b"\x01"):
        want = _part_below(seed, ids, ["A"] * 50, ["A"], [cut])()
        assert FAST.tickets_below(prefix, ids, "A" * 50, "A", [cut]) == want


@pytest.fixture(params=["fast", "python"])
def paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test below runs with the accelerator (where built) and without it."""
    if request.param == "python":
        monkeypatch.setattr(accel, "FAST", None)
    elif FAST is None:
        pytest.skip("the C accelerator is not built here")
    monkeypatch.setattr(pool, "MIN_PARALLEL", 1)
    monkeypatch.setattr(selection, "MIN_PARALLEL", 1)
    return request.param


@pytest.mark.parametrize("n", [2, 3, 16, 17, 100, 257])
def test_commitments_on_both_paths(paths: str, n: int) -> None:
    ids, names, strata = _columns(n, random.Random(n))
    names[n // 2] = 'a "quoted" name'  # one record the general encoder writes
    want = commit_pool([{"id": i, "name": m, "stratum": s} for i, m, s in zip(ids, names, strata, strict=True)])
    assert commit_subjects(SubjectPool(ids, names, strata)) == want
    assert commit_subjects(SubjectPool(ids[::-1], names[::-1], strata[::-1])) == want  # unsorted
    leaves = b"".join(subject_leaves(ids[lo:lo + 7], names[lo:lo + 7], "".join(strata[lo:lo + 7]))
                      for lo in range(0, n, 7))
    assert leaves == b"".join(_subject_leaf_hashes(ids[:n // 2], names[:n // 2], strata[:n // 2])) + leaf_hash(
        canonical_bytes({"id": ids[n // 2], "name": names[n // 2], "stratum": strata[n // 2]})) + b"".join(
        _subject_leaf_hashes(ids[n // 2 + 1:], names[n // 2 + 1:], strata[n // 2 + 1:]))
    for chunk in (1, 4, 16, 64):
        fold = LeafFold(chunk)
        for lo in range(0, len(leaves), 32 * 7):
            fold.add(leaves[lo:lo + 32 * 7])
        assert (fold.size, fold.root()) == (want.size, want.root)


def test_leaves_name_a_bad_record_on_both_paths(paths: str) -> None:
    """A record the rules could never produce (an empty id) is refused by name, not hashed."""
    with pytest.raises(pool.PoolInvalid, match="non-empty string id"):
        subject_leaves(["a", ""], ["x", "y"], "AA")
    assert FAST is None or FAST.subject_leaves(["a", ""], ["x", "y"], "AA") is None


@pytest.mark.parametrize("as_json", [False, True])
def test_streamed_selection_on_both_paths(paths: str, as_json: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAWSVC_DRAW_WORKERS", "2")
    rng = random.Random(5)
    ids, _, strata = _columns(3000, rng)
    seed = rng.randbytes(32)
    sizes = {"A": 30, "B": 200, "C": 0, "D": 5}
    by = {s: [i for i, t in zip(ids, strata, strict=True) if t == s] for s in "ABCD"}
    want = draw_subjects(seed, by, sizes).to_json()
    stream = StreamSelection(seed, {s: len(v) for s, v in by.items()}, sizes)
    import orjson

    for lo in range(0, 3000, 700):
        part = ids[lo:lo + 700]
        stream.add(orjson.dumps(part).decode() if as_json else part, "".join(strata[lo:lo + 700]))
    got = stream.finish()
    assert got is not None and got.to_json() == want


def test_pure_python_switch() -> None:
    """DRAWSVC_PURE_PYTHON=1 leaves the accelerator unused (the fallback, as where it is not built)."""
    code = "from drawsvc.draw import accel; print(accel.FAST is None)"
    env = {**os.environ, "DRAWSVC_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@needs_fast
@pytest.mark.parametrize("m", [1, 2, 3, 7, 8, 100, 3000, 2**20, 2**31, 2**32 - 1])
def test_first_positions_is_the_python_walk(m: int) -> None:
    """Same positions as tickets.first_positions (rejection at every r, swaps, UTF-8 ids)."""
    import struct

    from drawsvc.draw.codec import TAG_INSPECTOR_ORDER
    from drawsvc.draw.tickets import first_positions, order_base

    rng = random.Random(m)
    for n in (0, 1, 2, 3, 5, 12, 40):
        seed = rng.randbytes(32)
        subjects = [rng.choice(["91440106MA5ABCDE", "é", "😀", ""]) + str(rng.randrange(10**6)) for _ in range(30)]
        k = min(n, m)
        blob = FAST.first_positions(tag_prefix(TAG_INSPECTOR_ORDER) + seed, subjects, m, n)
        got = [list(struct.unpack_from(f">{k}I", blob, 4 * k * q)) for q in range(len(subjects))]
        assert got == [first_positions(order_base(seed), s, m, n) for s in subjects], (m, n)
    assert FAST.first_positions(bytes(32), ["a"], 2**32, 2) is None  # beyond u32: the Python walk
    assert FAST.first_positions(bytes(32), ["\ud800"], 5, 2) is None


def test_matching_on_both_paths(paths: str) -> None:
    from drawsvc.draw.matching import Inspector, TeamRule, match_inspectors

    rng = random.Random(9)
    inspectors = [Inspector(f"I{i:03d}", "scj", cert_valid_from="2020-01-01", cert_valid_until="2030-12-31")
                  for i in range(40)]
    subjects = [f"S{i:04d}" for i in range(300)]
    conflicts = [(f"I{rng.randrange(40):03d}", rng.choice(subjects)) for _ in range(30)]
    rule = TeamRule(draw_date="2026-06-01", departments=("scj",), team_size=2)
    got = match_inspectors(bytes(range(32)), subjects, inspectors, rule, conflicts).to_json()
    accel_was = accel.FAST
    accel.FAST = None
    try:
        want = match_inspectors(bytes(range(32)), subjects, inspectors, rule, conflicts).to_json()
    finally:
        accel.FAST = accel_was
    assert got == want


@pytest.mark.skipif(FAST is None, reason="the C accelerator is not built here")
@pytest.mark.parametrize("n", [0, 1, 2, 7, 100])
def test_part_leaves_from_the_names_json(n: int) -> None:
    """subject_part_leaves: the kept records' leaf hashes and names' JSON straight from the
    names' JSON bytes, exactly subject_leaves + orjson.dumps of the kept names."""
    import orjson

    rng = random.Random(n)
    ids, names, strata = _columns(n, rng)
    names = [rng.choice(["广州市泰隆健康有限公司", "plain", "😀 emoji", "", "a/b"]) + m for m in names]
    raw = orjson.dumps(names)
    for keep in (None, bytes(rng.choice([0, 1, 1]) for _ in range(n))):
        kept = [i for i in range(n) if keep is None or keep[i]]
        k_ids, k_names = [ids[i] for i in kept], [names[i] for i in kept]
        k_strata = "".join(strata[i] for i in kept)
        want = (subject_leaves(k_ids, k_names, k_strata) if kept else b"", orjson.dumps(k_names))
        assert FAST.subject_part_leaves(k_ids, raw, k_strata, keep) == want
        # PostgreSQL's json_agg writes ", " between the names: the same answer, stored compact
        assert FAST.subject_part_leaves(k_ids, raw.replace(b'","', b'", "'), k_strata, keep) == want


@pytest.mark.skipif(FAST is None, reason="the C accelerator is not built here")
@pytest.mark.parametrize("names_json", [
    b'["a","b\\"c"]',  # an escape: the Python path decides
    b'["a","b\\u0041"]',
    b'["a","\xff"]',  # not UTF-8
    b'["a","\xed\xa0\x80"]',  # a surrogate's bytes
    b'["a"]',  # one name short
    b'["a","b","c"]',  # one too many
    b'["a" ,"b"]',  # not as SQLite writes it
    b'["a","b"',  # torn
    b'"a","b"',
])
def test_part_leaves_hands_back_what_it_does_not_handle(names_json: bytes) -> None:
    assert FAST.subject_part_leaves(["1", "2"], names_json, "AB", None) is None


@pytest.mark.skipif(FAST is None, reason="the C accelerator is not built here")
def test_part_leaves_checks_ids_strata_and_mask() -> None:
    assert FAST.subject_part_leaves(["1", ""], b'["a","b"]', "AB", None) is None  # an empty id
    assert FAST.subject_part_leaves(["1", 'x"'], b'["a","b"]', "AB", None) is None  # an id JCS escapes
    assert FAST.subject_part_leaves(["1", "2"], b'["a","b"]', "A", None) is None  # strata short
    assert FAST.subject_part_leaves(["1", "2"], b'["a","b"]', 'A"', None) is None  # a stratum JCS escapes
    assert FAST.subject_part_leaves(["1"], b'["a","b"]', "A", b"\x01") is None  # a mask one short
    assert FAST.subject_part_leaves(["1"], b'["a","b"]', "A", b"\x00\x01")[1] == b'["b"]'


def test_a_build_missing_a_loop_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """accel.FUNCTIONS is the C method table; a module lacking one of them (built from an older
    checkout and not rebuilt) is not loaded, so no caller meets an AttributeError."""
    import re
    import sys
    import types
    from pathlib import Path

    source = (Path(accel.__file__).parent / "_fasthash.c").read_text()
    assert set(re.findall(r'\{"(\w+)", \w+, METH_VARARGS', source)) == set(accel.FUNCTIONS)
    stale = types.ModuleType("drawsvc.draw._fasthash")
    for name in accel.FUNCTIONS[:-1]:
        setattr(stale, name, lambda *a: None)
    import drawsvc.draw as package

    monkeypatch.setitem(sys.modules, "drawsvc.draw._fasthash", stale)
    monkeypatch.setattr(package, "_fasthash", stale, raising=False)
    monkeypatch.delenv("DRAWSVC_PURE_PYTHON", raising=False)
    assert accel._load() is None
    setattr(stale, accel.FUNCTIONS[-1], lambda *a: None)
    assert accel._load() is stale
