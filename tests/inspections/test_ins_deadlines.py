"""Working days with holidays and 调休, loading a year the package does not know, deadlines."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from drawsvc.inspections.errors import InvalidInput
from drawsvc.inspections.workdays import WorkCalendar, loaded_from_docs, normalize_year, package_knows

YEAR_2031 = {"year": 2031, "source": "测试用：国办发明电〔2030〕N号",
             "holidays": [{"name": "元旦", "dates": ["2031-01-01"]}, {"name": "国庆", "dates": [
                 "2031-10-01", "2031-10-02", "2031-10-03", "2031-10-06", "2031-10-07"]}],
             "workdays": ["2031-09-27"]}


def test_package_calendar_holidays_and_make_up_days() -> None:
    cal = WorkCalendar()
    assert not cal.is_workday(date(2026, 10, 1))  # 国庆
    assert cal.is_workday(date(2026, 2, 14))  # Saturday make-up working day (调休)
    # 5 working days after Thursday 2026-09-24: 25, 28, 29, 30 Sep, then the National Day holiday, then 9 Oct
    assert cal.add(date(2026, 9, 24), 5) == date(2026, 10, 9)
    assert cal.between(date(2026, 9, 24), date(2026, 10, 9)) == 5


def test_loaded_year_is_used_and_validated() -> None:
    assert not package_knows(2031)
    doc = normalize_year(YEAR_2031)
    cal = WorkCalendar(loaded_from_docs([doc]))
    assert not cal.is_workday(date(2031, 10, 1)) and cal.is_workday(date(2031, 9, 27))
    assert not cal.approximate(date(2031, 5, 5)) and cal.approximate(date(2033, 5, 5))
    for bad in ({**YEAR_2031, "holidays": ["2030-12-31"]}, {**YEAR_2031, "workdays": ["2031-10-01"]},
                {**YEAR_2031, "workdays": ["2031-09-29"]}, {**YEAR_2031, "source": ""},
                {**YEAR_2031, "holidays": ["2031-02-30"]}, {**YEAR_2031, "holidays": []}):
        with pytest.raises(InvalidInput):
            normalize_year(bad)


def test_admin_loads_a_year_over_http_logged(app: Any, login: Any) -> None:
    admin, ops = login("admin"), login("op-scjg")
    ledger = app.extensions["ledger"]
    before = ledger.size()
    assert ops.post("/api/v1/inspections/calendar", json=YEAR_2031).status_code == 403
    assert admin.post("/api/v1/inspections/calendar", json={**YEAR_2031, "workdays": ["2031-10-01"]}).status_code == 422
    r = admin.post("/api/v1/inspections/calendar", json={**YEAR_2031, "year": 2026, "holidays": ["2026-01-01"],
                                                          "workdays": []})
    assert r.status_code == 409  # the package knows 2026
    assert ledger.size() == before
    r = admin.post("/api/v1/inspections/calendar", json=YEAR_2031)
    assert r.status_code == 201, r.get_json()
    e = ledger.entry(before)
    assert e.type == "inspection.calendar.loaded" and e.payload["sha256"] == r.get_json()["sha256"]
    assert admin.post("/api/v1/inspections/calendar", json=YEAR_2031).get_json()["unchanged"] is True
    assert ledger.size() == before + 1
    info = app.test_client().get("/api/v1/inspections/calendar/2031").get_json()
    assert info["source"] == "loaded" and "2031-10-01" in info["holidays_on_weekdays"]
    assert "2031-09-27" in info["workdays_on_weekends"]
    assert app.test_client().get("/api/v1/inspections/calendar/2026").get_json()["source"] == "chinese-calendar"


def test_operators_see_overdue_and_auditors_see_late_publication(app: Any, login: Any) -> None:
    ops, auditor = login("op-scjg"), login("auditor")
    items = ops.get("/api/v1/inspections/deadlines").get_json()["items"]
    overdue = {i["kind"] for i in items if i["status"] == "overdue"}
    assert {"check", "report", "publication"} <= overdue
    assert all(i["department"] in ("scjg", "scjg-sp") for i in items)
    assert login("op-rfb").get("/api/v1/inspections/deadlines").get_json()["items"] == []
    seen = auditor.get("/api/v1/inspections/deadlines").get_json()["items"]
    assert any(i["kind"] == "publication" and i["status"] == "overdue" for i in seen)
    assert all(i["status"] in ("overdue", "late") for i in seen)
    assert app.test_client().get("/api/v1/inspections/deadlines").status_code == 401
    assert login("insp-p001").get("/api/v1/inspections/deadlines").status_code == 403


def test_department_publication_deadline_is_configurable(app: Any, login: Any) -> None:
    ops = login("op-scjg")
    def due_of(kind: str) -> dict[str, str]:
        return {i["ref"]: i["due"] for i in ops.get("/api/v1/inspections/deadlines?soon=100").get_json()["items"]
                if i["kind"] == kind and i["department"] == "scjg"}
    before = due_of("publication")
    assert ops.put("/api/v1/inspections/settings/scjg", json={"publish_days": 0}).status_code == 422
    assert login("op-yjgl").put("/api/v1/inspections/settings/scjg", json={"publish_days": 10}).status_code == 403
    r = ops.put("/api/v1/inspections/settings/scjg", json={"publish_days": 10})
    assert r.status_code == 200 and r.get_json()["publish_days"] == 10
    after = due_of("publication")
    assert before and all(after[k] < before[k] for k in before if k in after)
    ops.put("/api/v1/inspections/settings/scjg", json={"publish_days": 20})
