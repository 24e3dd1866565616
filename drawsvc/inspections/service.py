"""Inspection tasks, evidence and results: every step one signed log entry, in the same
database transaction as its rows (nothing half-written on error).

    svc = InspectionService(ledger, registry, evidence_root=instance.evidence_dir)
    svc.create_tasks_for_draw(op, draw_id)                       # one task per drawn subject
    svc.create_not_random(op, {...})                             # complaint / referral / assignment
    svc.enter_result(inspector, task_id, {...})                  # 待审核
    svc.confirm(op, result_id)                                   # 已确认, by a different person
    svc.publish(op, result_id)                                   # 已公示: content revealed on the log

Confidentiality (002 八, rule 7): the log is public, so before publication it carries a
result only as a salted commitment (`commitment` = SHA-256 over a domain tag, the salt and
the canonical content). `inspection.result.published` reveals content and salt; anyone can
check them against the commitment entered (and confirmed) earlier. A not-random task's
subject, reference and team are committed the same way and revealed with its first
published result. Random tasks are created only from published draws, whose matching is
already public.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from drawsvc.clock import china_date
from drawsvc.draws import schema as draws_schema
from drawsvc.draws.service import parse_secret
from drawsvc.i18n import N_, NC_, tr, trc
from drawsvc.raises import raises
from drawsvc.registry import schema as reg
from drawsvc.registry.authz import Actor, Forbidden
from drawsvc.registry.state import get_record
from ledger.canonical import canonical_bytes
from ledger.keys import ActorSigner
from ledger.store import Ledger
from ledger.witnessing import witness_now

from . import categories as cats
from . import credit, deadlines, evidence, schema, workdays
from .errors import InvalidInput, NotFound, StateError, TooLarge, UnknownReference

DRAW_STATE_WORDS = {"prepared": N_("已承诺"), "seeded": N_("种子已固定"), "drawn": N_("已抽取（保密）"), "aborted": N_("已中止")}
TRIGGERS = {"complaint": N_("投诉举报"), "referral": N_("其他部门移送线索"), "assignment": N_("上级部门交办"), "other": N_("其他")}
STATUS_LABELS = {None: NC_("status", "未录入"), "pending": NC_("status", "待审核"), "returned": NC_("status", "退回"), "confirmed": NC_("status", "已确认"), "published": NC_("status", "已公示")}
DEFAULT_SETTINGS = {"publish_days": 20, "report_days": 5, "penalty_days": 7, "answer_days": 10, "rules": []}
MAX_TEXT = 4000
COMMIT_TAG = b"spotcheck-inspection/1\x00"


def commitment(content: Mapping[str, Any], salt: bytes) -> str:
    """Salted commitment to confidential content (hex SHA-256)."""
    import hashlib

    return hashlib.sha256(COMMIT_TAG + salt + canonical_bytes(dict(content))).hexdigest()


def _text(data: Mapping[str, Any], name: str, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(tr("%(name)s 必填", name=name))
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(tr("%(name)s 应为不超过 %(limit)s 字的文本", name=name, limit=limit))
    return value.strip()


DAY_YEARS = (2000, 2100)  # the service's years (web/limits.py): deadline arithmetic stays in range


def _day(value: Any, name: str) -> date:
    try:
        day = date.fromisoformat(str(value)[:40])
    except ValueError:
        raise InvalidInput(tr("%(name)s 应为 YYYY-MM-DD 日期", name=name)) from None
    if not DAY_YEARS[0] <= day.year <= DAY_YEARS[1]:
        raise InvalidInput(tr("%(name)s 应在 %(value)s–%(value2)s 年之间", name=name, value=DAY_YEARS[0], value2=DAY_YEARS[1]))
    return day


def _dump(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True)


class InspectionService:
    def __init__(self, ledger: Ledger, registry: Any, evidence_root: Path | None = None,
                 max_upload: int = evidence.MAX_BYTES) -> None:
        self.ledger = ledger
        self.registry = registry
        self.evidence_root = evidence_root
        self.max_upload = max_upload

    # --- helpers ---------------------------------------------------------------------------

    def today(self) -> date:
        return china_date(self.ledger.clock())

    def _signer(self, actor: Actor) -> ActorSigner:
        return actor.signer if actor.signer is not None else self.registry.signer_for(actor.id)

    @staticmethod
    def may_operate(actor: Actor, department: str) -> None:
        if actor.role in ("system", "admin"):
            return
        if actor.role == "operator" and department in actor.departments:
            return
        raise Forbidden(tr("只有 %(department)s 的操作员可以办理", department=department))

    def _related(self, conn: Connection, a: str, b: str) -> bool:
        if a == b:
            return True
        pa = conn.execute(select(reg.departments.c.parent).where(reg.departments.c.code == a)).scalar()
        pb = conn.execute(select(reg.departments.c.parent).where(reg.departments.c.code == b)).scalar()
        return pa == b or pb == a

    def _may_act_on_task(self, conn: Connection, actor: Actor, doc: Mapping[str, Any], department: str) -> None:
        """Team members (inspectors on the team, of the department or a parent/child unit) and the
        department's operators act on a task."""
        if actor.role == "inspector" and actor.inspector in doc["team"]:
            insp = get_record(conn, "inspector", actor.inspector)
            if insp is not None and self._related(conn, insp["department"], department):
                return
            raise Forbidden(tr("检查组成员只能录入本部门（%(department)s）的结果", department=department))
        if actor.role == "inspector":
            raise Forbidden(tr("不是本检查组成员"))
        self.may_operate(actor, department)

    def _task(self, conn: Connection, task_id: str) -> tuple[Any, dict[str, Any]]:
        row = conn.execute(select(schema.tasks).where(schema.tasks.c.id == task_id)).one_or_none()
        if row is None:
            raise NotFound(tr("检查任务 %(task_id)s 不存在", task_id=task_id))
        return row, json.loads(row.doc)

    def _result(self, conn: Connection, result_id: str) -> Any:
        row = conn.execute(select(schema.results).where(schema.results.c.id == result_id)).one_or_none()
        if row is None:
            raise NotFound(tr("检查结果 %(result_id)s 不存在", result_id=result_id))
        return row

    def settings(self, conn: Connection, department: str) -> dict[str, Any]:
        doc = conn.execute(select(schema.settings.c.doc).where(schema.settings.c.department == department)).scalar()
        return {**DEFAULT_SETTINGS, **(json.loads(doc) if doc else {})}

    def calendar(self, conn: Connection | None = None) -> workdays.WorkCalendar:
        def load(c: Connection) -> workdays.WorkCalendar:
            docs = [json.loads(d) for d in c.execute(select(schema.calendar_years.c.doc)).scalars()]
            return workdays.WorkCalendar(workdays.loaded_from_docs(docs))
        if conn is not None:
            return load(conn)
        with self.ledger.engine.connect() as c:
            return load(c)

    def _inspector_view(self, conn: Connection, ids: list[str]) -> list[dict[str, Any]]:
        out = []
        for i in ids:
            rec = get_record(conn, "inspector", i) or {"id": i, "name": "?", "cert_no": "?"}
            out.append({"id": rec["id"], "name": rec["name"], "cert_no": rec.get("cert_no")})
        return out

    def _notice(self, conn: Connection, task_id: str, department: str, subject: dict[str, Any], items: list[dict],
                team: list[str], window: dict[str, str], issued: date) -> dict[str, Any]:
        """行政检查通知书 data: who checks whom, on what basis, when."""
        year = issued.year
        n = conn.execute(select(func.count()).select_from(schema.tasks).where(
            schema.tasks.c.department == department, schema.tasks.c.year == year)).scalar_one() + 1
        dept = get_record(conn, "department", department) or {"name": department}
        return {"number": f"{dept['name']}检通〔{year}〕{n}号", "issued": issued.isoformat(), "task_id": task_id,
                "authority": dept["name"], "subject": subject["code"], "subject_name": subject["name"],
                "address": subject.get("address"),
                "items": [{"code": i["code"], "name": i["name"], "legal_basis": i["legal_basis"]} for i in items],
                "inspectors": self._inspector_view(conn, team), "window": window,
                "text": f"根据{'、'.join(dict.fromkeys(i['legal_basis'] for i in items))}，本机关定于"
                        f"{window['start']}至{window['end']}期间对你单位进行检查，请予配合。"}

    # --- tasks -----------------------------------------------------------------------------

    @raises(Forbidden, NotFound, StateError)
    def create_tasks_for_draw(self, actor: Actor, draw_id: str) -> list[dict[str, Any]]:
        """One task per drawn subject of a published draw (idempotent: only missing ones)."""
        created = []
        with self.ledger.transaction() as tx:
            conn = tx.conn
            row = conn.execute(select(draws_schema.draws).where(draws_schema.draws.c.id == draw_id)).one_or_none()
            if row is None:
                raise NotFound(tr("抽签 %(draw_id)s 不存在", draw_id=draw_id))
            self.may_operate(actor, row.department)
            if row.status != "published":
                raise StateError(tr("抽签 %(draw_id)s 尚未公示（%(status)s）；检查任务在公示后生成", draw_id=draw_id, status=tr(DRAW_STATE_WORDS.get(row.status, row.status))))
            doc, secret = json.loads(row.doc), parse_secret(row.secret)
            have = set(conn.execute(select(schema.tasks.c.subject).where(schema.tasks.c.draw_id == draw_id)).scalars())
            plan = get_record(conn, "plan", row.plan) or {}
            items = [get_record(conn, "item", i["code"]) for i in doc["items"]]
            item_view = [{"code": i["code"], "version": i["version"], "name": i["name"], "department": i["department"],
                          "legal_basis": i["legal_basis"]} for i in items if i is not None]
            departments = sorted({i["department"] for i in item_view}) or [row.department]
            window = {"start": max(plan.get("window_start", doc["draw_date"]), doc["draw_date"]),
                      "end": plan.get("window_end", f"{row.year}-12-31")}
            today = self.today()
            signer = self._signer(actor)
            for n, a in enumerate(secret["matching"]["assignments"], start=1):
                if a["subject"] in have:
                    continue
                subject = get_record(conn, "subject", a["subject"]) or {"code": a["subject"], "name": a["subject"]}
                task_id = f"{draw_id}-{n:03d}"
                team = list(a["team"])
                notice = self._notice(conn, task_id, row.department, subject, item_view, team, window, today)
                payload = {"task_id": task_id, "kind": "random", "draw_id": draw_id, "department": row.department,
                           "departments": departments, "year": row.year, "subject": subject["code"],
                           "subject_name": subject["name"], "team": team, "experts": list(a.get("experts", [])),
                           "items": item_view, "window": window, "notice": notice}
                entry = tx.append("inspection.task.created", payload, signer)
                conn.execute(insert(schema.tasks).values(
                    id=task_id, department=row.department, draw_id=draw_id, subject=subject["code"], kind="random",
                    year=row.year, status="open", window_start=window["start"], window_end=window["end"],
                    created_seq=entry.seq, created_date=today.isoformat(), doc=_dump(payload)))
                created.append(payload)
        return created

    @raises(Forbidden, InvalidInput, StateError, UnknownReference)
    def create_not_random(self, actor: Actor, data: Mapping[str, Any]) -> dict[str, Any]:
        """A check not drawn at random (003 第九条): recorded, and counted against the frequency cap."""
        department = _text(data, "department", limit=64)
        self.may_operate(actor, department)
        trigger = data.get("trigger")
        if not isinstance(trigger, str) or trigger not in TRIGGERS:
            raise InvalidInput(tr("trigger 应为 %(choices)s 之一", choices=", ".join(TRIGGERS)))
        reference = _text(data, "reference", limit=200)
        window = data.get("window")
        if not isinstance(window, dict):
            raise InvalidInput(tr("window 应为 {start, end}"))
        start, end = _day(window.get("start"), "window.start"), _day(window.get("end"), "window.end")
        team = data.get("team")
        if not isinstance(team, list) or not all(isinstance(i, str) for i in team) or len(set(team)) < 2 or len(set(team)) != len(team):
            raise InvalidInput(tr("检查组至少2名不同的执法人员"))
        codes = data.get("items")
        if not isinstance(codes, list) or not codes:
            raise InvalidInput(tr("items 应为事项编码列表"))
        today = self.today()
        with self.ledger.transaction() as tx:
            conn = tx.conn
            subject = get_record(conn, "subject", str(data.get("subject", "")))
            if subject is None:
                raise UnknownReference(tr("检查对象 %(value)s 不在名录库", value=data.get('subject')))
            items = []
            for c in codes:
                it = get_record(conn, "item", str(c))
                if it is None or it["status"] != "active":
                    raise UnknownReference(tr("抽查事项 %(c)s 不存在或已撤销", c=c))
                items.append({"code": it["code"], "version": it["version"], "name": it["name"],
                              "department": it["department"], "legal_basis": it["legal_basis"]})
            departments = sorted({i["department"] for i in items})
            if not any(self._related(conn, d, department) for d in departments):
                raise StateError(tr("至少一个事项属于发起部门"))
            for i in team:  # the registry's current state decides these: conflicts (409), not bad input
                insp = get_record(conn, "inspector", str(i))
                if insp is None or insp["status"] != "在岗" or not (
                        insp["cert_valid_from"] <= today.isoformat() <= insp["cert_valid_to"]):
                    raise UnknownReference(tr("执法人员 %(i)s 不存在、不在岗或执法证无效", i=i))
                cid = conn.execute(select(reg.conflicts.c.id).where(reg.conflicts.c.inspector == i,
                                                                     reg.conflicts.c.subject == subject["code"])).first()
                if cid is not None:
                    raise StateError(tr("执法人员 %(i)s 与检查对象有利害关系，应当回避", i=i))
            if end < start:
                raise InvalidInput(tr("检查时限结束早于开始"))
            year = start.year
            n = conn.execute(select(func.count()).select_from(schema.tasks).where(
                schema.tasks.c.kind == "not_random", schema.tasks.c.year == year)).scalar_one() + 1
            task_id = f"NR{year}-{n:05d}"
            window = {"start": start.isoformat(), "end": end.isoformat()}
            notice = self._notice(conn, task_id, department, subject, items, list(team), window, today)
            sealed = {"subject": subject["code"], "subject_name": subject["name"], "reference": reference,
                      "team": list(team), "notice": notice, "note": _text(data, "note", required=False)}
            salt = secrets.token_bytes(32)
            payload = {"task_id": task_id, "kind": "not_random", "trigger": trigger, "department": department,
                       "departments": departments, "year": year, "items": items, "window": window,
                       "sealed": commitment(sealed, salt)}
            entry = tx.append("inspection.task.created", payload, self._signer(actor))
            doc = {**payload, **sealed, "experts": []}
            conn.execute(insert(schema.tasks).values(
                id=task_id, department=department, draw_id=None, subject=subject["code"], kind="not_random", year=year,
                status="open", window_start=window["start"], window_end=window["end"], created_seq=entry.seq,
                created_date=today.isoformat(), doc=_dump(doc), salt=salt.hex()))
            conn.execute(insert(draws_schema.checks).values(
                subject=subject["code"], year=year, department=department, source=f"not_random:{task_id}",
                kind="not_random", seq=entry.seq))
        return doc

    @raises(Forbidden, InvalidInput, NotFound, StateError)
    def record_check(self, actor: Actor, task_id: str, check_date: str) -> dict[str, Any]:
        """The on-site check took place (starts the 5-working-day report deadline, 003 第十八条)."""
        day = _day(check_date, "check_date")
        with self.ledger.transaction() as tx:
            row, doc = self._task(tx.conn, task_id)
            self._may_act_on_task(tx.conn, actor, doc, row.department)
            if day > self.today():
                raise StateError(tr("检查日期不能晚于今天"))
            tx.append("inspection.task.checked", {"task_id": task_id, "check_date": day.isoformat()},
                      self._signer(actor))
            tx.conn.execute(update(schema.tasks).where(schema.tasks.c.id == task_id).values(
                status="checked", check_date=day.isoformat()))
        return self.task(task_id)

    @raises(NotFound)
    def task(self, task_id: str) -> dict[str, Any]:
        with self.ledger.engine.connect() as conn:
            row, doc = self._task(conn, task_id)
            res = [self._result_view(r) for r in conn.execute(select(schema.results).where(
                schema.results.c.task_id == task_id).order_by(schema.results.c.department))]
            ev = [self._evidence_view(r) for r in conn.execute(select(schema.evidence).where(
                schema.evidence.c.task_id == task_id).order_by(schema.evidence.c.n))]
        done = {r["department"] for r in res}
        return {**doc, "id": task_id, "status": row.status, "check_date": row.check_date,
                "created_date": row.created_date, "results": res, "evidence": ev,
                "results_missing": [d for d in doc["departments"] if d not in done]}

    def list_tasks(self, actor: Actor, status: str | None = None, draw_id: str | None = None,
                   limit: int = 500, offset: int = 0) -> list[dict[str, Any]]:
        """Tasks the actor may see, oldest first, `limit` of them after skipping `offset`. An
        inspector's tasks are those whose team holds them (inside the JSON document), so for them
        the page is counted after that filter, stopping as soon as it is full."""
        t = schema.tasks
        stmt = select(t).order_by(t.c.created_seq)
        if status:
            stmt = stmt.where(t.c.status == status)
        if draw_id:
            stmt = stmt.where(t.c.draw_id == draw_id)
        if actor.role == "operator":
            stmt = stmt.where(t.c.department.in_(list(actor.departments)))
        inspector = actor.role == "inspector"
        if not inspector:
            stmt = stmt.limit(limit).offset(offset)
        out: list[dict[str, Any]] = []
        skipped = 0
        with self.ledger.engine.connect() as conn:
            for r in conn.execute(stmt):
                if len(out) >= limit:
                    break
                doc = json.loads(r.doc)
                if inspector and actor.inspector not in doc["team"]:
                    continue
                if inspector and skipped < offset:
                    skipped += 1
                    continue
                out.append({"id": r.id, "kind": r.kind, "department": r.department, "draw_id": r.draw_id,
                            "subject": r.subject, "subject_name": doc.get("subject_name"), "status": r.status,
                            "check_date": r.check_date, "window": doc["window"], "team": doc["team"],
                            "departments": doc["departments"], "trigger": doc.get("trigger")})
        return out

    # --- evidence --------------------------------------------------------------------------

    @staticmethod
    def _evidence_view(r: Any) -> dict[str, Any]:
        return {"n": r.n, "name": r.name, "version": r.version, "label": r.label, "media_type": r.media_type,
                "size": r.size, "sha256": r.sha256, "uploaded_by": r.uploaded_by, "seq": r.seq}

    @raises(Forbidden, InvalidInput, NotFound, StateError, TooLarge)
    def add_evidence(self, actor: Actor, task_id: str, name: str, data: bytes, declared_type: str | None = None,
                     label: str = "其他") -> dict[str, Any]:
        """Check the file (size, type by content), store it once, log its SHA-256. A file with a name
        already used becomes a new version of it; nothing is ever replaced."""
        if self.evidence_root is None:
            raise StateError(tr("没有配置证据存储目录"))
        if label not in evidence.LABELS:
            raise InvalidInput(tr("label 应为 %(choices)s 之一", choices=", ".join(evidence.LABELS)))
        name = evidence.safe_name(name)
        media = evidence.check_file(name, data, declared_type, self.max_upload)
        digest = evidence.sha256_hex(data)
        with self.ledger.transaction() as tx:
            conn = tx.conn
            row, doc = self._task(conn, task_id)
            self._may_act_on_task(conn, actor, doc, row.department)
            e = schema.evidence
            n = conn.execute(select(func.count()).select_from(e).where(e.c.task_id == task_id)).scalar_one() + 1
            prev = conn.execute(select(e.c.n, e.c.version).where(e.c.task_id == task_id, e.c.name == name)
                                .order_by(e.c.version.desc()).limit(1)).first()
            version = 1 if prev is None else prev.version + 1
            rel = evidence.store(self.evidence_root, task_id, digest, data)
            payload = {"task_id": task_id, "n": n, "version": version, "replaces": None if prev is None else prev.n,
                       "label": label, "media_type": media, "size": len(data), "sha256": digest}
            entry = tx.append("inspection.evidence.added", payload, self._signer(actor))
            conn.execute(insert(e).values(task_id=task_id, n=n, name=name, version=version, label=label,
                                          media_type=media, size=len(data), sha256=digest, path=rel,
                                          uploaded_by=actor.id, seq=entry.seq))
        return {**payload, "name": name, "seq": entry.seq}

    @raises(Forbidden, NotFound, StateError)
    def evidence_file(self, actor: Actor, task_id: str, n: int) -> tuple[dict[str, Any], bytes]:
        """A stored file, re-hashed on the way out: a file changed on disk is refused."""
        with self.ledger.engine.connect() as conn:
            row, doc = self._task(conn, task_id)
            if actor.role != "auditor":
                self._may_act_on_task(conn, actor, doc, row.department)
            r = conn.execute(select(schema.evidence).where(schema.evidence.c.task_id == task_id,
                                                           schema.evidence.c.n == n)).one_or_none()
        if r is None or self.evidence_root is None:
            raise NotFound(tr("证据 %(task_id)s#%(n)s 不存在", task_id=task_id, n=n))
        data = (self.evidence_root / r.path).read_bytes()
        if evidence.sha256_hex(data) != r.sha256:
            raise StateError(tr("存储的文件与登记的哈希不符"))
        return self._evidence_view(r), data

    # --- results ---------------------------------------------------------------------------

    @staticmethod
    def _result_view(r: Any) -> dict[str, Any]:
        return {"id": r.id, "task_id": r.task_id, "department": r.department, "subject": r.subject,
                "subject_name": r.subject_name, "status": r.status, "status_label": STATUS_LABELS[r.status],
                "version": r.version, "entered_by": r.entered_by, "confirmed_by": r.confirmed_by,
                "check_date": r.check_date, "report_date": r.report_date, "published_date": r.published_date,
                "published_version": r.published_version, "content": json.loads(r.doc)}

    @raises(NotFound)
    def result(self, result_id: str) -> dict[str, Any]:
        with self.ledger.engine.connect() as conn:
            r = self._result(conn, result_id)
            view = self._result_view(r)
            view["versions"] = [{"version": v.version, "entered_by": v.entered_by, "seq": v.seq,
                                 "commitment": v.commitment} for v in conn.execute(
                select(schema.result_versions).where(schema.result_versions.c.result_id == result_id)
                .order_by(schema.result_versions.c.version))]
            view["events"] = [{**json.loads(e.doc), "step": e.kind, "date": e.date, "seq": e.seq} for e in conn.execute(
                select(schema.events).where(schema.events.c.result_id == result_id).order_by(schema.events.c.id))]
        return view

    @raises(Forbidden, InvalidInput, NotFound, StateError, UnknownReference)
    def enter_result(self, actor: Actor, task_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Enter (or correct, as a new version) one department's result of a task: 待审核."""
        with self.ledger.transaction() as tx:
            conn = tx.conn
            row, doc = self._task(conn, task_id)
            department = data.get("department") or (doc["departments"][0] if len(doc["departments"]) == 1
                                                    else row.department)
            if department not in doc["departments"] and department != row.department:  # the task decides: 409
                raise StateError(tr("部门 %(department)s 不是本任务的检查部门（%(value)s）", department=department, value=', '.join(doc['departments'])))
            subject = data.get("subject", row.subject)
            if subject != row.subject:
                raise StateError(tr("检查对象 %(subject)s 不在本任务中（本任务为 %(subject2)s）", subject=subject, subject2=row.subject, task_id=task_id))
            self._may_act_on_task(conn, actor, doc, department)
            table = cats.all_categories(conn)
            chosen = cats.check_selection(data.get("categories"), table)
            follow = data.get("follow_up") or {"kind": "none"}
            if not isinstance(follow, dict) or not isinstance(follow.get("kind"), str) \
                    or follow["kind"] not in cats.FOLLOW_UP_KINDS:
                raise InvalidInput(tr("follow_up.kind 应为 %(choices)s 之一", choices=", ".join(cats.FOLLOW_UP_KINDS)))
            if cats.has_problem(chosen, table) and follow["kind"] == "none":
                raise InvalidInput(tr("发现问题的结果须有后续处置"))
            check_date = _day(data.get("check_date") or row.check_date, "check_date")
            if check_date > self.today():
                raise StateError(tr("检查日期不能晚于今天"))
            dept_items = [i["code"] for i in doc["items"] if self._related(conn, i["department"], department)] \
                or [i["code"] for i in doc["items"]]
            items = data.get("items") or dept_items
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise InvalidInput(tr("items 应为事项编码列表"))
            if any(i not in dept_items for i in items):
                raise StateError(tr("items 须为本部门在本任务中的事项：%(value)s", value=', '.join(dept_items)))
            content = {
                "result_id": f"{task_id}:{department}", "task_id": task_id, "department": department,
                "kind": row.kind, "draw_id": row.draw_id, "trigger": doc.get("trigger"),
                "subject": row.subject, "subject_name": doc.get("subject_name", row.subject),
                "check_date": check_date.isoformat(), "items": items,
                "categories": chosen, "category_labels": cats.labels(chosen, table),
                "findings": _text(data, "findings"), "evaluation": _text(data, "evaluation"),
                "handling_opinion": _text(data, "handling_opinion"),
                "follow_up": {"kind": follow["kind"], "label": cats.FOLLOW_UP_KINDS[follow["kind"]],
                              "note": _text(follow, "note", required=False, limit=1000)},
            }
            result_id = content["result_id"]
            old = conn.execute(select(schema.results).where(schema.results.c.id == result_id)).one_or_none()
            version = 1 if old is None else old.version + 1
            content["version"] = version
            salt = secrets.token_bytes(32)
            c = commitment(content, salt)
            today = self.today()
            if row.check_date is None:  # the check itself is a step of its own on the log
                tx.append("inspection.task.checked", {"task_id": task_id, "check_date": check_date.isoformat()},
                          self._signer(actor))
            entry = tx.append("inspection.result.entered", {
                "result_id": result_id, "task_id": task_id, "department": department, "version": version,
                "commitment": c, "corrects": None if old is None else old.version}, self._signer(actor))
            conn.execute(insert(schema.result_versions).values(result_id=result_id, version=version,
                         doc=_dump(content), salt=salt.hex(), commitment=c, entered_by=actor.id, seq=entry.seq))
            values = {"status": "pending", "version": version, "entered_by": actor.id, "confirmed_by": None,
                      "check_date": check_date.isoformat(), "doc": _dump(content), "seq": entry.seq}
            if old is None:
                conn.execute(insert(schema.results).values(
                    id=result_id, task_id=task_id, department=department, subject=row.subject,
                    subject_name=content["subject_name"], report_date=today.isoformat(), **values))
            else:
                conn.execute(update(schema.results).where(schema.results.c.id == result_id).values(**values))
            if row.check_date is None:
                conn.execute(update(schema.tasks).where(schema.tasks.c.id == task_id).values(
                    status="checked", check_date=check_date.isoformat()))
        return self.result(result_id)

    def _review(self, actor: Actor, result_id: str, verb: str, reason: str = "",
                version: int | None = None) -> dict[str, Any]:
        with self.ledger.transaction() as tx:
            conn = tx.conn
            r = self._result(conn, result_id)
            row, doc = self._task(conn, r.task_id)
            self._may_act_on_task(conn, actor, doc, r.department)
            if r.status != "pending":
                raise StateError(tr("结果 %(result_id)s 当前为“%(value)s”，只有待审核的结果可以确认或退回", result_id=result_id, value=trc("status", STATUS_LABELS[r.status])))
            if version is not None and version != r.version:
                raise StateError(tr("结果已更正为第 %(version)s 版", version=r.version))
            if actor.id == r.entered_by:
                raise Forbidden(tr("录入人不能审核自己录入的结果，须由另一人确认"))
            c = conn.execute(select(schema.result_versions.c.commitment).where(
                schema.result_versions.c.result_id == result_id,
                schema.result_versions.c.version == r.version)).scalar_one()
            payload: dict[str, Any] = {"result_id": result_id, "version": r.version, "commitment": c}
            if verb == "returned":
                reason = reason.strip()
                if not reason:
                    raise InvalidInput(tr("退回须说明理由"))
                import hashlib

                payload["reason_sha256"] = hashlib.sha256(reason.encode()).hexdigest()
            entry = tx.append(f"inspection.result.{verb}", payload, self._signer(actor))
            status = "confirmed" if verb == "confirmed" else "returned"
            conn.execute(update(schema.results).where(schema.results.c.id == result_id).values(
                status=status, confirmed_by=actor.id if status == "confirmed" else None))
            if verb == "returned":
                conn.execute(insert(schema.events).values(result_id=result_id, kind="returned",
                             date=self.today().isoformat(), doc=_dump({"reason": reason, "by": actor.id}),
                             seq=entry.seq))
        return self.result(result_id)

    @raises(Forbidden, NotFound, StateError)
    def confirm(self, actor: Actor, result_id: str, version: int | None = None) -> dict[str, Any]:
        return self._review(actor, result_id, "confirmed", version=version)

    @raises(Forbidden, InvalidInput, NotFound, StateError)
    def return_result(self, actor: Actor, result_id: str, reason: str) -> dict[str, Any]:
        return self._review(actor, result_id, "returned", reason=reason)

    @raises(Forbidden, NotFound, StateError)
    def publish(self, actor: Actor, result_id: str) -> dict[str, Any]:
        """已确认 → 已公示: reveal the content (and salt) on the log, feed the subject's credit record."""
        with self.ledger.transaction() as tx:
            conn = tx.conn
            r = self._result(conn, result_id)
            self.may_operate(actor, r.department)
            if r.status != "confirmed":
                raise StateError(tr("结果 %(result_id)s 当前为“%(value)s”，须先经另一人确认才能公示", result_id=result_id, value=trc("status", STATUS_LABELS[r.status])))
            v = conn.execute(select(schema.result_versions).where(
                schema.result_versions.c.result_id == result_id,
                schema.result_versions.c.version == r.version)).one()
            row, doc = self._task(conn, r.task_id)
            content = json.loads(v.doc)
            today = self.today()
            payload: dict[str, Any] = {"result_id": result_id, "version": r.version, "content": content,
                                       "salt": v.salt, "published_date": today.isoformat()}
            if row.kind == "not_random" and row.salt:
                sealed = {k: doc[k] for k in ("subject", "subject_name", "reference", "team", "notice", "note")}
                payload["task_opening"] = {"task_id": row.id, "content": sealed, "salt": row.salt}
            signer = self._signer(actor)
            entry = tx.append("inspection.result.published", payload, signer)
            table = cats.all_categories(conn)
            link = credit.link_result(tx, signer, content, table, result_id, entry.seq)
            public = {**content, "published_date": today.isoformat(), "published_seq": entry.seq,
                      "department_name": (get_record(conn, "department", r.department) or {}).get("name")}
            conn.execute(update(schema.results).where(schema.results.c.id == result_id).values(
                status="published", published_date=today.isoformat(), published_version=r.version,
                published_seq=entry.seq, public_doc=_dump(public)))
            if link is not None:
                conn.execute(insert(schema.events).values(result_id=result_id, kind="credit_linked",
                             date=today.isoformat(), doc=_dump(link), seq=link["seq"]))
        witness_now(self.ledger)  # public once k witnesses cosigned a checkpoint covering it
        return self.result(result_id)

    # --- after publication: answer, follow-up, penalty -----------------------------------------

    def _event(self, actor: Actor, result_id: str, entry_type: str, kind: str, body: dict[str, Any],
               check: Any = None) -> dict[str, Any]:
        with self.ledger.transaction() as tx:
            conn = tx.conn
            r = self._result(conn, result_id)
            self.may_operate(actor, r.department)
            if r.status != "published" and r.published_version is None:
                raise StateError(tr("结果尚未公示"))
            events = [(e.kind, json.loads(e.doc)) for e in conn.execute(
                select(schema.events).where(schema.events.c.result_id == result_id).order_by(schema.events.c.id))]
            if check is not None:
                check(r, events, conn)
            signer = self._signer(actor)
            entry = tx.append(entry_type, {"result_id": result_id, **body}, signer)
            conn.execute(insert(schema.events).values(result_id=result_id, kind=kind, date=self.today().isoformat(),
                                                      doc=_dump(body), seq=entry.seq))
            if kind == "followup_closed" and body["outcome"] == "penalty":
                link = credit.link_penalty(tx, signer, r.subject, body["decision_date"], result_id)
                if link is not None:
                    conn.execute(insert(schema.events).values(result_id=result_id, kind="credit_linked",
                                 date=self.today().isoformat(), doc=_dump(link), seq=link["seq"]))
        return self.result(result_id)

    @raises(Forbidden, InvalidInput, NotFound, StateError)
    def record_answer(self, actor: Actor, result_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """The subject's opinion on the check (003 第二十一条: within 10 working days of the feedback)."""
        answer = _text(data, "answer")
        received = _day(data.get("received_on") or self.today().isoformat(), "received_on")

        def check(r: Any, events: list, conn: Connection) -> None:
            if received < date.fromisoformat(r.published_date):
                raise InvalidInput(tr("意见收到日期早于结果公示"))

        with self.ledger.engine.connect() as conn:
            r = self._result(conn, result_id)
            st = self.settings(conn, r.department)
            cal = self.calendar(conn)
        due = cal.add(date.fromisoformat(r.published_date), st["answer_days"]) if r.published_date else None
        body = {"received_on": received.isoformat(), "answer": answer,
                "channel": _text(data, "channel", required=False, limit=50),
                "within_deadline": due is None or received <= due}
        return self._event(actor, result_id, "inspection.result.answered", "answer", body, check)

    @raises(Forbidden, InvalidInput, NotFound, StateError)
    def add_followup(self, actor: Actor, result_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        kind = data.get("kind")
        if not isinstance(kind, str) or kind not in cats.FOLLOW_UP_KINDS or kind == "none":
            raise InvalidInput(tr("kind 应为 %(choices)s 之一", choices=", ".join(k for k in cats.FOLLOW_UP_KINDS if k != "none")))
        body = {"kind": kind, "label": cats.FOLLOW_UP_KINDS[kind], "note": _text(data, "note", required=False)}
        return self._event(actor, result_id, "inspection.followup.recorded", "followup", body)

    @raises(Forbidden, InvalidInput, NotFound, StateError)
    def close_followup(self, actor: Actor, result_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """How the follow-up ended (003 第二十二条): penalty or not, or transfer to an authority or the judiciary."""
        outcome = data.get("outcome")
        if not isinstance(outcome, str) or outcome not in cats.FOLLOW_UP_ENDS:
            raise InvalidInput(tr("outcome 应为 %(choices)s 之一", choices=", ".join(cats.FOLLOW_UP_ENDS)))
        decided = _day(data.get("decision_date"), "decision_date")
        if decided > self.today():
            raise InvalidInput(tr("决定日期不能晚于今天"))
        body = {"outcome": outcome, "label": cats.FOLLOW_UP_ENDS[outcome], "decision_date": decided.isoformat(),
                "decision_no": _text(data, "decision_no", required=outcome == "penalty", limit=100),
                "authority": _text(data, "authority", required=outcome.startswith("transfer"), limit=100),
                "note": _text(data, "note", required=False)}

        def check(r: Any, events: list, conn: Connection) -> None:
            content = json.loads(r.public_doc or r.doc)
            if content["follow_up"]["kind"] == "none" and not any(k == "followup" for k, _ in events):
                raise StateError(tr("该结果没有后续处置"))
            if any(k == "followup_closed" for k, _ in events):
                raise StateError(tr("后续处置已办结"))

        return self._event(actor, result_id, "inspection.followup.closed", "followup_closed", body, check)

    @raises(Forbidden, NotFound, StateError)
    def publish_penalty(self, actor: Actor, result_id: str) -> dict[str, Any]:
        """Penalty information made public (7 working days after the decision, 002 十)."""
        def check(r: Any, events: list, conn: Connection) -> None:
            closed = [d for k, d in events if k == "followup_closed"]
            if not closed or closed[-1]["outcome"] != "penalty":
                raise StateError(tr("没有行政处罚决定"))
            if any(k == "penalty_published" for k, _ in events):
                raise StateError(tr("处罚信息已公示"))

        with self.ledger.engine.connect() as conn:
            closed = [json.loads(e.doc) for e in conn.execute(select(schema.events).where(
                schema.events.c.result_id == result_id, schema.events.c.kind == "followup_closed"))]
        body = {"decision_no": closed[-1]["decision_no"] if closed else "",
                "decision_date": closed[-1]["decision_date"] if closed else "",
                "published_date": self.today().isoformat()}
        return self._event(actor, result_id, "inspection.penalty.published", "penalty_published", body, check)

    # --- administration: categories, calendar, settings ----------------------------------------

    @raises(Forbidden, InvalidInput, StateError)
    def add_category(self, actor: Actor, data: Mapping[str, Any]) -> dict[str, Any]:
        if actor.role not in ("system", "admin"):
            raise Forbidden(tr("只有管理员可以增加结果类别"))
        with self.ledger.transaction() as tx:
            row = cats.normalize_new(data, cats.all_categories(tx.conn))
            entry = tx.append("inspection.category.added", {"code": row["code"], "state": row}, self._signer(actor))
            tx.conn.execute(insert(schema.categories).values(code=row["code"], doc=_dump(row), seq=entry.seq))
        return row

    @raises(Forbidden, InvalidInput, StateError)
    def load_calendar_year(self, actor: Actor, data: Mapping[str, Any], override: bool = False) -> dict[str, Any]:
        """Load a year's holidays and make-up working days from the State Council notice (validated, logged)."""
        if actor.role not in ("system", "admin"):
            raise Forbidden(tr("只有管理员可以加载节假日安排"))
        doc = workdays.normalize_year(data)
        if workdays.package_knows(doc["year"]) and not override:
            raise StateError(tr("chinese-calendar 已包含 %(year)s 年；如需覆盖请指定 override", year=doc['year']))
        sha = workdays.year_sha256(doc)
        with self.ledger.transaction() as tx:
            old = tx.conn.execute(select(schema.calendar_years).where(
                schema.calendar_years.c.year == doc["year"])).one_or_none()
            if old is not None and old.sha256 == sha:
                return {**doc, "sha256": sha, "seq": old.seq, "unchanged": True}
            before = self.calendar(tx.conn)
            after = workdays.WorkCalendar({**before.loaded, **workdays.loaded_from_docs([doc])})
            moved = deadlines.moved(tx.conn, before, after, self.today())
            entry = tx.append("inspection.calendar.loaded", {**doc, "sha256": sha,
                                                             "replaces": None if old is None else old.sha256,
                                                             "recomputed": len(moved)},
                              self._signer(actor))
            if moved:
                tx.conn.execute(insert(schema.deadline_changes),
                                [{**m, "calendar_seq": entry.seq, "year": doc["year"]} for m in moved])
            if old is None:
                tx.conn.execute(insert(schema.calendar_years).values(year=doc["year"], doc=_dump(doc), sha256=sha,
                                                                     seq=entry.seq))
            else:
                tx.conn.execute(update(schema.calendar_years).where(schema.calendar_years.c.year == doc["year"])
                                .values(doc=_dump(doc), sha256=sha, seq=entry.seq))
        return {**doc, "sha256": sha, "seq": entry.seq, "recomputed": moved}

    def calendar_gaps(self) -> list[int]:
        """Years whose holiday notice is unknown (neither loaded nor in chinese-calendar) that
        deadlines need now: this year, and from December on the next one too."""
        today, cal = self.today(), self.calendar()
        years = [today.year] + ([today.year + 1] if today.month == 12 else [])
        return [y for y in years if not cal.knows(y)]

    def deadlines(self, departments: list[str] | None = None, soon: int = 3,
                  include_late_done: bool = False) -> list[dict[str, Any]]:
        """The deadlines of `departments` (all when None) as of today, each marked `approximate`
        where its year's holidays are unknown and `moved_from` where a loaded calendar moved it."""
        with self.ledger.engine.connect() as conn:
            rows = deadlines.compute(conn, self.calendar(conn), self.today(), departments, soon=soon,
                                     include_late_done=include_late_done)
            return deadlines.annotate(rows, self.deadline_changes(conn))

    def deadline_changes(self, conn: Connection | None = None) -> dict[tuple[str, str, str], dict[str, Any]]:
        """The latest move of each deadline by a loaded calendar, keyed (kind, department, ref)."""
        def read(c: Connection) -> dict[tuple[str, str, str], dict[str, Any]]:
            dc = schema.deadline_changes
            return {(r.kind, r.department, r.ref): {"due_before": r.due_before, "due_after": r.due_after,
                                                    "calendar_seq": r.calendar_seq, "year": r.year}
                    for r in c.execute(select(dc).order_by(dc.c.id))}
        if conn is not None:
            return read(conn)
        with self.ledger.engine.connect() as c:
            return read(c)

    @raises(Forbidden, InvalidInput, NotFound)
    def set_settings(self, actor: Actor, department: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Per-department deadlines (e.g. publication in 10 instead of 20 working days, 001 四(四))
        and the rules issued (月报表 一.1)."""
        self.may_operate(actor, department)
        with self.ledger.transaction() as tx:
            if get_record(tx.conn, "department", department) is None:
                raise NotFound(tr("部门 %(department)s 不存在", department=department))
            cur = self.settings(tx.conn, department)
            new = dict(cur)
            for k in ("publish_days", "report_days", "penalty_days", "answer_days"):
                if k in data:
                    v = data[k]
                    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 60:
                        raise InvalidInput(tr("%(k)s 应为 1–60 的整数（工作日）", k=k))
                    new[k] = v
            if "rules" in data:
                rules = data["rules"]
                if not isinstance(rules, list) or not all(isinstance(x, dict) and str(x.get("title", "")).strip()
                                                          for x in rules):
                    raise InvalidInput(tr("rules 应为 [{title, number}]"))
                new["rules"] = [{"title": str(x["title"]), "number": str(x.get("number", ""))} for x in rules]
            if new == cur:
                return new
            entry = tx.append("inspection.settings.changed", {"department": department, "state": new},
                              self._signer(actor))
            exists = tx.conn.execute(select(schema.settings.c.department).where(
                schema.settings.c.department == department)).first()
            stmt = update(schema.settings).where(schema.settings.c.department == department) if exists \
                else insert(schema.settings).values(department=department)
            tx.conn.execute(stmt.values(doc=_dump(new), seq=entry.seq))
        return new

    def get_settings(self, department: str) -> dict[str, Any]:
        with self.ledger.engine.connect() as conn:
            return self.settings(conn, department)
