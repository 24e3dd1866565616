"""Reports computed from the log: re-computable by anyone from the public entries, exported
to .xlsx and PDF; the plan-execution disclosure is published on the log."""

from __future__ import annotations

import io
from typing import Any

from drawsvc.inspections import reports


def test_monthly_report_matches_a_recomputation_from_public_log_entries(app: Any, login: Any) -> None:
    ops = login("op-scjg")
    rep = ops.get("/api/v1/inspections/reports/monthly?year=2026&month=4&department=scjg").get_json()
    assert rep["title"].startswith("市场监管领域部门联合")
    assert [s["no"] for s in rep["section1"]] == [1, 2, 3] and rep["section1"][0]["answer"].startswith("是")
    assert rep["totals"]["checked"] >= 1 and rep["rows"]
    assert rep["verification"]["broken"] == []
    anon = app.test_client()
    size = rep["verification"]["log_size"]
    entries = []
    for start in range(0, size, 1000):
        entries += anon.get(f"/api/v1/log/entries?start={start}&end={min(size, start + 1000)}").get_json()["entries"]
    again = reports.build(reports.fold(entries), "monthly", 2026, month=4, department="scjg")
    assert again == rep


def test_annual_summary_and_exports(app: Any, login: Any) -> None:
    auditor = login("auditor")
    rep = auditor.get("/api/v1/inspections/reports/annual?year=2026").get_json()
    s = rep["summary"]
    assert s["published"] >= 6 and s["credit_links"] >= 2 and s["answers"] >= 1
    assert "予以行政处罚" in s["follow_up_ends"]
    assert len(rep["charts"]["checks_per_month"]) == 12 and rep["charts"]["results_by_category"]
    x = auditor.get("/api/v1/inspections/reports/half-year?year=2026&half=1&format=xlsx")
    assert x.status_code == 200
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(x.data))
    assert wb.sheetnames == ["报表", "图表"] and wb["图表"]._charts
    assert "半年" in wb["报表"]["A1"].value
    p = auditor.get("/api/v1/inspections/reports/monthly?year=2026&month=3&format=pdf")
    assert p.status_code == 200 and p.data.startswith(b"%PDF")
    assert auditor.get("/api/v1/inspections/reports/monthly?year=2026&month=13").status_code == 400
    assert login("op-yjgl").get("/api/v1/inspections/reports/annual?year=2026&department=scjg").status_code == 403
    assert app.test_client().get("/api/v1/inspections/reports/annual?year=2026").status_code == 401


def test_plan_execution_disclosure_is_published_once(app: Any, login: Any) -> None:
    ops = login("op-scjg")
    ledger = app.extensions["ledger"]
    before = ledger.size()
    assert ops.post("/api/v1/inspections/disclosures/scjg/2026").status_code == 409  # year not over
    assert login("op-yjgl").post("/api/v1/inspections/disclosures/scjg/2025").status_code == 403
    assert ledger.size() == before
    r = ops.post("/api/v1/inspections/disclosures/scjg/2025")
    assert r.status_code == 201, r.get_json()
    assert ledger.entry(before).type == "inspection.disclosure.published"
    assert ops.post("/api/v1/inspections/disclosures/scjg/2025").status_code == 409
    pub = app.test_client().get("/api/v1/public/disclosures").get_json()["disclosures"]
    assert pub[0]["sha256"] == r.get_json()["sha256"]
