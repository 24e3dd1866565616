"""Demo inspections for `drawsvc init --demo`: tasks for the published demo draw, published
results in several categories (with an answer, a follow-up ending in a penalty and its
publication), a result awaiting confirmation, an overdue publication, an overdue report and an
overdue not-random task.

Time is an input: every step is dated relative to `today` (the day the demo is built) and the
steps run in time order on the demo's forward-only clock, so the log's entry times never run
backwards and "overdue" is counted in working days from the day the demo was made. Entries are
entered by the department operator and confirmed by a second person (a reviewer account).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from drawsvc.clock import ForwardClock, beijing
from drawsvc.registry.authz import Actor

from .service import InspectionService

REVIEWER = "rev-scjg"
PASSWORD = "demo-pass-2026"
TASKS_CREATED = 95  # days before the demo's today; the demo draw is published a few days earlier

# (categories, findings, evaluation, handling opinion, follow-up kind)
OUTCOMES: list[tuple[list[str], str, str, str, str]] = [
    (["no_problem"], "经现场检查，未发现违法违规问题。", "该企业守法经营情况良好。", "无需处理。", "none"),
    (["corrected"], "现场发现部分原料未按规定建立进货查验记录。", "存在一般性问题，当场整改。", "责令立即改正，已整改到位。",
     "order_correct"),
    (["pending_followup", "not_disclosed"], "企业未按期公示上一年度报告。", "信息公示义务履行不到位。",
     "依法列入经营异常名录，督促补报。", "case_transfer"),
    (["no_activity"], "检查时未发现该企业开展本次抽查涉及的经营活动。", "不涉及本次抽查事项。", "终止检查，转入日常监管。",
     "routine"),
    (["uncooperative"], "企业负责人拒绝提供有关材料，拒不配合检查。", "不配合检查，情节严重。",
     "依法列入经营异常名录，移送案件线索。", "case_transfer"),
    (["closed"], "现场核查该企业已停业。", "已关闭停业。", "终止检查。", "routine"),
]


class Script:
    """Steps with their moments, run in time order on a forward-only clock."""

    def __init__(self) -> None:
        self.steps: list[tuple[datetime, int, Callable[[], Any]]] = []

    def at(self, moment: datetime, step: Callable[[], Any]) -> None:
        self.steps.append((moment, len(self.steps), step))

    def run(self, clock: ForwardClock) -> None:
        for moment, _, step in sorted(self.steps, key=lambda s: (s[0], s[1])):
            clock.set(moment)
            step()


def _actor(registry: Any, account: str) -> Actor:
    return registry.actor_for(registry.get("account", account))


def seed_demo_inspections(ledger: Any, registry: Any, evidence_root: Path | None, draw_id: str,
                          clock: ForwardClock, today: date) -> list[str]:
    """Build the demo on a published draw, its history ending before `today`; returns lines to print."""
    svc = InspectionService(ledger, registry, evidence_root=evidence_root)
    admin = _actor(registry, "admin")
    op = _actor(registry, "op-scjg")
    base = today - timedelta(days=TASKS_CREATED)
    clock.set(beijing(base, 9))
    if registry.get("account", REVIEWER) is None:
        registry.create_account(admin, {"id": REVIEWER, "name": "审核人（科室负责人）", "role": "operator",
                                        "departments": ["scjg", "scjg-sp"]}, PASSWORD)
    rev = _actor(registry, REVIEWER)
    svc.set_settings(op, "scjg", {"rules": [{"title": "固阳县市场监管领域部门联合“双随机、一公开”监管工作实施细则",
                                             "number": "固政办发〔2019〕12号"}]})
    tasks = svc.create_tasks_for_draw(op, draw_id)
    lines = [f"demo inspections: {len(tasks)} tasks for draw {draw_id}"]
    script = Script()
    results: dict[tuple[str, str], str] = {}
    for n, (task, outcome) in enumerate(zip(tasks, OUTCOMES, strict=False)):
        _script_outcome(script, svc, op, rev, task, outcome, base + timedelta(days=14 + 7 * n), evidence_root, results)
    published = sum(len(t["departments"]) for t in tasks[:len(OUTCOMES)])
    lines.append(f"demo inspections: {published} results published in {len(OUTCOMES)} categories")
    if len(tasks) > 4:  # a penalty at the end of a follow-up, its publication, and the subject's answer
        rid = f"{tasks[4]['task_id']}:{tasks[4]['department']}"
        decided = base + timedelta(days=60)
        script.at(beijing(decided), lambda: svc.close_followup(op, rid, {
            "outcome": "penalty", "decision_date": decided.isoformat(),
            "decision_no": f"固市监处罚〔{decided.year}〕17号"}))
        script.at(beijing(base + timedelta(days=63)), lambda: svc.publish_penalty(op, rid))
        rid2 = f"{tasks[1]['task_id']}:{tasks[1]['department']}"
        answered = base + timedelta(days=45)
        script.at(beijing(answered), lambda: svc.record_answer(op, rid2, {
            "answer": "对检查结果无异议，已完成整改。", "received_on": answered.isoformat(), "channel": "书面"}))
        lines.append("demo inspections: a penalty decision and its publication, a subject's answer")
    lines += _script_open_work(script, svc, op, rev, registry, tasks[len(OUTCOMES):], {t["subject"] for t in tasks},
                               today)
    script.run(clock)
    lines.append(f"demo account {REVIEWER} / password {PASSWORD} (confirms results)")
    return lines


def _script_outcome(script: Script, svc: InspectionService, op: Actor, rev: Actor, task: dict[str, Any],
                    outcome: tuple[list[str], str, str, str, str], check: date, evidence_root: Path | None,
                    results: dict[tuple[str, str], str]) -> None:
    """A check, its evidence, each department's result, its confirmation and publication."""
    categories, findings, evaluation, opinion, follow = outcome
    tid = task["task_id"]

    def checked() -> None:
        svc.record_check(op, tid, check.isoformat())
        if evidence_root is not None:
            svc.add_evidence(op, tid, "检查笔录.pdf", _demo_pdf(tid), "application/pdf", "检查笔录")
    script.at(beijing(check, 9), checked)
    for d in task["departments"]:
        own = d == task["department"]

        def entered(d: str = d, own: bool = own) -> None:
            results[(tid, d)] = svc.enter_result(op, tid, {
                "department": d, "categories": categories if own else ["no_problem"],
                "findings": findings if own else "未发现问题。", "evaluation": evaluation,
                "handling_opinion": opinion, "follow_up": {"kind": follow if own else "none"},
                "check_date": check.isoformat()})["id"]
        script.at(beijing(check + timedelta(days=2)), entered)
        script.at(beijing(check + timedelta(days=5)), lambda d=d: svc.confirm(rev, results[(tid, d)]))
        script.at(beijing(check + timedelta(days=12)), lambda d=d: svc.publish(op, results[(tid, d)]))


