"""The inspections pages (issue 6 × issue 7) with the Flask test client: every page with every
role (anonymous, admin, operator, team inspector, inspector on no team, auditor, the reviewer
rev-scjg, an operator of another department), unpublished results invisible on every public
page, forms without a CSRF token refused, and the whole result workflow: entry, the refusal of
a confirmation by the same person, confirmation by a second person, publication, correction as
a new version, the subject's answer, follow-up ending in a penalty and its publication,
evidence with its SHA-256 and log seq, a conflict declared by an inspector, a calendar year
loaded by an admin."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from tests.web.conftest import ensure_team_inspector, login, make_app, open_team_tasks, team_inspector

ROLES = {"anonymous": None, "admin": "admin", "operator": "op-scjg", "inspector": "insp-p001",
         "team_inspector": "insp-team", "auditor": "auditor", "reviewer": "rev-scjg", "other_operator": "op-rfb"}
PUBLIC = ["/", "/public/items", "/public/inspectors", "/public/plans", "/public/draws", "/public/search",
          "/public/search?q=固阳", "/public/result-categories", "/public/checkpoint", "/verify"]


def svc(demo: Any) -> Any:
    from drawsvc.inspections.service import InspectionService
    from drawsvc.registry.service import Registry

    return InspectionService(demo.ledger(), Registry(demo.ledger(), demo.passphrase()),
                             evidence_root=demo.home / "evidence")


def demo_results(demo: Any) -> dict[str, dict[str, Any]]:
    """The demo's results by status (the first of each)."""
    from sqlalchemy import select

    from drawsvc.inspections import schema

    out: dict[str, dict[str, Any]] = {}
    with demo.ledger().engine.connect() as conn:
        for r in conn.execute(select(schema.results).order_by(schema.results.c.seq)):
            out.setdefault(r.status, {"id": r.id, "task": r.task_id, "subject": r.subject, "name": r.subject_name,
                                      "doc": json.loads(r.doc)})
    return out


def pages(demo: Any) -> dict[str, str]:
    res = demo_results(demo)
    pending, published = res["pending"], res["published"]
    return {
        "tasks": "/staff/inspections/tasks",
        "tasks_filtered": f"/staff/inspections/tasks?draw={pending['doc']['draw_id']}&status=checked",
        "task": f"/staff/inspections/tasks/{pending['task']}",
        "notice": f"/staff/inspections/tasks/{pending['task']}/notice",
        "enter": f"/staff/inspections/tasks/{pending['task']}/result?department=scjg",
        "result_pending": f"/staff/inspections/results/{pending['id']}",
        "result_published": f"/staff/inspections/results/{published['id']}",
        "review": "/staff/inspections/review",
        "deadlines": "/staff/inspections/deadlines",
        "reports": "/staff/inspections/reports",
        "reports_annual": "/staff/inspections/reports?kind=annual",
        "reports_half": "/staff/inspections/reports?kind=half-year&half=1",
        "reports_plan": "/staff/inspections/reports?kind=plan-execution",
        "calendar": "/staff/inspections/calendar",
        "conflicts": "/staff/conflicts",
        "company": f"/public/companies/{published['subject']}",
    }


def expected(role: str, page: str, on_team: bool) -> int:
    if page == "company":
        return 200
    if role == "anonymous":
        return 302
    if page in ("tasks", "tasks_filtered", "review", "conflicts"):
        return 200
    if page == "calendar":
        return 200 if role == "admin" else 403
    if page in ("deadlines", "reports", "reports_annual", "reports_half", "reports_plan"):
        return 403 if role in ("inspector", "team_inspector") else 200
    # one task / result: visibility as the API (_visible_task); entry needs a changing role
    visible = role in ("admin", "auditor", "operator", "reviewer") or (role in ("team_inspector", "inspector")
                                                                         and on_team)
    if page == "enter":
        return 200 if visible and role != "auditor" else 403
    return 200 if visible else 403


