"""Tasks, results and publication over HTTP: every step a signed log entry by the acting
account; bad input refused with nothing half-written; the state machine and the two-person
rule enforced by trying to break them; credit linkage logged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pinned import TODAY, days
from sqlalchemy import select

from drawsvc.draws import schema as draws_schema
from ledger.audit import Auditor


def size(app: Any) -> int:
    return app.extensions["ledger"].size()


def entries_since(app: Any, start: int) -> list[Any]:
    ledger = app.extensions["ledger"]
    return ledger.entries(start, ledger.size())


def scjg_team(admin: Any) -> list[str]:
    rows = admin.get("/api/v1/inspectors?department=scjg&limit=100").get_json()["items"]
    today = TODAY.isoformat()
    return [r["id"] for r in rows if r["status"] == "在岗" and r["cert_valid_from"] <= today <= r["cert_valid_to"]]


def fresh_subject(app: Any, admin: Any, skip: int = 0) -> str:
    used = {r[0] for r in app.extensions["ledger"].engine.connect().execute(select(draws_schema.checks.c.subject))}
    subjects = admin.get("/api/v1/subjects?limit=1000").get_json()["items"]
    free = [s["code"] for s in subjects if s["code"] not in used and s["status"] == "存续"
            and not s["abnormal"] and s["complaints"] == 0]
    return free[skip]


@pytest.fixture(scope="module")
def nr_task(app: Any, login: Any) -> dict[str, Any]:
    """A not-random (complaint) joint task with an inspector account on its team (not P001, whose
    account insp-p001 is the outsider of the tests below)."""
    admin = login("admin")
    team = [i for i in scjg_team(admin) if i != "P001"][:2]
    r = admin.post("/api/v1/accounts", json={"id": "insp-a", "role": "inspector", "inspector": team[0],
                                              "password": "demo-pass-2026"})
    assert r.status_code == 201, r.get_json()
    ops = login("op-scjg")
    body = {"department": "scjg", "trigger": "complaint", "reference": f"投诉〔{TODAY.year}〕88号",
            "subject": fresh_subject(app, admin), "items": ["SCJG-001", "SCJG-002"], "team": team,
            "window": {"start": days(-24), "end": days(20)}}
    before = size(app)
    r = ops.post("/api/v1/inspections/tasks", json=body)
    assert r.status_code == 201, r.get_json()
    task = r.get_json()
    created = entries_since(app, before)
    assert [e.type for e in created] == ["inspection.task.created"]
    assert created[0].actor_id == "user:op-scjg"
    assert body["subject"] not in json.dumps(created[0].payload, ensure_ascii=False)  # sealed until publication
    return task


def test_not_random_task_counts_against_the_frequency_cap(app: Any, nr_task: dict[str, Any]) -> None:
    with app.extensions["ledger"].engine.connect() as conn:
        rows = conn.execute(select(draws_schema.checks).where(draws_schema.checks.c.subject == nr_task["subject"])).all()
    assert [(r.kind, r.source) for r in rows] == [("not_random", f"not_random:{nr_task['task_id']}")]
    assert nr_task["notice"]["number"].endswith("号") and len(nr_task["notice"]["inspectors"]) == 2


def test_tasks_from_draw_need_a_published_draw_and_are_idempotent(app: Any, login: Any) -> None:
    ops = login("op-scjg")
    draws = {d["status"]: d for d in ops.get("/api/v1/draws").get_json()["draws"]}
    before = size(app)
    r = ops.post(f"/api/v1/inspections/draws/{draws['drawn']['id']}/tasks")
    assert r.status_code == 409 and "公示" in r.get_json()["error"]["message"]
    r = ops.post(f"/api/v1/inspections/draws/{draws['published']['id']}/tasks")
    assert r.status_code == 201 and r.get_json()["created"] == []  # the demo made them already
    assert size(app) == before
    assert login("op-yjgl").post(f"/api/v1/inspections/draws/{draws['published']['id']}/tasks").status_code == 403


def _result_body(**kw: Any) -> dict[str, Any]:
    body = {"department": "scjg", "categories": ["pending_followup", "not_disclosed"],
            "findings": "未按期公示年度报告（机密标记QX7）。", "evaluation": "信息公示不到位。",
            "handling_opinion": "列入经营异常名录。", "follow_up": {"kind": "case_transfer"}, "check_date": days(-15)}
    body.update(kw)
    return body


# 409: well-formed, but the task, the category table or today's date as they stand do not allow it; 422: bad input
@pytest.mark.parametrize("case,status", [
    ("subject_not_in_task", 409), ("unknown_category", 409), ("no_problem_with_other", 422),
    ("sub_item_without_parent", 422), ("problem_without_follow_up", 422), ("department_not_in_task", 409),
    ("future_check", 409), ("missing_findings", 422), ("not_on_team", 403), ("other_department_operator", 403),
])
def test_bad_results_are_refused_and_write_nothing(app: Any, login: Any, nr_task: dict[str, Any],
                                                   case: str, status: int) -> None:
    client = login("insp-a")
    body = _result_body()
    if case == "subject_not_in_task":
        body["subject"] = "91150222MA0000000X"
    elif case == "unknown_category":
        body["categories"] = ["no_problem_at_all"]
    elif case == "no_problem_with_other":
        body["categories"] = ["no_problem", "corrected"]
    elif case == "sub_item_without_parent":
        body["categories"] = ["not_disclosed"]
    elif case == "problem_without_follow_up":
        body["follow_up"] = {"kind": "none"}
    elif case == "department_not_in_task":
        body["department"] = "rfb"
    elif case == "future_check":
        body["check_date"] = days(1)
    elif case == "missing_findings":
        body["findings"] = "  "
    elif case == "not_on_team":
        client = login("insp-p001")
    elif case == "other_department_operator":
        client = login("op-yjgl")
    before = size(app)
    r = client.post(f"/api/v1/inspections/tasks/{nr_task['task_id']}/results", json=body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["message"]
    assert size(app) == before


def test_result_state_machine_two_persons_publication_and_credit(app: Any, login: Any,
                                                                 nr_task: dict[str, Any]) -> None:
    insp, ops, rev = login("insp-a"), login("op-scjg"), login("rev-scjg")
    tid = nr_task["task_id"]
    start = size(app)
    r = insp.post(f"/api/v1/inspections/tasks/{tid}/results", json=_result_body())
    assert r.status_code == 201, r.get_json()
    res = r.get_json()
    rid = res["id"]
    assert res["status"] == "pending" and res["status_label"] == "待审核"
    before = size(app)
    # the person who entered cannot confirm; publication before confirmation is refused
    assert insp.post(f"/api/v1/inspections/results/{rid}/confirm").status_code == 403
    r = ops.post(f"/api/v1/inspections/results/{rid}/publish")
    assert r.status_code == 409 and "确认" in r.get_json()["error"]["message"]
    assert size(app) == before
    # returned, corrected (a new version), confirmed by a second person, published
    assert ops.post(f"/api/v1/inspections/results/{rid}/return", json={"reason": ""}).status_code == 422
    r = ops.post(f"/api/v1/inspections/results/{rid}/return", json={"reason": "请补充整改期限"})
    assert r.status_code == 200 and r.get_json()["status"] == "returned"
    assert ops.post(f"/api/v1/inspections/results/{rid}/confirm").status_code == 409  # returned: not pending
    r = insp.post(f"/api/v1/inspections/tasks/{tid}/results", json=_result_body(handling_opinion="限期30日补报并列入经营异常名录。"))
    assert r.get_json()["version"] == 2 and r.get_json()["status"] == "pending"
    assert rev.post(f"/api/v1/inspections/results/{rid}/confirm", json={"version": 1}).status_code == 409  # stale
    r = rev.post(f"/api/v1/inspections/results/{rid}/confirm", json={"version": 2})
    assert r.status_code == 200 and r.get_json()["confirmed_by"] == "rev-scjg"
    subject = nr_task["subject"]
    before_subject = login("admin").get(f"/api/v1/subjects/{subject}").get_json()
    assert not before_subject["abnormal"]
    assert app.test_client().get(f"/api/v1/public/subjects/{subject}/results").get_json()["results"] == []
    assert login("op-yjgl").post(f"/api/v1/inspections/results/{rid}/publish").status_code == 403
    r = ops.post(f"/api/v1/inspections/results/{rid}/publish")
    assert r.status_code == 200 and r.get_json()["status"] == "published"
    types = [(e.type, e.actor_id) for e in entries_since(app, start)]
    assert types == [
        ("inspection.task.checked", "user:insp-a"), ("inspection.result.entered", "user:insp-a"),
        ("inspection.result.returned", "user:op-scjg"), ("inspection.result.entered", "user:insp-a"),
        ("inspection.result.confirmed", "user:rev-scjg"), ("inspection.result.published", "user:op-scjg"),
        ("registry.subject.changed", "user:op-scjg"), ("inspection.credit.linked", "user:op-scjg")]
    # the published content opens the commitment entered for version 2
    from drawsvc.inspections.service import commitment

    ledger = app.extensions["ledger"]
    entered = [e for e in entries_since(app, start) if e.type == "inspection.result.entered"][-1]
    published = [e for e in entries_since(app, start) if e.type == "inspection.result.published"][-1]
    p = published.payload
    assert commitment(p["content"], bytes.fromhex(p["salt"])) == entered.payload["commitment"]
    assert p["task_opening"]["content"]["subject"] == subject
    # credit linkage: abnormal raised, one more adverse record
    after = login("admin").get(f"/api/v1/subjects/{subject}").get_json()
    assert after["abnormal"] is True and after["complaints"] == before_subject["complaints"] + 1
    # public now
    pub = app.test_client().get(f"/api/v1/public/subjects/{subject}/results").get_json()["results"]
    assert [x["result_id"] for x in pub] == [rid] and pub[0]["handling_opinion"].startswith("限期30日")
    found = app.test_client().get(f"/api/v1/public/results?q={subject}").get_json()["results"]
    assert rid in [x["result_id"] for x in found]
    # joint check: the other department enters, confirms and publishes its own result
    r = ops.post(f"/api/v1/inspections/tasks/{tid}/results", json=_result_body(
        department="scjg-sp", categories=["no_problem"], follow_up={"kind": "none"}, findings="未发现问题。"))
    assert r.status_code == 201, r.get_json()
    rid2 = r.get_json()["id"]
    assert rid2 != rid
    assert rev.post(f"/api/v1/inspections/results/{rid2}/confirm").status_code == 200
    assert ops.post(f"/api/v1/inspections/results/{rid2}/publish").status_code == 200
    assert len(app.test_client().get(f"/api/v1/public/subjects/{subject}/results").get_json()["results"]) == 2
    # follow-up, its end (penalty) and penalty publication; the subject's answer
    assert ops.post(f"/api/v1/inspections/results/{rid}/followup-close",
                    json={"outcome": "jail"}).status_code == 422
    r = ops.post(f"/api/v1/inspections/results/{rid}/followup", json={"kind": "notify_dept", "note": "通报税务"})
    assert r.status_code == 200
    r = ops.post(f"/api/v1/inspections/results/{rid}/followup-close", json={
        "outcome": "penalty", "decision_date": days(-5), "decision_no": f"固市监罚〔{TODAY.year}〕99号"})
    assert r.status_code == 200, r.get_json()
    assert login("admin").get(f"/api/v1/subjects/{subject}").get_json()["penalized_on"] == days(-5)
    assert ops.post(f"/api/v1/inspections/results/{rid}/followup-close", json={
        "outcome": "no_penalty", "decision_date": days(-5)}).status_code == 409
    assert ops.post(f"/api/v1/inspections/results/{rid}/penalty-published").status_code == 200
    assert ops.post(f"/api/v1/inspections/results/{rid}/penalty-published").status_code == 409
    r = ops.post(f"/api/v1/inspections/results/{rid}/answer", json={"answer": "无异议", "received_on": days(0)})
    assert r.status_code == 200
    steps = app.test_client().get(f"/api/v1/public/subjects/{subject}/results").get_json()["results"]
    mine = next(x for x in steps if x["result_id"] == rid)
    assert mine["answers"][0]["answer"] == "无异议"
    assert [s["step"] for s in mine["follow_up_steps"]] == ["followup", "followup_closed", "penalty_published"]
    report = Auditor(ledger.engine, app.extensions["instance"].genesis_log_key).run()
    assert report.ok, report.first_broken()


def test_correction_after_publication_keeps_the_published_version_public(app: Any, login: Any) -> None:
    ops, rev = login("op-scjg"), login("rev-scjg")
    tasks = ops.get("/api/v1/inspections/tasks").get_json()["tasks"]
    published = None
    for t in tasks:
        full = ops.get(f"/api/v1/inspections/tasks/{t['id']}").get_json()
        published = next((r for r in full["results"] if r["status"] == "published"
                          and r["content"]["categories"] == ["no_activity"]), None)
        if published:
            break
    assert published is not None
    r = ops.post(f"/api/v1/inspections/tasks/{published['task_id']}/results", json={
        "department": published["department"], "categories": ["closed"], "findings": "更正：已停业（更正标记ZK3）。",
        "evaluation": "已关闭停业。", "handling_opinion": "终止检查。", "follow_up": {"kind": "routine"}})
    assert r.status_code == 201 and r.get_json()["version"] == 2
    pub = app.test_client().get(f"/api/v1/public/subjects/{published['subject']}/results").get_json()["results"]
    assert "ZK3" not in json.dumps(pub, ensure_ascii=False)
    assert rev.post(f"/api/v1/inspections/results/{published['id']}/confirm").status_code == 200
    assert ops.post(f"/api/v1/inspections/results/{published['id']}/publish").status_code == 200
    pub = app.test_client().get(f"/api/v1/public/subjects/{published['subject']}/results").get_json()["results"]
    assert "ZK3" in json.dumps(pub, ensure_ascii=False) and pub[0]["version"] == 2


def test_admin_adds_a_category_and_it_is_usable(app: Any, login: Any) -> None:
    admin = login("admin")
    before = size(app)
    assert login("op-scjg").post("/api/v1/inspections/categories", json={"code": "x", "label": "x"}).status_code == 403
    assert admin.post("/api/v1/inspections/categories", json={"code": "no_problem", "label": "重复"}).status_code == 409
    assert size(app) == before
    r = admin.post("/api/v1/inspections/categories", json={"code": "price_violation", "label": "违反价格管理规定",
                                                           "group": "sub_item", "parent": "pending_followup",
                                                           "problem": True, "credit": "violation"})
    assert r.status_code == 201, r.get_json()
    assert entries_since(app, before)[0].type == "inspection.category.added"
    cats = app.test_client().get("/api/v1/public/result-categories").get_json()["categories"]
    assert "price_violation" in [c["code"] for c in cats]
    assert {"注销", "被吊销", "被撤销", "迁出"} <= {c["label"] for c in cats}
