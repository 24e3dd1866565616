"""Inspections and results (docs/SPEC.md Part III), re-checked from the log alone.

One pass over the entries in log order, folding accounts (R1), draws (their lifecycle, R7),
tasks (R3), results (R4: seal, state machine, who acted), categories (R5), settings and
loaded calendar years (R6). Then, per result, the deadlines. Every published result's
revealed content is checked against the commitment sealed when that version was entered.

What the log cannot show is said in the report (`not_checked` / `limits`): unpublished
content, whether the findings are true, whether a person was physically on the team, files
(only their hashes are on the log).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .canonical import jcs
from .findings import Check, Finding, Report
from .workdays import WorkCalendar

__all__ = ["BUILTIN_CATEGORIES", "FOLLOW_UP_KINDS", "ResultOptions", "check_categories", "china_day",
           "result_seal", "verify_results"]

SEAL_TAG = b"spotcheck-inspection/1\x00"
DEFAULT_SETTINGS = {"publish_days": 20, "report_days": 5, "penalty_days": 7, "answer_days": 10}

#: §R5, in table order: code, label, group, exclusive, parent, problem, credit, subject_status
_TABLE = [
    ("no_problem", "未发现问题", "result", True, None, False, None, None),
    ("corrected", "发现问题已责令改正", "result", False, None, True, "violation", None),
    ("no_activity", "未发现开展本次抽查涉及的经营活动", "result", False, None, False, None, None),
    ("closed", "已关闭停业或正在组织清算", "result", False, None, False, None, None),
    ("uncooperative", "不配合检查情节严重", "result", False, None, True, "abnormal", None),
    ("pending_followup", "发现问题待后续处理", "result", False, None, True, "violation", None),
    ("not_disclosed", "未按规定公示应当公示的信息", "sub_item", False, "pending_followup", True, "abnormal", None),
    ("false_disclosure", "公示信息隐瞒真实情况弄虚作假", "sub_item", False, "pending_followup", True, "abnormal", None),
    ("unreachable", "通过登记的住所（经营场所）无法联系", "sub_item", False, "pending_followup", True, "abnormal", None),
    ("other_dept_violation", "违反其他部门监管规定", "sub_item", False, "pending_followup", True, "violation", None),
    ("deregistered", "注销", "status", False, None, False, None, "注销"),
    ("licence_revoked", "被吊销", "status", False, None, False, None, "吊销"),
    ("registration_revoked", "被撤销", "status", False, None, False, None, "撤销"),
    ("moved_out", "迁出", "status", False, None, False, None, "迁出"),
]
BUILTIN_CATEGORIES: dict[str, dict[str, Any]] = {
    c: {"code": c, "label": lb, "group": g, "exclusive": ex, "parent": p, "problem": pr, "credit": cr,
        "subject_status": ss, "active": True}
    for c, lb, g, ex, p, pr, cr, ss in _TABLE}
FOLLOW_UP_KINDS = {"none": "无需后续处置", "routine": "终止检查，转入日常监管", "order_correct": "责令改正",
                   "case_transfer": "案件线索移送办案机构", "notify_dept": "通报其他部门", "other": "其他"}
CONTENT_FIELDS = frozenset({"result_id", "task_id", "department", "kind", "draw_id", "trigger", "subject",
                            "subject_name", "check_date", "items", "categories", "category_labels", "findings",
                            "evaluation", "handling_opinion", "follow_up", "version"})


def result_seal(content: Any, salt: bytes) -> str:
    """§R2: hex SHA-256("spotcheck-inspection/1" || 0x00 || salt || JCS(content))."""
    return hashlib.sha256(SEAL_TAG + salt + jcs(content)).hexdigest()


def china_day(t: str) -> date:
    """The calendar day in China (UTC+8) of an entry time (§1 format)."""
    return (datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(hours=8)).date()


def check_categories(codes: Any, table: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why a category selection breaks §R4/§R5 (None if it is valid, in table order)."""
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        return "categories must be a non-empty list of codes"
    unknown = [c for c in codes if c not in table or not table[c].get("active", True)]
    if unknown:
        return f"unknown or inactive categories {unknown}"
    if len(set(codes)) != len(codes):
        return "a category is given twice"
    for c in codes:
        if table[c].get("exclusive") and len(codes) > 1:
            return f"{c} ({table[c]['label']}) is exclusive but appears with {[x for x in codes if x != c]}"
        p = table[c].get("parent")
        if p and p not in codes:
            return f"sub-item {c} without its parent {p}"
    if not any(table[c]["group"] in ("result", "status") for c in codes):
        return "no result or status category"
    order = list(table)
    if codes != sorted(codes, key=order.index):
        return "categories are not in table order"
    return None


