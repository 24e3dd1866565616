"""The subject pool in parts (docs/SPEC.md §D12.1): a split bundle verifies as the whole one does,
and every forgery of a part is FAILED with a named finding."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from verifier import forking
from verifier.draw import DrawOptions, load_draw_source, verify_bundle


def _copy(demo: Any, tmp_path: Path) -> Path:
    dst = tmp_path / "split"
    shutil.copytree(demo.files["published-split"], dst)
    return dst


def _verify(d: Path, **kw: Any):
    bundle, reader = load_draw_source(d)
    return verify_bundle(bundle, DrawOptions(pool_part=reader, **kw))


def _parts(d: Path) -> list[Path]:
    return sorted((d / "pool").glob("subjects-*.jsonl"))


def _redescribe(d: Path) -> None:
    """Make bundle.json describe the parts as they now are (a forger who also edits the bundle)."""
    b = json.loads((d / "bundle.json").read_text(encoding="utf-8"))
    b["pool_parts"]["subjects"]["parts"] = [
        {"records": p.read_bytes().count(b"\n"), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        for p in _parts(d)]
    (d / "bundle.json").write_text(json.dumps(b, ensure_ascii=False), encoding="utf-8")


def test_split_bundle_verifies_like_the_whole(demo: Any) -> None:
    whole, st_whole = verify_bundle(demo.load("published"), DrawOptions())
    split, st = _verify(demo.files["published-split"])
    assert whole.verdict == "verified", whole.codes()
    assert split.verdict == "verified", [f.render() for f in split.findings]
    b = json.loads((demo.files["published-split"] / "bundle.json").read_text(encoding="utf-8"))
    assert "subjects" not in b["pools"] and b["pool_parts"]["subjects"]["part_size"] == 8
    assert len(b["pool_parts"]["subjects"]["parts"]) > 3  # really in several parts
    assert st.pool_parts is not None and st.pool_parts.size == len(demo.load("published")["pools"]["subjects"])
    assert st.selection is not None and st_whole.selection is not None
    assert st.selection.strata_content() == st_whole.selection.strata_content()
    assert st.current == st_whole.current
    for name in ("selection", "matching", "pools", "substitutions", "current_matching"):
        assert split.checks[name].status == whole.checks[name].status, name


def test_split_bundle_verifies_on_two_processes(demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTCHECK_VERIFY_WORKERS", "2")
    assert forking.workers() == 2
    rep, _ = _verify(demo.files["published-split"])
    assert rep.verdict == "verified", rep.codes()


def _lines(p: Path) -> list[bytes]:
    return p.read_bytes().split(b"\n")[:-1]


def _write(p: Path, lines: list[bytes]) -> None:
    p.write_bytes(b"".join(x + b"\n" for x in lines))


@pytest.mark.parametrize("redescribe", [False, True])
def test_changed_record_fails(demo: Any, tmp_path: Path, redescribe: bool) -> None:
    d = _copy(demo, tmp_path)
    p = _parts(d)[1]
    lines = _lines(p)
    rec = json.loads(lines[2])
    rec["stratum"] = "A" if rec["stratum"] != "A" else "B"
    lines[2] = json.dumps(rec, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    _write(p, lines)
    if redescribe:
        _redescribe(d)
    codes = _verify(d)[0].codes()
    assert "POOL_ROOT_MISMATCH" in codes and "POOL_COUNTS_MISMATCH" in codes
    assert ("POOL_PART_MISMATCH" in codes) is not redescribe


def test_dropped_record_fails(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    p = _parts(d)[-1]
    _write(p, _lines(p)[:-1])
    _redescribe(d)
    codes = _verify(d)[0].codes()
    assert {"POOL_ROOT_MISMATCH", "POOL_COUNTS_MISMATCH"} <= codes


def test_dropped_record_inside_fails(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    p = _parts(d)[0]
    _write(p, _lines(p)[1:])
    codes = _verify(d)[0].codes()  # the part short of the part size: not an aligned subtree any more
    assert {"POOL_PART_MISMATCH", "POOL_PARTS_INVALID", "POOL_ROOT_MISMATCH", "POOL_COUNTS_MISMATCH"} <= codes
    _redescribe(d)  # the description says so too: malformed before any part is read
    rep = _verify(d)[0]
    assert "POOL_PARTS_INVALID" in rep.codes() and rep.verdict == "failed"


def test_added_record_fails(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    p = _parts(d)[-1]
    lines = _lines(p)
    lines.append(b'{"id":"\xef\xbf\xbfZZZ","name":"x","stratum":"A"}')
    _write(p, lines)
    codes = _verify(d)[0].codes()
    assert {"POOL_PART_MISMATCH", "POOL_ROOT_MISMATCH", "POOL_COUNTS_MISMATCH"} <= codes


def test_reordered_records_fail(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    p = _parts(d)[1]
    lines = _lines(p)
    lines[0], lines[1] = lines[1], lines[0]
    _write(p, lines)
    _redescribe(d)
    rep = _verify(d)[0]
    assert {"POOL_INVALID", "POOL_ROOT_MISMATCH"} <= rep.codes()
    assert any("out of id byte order" in f.message for f in rep.findings)


def test_repeated_id_fails(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    p = _parts(d)[1]
    lines = _lines(p)
    lines[1] = lines[0]
    _write(p, lines)
    _redescribe(d)
    rep = _verify(d)[0]
    assert {"POOL_INVALID", "POOL_ROOT_MISMATCH"} <= rep.codes()
    assert any("appears twice" in f.message for f in rep.findings)


def test_swapped_parts_fail(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    a, b = _parts(d)[0], _parts(d)[1]
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    codes = _verify(d)[0].codes()
    assert {"POOL_PART_MISMATCH", "POOL_INVALID", "POOL_ROOT_MISMATCH"} <= codes
    _redescribe(d)
    assert {"POOL_INVALID", "POOL_ROOT_MISMATCH"} <= _verify(d)[0].codes()


def test_missing_part_fails(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    _parts(d)[2].unlink()
    codes = _verify(d)[0].codes()
    assert {"POOL_PART_MISMATCH", "POOL_ROOT_MISMATCH"} <= codes


def test_wrong_part_count_fails(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    b = json.loads((d / "bundle.json").read_text(encoding="utf-8"))
    b["pool_parts"]["subjects"]["parts"].pop()  # the last part left out of the description
    (d / "bundle.json").write_text(json.dumps(b, ensure_ascii=False), encoding="utf-8")
    codes = _verify(d)[0].codes()
    assert {"POOL_ROOT_MISMATCH", "POOL_COUNTS_MISMATCH"} <= codes


def test_part_over_the_size_fails(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    ps = _parts(d)
    _write(ps[0], _lines(ps[0]) + _lines(ps[1])[:1])  # 9 records in a part of 8
    _write(ps[1], _lines(ps[1])[1:])
    codes = _verify(d)[0].codes()
    assert {"POOL_PART_MISMATCH", "POOL_PARTS_INVALID", "POOL_ROOT_MISMATCH"} <= codes
    _redescribe(d)  # the description says so too: malformed before any part is read
    assert "POOL_PARTS_INVALID" in _verify(d)[0].codes()


@pytest.mark.parametrize("size", [0, 6, 1 << 23, "8"])
def test_part_size_not_a_power_of_two_fails(demo: Any, tmp_path: Path, size: Any) -> None:
    d = _copy(demo, tmp_path)
    b = json.loads((d / "bundle.json").read_text(encoding="utf-8"))
    b["pool_parts"]["subjects"]["part_size"] = size
    (d / "bundle.json").write_text(json.dumps(b, ensure_ascii=False), encoding="utf-8")
    rep = _verify(d)[0]
    assert "POOL_PARTS_INVALID" in rep.codes() and rep.verdict == "failed"


def test_not_jcs_line_fails(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    p = _parts(d)[0]
    lines = _lines(p)
    lines[0] = json.dumps(json.loads(lines[0]), ensure_ascii=False).encode()  # spaces: not JCS
    _write(p, lines)
    _redescribe(d)
    rep = _verify(d)[0]
    assert {"POOL_INVALID", "POOL_ROOT_MISMATCH"} <= rep.codes()
    assert any("not the JCS form" in f.message for f in rep.findings)


def test_excluded_subject_in_the_pool_fails(demo: Any, tmp_path: Path) -> None:
    d = _copy(demo, tmp_path)
    b = json.loads((d / "bundle.json").read_text(encoding="utf-8"))
    first = json.loads(_lines(_parts(d)[0])[0])
    b["pools"]["excluded"].append({"id": first["id"], "stratum": first["stratum"], "reason": "deregistered"})
    (d / "bundle.json").write_text(json.dumps(b, ensure_ascii=False), encoding="utf-8")
    assert "POOL_OVERLAP" in _verify(d)[0].codes()


def test_selection_on_a_forged_pool_fails(demo: Any, tmp_path: Path) -> None:
    """A drawn subject renamed in the pool (its id one character longer: the order and the counts
    kept; parts and description redone): the pool no longer hashes to the commitment, and the
    recomputed selection is not the content's."""
    d = _copy(demo, tmp_path)
    b = json.loads((d / "bundle.json").read_text(encoding="utf-8"))
    drawn = {x["id"] for s in b["content"]["strata"].values() for x in s["selected"]}
    for p in _parts(d):
        lines = _lines(p)
        recs = [json.loads(x) for x in lines]
        hit = [r for r in recs if r["id"] in drawn]
        if hit:
            hit[0]["id"] += "0"
            _write(p, [json.dumps(r, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
                       for r in recs])
            break
    _redescribe(d)
    codes = _verify(d)[0].codes()
    assert {"POOL_ROOT_MISMATCH", "SELECTION_MISMATCH"} <= codes and "POOL_INVALID" not in codes


def test_bundle_file_without_its_parts_is_unusable(demo: Any, tmp_path: Path) -> None:
    from verifier.sources import SourceError

    b = json.loads((demo.files["published-split"] / "bundle.json").read_text(encoding="utf-8"))
    with pytest.raises(SourceError, match="pool_parts"):
        verify_bundle(b, DrawOptions())
