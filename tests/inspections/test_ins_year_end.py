"""Crossing a year end: deadlines in a year chinese-calendar does not know are computed Monday to
Friday and flagged approximate; loading that year's notice recomputes them and shows what moved;
the staff home warns from December on; the new year's plan can be drafted in December and the
old year's reports and disclosure still work in January. Calendar files with mistakes are
refused naming the line, and nothing is logged."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click
import pytest
import time_machine
from click.testing import CliRunner
from pinned import TODAY

from drawsvc.clock import china_date
from drawsvc.demo import create_demo
from drawsvc.inspections.errors import InvalidInput
from drawsvc.inspections.workdays import package_knows, parse_year_text

JAN_4 = datetime.fromisoformat("2027-01-04T09:30:00+08:00")
# a test notice for 2027 (the real one is not out when this is written): a holiday on Friday 15
# January moves every deadline counted across it by one working day
NOTICE_2027 = {"year": 2027, "source": "测试用通知（非真实文号）",
               "holidays": [{"name": "元旦", "dates": ["2027-01-01"]}, {"name": "测试假日", "dates": ["2027-01-15"]},
                            {"name": "春节", "dates": ["2027-02-08", "2027-02-09", "2027-02-10"]}],
               "workdays": ["2027-02-20"]}


def test_the_package_does_not_know_2027() -> None:
    # why this file exists; if a chinese-calendar release learns 2027, pick the next unknown year
    assert package_knows(2026) and not package_knows(2027)


@pytest.mark.parametrize("text,line,words", [
    ('{"year": 2028,\n "source": "x",\n "holidays": ["2028-01-01"],\n "workdays": []}', 1, "2028 年的日历文件"),
    ('{"year": 2027,\n "source": "x",\n "holidays": ["2027-01-01",\n   "2027-10-01",\n   "2027-01-01"],\n'
     ' "workdays": []}', 5, "列出了两次"),
    ('{"year": 2027,\n "source": "x",\n "holidays": ["2027-02-20"],\n "workdays": [\n  "2027-02-20"]}', 5,
     "既列为节假日又列为调休工作日"),
    ('{"year": 2027,\n "source": "x",\n "holidays": ["2027-01-01", "2026-12-31"],\n "workdays": []}', 3, "不在 2027 年内"),
    ('{"year": 2027,\n "source": "x",\n "holidays": ["2027-01-01"],\n "workdays": ["2027-01-04"]}', 4, "周六或周日"),
    ('{"year": 2027,\n "source": "x",\n "holidays": ["2027-01-01"]\n "workdays": []}', 4, "不是有效的 JSON"),
])
def test_calendar_file_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_year_text(text, "2027.json", 2027)
    assert f"第 {line} 行" in str(err.value) and words in str(err.value), str(err.value)


@pytest.fixture(scope="module")
def january(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A demo built on 2027-01-04 (a year chinese-calendar does not know), served at that time."""
    os.environ.setdefault("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    with time_machine.travel(JAN_4, tick=True):
        inst, _, _ = create_demo(tmp_path_factory.mktemp("jan") / "instance", origin="test.example/log", now=JAN_4)
    from web import create_app

    return create_app(inst, {"TESTING": True}), inst


@pytest.fixture
def on_jan_4() -> Any:
    """The tests on the January demo run on its day (travel only for the test, not the module)."""
    with time_machine.travel(JAN_4, tick=True):
        yield


def _login(app: Any, account: str) -> Any:
    client = app.test_client()
    pw = "demo-admin-2026" if account == "admin" else "demo-pass-2026"
    r = client.post("/api/v1/session", json={"account": account, "password": pw})
    assert r.status_code == 200, r.get_json()
    client.environ_base["HTTP_X_CSRF_TOKEN"] = r.get_json()["csrf_token"]
    return client


def test_in_january_of_an_unknown_year_deadlines_are_approximate_until_its_notice_is_loaded(january: Any,
                                                                                            on_jan_4: None) -> None:
    app, inst = january
    admin = _login(app, "admin")
    assert china_date(app.extensions["ledger"].clock()) == date(2027, 1, 4)
    items = admin.get("/api/v1/inspections/deadlines?soon=100").get_json()["items"]
    in_2027 = [i for i in items if i["due"] >= "2027-01-01"]
    assert in_2027 and all(i["approximate"] for i in in_2027)
    assert all(i["approximate"] for i in items if i["status"] == "overdue")  # overdue counts run into 2027
    page = admin.get("/staff/inspections/deadlines").get_data(as_text=True)
    assert "≈ 近似" in page and 'id="calendar-notice"' in page and "2027" in page
    home = admin.get("/staff/").get_data(as_text=True)
    assert 'id="calendar-notice"' in home and "2027 年" in home and "加载节假日安排" in home
    # an operator sees the warning, without the admin's link
    assert "加载节假日安排</a>" not in _login(app, "op-scjg").get("/staff/").get_data(as_text=True)

    ledger = app.extensions["ledger"]
    before = {(i["kind"], i["ref"]): i["due"] for i in items}
    size = ledger.size()
    r = admin.post("/api/v1/inspections/calendar", json=NOTICE_2027)
    assert r.status_code in (200, 201), r.get_json()
    moved = r.get_json()["recomputed"]
    assert moved and all(m["due_after"] != m["due_before"] for m in moved)
    entry = ledger.entry(size)
    assert entry.type == "inspection.calendar.loaded" and entry.payload["recomputed"] == len(moved)
    after = admin.get("/api/v1/inspections/deadlines?soon=100").get_json()["items"]
    shown = [i for i in after if i.get("moved_from")]
    assert shown and all(before[(i["kind"], i["ref"])] == i["moved_from"] for i in shown)
    assert not any(i["approximate"] for i in after if i["due"] >= "2027-01-01")
    page = admin.get("/staff/inspections/deadlines?soon=100").get_data(as_text=True)
    assert "加载节假日安排后由" in page and 'id="calendar-notice"' not in page
    calendar_page = admin.get("/staff/inspections/calendar").get_data(as_text=True)
    assert shown[0]["ref"] in calendar_page.split('id="moved"')[1]


def test_in_january_last_year_is_reported_and_disclosed(january: Any, on_jan_4: None) -> None:
    app, _ = january
    auditor, ops = _login(app, "auditor"), _login(app, "op-scjg")
    rep = auditor.get("/api/v1/inspections/reports/annual?year=2026").get_json()
    assert rep["year"] == 2026 and rep["summary"]["published"] >= 6
    assert ops.post("/api/v1/inspections/disclosures/scjg/2027").status_code == 409  # the year is not over
    r = ops.post("/api/v1/inspections/disclosures/scjg/2026")
    assert r.status_code == 201, r.get_json()


def test_next_years_plan_is_drafted_in_december_and_the_home_page_warns(tmp_path: Path, app: Any,
                                                                       login: Any) -> None:
    # on the pinned day itself: a warning only in December or in a year the package does not know
    home = login("admin").get("/staff/").get_data(as_text=True)
    assert ('id="calendar-notice"' in home) == (TODAY.month == 12 or not package_knows(TODAY.year))
    # the next 10 December after the pinned day, on a demo of its own (the log's times only move forward)
    dec = date(TODAY.year, 12, 10) if date(TODAY.year, 12, 10) > TODAY else date(TODAY.year + 1, 12, 10)
    moment = datetime(dec.year, 12, 10, 10, tzinfo=timezone(timedelta(hours=8)))
    with time_machine.travel(moment, tick=True):
        inst, _, _ = create_demo(tmp_path / "instance", origin="test.example/log", now=moment)
        from web import create_app

        app_dec = create_app(inst, {"TESTING": True})
        home = _login(app_dec, "admin").get("/staff/").get_data(as_text=True)
        assert 'id="calendar-notice"' in home and f"{dec.year + 1}" in home.split('id="calendar-notice"')[1][:400]
        nxt = dec.year + 1
        plan = {"code": f"{nxt}-SCJG-09", "name": f"{nxt}年度市场监管领域双随机抽查计划", "year": nxt,
                "departments": ["scjg"], "items": ["SCJG-001"], "sublibraries": ["all-active"],
                "ratios_bp": {"A": 100, "B": 300, "C": 1000, "D": 2000}, "frequency_cap": 2, "team_size": 2,
                "window_start": f"{nxt}-03-01", "window_end": f"{nxt}-11-30"}
        r = _login(app_dec, "op-scjg").post("/api/v1/plans", json=plan)
        assert r.status_code == 201, r.get_json()


def test_a_bad_calendar_file_is_refused_by_the_cli_naming_the_line_and_nothing_is_logged(demo: Any,
                                                                                         tmp_path: Path) -> None:
    from drawsvc.inspections.cli import inspection

    class _Ctx:
        instance = demo

    @click.group()
    @click.pass_context
    def root(ctx: click.Context) -> None:
        ctx.obj = _Ctx()

    root.add_command(inspection)
    f = tmp_path / "2027.json"
    f.write_text(json.dumps({**NOTICE_2027, "workdays": ["2027-02-20", "2027-02-09"]}, ensure_ascii=False, indent=1),
                 encoding="utf-8")
    size = demo.ledger().size()
    r = CliRunner().invoke(root, ["inspection", "calendar-load", "2027", "--file", str(f), "--as", "admin"])
    assert r.exit_code == 2 and "行" in r.output and "2027-02-09" in r.output, r.output
    r = CliRunner().invoke(root, ["inspection", "calendar-load", "2028", "--file", str(f), "--as", "admin"])
    assert r.exit_code == 2 and "第 2 行" in r.output and "2028" in r.output, r.output
    assert demo.ledger().size() == size