@pytest.mark.parametrize("role", list(ROLES))
def test_every_inspection_page_with_every_role(role: str, demo: Any) -> None:
    ensure_team_inspector(demo)
    c = make_app(demo).test_client()
    if ROLES[role]:
        login(c, ROLES[role])
    res = demo_results(demo)
    who = {"team_inspector": team_inspector(demo), "inspector": "P001"}.get(role)  # insp-p001 is P001's account
    on_team = {k: who in svc(demo).task(res[k]["task"])["team"] for k in ("pending", "published")}
    for name, path in pages(demo).items():
        r = c.get(path)
        want = expected(role, name, on_team["published" if name == "result_published" else "pending"])
        assert r.status_code == want, (role, name, path, r.status_code)
        if r.status_code == 302:
            assert "/staff/login" in r.headers["Location"]
    for path in PUBLIC:
        assert c.get(path).status_code == 200, (role, path)
    # changing steps need the API's roles: an auditor or a stranger is refused before the service
    tok = None
    with c.session_transaction() as s:
        tok = s.get("csrf")
    r = c.post(pages(demo)["result_pending"] + "/publish", data={"csrf_token": tok or "x"})
    want = {"anonymous": 302, "auditor": 403, "inspector": 403, "team_inspector": 403, "other_operator": 403}
    assert r.status_code == want.get(role, 302), (role, r.status_code)
    assert demo_results(demo)["pending"]["id"] == res["pending"]["id"]  # still pending: not confirmed


def test_inspector_sees_only_own_team_tasks(demo: Any) -> None:
    ensure_team_inspector(demo)
    c = make_app(demo).test_client()
    login(c, "insp-team")
    body = c.get("/staff/inspections/tasks").data.decode()
    listed = set(re.findall(r'data-task="([^"]+)"', body))
    mine = {t["id"] for t in svc(demo).list_tasks(svc(demo).registry.actor_for(
        svc(demo).registry.get("account", "insp-team")))}
    assert listed == mine and listed
    assert "我的检查任务" in body
    other = next(t for t in svc(demo).list_tasks(svc(demo).registry.actor_for(svc(demo).registry.get("account", "admin")))
                 if team_inspector(demo) not in t["team"])
    assert c.get(f"/staff/inspections/tasks/{other['id']}").status_code == 403


def test_tasks_list_highlights_overdue_and_deadlines_page(demo: Any) -> None:
    c = make_app(demo).test_client()
    login(c, "op-scjg")
    body = c.get("/staff/inspections/tasks").data.decode()
    assert re.search(r'<tr class="task overdue"', body)
    d = c.get("/staff/inspections/deadlines").data.decode()
    assert 'class="deadline overdue" data-kind="publication"' in d and 'data-kind="report"' in d
    # the auditor sees overdue publication too (and only overdue or late items)
    c2 = make_app(demo).test_client()
    login(c2, "auditor")
    d2 = c2.get("/staff/inspections/deadlines").data.decode()
    assert 'data-kind="publication"' in d2 and "deadline due_soon" not in d2


def test_unpublished_results_are_invisible_on_every_public_page(demo: Any) -> None:
    res = demo_results(demo)
    assert "pending" in res and "confirmed" in res  # the demo has both
    c = make_app(demo).test_client()
    for key in ("pending", "confirmed"):
        r = res[key]
        secret_bits = [r["id"], r["doc"]["findings"]]
        paths = [*PUBLIC, f"/public/search?q={r['subject']}", f"/public/search?q={r['name']}",
                 f"/public/companies/{r['subject']}", f"/public/companies/{r['subject'].lower()}",
                 f"/api/v1/public/results?q={r['subject']}", f"/api/v1/public/subjects/{r['subject']}/results"]
        for path in paths:
            body = c.get(path).data.decode()
            for bit in secret_bits:
                assert bit not in body, (key, path, bit)
        page = c.get(f"/public/companies/{r['subject']}").data.decode()
        assert 'id="no-results"' in page and "published-result" not in page
    # a published one is there, with its category and follow-up
    pub = res["published"]
    page = c.get(f"/public/companies/{pub['subject']}").data.decode()
    assert pub["id"] in page and pub["doc"]["category_labels"][0] in page and pub["doc"]["follow_up"]["label"] in page
    search = c.get(f"/public/search?q={pub['subject']}").data.decode()
    assert f'data-result="{pub["id"]}"' in search  # server-rendered, no script needed
    # the company's place and trade are named, not left as bare codes (the demo county is 150222)
    for body in (page, search):
        assert "内蒙古自治区包头市固阳县" in body and "· 150222 ·" not in body
    english = c.get(f"/public/companies/{pub['subject']}?lang=en").data.decode()
    assert "· 150222 ·" in english and "内蒙古" not in english  # the table has no English names


