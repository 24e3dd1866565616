"""docs/vectors/draw-pool-parts.json (SPEC §D12.1) checked with the verifier's own code: each part's
bytes are its records' JCS leaves, its SHA-256 and subtree root are the stated ones, the part roots
fold to the pool's committed root, and each malformed description is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier.canonical import jcs
from verifier.merkle import root_by_levels
from verifier.poolparts import check_description, scan_part, stream_pool

VEC = json.loads((Path(__file__).resolve().parents[2] / "docs/vectors/draw-pool-parts.json").read_text(encoding="utf-8"))


def test_parts_are_the_leaves_and_fold_to_the_root() -> None:
    recs, size = VEC["inputs"]["records"], VEC["inputs"]["part_size"]
    out = VEC["outputs"]
    parts = [p["text"].encode("utf-8") for p in out["parts"]]
    assert b"".join(parts) == b"".join(jcs(r) + b"\n" for r in recs)
    roots = []
    for data, p in zip(parts, out["parts"], strict=True):
        got = scan_part(data, None, {}, frozenset())
        assert got["problem"] is None
        assert (got["records"], got["sha256"], got["root"].hex()) == (p["records"], p["sha256"], p["root"])
        roots.append(got["root"])
    assert root_by_levels(roots).hex() == out["commitment"]["root"]
    desc = out["pool_parts"]["subjects"]
    assert check_description(desc) is None and desc["part_size"] == size
    res = stream_pool(desc, parts.__getitem__, None, None, None, 0, {recs[3]["id"], "not-there"})
    assert res.problems == [] and res.commitment() == out["commitment"]
    assert res.found == {recs[3]["id"]: recs[3]["stratum"]}


@pytest.mark.parametrize("case", VEC["outputs"]["malformed"], ids=lambda c: c["why"])
def test_malformed_descriptions_are_refused(case: dict) -> None:
    assert case["finding"] == "POOL_PARTS_INVALID" and check_description(case["description"]) is not None


@pytest.mark.parametrize("block", [1, 60, 200, 1 << 20])
def test_blocks_give_the_same_scan(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A part is scanned in blocks of whole lines: any block size gives the same answer, and an id
    repeated or out of order across a block boundary is still found."""
    from verifier import poolparts

    data = b"".join(p["text"].encode("utf-8") for p in VEC["outputs"]["parts"])
    seed = bytes(range(32))
    thr = {b"A": b"\x80" + b"\x00" * 31}
    want = scan_part(data, seed, thr, frozenset({b"91440101MA04X1"}))
    monkeypatch.setattr(poolparts, "BLOCK_BYTES", block)
    assert scan_part(data, seed, thr, frozenset({b"91440101MA04X1"})) == want
    assert want["problem"] is None and want["records"] == 11 and want["found"] == {b"91440101MA04X1": b"A"}
    lines = data.split(b"\n")[:-1]
    twice = b"".join(x + b"\n" for x in lines[:6] + [lines[5]] + lines[6:])
    assert "appears twice" in scan_part(twice, None, {}, frozenset())["problem"]
    swapped = b"".join(x + b"\n" for x in lines[:5] + [lines[6], lines[5]] + lines[7:])
    assert "out of id byte order" in scan_part(swapped, None, {}, frozenset())["problem"]
    assert "line feed" in scan_part(data[:-1], None, {}, frozenset())["problem"]
    assert "not UTF-8" in scan_part(data.replace("广".encode(), b"\xff\xfe\xfd"), None, {}, frozenset())["problem"]
