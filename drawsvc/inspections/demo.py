"""Demo inspections for `drawsvc init --demo`: tasks for the published demo draw, published
results in several categories (with an answer, a follow-up ending in a penalty and its
publication), a result awaiting confirmation, an overdue task and an overdue publication.

Time is an input, as in the draw demo: the ledger's clock is set to the day each step happens
(Beijing time), so deadlines are computed on realistic dates. Entries are entered by the
department operator and confirmed by a second person (a reviewer account made here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from drawsvc.registry.authz import Actor

from .service import InspectionService

REVIEWER = "rev-scjg"
PASSWORD = "demo-pass-2026"

# (categories, findings, evaluation, handling opinion, follow-up kind)
OUTCOMES: list[tuple[list[str], str, str, str, str]] = [
    (["no_problem"], "经现场检查，未发现违法违规问题。", "该企业守法经营情况良好。", "无需处理。", "none"),
    (["corrected"], "现场发现部分原料未按规定建立进货查验记录。", "存在一般性问题，当场整改。", "责令立即改正，已整改到位。",
     "order_correct"),
    (["pending_followup", "not_disclosed"], "企业未按期公示2025年度报告。", "信息公示义务履行不到位。",
     "依法列入经营异常名录，督促补报。", "case_transfer"),
    (["no_activity"], "检查时未发现该企业开展本次抽查涉及的经营活动。", "不涉及本次抽查事项。", "终止检查，转入日常监管。",
     "routine"),
    (["uncooperative"], "企业负责人拒绝提供有关材料，拒不配合检查。", "不配合检查，情节严重。",
     "依法列入经营异常名录，移送案件线索。", "case_transfer"),
    (["closed"], "现场核查该企业已停业。", "已关闭停业。", "终止检查。", "routine"),
]


def beijing(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=8)


@contextmanager
def _on(ledger: Any, day: date, hour: int = 10) -> Iterator[None]:
    saved: Callable[[], datetime] = ledger.clock
    moment = beijing(day, hour)
    ledger.clock = lambda: moment
    try:
        yield
    finally:
        ledger.clock = saved


def _actor(registry: Any, account: str) -> Actor:
    return registry.actor_for(registry.get("account", account))


def seed_demo_inspections(ledger: Any, registry: Any, evidence_root: Path | None, draw_id: str,
                          today: date | None = None) -> list[str]:
    """Build the demo on a published draw; returns lines to print."""
    svc = InspectionService(ledger, registry, evidence_root=evidence_root)
    admin = _actor(registry, "admin")
    op = _actor(registry, "op-scjg")
    if registry.get("account", REVIEWER) is None:
        registry.create_account(admin, {"id": REVIEWER, "name": "审核人（科室负责人）", "role": "operator",
                                        "departments": ["scjg", "scjg-sp"]}, PASSWORD)
    rev = _actor(registry, REVIEWER)
    today = today or svc.today()
    year = today.year
    base = date(year, 3, 3)
    with _on(ledger, base):
        svc.set_settings(op, "scjg", {"rules": [{"title": "固阳县市场监管领域部门联合“双随机、一公开”监管工作实施细则",
                                                 "number": "固政办发〔2019〕12号"}]})
        tasks = svc.create_tasks_for_draw(op, draw_id)
    lines = [f"demo inspections: {len(tasks)} tasks for draw {draw_id}"]
    published = 0
    for n, (task, outcome) in enumerate(zip(tasks, OUTCOMES, strict=False)):
        check = base + timedelta(days=14 + 7 * n)
        categories, findings, evaluation, opinion, follow = outcome
        with _on(ledger, check, 9):
            svc.record_check(op, task["task_id"], check.isoformat())
            if evidence_root is not None:
                svc.add_evidence(op, task["task_id"], "检查笔录.pdf", _demo_pdf(task["task_id"]), "application/pdf",
                                 "检查笔录")
        for d in task["departments"]:
            with _on(ledger, check + timedelta(days=2)):
                r = svc.enter_result(op, task["task_id"], {
                    "department": d, "categories": categories if d == task["department"] else ["no_problem"],
                    "findings": findings if d == task["department"] else "未发现问题。",
                    "evaluation": evaluation, "handling_opinion": opinion,
                    "follow_up": {"kind": follow if d == task["department"] else "none"},
                    "check_date": check.isoformat()})
            with _on(ledger, check + timedelta(days=5)):
                svc.confirm(rev, r["id"])
            with _on(ledger, check + timedelta(days=12)):
                svc.publish(op, r["id"])
                published += 1
    lines.append(f"demo inspections: {published} results published in {len(OUTCOMES)} categories")
    # a penalty at the end of a follow-up, its publication, and the subject's answer
    if len(tasks) > 4:
        rid = f"{tasks[4]['task_id']}:{tasks[4]['department']}"
        with _on(ledger, base + timedelta(days=60)):
            svc.close_followup(op, rid, {"outcome": "penalty", "decision_date": (base + timedelta(days=60)).isoformat(),
                                         "decision_no": f"固市监处罚〔{year}〕17号"})
        with _on(ledger, base + timedelta(days=63)):
            svc.publish_penalty(op, rid)
        rid2 = f"{tasks[1]['task_id']}:{tasks[1]['department']}"
        with _on(ledger, base + timedelta(days=45)):
            svc.record_answer(op, rid2, {"answer": "对检查结果无异议，已完成整改。", "received_on":
                                         (base + timedelta(days=45)).isoformat(), "channel": "书面"})
        lines.append("demo inspections: a penalty decision and its publication, a subject's answer")
    # a result awaiting confirmation, a confirmed result whose publication is overdue, overdue tasks
    rest = tasks[len(OUTCOMES):]
    if rest:
        t = rest[0]
        check = today - timedelta(days=3)
        with _on(ledger, check):
            r = svc.enter_result(op, t["task_id"], {"department": t["department"], "categories": ["corrected"],
                                                    "findings": "现场发现从业人员健康证明过期。", "evaluation": "一般问题。",
                                                    "handling_opinion": "责令改正。", "follow_up": {"kind": "order_correct"},
                                                    "check_date": check.isoformat()})
        lines.append(f"demo inspections: result {r['id']} is awaiting confirmation (待审核)")
    if len(rest) > 1:
        t = rest[1]
        check = date(year, 9, 1)
        with _on(ledger, check):
            r = svc.enter_result(op, t["task_id"], {"department": t["department"], "categories": ["no_problem"],
                                                    "findings": "未发现问题。", "evaluation": "良好。",
                                                    "handling_opinion": "无。", "check_date": check.isoformat()})
        with _on(ledger, check + timedelta(days=3)):
            svc.confirm(rev, r["id"])
        lines.append(f"demo inspections: result {r['id']} confirmed on {check + timedelta(days=3)} but not published "
                     f"(publication overdue)")
    if len(rest) > 2:
        t = rest[2]
        check = today - timedelta(days=20)
        with _on(ledger, check):
            svc.record_check(op, t["task_id"], check.isoformat())
        lines.append(f"demo inspections: task {t['task_id']} checked on {check} with no report (report overdue)")
    subjects = [s for s in registry.list("subject") if s["status"] == "存续" and s["code"]
                not in {t["subject"] for t in tasks}]
    team = [i["id"] for i in registry.list("inspector") if i["department"] == "scjg" and i["status"] == "在岗"
            and i["cert_valid_from"] <= today.isoformat() <= i["cert_valid_to"]][:2]
    if subjects and len(team) == 2:
        with _on(ledger, today - timedelta(days=45)):
            nr = svc.create_not_random(op, {
                "department": "scjg", "trigger": "complaint", "reference": f"投诉举报登记〔{year}〕0931号",
                "subject": subjects[7 % len(subjects)]["code"], "items": ["SCJG-002"], "team": team,
                "window": {"start": (today - timedelta(days=45)).isoformat(),
                           "end": (today - timedelta(days=15)).isoformat()},
                "note": "消费者投诉食品标签问题"})
        lines.append(f"demo inspections: not-random task {nr['task_id']} (complaint) is overdue: window ended "
                     f"{nr['window']['end']} without a check")
    lines.append(f"demo account {REVIEWER} / password {PASSWORD} (confirms results)")
    return lines


def _demo_pdf(title: str) -> bytes:
    """A minimal valid one-page PDF standing in for a scanned on-site record."""
    text = f"Demo on-site record {title}".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\nBT /F1 14 Tf 72 760 Td (" % (len(text) + 31) + text + b") Tj ET\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)
