"""The plan pages (issue 14, point 1): an official drafts, edits and submits an annual plan in
the console; a second person approves or returns it; it is published with a confirmation; the
plan page shows its content, its draws with their state and who did what on the log."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from conftest import PASSPHRASE, csrf_of, login, make_app
from pinned import TODAY, days

from drawsvc.demo import create_demo
from drawsvc.instance import Instance
from drawsvc.registry.service import Registry


@pytest.fixture(scope="module")
def own_demo(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    inst, _, _ = create_demo(tmp_path_factory.mktemp("plandemo") / "instance", origin="test.example/log")
    return inst


def _client(app: Any, account: str) -> Any:
    c = app.test_client()
    login(c, account)
    return c


def _form(c: Any, path: str, **values: Any) -> dict[str, Any]:
    return {"csrf_token": csrf_of(c.get(path).data), **values}


PLAN = {"code": "P-WEB", "name": "网页起草的计划", "year": str(TODAY.year), "departments": ["scjg"],
        "items": ["SCJG-001"], "ratio_A": "1", "ratio_B": "3", "ratio_C": "10", "ratio_D": "20",
        "frequency_cap": "2", "team_size": "2", "exemptions": ["abnormal"], "window_start": days(0),
        "window_end": days(60)}


def test_plan_workflow_in_the_console(own_demo: Instance) -> None:
    app = make_app(own_demo)
    op, admin, auditor = _client(app, "op-scjg"), _client(app, "admin"), _client(app, "auditor")
    reg = Registry(own_demo.ledger(), own_demo.passphrase())
    size = own_demo.ledger().size()

    # a bad value is refused with a message and nothing is saved
    r = op.post("/staff/plans/new", data=_form(op, "/staff/plans/new", **{**PLAN, "ratio_A": "abc"}))
    assert r.status_code == 422 and "A 类抽查比例“abc”不是数字" in r.data.decode()
    r = op.post("/staff/plans/new", data=_form(op, "/staff/plans/new", **{**PLAN, "ratio_C": "1", "ratio_D": "1"}))
    assert r.status_code == 422 and "ratios_bp" in r.data.decode()  # below the general item's 5% floor
    assert own_demo.ledger().size() == size and reg.get("plan", "P-WEB") is None

    r = op.post("/staff/plans/new", data=_form(op, "/staff/plans/new", **PLAN))
    assert r.status_code == 302 and "/staff/plans/P-WEB" in r.headers["Location"], r.data[:2000]
    plan = reg.get("plan", "P-WEB")
    assert plan["status"] == "draft" and plan["ratios_bp"] == {"A": 100, "B": 300, "C": 1000, "D": 2000}
    assert plan["exemptions"] == ["abnormal"] and plan["window_end"] == days(60)

    r = op.post("/staff/plans/P-WEB/edit", data=_form(op, "/staff/plans/P-WEB/edit", **{**PLAN, "frequency_cap": "1"}))
    assert r.status_code == 302 and reg.get("plan", "P-WEB")["frequency_cap"] == 1
    op.post("/staff/plans/P-WEB/submit", data=_form(op, "/staff/plans/P-WEB"))
    assert reg.get("plan", "P-WEB")["status"] == "submitted"
    page = op.get("/staff/plans/P-WEB").data.decode()
    assert 'id="plan-submitted-by">op-scjg<' in page
    # the submitter is not offered the approval (four-eyes) and is told why; another person is
    assert 'id="plan-approve-form"' not in page and 'id="plan-approve-needs-other"' in page
    assert re.search(r'<button type="button" class="primary" id="plan-approve" disabled', page)
    assert "须由另一人" in page.split('id="plan-approve-needs-other"', 1)[1].split("</p>", 1)[0]
    other = admin.get("/staff/plans/P-WEB").data.decode()
    assert 'id="plan-approve-form"' in other and 'id="plan-approve-needs-other"' not in other
    assert not re.search(r'id="plan-approve"[^>]*disabled', other)
    en = op.get("/staff/plans/P-WEB?lang=en").data.decode()
    assert 'id="plan-approve-needs-other"' in en and "须由另一人" not in en
    op.get("/staff/plans/P-WEB?lang=zh")  # the language is remembered: back to Chinese

    # the submitter cannot approve; another person can return it with a reason, or approve it
    body = op.post("/staff/plans/P-WEB/approve", data=_form(op, "/staff/plans/P-WEB"), follow_redirects=True).data.decode()
    assert "提交人不能批准自己提交的计划" in body and reg.get("plan", "P-WEB")["status"] == "submitted"
    body = admin.post("/staff/plans/P-WEB/return", data=_form(admin, "/staff/plans/P-WEB", reason=""),
                      follow_redirects=True).data.decode()
    assert "理由" in body and reg.get("plan", "P-WEB")["status"] == "submitted"
    admin.post("/staff/plans/P-WEB/return", data=_form(admin, "/staff/plans/P-WEB", reason="请补充子库"))
    assert reg.get("plan", "P-WEB")["status"] == "draft"
    op.post("/staff/plans/P-WEB/submit", data=_form(op, "/staff/plans/P-WEB"))
    admin.post("/staff/plans/P-WEB/approve", data=_form(admin, "/staff/plans/P-WEB"))
    assert reg.get("plan", "P-WEB")["status"] == "approved"

    # publication is irreversible: it needs the ticked confirmation
    body = op.post("/staff/plans/P-WEB/publish", data=_form(op, "/staff/plans/P-WEB"), follow_redirects=True).data.decode()
    assert "勾选确认" in body and reg.get("plan", "P-WEB")["status"] == "approved"
    op.post("/staff/plans/P-WEB/publish", data=_form(op, "/staff/plans/P-WEB", confirm="1"))
    assert reg.get("plan", "P-WEB")["status"] == "published"

    page = auditor.get("/staff/plans/P-WEB").data.decode()
    history = re.findall(r"<code>(registry\.plan\.[a-z]+)</code></td><td[^>]*>([^<]+)</td>", page)
    assert [h[0] for h in history] == [
        "registry.plan.added", "registry.plan.changed", "registry.plan.submitted", "registry.plan.returned",
        "registry.plan.submitted", "registry.plan.approved", "registry.plan.published"]
    assert history[4][1] != history[5][1]  # submitted and approved by two people
    assert 'id="plan-actions"' not in page  # the auditor reads, changes nothing
    assert "已公布" in page and "经营异常名录" in page


def test_plan_page_lists_its_draws_with_their_state(own_demo: Instance) -> None:
    app = make_app(own_demo)
    reg = Registry(own_demo.ledger(), own_demo.passphrase())
    demo_plan = next(p for p in reg.list("plan") if p["code"] != "P-WEB")
    page = _client(app, "op-scjg").get(f"/staff/plans/{demo_plan['code']}").data.decode()
    from drawsvc.draws.service import DrawService

    draws = [d for d in DrawService(own_demo.ledger(), reg).list() if d["plan"] == demo_plan["code"]]
    assert draws
    for d in draws:
        assert d["id"] in page
    assert "已公示" in page and "已中止" in page  # the demo's published and aborted draws, in words
    listing = _client(app, "op-scjg").get("/staff/plans").data.decode()
    assert "已批准" in listing and ">approved<" not in listing