def test_forms_without_csrf_are_refused(demo: Any) -> None:
    ensure_team_inspector(demo)
    res = demo_results(demo)
    c = make_app(demo).test_client()
    login(c, "rev-scjg")
    size = demo.ledger().size()
    task = res["pending"]["task"]
    posts = [(f"/staff/inspections/results/{res['pending']['id']}/confirm", {}),
             (f"/staff/inspections/results/{res['confirmed']['id']}/publish", {}),
             (f"/staff/inspections/tasks/{task}/result", {"department": "scjg", "categories": "no_problem",
                                                           "findings": "x", "evaluation": "x", "handling_opinion": "x"}),
             (f"/staff/inspections/tasks/{task}/checked", {"check_date": "2026-01-05"}),
             ("/staff/conflicts", {"inspector": "P002", "subject": res["pending"]["subject"]})]
    for path, data in posts:
        for tok in (None, "wrong"):
            r = c.post(path, data={**data, **({"csrf_token": tok} if tok else {})})
            assert r.status_code == 403, (path, tok, r.status_code)
    c2 = make_app(demo).test_client()
    login(c2, "admin")
    r = c2.post("/staff/inspections/calendar", data={"year": "2099"})
    assert r.status_code == 403
    assert demo.ledger().size() == size


def test_every_inspection_form_carries_csrf_and_no_inline_script(demo: Any) -> None:
    from tests.web.test_web_security import scan

    c = make_app(demo).test_client()
    login(c, "admin")
    for path in [*pages(demo).values(), *PUBLIC]:
        r = c.get(path)
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        s = scan(r.data)
        assert s.inline_scripts == 0 and s.handlers == [], path
        for f in s.forms:
            if f["method"] == "post":
                assert f["csrf"], (path, f)


def _tok(c: Any) -> str:
    with c.session_transaction() as s:
        return str(s["csrf"])