def _script_open_work(script: Script, svc: InspectionService, op: Actor, rev: Actor, registry: Any,
                      rest: list[dict[str, Any]], drawn: set[str], today: date) -> list[str]:
    """Work still open on `today`: awaiting confirmation, overdue publication, overdue report,
    an overdue not-random task."""
    lines: list[str] = []
    if rest:
        t, check = rest[0], today - timedelta(days=3)
        script.at(beijing(check), lambda: svc.enter_result(op, t["task_id"], {
            "department": t["department"], "categories": ["corrected"], "findings": "现场发现从业人员健康证明过期。",
            "evaluation": "一般问题。", "handling_opinion": "责令改正。", "follow_up": {"kind": "order_correct"},
            "check_date": check.isoformat()}))
        lines.append(f"demo inspections: the result of task {t['task_id']} is awaiting confirmation (待审核)")
    if len(rest) > 1:
        t2, check2 = rest[1], today - timedelta(days=45)
        entered: dict[str, str] = {}
        script.at(beijing(check2), lambda: entered.update(id=svc.enter_result(op, t2["task_id"], {
            "department": t2["department"], "categories": ["no_problem"], "findings": "未发现问题。",
            "evaluation": "良好。", "handling_opinion": "无。", "check_date": check2.isoformat()})["id"]))
        script.at(beijing(check2 + timedelta(days=3)), lambda: svc.confirm(rev, entered["id"]))
        lines.append(f"demo inspections: the result of task {t2['task_id']} was confirmed on "
                     f"{check2 + timedelta(days=3)} but not published (publication overdue)")
    if len(rest) > 2:
        t3, check3 = rest[2], today - timedelta(days=20)
        script.at(beijing(check3), lambda: svc.record_check(op, t3["task_id"], check3.isoformat()))
        lines.append(f"demo inspections: task {t3['task_id']} checked on {check3} with no report (report overdue)")
    opened = today - timedelta(days=45)
    subjects = [s for s in registry.list("subject") if s["status"] == "存续" and s["code"] not in drawn]
    team = [i["id"] for i in registry.list("inspector") if i["department"] == "scjg" and i["status"] == "在岗"
            and i["cert_valid_from"] <= opened.isoformat() and today.isoformat() <= i["cert_valid_to"]][:2]
    if subjects and len(team) == 2:
        window = {"start": opened.isoformat(), "end": (today - timedelta(days=15)).isoformat()}
        script.at(beijing(opened), lambda: svc.create_not_random(op, {
            "department": "scjg", "trigger": "complaint", "reference": f"投诉举报登记〔{opened.year}〕0931号",
            "subject": subjects[7 % len(subjects)]["code"], "items": ["SCJG-002"], "team": team,
            "window": window, "note": "消费者投诉食品标签问题"}))
        lines.append(f"demo inspections: a not-random task (complaint) is overdue: its window ended "
                     f"{window['end']} without a check")
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