@dataclass
class ResultOptions:
    subject: str | None = None  # report only results about this credit code
    #: draw id -> the draw's current matching ({"assignments": [...]}) from a VERIFIED bundle,
    #: or a string saying why it is not available
    draw_matchings: Mapping[str, Any] = field(default_factory=dict)
    fetch_matching: Callable[[str], Any] | None = None


@dataclass
class _Result:
    rid: str
    task_id: str
    department: str
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)  # v -> {commitment, actor, seq, day}
    state: str = "none"
    confirmed: dict[int, int] = field(default_factory=dict)  # version -> seq
    report_day: date | None = None
    settings: dict[str, int] = field(default_factory=dict)
    published: list[dict[str, Any]] = field(default_factory=list)
    subject: str | None = None
    closed: dict[str, Any] | None = None
    penalty_published: dict[str, Any] | None = None


class _Fold:
    def __init__(self, report: Report, opts: ResultOptions) -> None:
        self.r = report
        self.o = opts
        c = report.check
        self.c_format = c("results_format", "inspection entries have the payload fields of §R3/§R4")
        self.c_seal = c("results_seal", "published content and task openings match their seals (§R2)")
        self.c_state = c("results_state", "state machine followed in log order, confirmer ≠ enterer (§R4)")
        self.c_actor = c("results_actors", "each step by an account allowed to take it, per the log (§R4)")
        self.c_cats = c("results_categories", "categories valid, 未发现问题 exclusive, follow-up when a problem (§R5)")
        self.c_task = c("results_task", "published content agrees with its task (§R7)")
        self.c_draw = c("tasks_draw", "random tasks come from a published draw's assignments (§R7)")
        self.c_dead = c("results_deadlines", "report and publication deadlines in working days (§R6)")
        self.accounts: dict[str, dict[str, Any]] = {}
        self.draw_published: dict[str, int] = {}
        self.draw_prepared: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.results: dict[str, _Result] = {}
        self.table: dict[str, dict[str, Any]] = {k: dict(v) for k, v in BUILTIN_CATEGORIES.items()}
        self.settings: dict[str, dict[str, Any]] = {}
        self.cal = WorkCalendar()
        self.last_day: date | None = None
        self.approximate: list[str] = []  # deadlines missed by a weekends-only count (not asserted)
        self.n_entries = 0

    # -- helpers -----------------------------------------------------------------------
    def _subject_ok(self, subject: str | None) -> bool:
        return self.o.subject is None or subject == self.o.subject

    def fail(self, check: Check, code: str, seq: int | None, msg: str, expected: Any = None, actual: Any = None,
             subject: str | None = None) -> None:
        if self.o.subject is not None and subject != self.o.subject:
            return
        check.fail(Finding(code, f"seq {seq}" if seq is not None else "results", msg,
                           None if expected is None else str(expected), None if actual is None else str(actual),
                           seq=seq))

    def _need(self, e: dict[str, Any], *names: str) -> bool:
        p = e["payload"]
        missing = [n for n in names if n not in p]
        if missing:
            self.fail(self.c_format, "RESULT_ENTRY_MALFORMED", e.get("seq"), f"{e['type']} lacks {missing}",
                      subject=self.o.subject)
            return False
        return True

    def _account(self, actor_id: str) -> dict[str, Any] | None:
        if actor_id == "system":
            return {"role": "system", "departments": [], "status": "active"}
        if actor_id.startswith("user:"):
            return self.accounts.get(actor_id[5:])
        return None

    def _allowed(self, e: dict[str, Any], department: str, team: list[str] | None, what: str, subject: str | None,
                 publish: bool = False) -> None:
        aid = e["actor"]["id"]
        acc = self._account(aid)
        why = None
        if acc is None:
            why = "no account of that id on the log"
        elif acc.get("status", "active") != "active":
            why = f"the account is {acc.get('status')}"
        elif acc.get("role") in ("system", "admin"):
            return
        elif acc.get("role") == "operator":
            if department in (acc.get("departments") or []):
                return
            why = f"operator of {acc.get('departments')}, not of {department}"
        elif acc.get("role") == "inspector" and not publish:
            if team is None:
                return  # the team of a not-random task is sealed until publication
            if acc.get("inspector") in team:
                return
            why = f"inspector {acc.get('inspector')} is not on the team {team}"
        else:
            why = f"role {acc.get('role')} may not {what}"
        self.fail(self.c_actor, "RESULT_ACTOR_NOT_ALLOWED", e["seq"], f"{what} by {aid}: {why}",
                  f"a team member or an operator of {department}", aid, subject)

    # -- the fold ------------------------------------------------------------------------
    def entry(self, e: dict[str, Any]) -> None:
        t = e.get("type")
        p = e.get("payload")
        if not isinstance(t, str) or not isinstance(p, dict) or not isinstance(e.get("actor"), dict):
            return
        self.n_entries += 1
        with contextlib.suppress(KeyError, TypeError, ValueError):
            self.last_day = china_day(e["time"])
        if t.startswith("registry.account."):  # added / changed / disabled: the new state
            st = p.get("state")
            if isinstance(st, dict) and isinstance(p.get("id"), str):
                self.accounts[p["id"]] = st
            return
        if t == "draw.prepared":
            if isinstance(p.get("draw_id"), str):
                self.draw_prepared[p["draw_id"]] = p
            return
        if t == "draw.published":
            if isinstance(p.get("draw_id"), str):
                self.draw_published.setdefault(p["draw_id"], e["seq"])
            return
        if not t.startswith("inspection."):
            return
        try:
            getattr(self, "_" + t[len("inspection."):].replace(".", "_"), self._other)(e)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.fail(self.c_format, "RESULT_ENTRY_MALFORMED", e.get("seq"), f"{t}: {exc.__class__.__name__}: {exc}",
                      subject=self.o.subject)

    def _other(self, e: dict[str, Any]) -> None:
        pass

    def _settings_changed(self, e: dict[str, Any]) -> None:
        if self._need(e, "department", "state"):
            self.settings[e["payload"]["department"]] = dict(e["payload"]["state"])

    def _category_added(self, e: dict[str, Any]) -> None:
        if self._need(e, "code", "state"):
            st = dict(e["payload"]["state"])
            st.setdefault("active", True)
            self.table[e["payload"]["code"]] = st

    def _calendar_loaded(self, e: dict[str, Any]) -> None:
        p = e["payload"]
        if self._need(e, "year", "holidays", "workdays", "sha256"):
            body = {k: p[k] for k in ("year", "source", "holidays", "workdays") if k in p}
            got = hashlib.sha256(jcs(body)).hexdigest()
            if got != p["sha256"]:
                self.fail(self.c_format, "RESULT_ENTRY_MALFORMED", e["seq"], "calendar sha256 is not SHA-256 of "
                          "JCS({year, source, holidays, workdays})", got, p["sha256"], self.o.subject)
            self.cal.load(p)

    def _task_created(self, e: dict[str, Any]) -> None:
        p = e["payload"]
        if not self._need(e, "task_id", "kind", "department", "departments", "items", "window"):
            return
        tid = p["task_id"]
        subject = p.get("subject") if p["kind"] == "random" else None
        if tid in self.tasks:
            self.fail(self.c_draw, "TASK_DRAW_MISMATCH", e["seq"], f"task {tid} created twice", subject=subject)
        task = {"payload": p, "seq": e["seq"], "subject": subject, "team": p.get("team"),
                "opening": None, "check_date": None}
        self.tasks[tid] = task
        self._allowed(e, p["department"], None if p["kind"] != "random" else [], "create a task", subject)
        if p["kind"] == "random":
            did = p.get("draw_id")
            if did not in self.draw_published or self.draw_published[did] > e["seq"]:
                self.fail(self.c_draw, "TASK_NOT_FROM_DRAW", e["seq"], f"random task {tid} names draw {did}, which "
                          "was not published before it", "a draw.published entry before the task", "none",
                          subject)
            dup = [x for x, tk in self.tasks.items() if x != tid and tk["payload"].get("draw_id") == did
                   and tk["subject"] == subject and tk["payload"]["kind"] == "random"]
            if dup:
                self.fail(self.c_draw, "TASK_DRAW_MISMATCH", e["seq"], f"second task for subject {subject} from "
                          f"draw {did} (first: {dup[0]})", subject=subject)
        elif p["kind"] == "not_random" and not isinstance(p.get("sealed"), str):
            self.fail(self.c_format, "RESULT_ENTRY_MALFORMED", e["seq"], "a not-random task has no sealed "
                      "commitment", subject=self.o.subject)

    def _task_checked(self, e: dict[str, Any]) -> None:
        p = e["payload"]
        if not self._need(e, "task_id", "check_date"):
            return
        task = self.tasks.get(p["task_id"])
        if task is None:
            self.fail(self.c_state, "RESULT_ORDER", e["seq"], f"check recorded for unknown task {p['task_id']}")
            return
        self._allowed(e, task["payload"]["department"], task["team"], "record a check", task["subject"])
        task["check_date"] = p["check_date"]

    def _evidence_added(self, e: dict[str, Any]) -> None:
        p = e["payload"]
        if not self._need(e, "task_id", "sha256", "n"):
            return
        task = self.tasks.get(p["task_id"])
        if task is None:
            self.fail(self.c_state, "RESULT_ORDER", e["seq"], f"evidence for unknown task {p['task_id']}")
            return
        self._allowed(e, task["payload"]["department"], task["team"], "add evidence", task["subject"])

    def _result_entered(self, e: dict[str, Any]) -> None:
        p = e["payload"]
        if not self._need(e, "result_id", "task_id", "department", "version", "commitment"):
            return
        rid, seq = p["result_id"], e["seq"]
        task = self.tasks.get(p["task_id"])
        subject = task["subject"] if task else None
        if task is None:
            self.fail(self.c_state, "RESULT_ORDER", seq, f"result {rid} entered for unknown task {p['task_id']}",
                      subject=subject)
        if rid != f"{p['task_id']}:{p['department']}":
            self.fail(self.c_task, "RESULT_TASK_MISMATCH", seq, "result_id is not <task_id>:<department>",
                      f"{p['task_id']}:{p['department']}", rid, subject)
        r = self.results.get(rid)
        if r is None:
            r = self.results[rid] = _Result(rid, p["task_id"], p["department"], subject=subject)
            r.report_day = china_day(e["time"])
            r.settings = {**DEFAULT_SETTINGS, **{k: v for k, v in self.settings.get(p["department"], {}).items()
                                                  if k in DEFAULT_SETTINGS}}
        want = max(r.versions, default=0) + 1
        if p["version"] != want or p.get("corrects") != (want - 1 if want > 1 else None):
            self.fail(self.c_state, "RESULT_ORDER", seq, f"{rid}: a new entry must be version {want} correcting "
                      f"{want - 1 if want > 1 else None}", f"version {want}",
                      f"version {p['version']} corrects {p.get('corrects')}", subject)
        if task is not None:
            self._allowed(e, p["department"], task["team"], f"enter result {rid}", subject)
            deps = task["payload"]["departments"]
            if p["department"] not in deps and p["department"] != task["payload"]["department"]:
                self.fail(self.c_task, "RESULT_TASK_MISMATCH", seq, f"department {p['department']} is not one of "
                          f"the task's", deps, p["department"], subject)
        r.versions[p["version"]] = {"commitment": str(p["commitment"]).lower(), "actor": e["actor"]["id"],
                                    "seq": seq}
        r.state = "pending"

    def _review(self, e: dict[str, Any], verb: str) -> None:
        p = e["payload"]
        if not self._need(e, "result_id", "version", "commitment"):
            return
        rid, seq = p["result_id"], e["seq"]
        r = self.results.get(rid)
        if r is None:
            self.fail(self.c_state, "RESULT_ORDER", seq, f"{rid} {verb} before it was ever entered",
                      "an entered result", "none")
            return
        latest = max(r.versions)
        if r.state != "pending" or p["version"] != latest:
            self.fail(self.c_state, "RESULT_ORDER", seq, f"{rid} {verb} while it is {r.state} (only a pending "
                      f"result's latest version can be {verb})", f"pending, version {latest}",
                      f"{r.state}, version {p['version']}", r.subject)
            return
        v = r.versions[latest]
        if str(p["commitment"]).lower() != v["commitment"]:
            self.fail(self.c_state, "RESULT_COMMITMENT_MISMATCH", seq, f"{rid} v{latest}: the {verb} entry names "
                      "another commitment than the one entered", v["commitment"], p["commitment"], r.subject)
        if e["actor"]["id"] == v["actor"]:
            self.fail(self.c_state, "RESULT_CONFIRMED_BY_ENTERER", seq, f"{rid} v{latest} {verb} by the account "
                      "that entered it (a second person must review)", f"an account other than {v['actor']}",
                      e["actor"]["id"], r.subject)
        task = self.tasks.get(r.task_id)
        self._allowed(e, r.department, task["team"] if task else None, f"review result {rid}", r.subject)
        if verb == "confirmed":
            r.state = "confirmed"
            r.confirmed[latest] = seq
        else:
            r.state = "returned"

    def _result_confirmed(self, e: dict[str, Any]) -> None:
        self._review(e, "confirmed")

    def _result_returned(self, e: dict[str, Any]) -> None:
        self._review(e, "returned")

    def _result_published(self, e: dict[str, Any]) -> None:
        p = e["payload"]
        if not self._need(e, "result_id", "version", "content", "salt", "published_date"):
            return
        rid, seq = p["result_id"], e["seq"]
        content = p["content"]
        subject = content.get("subject") if isinstance(content, dict) else None
        r = self.results.get(rid)
        if r is None:
            self.fail(self.c_state, "RESULT_PUBLISHED_UNCONFIRMED", seq, f"{rid} published but never entered",
                      subject=subject)
            return
        r.subject = r.subject or subject
        task = self.tasks.get(r.task_id)
        self._allowed(e, r.department, None, f"publish result {rid}", r.subject, publish=True)
        v = r.versions.get(p["version"])
        # 1. the seal
        if v is None:
            self.fail(self.c_seal, "RESULT_SEAL_MISMATCH", seq, f"{rid}: version {p['version']} was never entered",
                      subject=r.subject)
        else:
            got = _open(content, p["salt"])
            if got != v["commitment"]:
                self.fail(self.c_seal, "RESULT_SEAL_MISMATCH", seq, f"{rid} v{p['version']}: the revealed content "
                          f"with its salt does not match the commitment entered at seq {v['seq']}",
                          v["commitment"], got, r.subject)
        # 2. state machine
        if p["version"] not in r.confirmed or (v is not None and r.confirmed[p["version"]] < v["seq"]):
            self.fail(self.c_state, "RESULT_PUBLISHED_UNCONFIRMED", seq, f"{rid} v{p['version']} published without "
                      "a confirmation of that version", "an inspection.result.confirmed entry before", "none",
                      r.subject)
        elif r.state != "confirmed" or p["version"] != max(r.versions):
            self.fail(self.c_state, "RESULT_ORDER", seq, f"{rid} published while {r.state} (version "
                      f"{p['version']} of {max(r.versions)})", "confirmed, latest version", r.state, r.subject)
        # 3. the date
        day = china_day(e["time"])
        if p["published_date"] != day.isoformat():
            self.fail(self.c_dead, "RESULT_DATE_MISMATCH", seq, f"{rid}: published_date is not the entry's China day",
                      day.isoformat(), p["published_date"], r.subject)
        # 4. task opening (not-random)
        if task is not None and task["payload"]["kind"] == "not_random":
            op = p.get("task_opening")
            if not isinstance(op, dict) or not isinstance(op.get("content"), dict):
                self.fail(self.c_seal, "TASK_SEAL_MISMATCH", seq, f"{rid}: a not-random task's result is published "
                          "without opening the task's seal", "task_opening", None, r.subject)
            else:
                got = _open(op["content"], op.get("salt"))
                if got != str(task["payload"].get("sealed", "")).lower() or op.get("task_id") != r.task_id:
                    self.fail(self.c_seal, "TASK_SEAL_MISMATCH", seq, f"task {r.task_id}: the opening does not match "
                              f"the seal of seq {task['seq']}", task["payload"].get("sealed"), got, r.subject)
                else:
                    task["opening"] = op["content"]
                    task["subject"] = op["content"].get("subject")
                    task["team"] = op["content"].get("team")
        # 5. content: categories and agreement with the task
        if isinstance(content, dict):
            self._content(seq, r, content, p["version"], task)
        first = not r.published
        r.published.append({"version": p["version"], "date": p["published_date"], "seq": seq, "content": content})
        r.state = "published"
        if first:
            self._publication_deadline(seq, r, content, day)

    def _content(self, seq: int, r: _Result, c: dict[str, Any], version: Any, task: dict[str, Any] | None) -> None:
        subj = r.subject
        if set(c) != CONTENT_FIELDS:
            self.fail(self.c_task, "RESULT_TASK_MISMATCH", seq, f"{r.rid}: content members differ from §R4",
                      sorted(CONTENT_FIELDS), sorted(c), subj)
        why = check_categories(c.get("categories"), self.table)
        if why is None:
            labels = [self.table[x]["label"] for x in c["categories"]]
            if c.get("category_labels") != labels:
                why = "category_labels are not the labels of the categories"
            fu = c.get("follow_up")
            if not isinstance(fu, dict) or fu.get("kind") not in FOLLOW_UP_KINDS:
                why = f"follow_up.kind {fu.get('kind') if isinstance(fu, dict) else fu!r} is not a §R4 kind"
            elif fu.get("label") != FOLLOW_UP_KINDS[fu["kind"]]:
                why = "follow_up.label is not the label of its kind"
            elif fu["kind"] == "none" and any(self.table[x].get("problem") for x in c["categories"]):
                why = "a problem was found but the follow-up is none"
        if why is not None:
            self.fail(self.c_cats, "RESULT_CATEGORY_INVALID", seq, f"{r.rid}: {why}", None, c.get("categories"), subj)
        want: dict[str, Any] = {"result_id": r.rid, "task_id": r.task_id, "department": r.department,
                                "version": version}
        if task is not None:
            tp = task["payload"]
            want.update(kind=tp["kind"], draw_id=tp.get("draw_id"),
                        trigger=tp.get("trigger") if tp["kind"] == "not_random" else None)
            if task["subject"] is not None:
                want["subject"] = task["subject"]
            codes = [i.get("code") for i in tp["items"] if isinstance(i, dict)]
            if not isinstance(c.get("items"), list) or any(i not in codes for i in c["items"]):
                self.fail(self.c_task, "RESULT_TASK_MISMATCH", seq, f"{r.rid}: items not among the task's",
                          codes, c.get("items"), subj)
        for k, v in want.items():
            if c.get(k) != v:
                self.fail(self.c_task, "RESULT_TASK_MISMATCH", seq, f"{r.rid}: content.{k} disagrees with the "
                          "task / entry", v, c.get(k), subj)

    def _publication_deadline(self, seq: int, r: _Result, c: dict[str, Any], day: date) -> None:
        if r.report_day is None:
            return
        due = self.cal.add(r.report_day, int(r.settings["publish_days"]))
        if day > due:
            self._late("RESULT_PUBLISHED_LATE", seq, due, f"{r.rid}: published {day} after the deadline "
                       f"{due} ({r.settings['publish_days']} working days after the report of {r.report_day}), "
                       f"{self.cal.between(due, day)} working days late", f"on or before {due}",
                       day.isoformat(), r.subject)
        try:
            check = date.fromisoformat(str(c.get("check_date")))
        except ValueError:
            return
        rdue = self.cal.add(check, int(r.settings["report_days"]))
        if r.report_day > rdue:
            self._late("RESULT_REPORT_LATE", r.versions[min(r.versions)]["seq"], rdue, f"{r.rid}: first "
                       f"entered {r.report_day}, more than {r.settings['report_days']} working days after the check "
                       f"of {check}", f"on or before {rdue}", r.report_day.isoformat(), r.subject)

    def _after(self, e: dict[str, Any], what: str) -> _Result | None:
        p = e["payload"]
        if not self._need(e, "result_id"):
            return None
        r = self.results.get(p["result_id"])
        if r is None or not r.published:
            self.fail(self.c_state, "RESULT_ORDER", e["seq"], f"{p['result_id']}: {what} before the result was "
                      "published", "a published result", r.state if r else "none", r.subject if r else None)
            return None
        self._allowed(e, r.department, None, what, r.subject, publish=True)
        return r

    def _result_answered(self, e: dict[str, Any]) -> None:
        self._after(e, "answer recorded")

    def _followup_recorded(self, e: dict[str, Any]) -> None:
        self._after(e, "follow-up recorded")

    def _followup_closed(self, e: dict[str, Any]) -> None:
        r = self._after(e, "follow-up closed")
        if r is None:
            return
        if r.closed is not None:
            self.fail(self.c_state, "RESULT_ORDER", e["seq"], f"{r.rid}: follow-up closed twice", subject=r.subject)
        r.closed = e["payload"]

    def _penalty_published(self, e: dict[str, Any]) -> None:
        r = self._after(e, "penalty published")
        if r is None:
            return
        if r.closed is None or r.closed.get("outcome") != "penalty" or r.penalty_published is not None:
            self.fail(self.c_state, "RESULT_ORDER", e["seq"], f"{r.rid}: penalty published without a penalty "
                      "decision, or twice", subject=r.subject)
            return
        r.penalty_published = e["payload"]
        try:
            decided = date.fromisoformat(r.closed["decision_date"])
            pub = date.fromisoformat(e["payload"]["published_date"])
        except (KeyError, TypeError, ValueError):
            return
        due = self.cal.add(decided, int(r.settings.get("penalty_days", 7)))
        if pub > due:
            self._late("PENALTY_PUBLISHED_LATE", e["seq"], due, f"{r.rid}: penalty information published "
                       f"{pub}, {self.cal.between(due, pub)} working days after its deadline",
                       f"on or before {due}", pub.isoformat(), r.subject)

    def _late(self, code: str, seq: int, due: date, msg: str, expected: str, actual: str, subject: Any) -> None:
        """A missed deadline is a finding only where the holidays of its year are known.

        In a year whose State Council notice is neither on the log nor known to this verifier,
        working days are counted with weekends only; a holiday or make-up working day could move
        the deadline either way, so lateness there is reported as approximate, not asserted."""
        if self.cal.approximate(due):
            self.approximate.append(f"{msg} (approximate: holidays of {due.year} unknown)")
            return
        self.fail(self.c_dead, code, seq, msg, expected, actual, subject)

    # -- after the pass ------------------------------------------------------------------
    def finish(self) -> None:
        pubs = [r for r in self.results.values() if r.published and self._subject_ok(r.subject)]
        self.r.info["results"] = len([r for r in self.results.values() if self._subject_ok(r.subject)])
        self.r.info["published_results"] = len(pubs)
        self.r.info["tasks"] = len(self.tasks)
        self.c_seal.detail = f"{len(pubs)} published results opened"
        overdue = []
        if self.last_day is not None:
            for r in self.results.values():
                if r.published or r.report_day is None or not self._subject_ok(r.subject):
                    continue
                due = self.cal.add(r.report_day, int(r.settings["publish_days"]))
                if self.last_day > due:
                    approx = ", approximate: holidays unknown" if self.cal.approximate(due, self.last_day) else ""
                    overdue.append(f"{r.rid} ({r.state}; due {due}, {self.cal.between(due, self.last_day)} working "
                                   f"days overdue as of {self.last_day}{approx})")
        self.r.info["overdue_unpublished"] = overdue
        self.r.info["approximate_deadlines"] = self.approximate
        notes = []
        if overdue:
            notes.append(f"{len(overdue)} unpublished result(s) past their publication deadline (listed in info; "
                         "not an integrity failure)")
        if self.approximate:
            notes.append(f"{len(self.approximate)} deadline(s) missed by a weekends-only count in a year whose "
                         "holidays are not known: approximate, not asserted (listed in info)")
        self.c_dead.detail = "; ".join(notes) or None
        self.r.info["limits"] = (
            "not checkable from the log: what unpublished results say (sealed), whether findings are true, "
            "whether an account's person was on site, the files behind evidence hashes, the reason of a return "
            "(hashed only), and a team member's department relation (parent/child units)")
        self._draw_cross_check()

    def _draw_cross_check(self) -> None:
        c = self.c_draw
        random = [(tid, t) for tid, t in self.tasks.items() if t["payload"]["kind"] == "random"
                  and self._subject_ok(t["subject"])]
        if not random:
            c.detail = "no random tasks"
            return
        unchecked: dict[str, str] = {}
        checked = 0
        for did in sorted({t["payload"].get("draw_id") for _, t in random}, key=str):
            m = self.o.draw_matchings.get(did)
            if m is None and self.o.fetch_matching is not None:
                m = self.o.fetch_matching(did)
            if not isinstance(m, dict):
                unchecked[str(did)] = m if isinstance(m, str) else "no evidence bundle of the draw given"
                continue
            assign = {a.get("subject"): a for a in m.get("assignments", []) if isinstance(a, dict)}
            for tid, t in random:
                p = t["payload"]
                if p.get("draw_id") != did:
                    continue
                checked += 1
                a = assign.get(p.get("subject"))
                if a is None:
                    self.fail(c, "TASK_DRAW_MISMATCH", t["seq"], f"task {tid}: subject {p.get('subject')} is not "
                              f"drawn in {did}'s matching", "a drawn subject", p.get("subject"), t["subject"])
                    continue
                for k in ("team", "experts"):
                    if list(p.get(k) or []) != list(a.get(k) or []):
                        self.fail(c, "TASK_DRAW_MISMATCH", t["seq"], f"task {tid}: {k} differs from the draw's "
                                  "assignment", a.get(k), p.get(k), t["subject"])
        parts = [f"{checked} random task(s) matched against their draw's verified matching"]
        if unchecked:
            parts.append("not checked against the matching: " + "; ".join(f"{k}: {v}" for k, v in unchecked.items()))
            if checked == 0 and c.status != "failed":
                c.skip("; ".join(f"{k}: {v}" for k, v in unchecked.items()) +
                       " (only 'published before the task' was checked)")
                return
        c.detail = "; ".join(parts)


def _open(content: Any, salt_hex: Any) -> str | None:
    try:
        salt = bytes.fromhex(salt_hex) if isinstance(salt_hex, str) else b""
        if len(salt) != 32:
            return None
        return result_seal(content, salt)
    except ValueError:
        return None


def _parse(item: Any) -> Any:
    if isinstance(item, bytes | bytearray):
        try:
            return json.loads(item)
        except ValueError:
            return None
    return item


def verify_results(entries: Iterable[Any], options: ResultOptions | None = None, *,
                   report: Report | None = None, subject: str = "inspection results") -> Report:
    """Check every inspection step on a log (parsed entries or raw leaves, in log order)."""
    opts = options or ResultOptions()
    rep = report or Report(subject)
    f = _Fold(rep, opts)
    for item in entries:
        e = _parse(item)
        if isinstance(e, dict) and isinstance(e.get("seq"), int):
            f.entry(e)
    f.finish()
    return rep