def _created(body: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr class="entry" data-seq="(\d+)"', body)]


def test_result_workflow_same_person_refused_then_reviewed_and_published(demo: Any) -> None:
    ensure_team_inspector(demo)
    task_id = open_team_tasks(demo)[-1]  # the browser test takes the first
    app = make_app(demo)
    insp = app.test_client()
    login(insp, "insp-team")
    form = insp.get(f"/staff/inspections/tasks/{task_id}/result").data.decode()
    assert 'data-exclusive="1"' in form and 'data-parent="pending_followup"' in form
    dept = re.search(r'<option value="([^"]+)" selected>', form)
    department = dept.group(1) if dept else "scjg"
    today = svc(demo).today().isoformat()
    base = {"csrf_token": _tok(insp), "department": department, "check_date": today, "findings": "经检查未发现问题。",
            "evaluation": "良好。", "handling_opinion": "无。", "follow_up": "none"}
    size = demo.ledger().size()
    # the exclusivity rule: 未发现问题 with another box is refused, nothing written
    r = insp.post(f"/staff/inspections/tasks/{task_id}/result", data={**base, "categories": ["no_problem", "closed"]})
    assert r.status_code == 422 and 'id="form-error"' in r.data.decode() and "未发现问题" in r.data.decode()
    # a sub-item without its parent, and a problem without follow-up
    r = insp.post(f"/staff/inspections/tasks/{task_id}/result", data={**base, "categories": ["not_disclosed"]})
    assert r.status_code == 422
    r = insp.post(f"/staff/inspections/tasks/{task_id}/result", data={**base, "categories": ["corrected"]})
    assert r.status_code == 422 and "后续处置" in r.data.decode()
    assert demo.ledger().size() == size
    # evidence: SHA-256 and the log seq on the task page
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    r = insp.post(f"/staff/inspections/tasks/{task_id}/evidence", data={
        "csrf_token": _tok(insp), "label": "照片", "file": (io.BytesIO(png), "现场.png")},
        content_type="multipart/form-data", follow_redirects=True)
    page = r.data.decode()
    import hashlib

    sha = hashlib.sha256(png).hexdigest()
    assert f'data-sha256="{sha}"' in page and _created(page)
    assert demo.ledger().entry(_created(page)[0]).payload["sha256"] == sha
    bad = insp.post(f"/staff/inspections/tasks/{task_id}/evidence", data={
        "csrf_token": _tok(insp), "label": "照片", "file": (io.BytesIO(b"MZ not a png"), "x.png")},
        content_type="multipart/form-data", follow_redirects=True)
    assert 'class="flash error"' in bad.data.decode()
    # entry
    r = insp.post(f"/staff/inspections/tasks/{task_id}/result", data={**base, "categories": ["no_problem"]})
    assert r.status_code == 302
    page = insp.get(r.headers["Location"]).data.decode()
    seqs = _created(page)
    assert seqs and demo.ledger().entry(seqs[-1]).type == "inspection.result.entered"
    assert "/api/v1/log/proof/inclusion?index=" in page
    rid = re.search(r'<h1>[^<]*<code>([^<]+)</code>', page).group(1)
    # the same person cannot confirm: the server's refusal is shown
    assert 'id="same-person-note"' in page
    r = insp.post(f"/staff/inspections/results/{rid}/confirm", data={"csrf_token": _tok(insp)}, follow_redirects=True)
    body = r.data.decode()
    assert 'class="flash refused"' in body and "录入人不能审核自己录入的结果" in body
    assert 'data-status="pending"' in body
    # nor can the inspector publish (role), nor does the public see it
    assert insp.post(f"/staff/inspections/results/{rid}/publish", data={"csrf_token": _tok(insp)}).status_code == 403
    pub = app.test_client()
    subject = svc(demo).result(rid)["subject"]
    assert rid not in pub.get(f"/public/companies/{subject}").data.decode()
    # publication before confirmation is refused by the service
    op = app.test_client()
    login(op, "op-scjg")
    body = op.post(f"/staff/inspections/results/{rid}/publish", data={"csrf_token": _tok(op), "confirm": "1"},
                   follow_redirects=True).data.decode()
    assert "须先经另一人确认" in body
    # the reviewer confirms
    rev = app.test_client()
    login(rev, "rev-scjg")
    r = rev.post(f"/staff/inspections/results/{rid}/confirm", data={"csrf_token": _tok(rev)}, follow_redirects=True)
    body = r.data.decode()
    assert 'data-status="confirmed"' in body
    assert [demo.ledger().entry(s).type for s in _created(body)] == ["inspection.result.confirmed"]
    assert rid not in pub.get(f"/public/companies/{subject}").data.decode()  # confirmed is not public yet
    # the operator publishes
    body = op.post(f"/staff/inspections/results/{rid}/publish", data={"csrf_token": _tok(op), "confirm": "1"},
                   follow_redirects=True).data.decode()
    assert 'data-status="published"' in body
    assert "inspection.result.published" in [demo.ledger().entry(s).type for s in _created(body)]
    page = pub.get(f"/public/companies/{subject}").data.decode()
    assert rid in page and "未发现问题" in page
    # a correction is a new version; the published version stays public until the correction is
    r = insp.post(f"/staff/inspections/tasks/{task_id}/result", data={
        **base, "csrf_token": _tok(insp), "categories": ["corrected"], "findings": "更正：发现标签不规范。",
        "follow_up": "order_correct"})
    assert r.status_code == 302
    page = op.get(f"/staff/inspections/results/{rid}").data.decode()
    assert "v2" in page and "更正：发现标签不规范。" in page and 'id="versions"' in page
    public = pub.get(f"/public/companies/{subject}").data.decode()
    assert "更正：发现标签不规范。" not in public and "经检查未发现问题。" in public
    # answer, follow-up, its end in a penalty and the penalty's publication (on the published result)
    for step, data in (("answer", {"answer": "无异议。", "received_on": today, "channel": "书面"}),
                       ("followup", {"kind": "order_correct", "note": "限期整改"}),
                       ("followup-close", {"outcome": "penalty", "decision_date": today, "decision_no": "固市监罚〔2026〕99号"}),
                       ("penalty-published", {})):
        body = op.post(f"/staff/inspections/results/{rid}/{step}", data={"csrf_token": _tok(op), **data},
                       follow_redirects=True).data.decode()
        assert _created(body), (step, re.findall(r'class="flash[^"]*"[^>]*>([^<]+)', body))
    public = pub.get(f"/public/companies/{subject}").data.decode()
    assert "固市监罚〔2026〕99号" in public and "无异议。" in public and "处罚信息已公示" in public


def test_inspector_declares_own_conflict(demo: Any) -> None:
    ensure_team_inspector(demo)
    res = demo_results(demo)
    c = make_app(demo).test_client()
    login(c, "insp-team")
    code = res["published"]["subject"]
    r = c.post("/staff/conflicts", data={"csrf_token": _tok(c), "inspector": "P001", "subject": code,
                                         "reason": "近亲属", "note": "配偶任职"}, follow_redirects=True)
    body = r.data.decode()
    seqs = _created(body)
    assert seqs and demo.ledger().entry(seqs[0]).payload["state"]["inspector"] == team_inspector(demo)  # own
    assert code in body
    c2 = make_app(demo).test_client()
    login(c2, "insp-p001")
    assert f"<code>{team_inspector(demo)}</code>" not in c2.get("/staff/conflicts").data.decode()  # an inspector sees only their own


def test_admin_loads_a_calendar_year_from_a_file(demo: Any) -> None:
    c = make_app(demo).test_client()
    login(c, "admin")
    year = {"year": 2098, "source": "国办发明电〔2097〕1号（测试）",
            "holidays": [{"name": "元旦", "dates": ["2098-01-01"]}], "workdays": ["2098-01-04"]}
    data = json.dumps(year, ensure_ascii=False).encode()
    r = c.post("/staff/inspections/calendar", data={"csrf_token": _tok(c), "file": (io.BytesIO(data), "2098.json")},
               content_type="multipart/form-data", follow_redirects=True)
    body = r.data.decode()
    seqs = _created(body)
    assert seqs and demo.ledger().entry(seqs[0]).type == "inspection.calendar.loaded"
    assert "2098-01-04" in body
    r = c.post("/staff/inspections/calendar", data={"csrf_token": _tok(c), "file": (io.BytesIO(b"{nope"), "x.json")},
               content_type="multipart/form-data")
    assert r.status_code == 422 and "JSON" in r.data.decode()
    op = make_app(demo).test_client()
    login(op, "op-scjg")
    assert op.post("/staff/inspections/calendar", data={"csrf_token": _tok(op), "year": "2099"}).status_code == 403


def test_reports_page_and_downloads(demo: Any) -> None:
    c = make_app(demo).test_client()
    login(c, "auditor")
    year = svc(demo).today().year
    body = c.get(f"/staff/inspections/reports?kind=annual&year={year}").data.decode()
    assert 'id="report-title"' in body and "<svg class=\"bars\"" in body and 'id="chart-results_by_category"' in body
    xlsx = re.search(r'id="xlsx-link" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    pdf = re.search(r'id="pdf-link" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    r = c.get(xlsx)
    assert r.status_code == 200 and r.data[:2] == b"PK"
    r = c.get(pdf)
    assert r.status_code == 200 and r.data[:5] == b"%PDF-"
    op = make_app(demo).test_client()
    login(op, "op-rfb")
    assert op.get("/staff/inspections/reports?department=scjg").status_code == 403


def test_english_pages(demo: Any) -> None:
    c = make_app(demo).test_client()
    login(c, "op-scjg")
    body = c.get("/staff/inspections/tasks?lang=en").data.decode()
    assert "Inspection tasks" in body
    assert "Result categories" in c.get("/public/result-categories?lang=en").data.decode()


def test_calendar_page_shows_the_moved_deadlines_table_in_the_content(demo: Any) -> None:
    """Issue 14: the moved-deadlines heading and table once sat inside the title block, so the tab
    title showed raw HTML and the table never appeared in the page."""
    c = make_app(demo).test_client()
    login(c, "admin")
    for lang, heading in (("", "因加载节假日安排而调整的期限"), ("?lang=en", None)):
        body = c.get("/staff/inspections/calendar" + lang).data.decode()
        title = re.search(r"<title>(.*?)</title>", body, re.S).group(1)
        assert "<" not in title and "&lt;" not in title, title
        main = body.split("</title>", 1)[1]
        assert main.count('id="moved"') == 1, "the moved-deadlines table is in the content, once"
        assert re.search(r'<table class="grid" id="moved"><thead>', main)
        if heading:
            assert f"<h2>{heading}</h2>" in main and heading not in title


def test_annual_report_summary_shows_labels_not_stored_codes(demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: "三、汇总" printed its mappings' keys raw (`检查方式 random: 10`); every key is shown
    through its label from the catalogue, and with ?lang=en the page chrome (全部部门) is English."""
    import web.jobs

    real = web.jobs.report_for_page

    def with_checks(*args: Any, **kwargs: Any) -> Any:  # the demo's year may hold no check of each kind
        rep, job, error = real(*args, **kwargs)
        if rep:
            rep["summary"]["checks_by_kind"] = {"random": 10, "not_random": 2}
            rep["summary"]["not_random_by_trigger"] = {"complaint": 1, "referral": 1}
        return rep, job, error

    monkeypatch.setattr(web.jobs, "report_for_page", with_checks)
    c = make_app(demo).test_client()
    login(c, "auditor")
    year = svc(demo).today().year
    body = c.get(f"/staff/inspections/reports?kind=annual&year={year}").data.decode()
    summary = body.split("三、汇总", 1)[1].split("</dl>", 1)[0]
    assert "双随机抽查：10" in summary and "投诉举报：1" in summary and "其他部门移送线索：1" in summary, summary
    assert not re.search(r"\b(random|not_random|complaint|referral|assignment)\b", summary), summary
    assert '<span class="data" id="report-department">全部部门</span>' in body
    en = c.get(f"/staff/inspections/reports?kind=annual&year={year}&lang=en").data.decode()
    summary = en.split("</dl>", 1)[0].rsplit('<dl class="kv card">', 1)[1]
    assert "double-random：10" in summary and "Complaints：1" in summary, summary
    assert not re.search(r"\brandom:", summary)
    assert '<span class="data" id="report-department">All departments</span>' in en
    assert '<option value="">All departments</option>' in en and "全部部门" not in en


def test_report_files_summary_rows_show_labels_not_codes() -> None:
    """The .xlsx/.pdf summary rows name a check's kind and a non-random check's source in words."""
    from drawsvc.inspections.export import _summary_rows

    rows = dict(_summary_rows({"summary": {"checks": 3, "checks_by_kind": {"random": 2, "not_random": 1},
                                           "not_random_by_trigger": {"complaint": 1}}}))
    assert rows == {"完成检查数": 3, "检查方式：双随机抽查": 2, "检查方式：非随机检查（投诉举报、转办交办等）": 1,
                    "非随机检查的来源：投诉举报": 1}
