"""docs/vectors/results-v1.json re-derived with the verifier's own code (docs/SPEC.md §R8)."""

import json
from datetime import date
from pathlib import Path

from verifier.results import BUILTIN_CATEGORIES, FOLLOW_UP_KINDS, check_categories, result_seal
from verifier.workdays import WorkCalendar

DOC = json.loads((Path(__file__).resolve().parents[2] / "docs/vectors/results-v1.json").read_text(encoding="utf-8"))


def test_seals():
    for s in DOC["outputs"]["seals"]:
        assert result_seal(s["content"], bytes.fromhex(s["salt"])) == s["seal"]
        bad = dict(s["content"], subject_name="x")
        assert result_seal(bad, bytes.fromhex(s["salt"])) != s["seal"]


def test_category_table_and_selections():
    assert [dict(r) for r in DOC["inputs"]["categories"]] == list(BUILTIN_CATEGORIES.values())
    assert DOC["inputs"]["follow_up_kinds"] == FOLLOW_UP_KINDS
    for case in DOC["outputs"]["selections"]:
        sel = case["categories"]
        if case["valid"]:
            assert check_categories(case["ordered"], BUILTIN_CATEGORIES) is None
        else:
            assert check_categories(sel, BUILTIN_CATEGORIES) is not None


def test_working_days_and_deadlines():
    wd = DOC["outputs"]["working_days"]
    cal = WorkCalendar()
    cal.load(wd["loaded_year"])
    for c in wd["add"]:
        assert cal.add(date.fromisoformat(c["start"]), c["n"]).isoformat() == c["due"], c
    for c in wd["between"]:
        assert cal.between(date.fromisoformat(c["start"]), date.fromisoformat(c["end"])) == c["working_days"], c
    for month, pattern in wd["days"].items():
        got = "".join("W" if cal.is_workday(date.fromisoformat(f"{month}-{d + 1:02d}")) else "-"
                      for d in range(len(pattern)))
        assert got == pattern, month
    plain = WorkCalendar()
    for d in DOC["outputs"]["deadlines"]:
        due = plain.add(date.fromisoformat(d["report_date"]), d["publish_days"])
        assert due.isoformat() == d["publication_due"]
        assert (date.fromisoformat(d["published_date"]) > due) == d["publication_late"]
