"""Reports computed from the log: re-computable by anyone from the public entries, exported
to .xlsx and PDF; the plan-execution disclosure is published on the log."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from pinned import TODAY

from drawsvc.inspections import reports
from drawsvc.inspections.demo import TASKS_CREATED

FIRST_CHECK = TODAY - timedelta(days=TASKS_CREATED - 14)  # the demo's first check (drawsvc/inspections/demo.py)
HISTORY_YEARS = sorted({(TODAY - timedelta(days=TASKS_CREATED)).year, TODAY.year})


def test_monthly_report_matches_a_recomputation_from_public_log_entries(app: Any, login: Any) -> None:
    ops = login("op-scjg")
    y, m = FIRST_CHECK.year, FIRST_CHECK.month
    rep = ops.get(f"/api/v1/inspections/reports/monthly?year={y}&month={m}&department=scjg").get_json()
    assert rep["title"].startswith("市场监管领域部门联合")
    assert [s["no"] for s in rep["section1"]] == [1, 2, 3] and rep["section1"][0]["answer"].startswith("是")
    assert rep["totals"]["checked"] >= 1 and rep["rows"]
    assert rep["verification"]["broken"] == []
    anon = app.test_client()
    size = rep["verification"]["log_size"]
    entries = []
    for start in range(0, size, 1000):
        entries += anon.get(f"/api/v1/log/entries?start={start}&end={min(size, start + 1000)}").get_json()["entries"]
    again = reports.build(reports.fold(entries), "monthly", y, month=m, department="scjg")
    assert again == rep


def test_annual_summary_and_exports(app: Any, login: Any) -> None:
    auditor = login("auditor")
    # the demo's history (published results, credit links, an answer, a penalty) may straddle a year end
    reps = [auditor.get(f"/api/v1/inspections/reports/annual?year={y}").get_json() for y in HISTORY_YEARS]
    total = {k: sum(r["summary"][k] for r in reps) for k in ("published", "credit_links", "answers")}
    assert total["published"] >= 6 and total["credit_links"] >= 2 and total["answers"] >= 1
    assert any("予以行政处罚" in r["summary"]["follow_up_ends"] for r in reps)
    for rep in reps:
        assert len(rep["charts"]["checks_per_month"]) == 12
    assert any(rep["charts"]["results_by_category"] for rep in reps)
    year = TODAY.year
    x = auditor.get(f"/api/v1/inspections/reports/half-year?year={year}&half=1&format=xlsx")
    assert x.status_code == 200
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(x.data))
    assert wb.sheetnames == ["报表", "图表"] and wb["图表"]._charts
    assert "半年" in wb["报表"]["A1"].value
    p = auditor.get(f"/api/v1/inspections/reports/monthly?year={year}&month=3&format=pdf")
    assert p.status_code == 200 and p.data.startswith(b"%PDF")
    assert auditor.get(f"/api/v1/inspections/reports/monthly?year={year}&month=13").status_code == 400
    assert login("op-yjgl").get(f"/api/v1/inspections/reports/annual?year={year}&department=scjg").status_code == 403
    assert app.test_client().get(f"/api/v1/inspections/reports/annual?year={year}").status_code == 401


def test_plan_execution_disclosure_is_published_once(app: Any, login: Any) -> None:
    ops = login("op-scjg")
    ledger = app.extensions["ledger"]
    before = ledger.size()
    this, last = TODAY.year, TODAY.year - 1
    assert ops.post(f"/api/v1/inspections/disclosures/scjg/{this}").status_code == 409  # year not over
    assert login("op-yjgl").post(f"/api/v1/inspections/disclosures/scjg/{last}").status_code == 403
    assert ledger.size() == before
    r = ops.post(f"/api/v1/inspections/disclosures/scjg/{last}")
    assert r.status_code == 201, r.get_json()
    assert ledger.entry(before).type == "inspection.disclosure.published"
    assert ops.post(f"/api/v1/inspections/disclosures/scjg/{last}").status_code == 409
    pub = app.test_client().get("/api/v1/public/disclosures").get_json()["disclosures"]
    assert pub[0]["sha256"] == r.get_json()["sha256"]
