"""Generate docs/vectors/results-v1.json (docs/SPEC.md Part III, §R8) with the SERVER's code.

    .venv/bin/python docs/vectors/make_results_vectors.py          # write the file
    .venv/bin/python docs/vectors/make_results_vectors.py --check  # fail if it would change

Every input is fixed (salts are SHA-256 of a label). Seals come from
drawsvc.inspections.service.commitment, category verdicts from
drawsvc.inspections.categories.check_selection, working days from
drawsvc.inspections.workdays.WorkCalendar. The state-machine trace's verdicts are the table of
§R4 (the service enforces it inside database transactions, not as a pure function).
tests/inspections/test_ins_vectors.py checks the server reproduces this file byte for byte;
tests/verifier/test_vf_results_vectors.py re-derives it with the verifier's own code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from drawsvc.inspections import categories as cats  # noqa: E402
from drawsvc.inspections import workdays  # noqa: E402
from drawsvc.inspections.errors import InvalidInput, UnknownReference  # noqa: E402
from drawsvc.inspections.service import COMMIT_TAG, DEFAULT_SETTINGS, commitment  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "results-v1.json"


def label(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def result_content(kind: str) -> dict[str, Any]:
    random = kind == "random"
    task = "D2026-SCJG-0001-001" if random else "NR2026-00001"
    return {
        "result_id": f"{task}:scjg", "task_id": task, "department": "scjg", "kind": kind,
        "draw_id": "D2026-SCJG-0001" if random else None, "trigger": None if random else "complaint",
        "subject": "91150222MA0N000011", "subject_name": "固阳县示例食品有限公司", "check_date": "2026-03-17",
        "items": ["SCJG-001"], "categories": ["pending_followup", "not_disclosed"],
        "category_labels": ["发现问题待后续处理", "未按规定公示应当公示的信息"],
        "findings": "企业未按期公示2025年度报告。\n\"引号\" 与 \\ 反斜杠", "evaluation": "信息公示义务履行不到位。",
        "handling_opinion": "依法列入经营异常名录，督促补报。",
        "follow_up": {"kind": "case_transfer", "label": cats.FOLLOW_UP_KINDS["case_transfer"], "note": ""},
        "version": 1,
    }


def task_opening() -> dict[str, Any]:
    return {"subject": "91150222MA0N000011", "subject_name": "固阳县示例食品有限公司",
            "reference": "投诉举报登记〔2026〕0931号", "team": ["insp:scjg-01", "insp:scjg-02"],
            "notice": {"number": "固阳县市场监督管理局检通〔2026〕7号", "issued": "2026-04-01",
                       "task_id": "NR2026-00001", "authority": "固阳县市场监督管理局",
                       "subject": "91150222MA0N000011", "subject_name": "固阳县示例食品有限公司", "address": None,
                       "items": [{"code": "SCJG-002", "name": "食品标签检查", "legal_basis": "《食品安全法》"}],
                       "inspectors": [{"id": "insp:scjg-01", "name": "张三", "cert_no": "15000001"},
                                      {"id": "insp:scjg-02", "name": "李四", "cert_no": "15000002"}],
                       "window": {"start": "2026-04-01", "end": "2026-04-30"},
                       "text": "根据《食品安全法》，本机关定于2026-04-01至2026-04-30期间对你单位进行检查，请予配合。"},
            "note": "消费者投诉食品标签问题"}


def seals() -> list[dict[str, Any]]:
    out = []
    for name, content, salt_label in (
        ("result_random", result_content("random"), "results-v1/salt/result-random"),
        ("result_not_random", result_content("not_random"), "results-v1/salt/result-not-random"),
        ("task_opening", task_opening(), "results-v1/salt/task-opening"),
        ("result_v2", {**result_content("random"), "version": 2, "categories": ["no_problem"],
                       "category_labels": ["未发现问题"], "follow_up": {"kind": "none",
                                                                      "label": cats.FOLLOW_UP_KINDS["none"],
                                                                      "note": ""}},
         "results-v1/salt/result-v2"),
    ):
        salt = label(salt_label)
        out.append({"name": name, "content": content, "salt": salt.hex(), "salt_label": salt_label,
                    "seal": commitment(content, salt)})
    return out


SELECTIONS: list[list[Any]] = [
    ["no_problem"], ["corrected"], ["not_disclosed", "pending_followup"], ["pending_followup", "unreachable",
                                                                           "false_disclosure"],
    ["corrected", "deregistered"], ["moved_out"], ["no_problem", "corrected"], ["not_disclosed"], [],
    ["corrected", "corrected"], ["no_such_box"], ["other_dept_violation", "corrected"], "no_problem",
]


def selections() -> list[dict[str, Any]]:
    table = {r["code"]: cats._row(r) for r in cats.BUILTIN}
    out = []
    for sel in SELECTIONS:
        try:
            chosen = cats.check_selection(sel, table)
        except (InvalidInput, UnknownReference):  # malformed, or a box the table does not hold
            out.append({"categories": sel, "valid": False})
        else:
            out.append({"categories": sel, "valid": True, "ordered": chosen, "labels": cats.labels(chosen, table),
                        "problem": cats.has_problem(chosen, table)})
    return out


LOADED_2030 = {"year": 2030, "source": "国办发明电〔2029〕7号（示例 / vector only）",
               "holidays": [{"name": "元旦", "dates": ["2030-01-01"]},
                            {"name": "春节", "dates": ["2030-02-02", "2030-02-03", "2030-02-04", "2030-02-05",
                                                     "2030-02-06", "2030-02-07", "2030-02-08"]}],
               "workdays": ["2030-01-26", "2030-02-09"]}

DAY_CASES: list[tuple[str, int]] = [
    ("2026-02-12", 1), ("2026-02-13", 1), ("2026-02-13", 5), ("2026-02-13", 20), ("2026-09-28", 5),
    ("2026-09-30", 1), ("2026-03-19", 20), ("2026-12-30", 3), ("2030-01-31", 3), ("2030-01-24", 2),
    ("2031-01-01", 2), ("2026-03-03", 0),
]
BETWEEN_CASES: list[tuple[str, str]] = [
    ("2026-02-13", "2026-02-28"), ("2026-09-30", "2026-10-10"), ("2026-03-01", "2026-03-01"),
    ("2026-04-10", "2026-04-01"), ("2030-01-25", "2030-02-10"),
]


def working_days() -> dict[str, Any]:
    doc = workdays.normalize_year(LOADED_2030)
    cal = workdays.WorkCalendar(workdays.loaded_from_docs([doc]))
    add = [{"start": s, "n": n, "due": cal.add(date.fromisoformat(s), n).isoformat(),
            "approximate": cal.approximate(cal.add(date.fromisoformat(s), n))} for s, n in DAY_CASES]
    between = [{"start": a, "end": b, "working_days": cal.between(date.fromisoformat(a), date.fromisoformat(b))}
               for a, b in BETWEEN_CASES]
    days = {}
    for month, first, last in (("2026-02", 1, 28), ("2026-10", 1, 11), ("2030-02", 1, 10)):
        days[month] = "".join("W" if cal.is_workday(date.fromisoformat(f"{month}-{d:02d}")) else "-"
                              for d in range(first, last + 1))
    return {"loaded_year_input": LOADED_2030, "loaded_year": doc, "loaded_year_sha256": workdays.year_sha256(doc),
            "add": add, "between": between, "days": days}


def deadlines() -> list[dict[str, Any]]:
    cal = workdays.WorkCalendar()
    out = []
    for check, entered_day, published_day, publish_days in (
        ("2026-03-17", "2026-03-19", "2026-03-29", 20), ("2026-09-25", "2026-09-30", "2026-10-30", 20),
        ("2026-09-25", "2026-09-30", "2026-10-21", 10), ("2026-01-28", "2026-02-12", "2026-03-20", 20),
    ):
        c, e, p = (date.fromisoformat(x) for x in (check, entered_day, published_day))
        report_due = cal.add(c, DEFAULT_SETTINGS["report_days"])
        pub_due = cal.add(e, publish_days)
        out.append({"check_date": check, "report_date": entered_day, "published_date": published_day,
                    "report_days": DEFAULT_SETTINGS["report_days"], "publish_days": publish_days,
                    "report_due": report_due.isoformat(), "report_late": e > report_due,
                    "publication_due": pub_due.isoformat(), "publication_late": p > pub_due,
                    "working_days_late": cal.between(pub_due, p) if p > pub_due else 0})
    return out


# (step, actor, version) -> verdict of §R4's table
TRACE = [
    ("entered", "user:op-scjg", 1, "ok: 未录入 → 待审核"),
    ("confirmed", "user:op-scjg", 1, "RESULT_CONFIRMED_BY_ENTERER"),
    ("returned", "user:rev-scjg", 1, "ok: 待审核 → 退回"),
    ("published", "user:op-scjg", 1, "RESULT_PUBLISHED_UNCONFIRMED"),
    ("entered", "user:op-scjg", 2, "ok: 退回 → 待审核 (corrects 1)"),
    ("confirmed", "user:rev-scjg", 2, "ok: 待审核 → 已确认"),
    ("confirmed", "user:rev-scjg", 2, "RESULT_ORDER"),
    ("published", "user:op-scjg", 2, "ok: 已确认 → 已公示"),
]


def build() -> dict[str, Any]:
    return {
        "about": "Inspection results (docs/SPEC.md Part III): seals (§R2), category rules (§R5), working days and "
                 "deadlines (§R6), state machine (§R4). Generated by docs/vectors/make_results_vectors.py with "
                 "drawsvc.inspections.",
        "inputs": {"seal_tag": COMMIT_TAG.decode("ascii"), "default_settings": DEFAULT_SETTINGS,
                   "categories": [cats._row(r) for r in cats.BUILTIN], "follow_up_kinds": cats.FOLLOW_UP_KINDS,
                   "follow_up_ends": cats.FOLLOW_UP_ENDS},
        "outputs": {"seals": seals(), "selections": selections(), "working_days": working_days(),
                    "deadlines": deadlines(),
                    "state_machine": [{"step": s, "actor": a, "version": v, "verdict": r} for s, a, v, r in TRACE]},
    }


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=2) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} would change", file=sys.stderr)
            return 1
        print("results vectors up to date")
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
