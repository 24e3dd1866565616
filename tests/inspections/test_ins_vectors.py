"""The server reproduces docs/vectors/results-v1.json byte for byte (docs/SPEC.md Part III §R8)."""

from __future__ import annotations

import importlib.util
import json
from datetime import date
from pathlib import Path

from drawsvc.inspections import categories as cats
from drawsvc.inspections import workdays
from drawsvc.inspections.service import commitment

ROOT = Path(__file__).resolve().parents[2]
VEC = ROOT / "docs" / "vectors" / "results-v1.json"


def _generator():
    spec = importlib.util.spec_from_file_location("make_results_vectors", VEC.parent / "make_results_vectors.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_vectors_reproduced_byte_for_byte() -> None:
    assert _generator().render() == VEC.read_text(encoding="utf-8")


def test_seals_from_the_service_commitment() -> None:
    doc = json.loads(VEC.read_text(encoding="utf-8"))
    for s in doc["outputs"]["seals"]:
        assert commitment(s["content"], bytes.fromhex(s["salt"])) == s["seal"]


def test_selection_verdicts_and_calendar() -> None:
    doc = json.loads(VEC.read_text(encoding="utf-8"))
    table = {r["code"]: cats._row(r) for r in cats.BUILTIN}
    for case in doc["outputs"]["selections"]:
        try:
            got = cats.check_selection(case["categories"], table)
        except Exception:
            assert case["valid"] is False
        else:
            assert case["valid"] and got == case["ordered"]
    wd = doc["outputs"]["working_days"]
    cal = workdays.WorkCalendar(workdays.loaded_from_docs([wd["loaded_year"]]))
    for c in wd["add"]:
        assert cal.add(date.fromisoformat(c["start"]), c["n"]).isoformat() == c["due"]
    assert workdays.year_sha256(wd["loaded_year"]) == wd["loaded_year_sha256"]
