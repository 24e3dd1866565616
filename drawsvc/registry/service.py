"""Registry services: every change is one log entry (signed by the acting account's own key)
written in the same database transaction as the table row.

    reg = Registry(ledger, passphrase)
    reg.save(actor, "subject", {...})            # add or change; returns the stored record
    reg.remove(actor, "subject", code)
    reg.set_plan_status(actor, code, "approved")
    reg.apply_batch(actor, "subject", rows)      # imports: all rows in one transaction
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from drawsvc.clock import china_date
from drawsvc.i18n import N_, tr
from drawsvc.raises import raises
from ledger import sm2
from ledger.canonical import EncodingError, canonical_bytes, is_simple
from ledger.keys import ActorSigner, decrypt_private_key, encrypt_private_key, generate_actor_key
from ledger.schema import actor_keys

from . import schema
from .authz import Actor, Forbidden, authorize
from .records import KEY_FIELD, NORMALIZERS, Context, RecordError, changed_fields
from .state import delete_record, flat_simple, get_record, write_records

_hasher = PasswordHasher()  # argon2id, memory-hard (RFC 9106 defaults of argon2-cffi)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # hashing cost is bounded by the length; no real password is longer


def check_password(password: object) -> str:
    """A password is text of MIN_PASSWORD..MAX_PASSWORD characters; anything else is a field error."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise RecordError([{"field": "password", "value": None,
                            "message": tr("密码应为 %(MIN_PASSWORD)s–%(MAX_PASSWORD)s 个字符的文本", MIN_PASSWORD=MIN_PASSWORD, MAX_PASSWORD=MAX_PASSWORD)}])
    return password
PLAN_STEPS = {"draft": ("submitted", "approved"), "submitted": ("approved", "draft"),
              "approved": ("published", "draft"), "published": ()}
PLAN_STATUS_ZH = {"draft": N_("草稿"), "submitted": N_("待审批"), "approved": N_("已批准"), "published": N_("已公布")}


class NotFound(Exception):
    pass


class _RolledBack(Exception):
    """Raised inside an import's transaction to roll it back (the file turned out bad)."""


def payload_text(payload: dict[str, Any]) -> str | None:
    """The payload's JCS text, by orjson (sorted keys) when the stdlib encoder is provably
    exact for it (`is_simple`: a registry record always is), else None for make_entry to decide.
    Why: the stdlib encoder was a tenth of an import's time; orjson writes the same bytes for
    these values (ledger/canonical.py) several times faster."""
    if not (flat_simple(payload["state"]) and type(payload["id"]) is str) and not is_simple(payload):
        return None
    try:
        return canonical_bytes(payload, known_simple=True).decode("utf-8")
    except EncodingError:  # a lone surrogate: make_entry's own path refuses it in its words
        return None


class Conflict(Exception):
    """The change conflicts with the current state (duplicate, wrong plan status, in use)."""


def actor_id_for(account_id: str) -> str:
    return f"user:{account_id}"


def token_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class Registry:
    def __init__(self, ledger: Any, passphrase: bytes | None = None,
                 today: Callable[[], date] | None = None, hasher: PasswordHasher | None = None) -> None:
        self.ledger = ledger
        self.hasher = hasher or _hasher
        self.passphrase = passphrase
        # one clock: the ledger's (certificate validity, declarations and entries agree on "today")
        self.today = today or (lambda: china_date(ledger.clock()))
        self._signers: dict[str, ActorSigner] = {}
        self._lock = threading.Lock()

    @property
    def system(self) -> Actor:
        return Actor("system", "system", signer=self.ledger.system)

    # --- reading ----------------------------------------------------------------------

    def context(self, conn: Connection, overlay: dict[str, dict[str, dict]] | None = None) -> Context:
        def get(kind: str, key: str) -> dict | None:
            if overlay and key in overlay.get(kind, {}):
                return overlay[kind][key]
            return get_record(conn, kind, key)
        return Context(get, today=self.today())

    def get(self, kind: str, key: str) -> dict | None:
        with self.ledger.engine.connect() as conn:
            return get_record(conn, kind, key)

    def list(self, kind: str, where: Sequence[Any] = (), limit: int | None = None, offset: int = 0) -> list[dict]:
        table = schema.TABLES[kind]
        stmt = select(table.c.doc).where(*where).order_by(table.c[KEY_FIELD[kind]]).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.ledger.engine.connect() as conn:
            return [json.loads(d) for d in conn.execute(stmt).scalars()]

    def item_history(self, code: str) -> list[dict]:
        t = schema.item_versions
        with self.ledger.engine.connect() as conn:
            return [json.loads(d) for d in conn.execute(select(t.c.doc).where(t.c.code == code)
                                                          .order_by(t.c.version)).scalars()]

    # --- writing ----------------------------------------------------------------------

    def _signer(self, actor: Actor) -> ActorSigner:
        if actor.signer is not None:
            return actor.signer
        return self.signer_for(actor.id)

    def _prepare(self, conn: Connection, actor: Actor, kind: str, data: dict,
                 create: bool | None) -> tuple[dict | None, dict]:
        ctx = self.context(conn)
        record = NORMALIZERS[kind](data, ctx)
        key = record[KEY_FIELD[kind]]
        old = get_record(conn, kind, key)
        if create is True and old is not None:
            raise Conflict(tr("%(kind)s %(key)s 已存在", kind=kind, key=key))
        if create is False and old is None:
            raise NotFound(tr("%(kind)s %(key)s 不存在", kind=kind, key=key))
        if kind == "item":
            record["version"] = 1 if old is None else old["version"] + (1 if changed_fields(
                {**old, "version": 0}, {**record, "version": 0}) else 0)
        if kind == "plan":
            record["status"] = "draft" if old is None else old["status"]
        if kind == "account" and old is not None:
            record["key_id"], record["public_key"] = old["key_id"], old["public_key"]
        authorize(actor, kind, old, record, ctx.get)
        if kind == "plan" and old is not None and old["status"] != "draft" and changed_fields(old, record):
            raise Conflict(tr("只能修改草稿状态的计划"))
        return old, record

    @raises(RecordError, Forbidden, NotFound, Conflict)
    def save(self, actor: Actor, kind: str, data: dict, *, create: bool | None = None,
             verb: str | None = None, then: Callable[[Any, dict], None] | None = None) -> dict:
        """Add or change one record. No entry is written when nothing changed. `then(tx, record)`
        runs in the same transaction after the record's entry (all or nothing)."""
        if kind in ("account", "token") and create is not False and not self.get(kind, data.get("id", "")):
            raise Conflict(tr("账号和令牌请用账号管理创建"))
        try:
            with self.ledger.transaction() as tx:
                old, record = self._prepare(tx.conn, actor, kind, data, create)
                changed = changed_fields(old, record)
                if not changed:
                    return record
                key = record[KEY_FIELD[kind]]
                verb = verb or ("added" if old is None else "revised" if kind == "item" else "changed")
                entry = tx.append(f"registry.{kind}.{verb}", {"id": key, "state": record, "changed": changed},
                                  self._signer(actor))
                write_records(tx.conn, kind, [(record, entry.seq, old is None)])
                if then is not None:
                    then(tx, record)
                return record
        except IntegrityError:  # a unique field another record holds (e.g. an inspector's cert_no): nothing written
            raise Conflict(f"{kind} 的唯一字段已被另一条记录使用（如执法证号）/ a unique field of this {kind} is "
                           "already held by another record (e.g. cert_no)") from None

    @raises(RecordError, Forbidden, Conflict)
    def add(self, actor: Actor, kind: str, data: dict) -> dict:
        """save() of a new record: a key that exists is a Conflict (never a NotFound)."""
        return self.save(actor, kind, data, create=True)

    @raises(RecordError, Forbidden, NotFound, Conflict)
    def change(self, actor: Actor, kind: str, data: dict) -> dict:
        """save() of a record that exists (NotFound otherwise)."""
        return self.save(actor, kind, data, create=False)

    @raises(NotFound, Forbidden, Conflict)
    def remove(self, actor: Actor, kind: str, key: str, reason: str = "") -> None:
        with self.ledger.transaction() as tx:
            old = get_record(tx.conn, kind, key)
            if old is None:
                raise NotFound(tr("%(kind)s %(key)s 不存在", kind=kind, key=key))
            authorize(actor, kind, old, None, self.context(tx.conn).get)
            if kind in ("item", "plan", "account", "token"):
                raise Conflict(f"{kind} records are never deleted: withdraw, disable or revoke them")
            self._check_unused(tx.conn, kind, key)
            verb = "withdrawn" if kind == "conflict" else "removed"
            tx.append(f"registry.{kind}.{verb}", {"id": key, "removed": True, "reason": reason}, self._signer(actor))
            delete_record(tx.conn, kind, key)

    def _check_unused(self, conn: Connection, kind: str, key: str) -> None:
        uses: list[tuple[Any, Any]] = []
        if kind == "department":
            uses = [(schema.departments, schema.departments.c.parent), (schema.items, schema.items.c.department),
                    (schema.inspectors, schema.inspectors.c.department)]
        elif kind == "inspector":
            uses = [(schema.conflicts, schema.conflicts.c.inspector)]
        elif kind == "subject":
            uses = [(schema.conflicts, schema.conflicts.c.subject)]
        if kind == "sublibrary":
            for doc in conn.execute(select(schema.plans.c.doc)).scalars():
                if key in json.loads(doc).get("sublibraries", []):
                    raise Conflict(tr("子库 %(key)s 仍被计划引用", key=key))
        for table, col in uses:
            if conn.execute(select(col).where(col == key).limit(1)).first() is not None:
                raise Conflict(tr("%(kind)s %(key)s 仍被 %(name)s 引用", kind=kind, key=key, name=table.name))

    @raises(NotFound, RecordError, Forbidden, Conflict)
    def withdraw_item(self, actor: Actor, code: str) -> dict:
        item = self.get("item", code)
        if item is None:
            raise NotFound(tr("没有抽查事项 %(code)s", code=code))
        return self.save(actor, "item", {**item, "status": "withdrawn"}, create=False, verb="withdrawn")

    def plan_history(self, code: str) -> list[int]:
        """The seqs of a plan's log entries (drafted, changed, submitted, approved, returned, …)."""
        from ledger.schema import log_entries

        with self.ledger.engine.connect() as conn:
            rows = conn.execute(select(log_entries.c.seq, log_entries.c.leaf)
                                .where(log_entries.c.type.like("registry.plan.%")).order_by(log_entries.c.seq))
            return [seq for seq, leaf in rows if json.loads(leaf)["payload"].get("id") == code]

    def four_eyes(self, conn: Connection, departments: Sequence[str], rule: str = "four_eyes") -> bool:
        """Whether a second person is required for `rule` by any of these departments
        (a department record without the field keeps the default: plans yes, draws no)."""
        default = rule == "four_eyes"
        ctx = self.context(conn)
        return any(bool((ctx.get("department", d) or {}).get(rule, default)) for d in departments)

    @raises(NotFound, RecordError, Forbidden, Conflict)
    def approve_plan(self, actor: Actor, code: str, reason: str = "") -> dict:
        """set_plan_status(…, "approved"): the one step that re-checks the plan's record (its items
        and bounds: a RecordError), declared apart so that only approval lists those refusals."""
        return self.set_plan_status(actor, code, "approved", reason)

    @raises(NotFound, Forbidden, Conflict)  # RecordError on approval only: approve_plan
    def set_plan_status(self, actor: Actor, code: str, status: str, reason: str = "") -> dict:
        """Move a plan along draft → submitted → approved → published (or back to draft).

        Approval needs a second person where the plan's departments ask for it (the default):
        the plan is submitted by one account and approved by another, each entry signed by its
        own actor, and the approval entry names the submission it approves (both signatures
        are on the log). A returned or reopened plan carries the reason on the log."""
        with self.ledger.transaction() as tx:
            row = tx.conn.execute(select(schema.plans.c.doc, schema.plans.c.seq)
                                  .where(schema.plans.c.code == code)).one_or_none()
            if row is None:
                raise NotFound(tr("计划 %(plan)s 不存在", plan=code))
            old = json.loads(row.doc)
            record = {k: v for k, v in old.items() if k != "submitted_by"}
            record["status"] = status
            authorize(actor, "plan", old, record, self.context(tx.conn).get)
            if status not in PLAN_STEPS.get(old["status"], ()):
                raise Conflict(tr("计划当前为“%(old)s”，不能变为“%(new)s”", old=tr(PLAN_STATUS_ZH.get(old["status"], old["status"])),
                                  new=tr(PLAN_STATUS_ZH.get(status, status))))
            strict = actor.role != "system" and self.four_eyes(tx.conn, old["departments"])
            extra: dict[str, Any] = {}
            if status == "submitted":
                record["submitted_by"] = actor.id
            elif status == "approved":
                if old["status"] == "draft" and strict:
                    raise Conflict(tr(tr("本部门实行双人审批：计划须先提交审批，再由另一人批准")))
                if old["status"] == "submitted":
                    if strict and old.get("submitted_by") == actor.id:
                        raise Forbidden(tr(tr("提交人不能批准自己提交的计划，须由另一人批准")))
                    extra = {"submitted_by": old.get("submitted_by"), "submitted_seq": row.seq}
                NORMALIZERS["plan"](record, self.context(tx.conn))  # re-check items and bounds
            elif status == "draft":
                if not reason.strip():
                    raise Conflict(tr(tr("退回或重新打开计划须说明理由")))
                extra = {"reason": reason.strip()[:500]}
            verb = {"submitted": "submitted", "approved": "approved", "published": "published",
                    "draft": "returned" if old["status"] == "submitted" else "reopened"}[status]
            entry = tx.append(f"registry.plan.{verb}", {"id": code, "state": record, "changed": ["status"], **extra},
                              self._signer(actor))
            write_records(tx.conn, "plan", [(record, entry.seq, False)])
            return record

    @raises(RecordError, Forbidden, Conflict)
    def apply_batch(self, actor: Actor, kind: str, records: list[dict], summary: dict | None = None,
                    *, validated: bool = False) -> dict[str, int]:
        """Upsert many records in ONE transaction: an entry per added or changed record, none for
        unchanged ones, then `registry.import.completed`. Raises before writing if any is invalid."""
        counts = {"added": 0, "changed": 0, "unchanged": 0}
        keyname = KEY_FIELD[kind]
        try:
            with self.ledger.transaction() as tx:
                signer = self._signer(actor)
                ctx_get = self.context(tx.conn).get
                existing = _existing_docs(tx.conn, kind, [r[keyname] for r in records])
                rows = []
                for rec in records:
                    if not validated:
                        rec = NORMALIZERS[kind](rec, self.context(tx.conn))
                    old = existing.get(rec[keyname])
                    changed = changed_fields(old, rec)
                    if not changed:
                        counts["unchanged"] += 1
                        continue
                    authorize(actor, kind, old, rec, ctx_get)
                    verb = "added" if old is None else "changed"
                    counts[verb] += 1
                    entry = tx.append(f"registry.{kind}.{verb}", {"id": rec[keyname], "state": rec, "changed": changed},
                                      signer)
                    rows.append((rec, entry.seq, old is None))
                    if len(rows) >= 2000:
                        write_records(tx.conn, kind, rows)
                        tx.flush()
                        rows = []
                write_records(tx.conn, kind, rows)
                if counts["added"] or counts["changed"]:
                    tx.append("registry.import.completed", {"kind": kind, **(summary or {}), **counts}, signer)
        except IntegrityError:  # a unique field another record holds (e.g. cert_no): the batch is rolled back
            raise Conflict(f"{kind} 的唯一字段已被另一条记录使用（如执法证号）/ a unique field is already held by "
                           "another record (e.g. cert_no); nothing was imported") from None
        return counts

    def import_stream(self, actor: Actor, kind: str,
                      batches: Callable[[Connection], Iterator[list[tuple[dict, dict | None]]]],
                      summary: Callable[[], dict | None], progress: Any = None) -> dict[str, int] | None:
        """Write validated records as they come, in ONE transaction: an entry per added or
        changed record (none for unchanged ones), then `registry.import.completed`.

        `batches(conn)` yields lists of (record, its stored state before the import or None)
        in file order, reading through the transaction's connection; each list is signed,
        written and flushed before the next is asked for, so nothing per record outlives its
        batch. `summary()`, asked after the last batch, gives the completed entry's fields, or
        None when the file turned out bad: then everything is rolled back and None returned.
        A refusal (Forbidden) stops the writing but not the reading: the file's own errors, if
        any, are still reported first, as when the file was validated whole before writing."""
        counts = {"added": 0, "changed": 0, "unchanged": 0}
        keyname = KEY_FIELD[kind]
        added, changed_type = f"registry.{kind}.added", f"registry.{kind}.changed"
        denied: Forbidden | None = None
        try:
            with self.ledger.transaction() as tx:
                signer = self._signer(actor)
                ctx_get = self.context(tx.conn).get
                for batch in batches(tx.conn):
                    rows = []
                    for rec, old in batch:
                        changed = changed_fields(old, rec)
                        if not changed:
                            counts["unchanged"] += 1
                            continue
                        if denied is None:
                            try:
                                authorize(actor, kind, old, rec, ctx_get)
                            except Forbidden as exc:
                                denied = exc
                        if denied is not None:
                            continue
                        counts["added" if old is None else "changed"] += 1
                        payload = {"id": rec[keyname], "state": rec, "changed": changed}
                        entry = tx.append(added if old is None else changed_type, payload, signer,
                                          payload_json=payload_text(payload))
                        rows.append((rec, entry.seq, old is None))
                    write_records(tx.conn, kind, rows)
                    tx.flush()
                    if progress is not None:
                        progress.written += len(rows)
                        progress.tick()
                done = summary()
                if done is None:
                    raise _RolledBack
                if denied is not None:
                    raise denied
                if counts["added"] or counts["changed"]:
                    tx.append("registry.import.completed", {"kind": kind, **done, **counts}, signer)
        except _RolledBack:
            return None
        except IntegrityError:  # a unique field another record holds (e.g. cert_no): the batch is rolled back
            raise Conflict(f"{kind} 的唯一字段已被另一条记录使用（如执法证号）/ a unique field is already held by "
                           "another record (e.g. cert_no); nothing was imported") from None
        return counts

    # --- accounts, keys, passwords, tokens ----------------------------------------------

    @raises(RecordError, Forbidden, Conflict)
    def create_account(self, actor: Actor, data: dict, password: str | None = None) -> dict:
        if password is not None:
            check_password(password)
        if self.passphrase is None:
            raise RuntimeError("Registry needs the key passphrase to create accounts")
        key = generate_actor_key()
        pub = bytes(key.verify_key)
        with self.ledger.transaction() as tx:
            ctx = self.context(tx.conn)
            record = NORMALIZERS["account"]({**data, "status": "active"}, ctx)
            if get_record(tx.conn, "account", record["id"]) is not None:
                raise Conflict(tr("账户 %(id)s 已存在", id=record['id']))
            signer = ActorSigner(actor_id_for(record["id"]), key)
            record["key_id"] = signer.key_id
            record["public_key"] = base64.b64encode(pub).decode()
            authorize(actor, "account", None, record)
            tx.register_actor_key(signer.actor_id, pub, encrypt_private_key(key, self.passphrase))
            entry = tx.append("registry.account.added", {"id": record["id"], "state": record,
                                                         "changed": sorted(record)}, self._signer(actor))
            pw = self.hasher.hash(password) if password else None
            write_records(tx.conn, "account", [(record, entry.seq, True)], extra={record["id"]: {"password_hash": pw}})
        with self._lock:
            self._signers[record["id"]] = signer
        return record

    @raises(NotFound, RecordError, Forbidden, Conflict)
    def update_account(self, actor: Actor, account_id: str, changes: dict) -> dict:
        old = self.get("account", account_id)
        if old is None:
            raise NotFound(tr("没有账号 %(account)s", account=account_id))
        allowed = {k: v for k, v in changes.items() if k in ("name", "role", "departments", "inspector", "status")}
        verb = "disabled" if allowed.get("status") == "disabled" and old["status"] != "disabled" else None
        if verb != "disabled":
            return self.save(actor, "account", {**old, **allowed}, create=False, verb=verb)
        revoked: list[tuple[str, int]] = []
        record = self.save(actor, "account", {**old, **allowed}, create=False, verb=verb,
                           then=lambda tx, _rec: revoked.extend(self._revoke_keys(tx, account_id)))
        for key_id, seq in revoked:
            self.ledger.forget_revoked(key_id, seq)
        with self._lock:
            self._signers.pop(account_id, None)
        return record

    def _revoke_keys(self, tx: Any, account_id: str) -> list[tuple[str, int]]:
        """Disabling an account revokes every key it holds in force (`actor.key.revoked`, SPEC §3
        item 7), in the disabling transaction: a key copied off the server before signs nothing
        the service accepts or a verifier passes afterwards (REVOKED_KEY). Its SM2 key needs no
        entry: an SM2 actor's entry needs both signatures, and its Ed25519 keys are gone."""
        from ledger.rotation import key_state

        actor_id = actor_id_for(account_id)
        state = key_state(tx.conn)
        out = []
        for key_id, (owner, _pk) in sorted(state.keys.items()):
            if owner != actor_id or key_id in state.revoked:
                continue
            entry = tx.append("actor.key.revoked", {"actor_id": actor_id, "key_id": key_id,
                                                     "reason": f"账户 {account_id} 已停用"},  # log data, not UI text
                              self.ledger.system)
            tx.conn.execute(actor_keys.update().where(actor_keys.c.key_id == key_id).values(active=False))
            out.append((key_id, entry.seq))
        return out

    @raises(NotFound, Forbidden, Conflict)
    def issue_new_key(self, actor: Actor, account_id: str) -> dict:
        """A new Ed25519 key for an active account whose keys were all revoked (SPEC §3 item 7 leaves
        it none): `actor.key.registered` by system, and the account record names the new key.
        Refused (409) while the account holds a key in force (rotate it instead) or is disabled."""
        from ledger.rotation import key_state

        if actor.role not in ("system", "admin"):
            raise Forbidden(tr("只有管理员可以为账户签发新密钥"))
        if self.passphrase is None:
            raise RuntimeError("Registry needs the key passphrase to issue keys")
        key = generate_actor_key()
        pub = bytes(key.verify_key)
        actor_id = actor_id_for(account_id)
        with self.ledger.transaction() as tx:
            old = get_record(tx.conn, "account", account_id)
            if old is None:
                raise NotFound(tr("账户 %(id)s 不存在", id=account_id))
            if old["status"] != "active":
                raise Conflict(tr("账户 %(id)s 已停用，不能签发新密钥", id=account_id))
            state = key_state(tx.conn)
            if any(owner == actor_id and kid not in state.retired for kid, (owner, _pk) in state.keys.items()):
                raise Conflict(tr("账户 %(id)s 仍有有效密钥：请先吊销（或轮换）", id=account_id))
            signer = ActorSigner(actor_id, key)
            tx.register_actor_key(actor_id, pub, encrypt_private_key(key, self.passphrase))
            record = {**old, "key_id": signer.key_id, "public_key": base64.b64encode(pub).decode()}
            entry = tx.append("registry.account.changed", {"id": account_id, "state": record,
                                                           "changed": ["key_id", "public_key"]}, self._signer(actor))
            write_records(tx.conn, "account", [(record, entry.seq, False)])
        with self._lock:
            self._signers.pop(account_id, None)
        return record

    @raises(NotFound, Forbidden, Conflict)
    def give_sm2_key(self, actor: Actor, account_id: str) -> dict:
        """Register a fresh SM2 key for the account (`actor.sm2_key.registered`, SPEC §3 item 11;
        a later call replaces it): from the next entry on, its entries carry both signatures."""
        if actor.role not in ("system", "admin"):
            raise Forbidden(tr("只有管理员可以为账户登记国密（SM2）密钥"))
        if self.passphrase is None:
            raise RuntimeError("Registry needs the key passphrase to store keys")
        old = self.get("account", account_id)
        if old is None:
            raise NotFound(tr("账户 %(id)s 不存在", id=account_id))
        if old["status"] != "active":
            raise Conflict(tr("账户 %(id)s 已停用", id=account_id))
        private = sm2.generate_private_key()
        try:
            entry = sm2.register_actor_sm2_key(self.ledger, actor_id_for(account_id), private,
                                               sm2.encrypt_private_key(private, self.passphrase))
        except ValueError as exc:  # KeyLifecycleError: no Ed25519 key in force
            raise Conflict(str(exc)) from None
        with self._lock:
            self._signers.pop(account_id, None)
        return {"account": account_id, "seq": entry.seq, "sm2_public_key": entry.payload["sm2_public_key"]}

    @raises(RecordError, Forbidden, NotFound)
    def set_password(self, actor: Actor, account_id: str, password: str, current: str | None = None) -> None:
        """Admins set any password; others only their own, giving the current one. Not logged
        (the log never sees secrets); the row's hash changes."""
        check_password(password)
        if actor.role not in ("system", "admin") and (
                actor.id != account_id or not isinstance(current, str) or self.authenticate(account_id, current) is None):
            raise Forbidden(tr("只能修改本人密码，且须提供原密码"))
        with self.ledger.engine.begin() as conn:
            t = schema.accounts
            res = conn.execute(t.update().where(t.c.id == account_id).values(password_hash=self.hasher.hash(password)))
            if res.rowcount == 0:
                raise NotFound(f"account {account_id} not found")

    def actor_for(self, account: dict) -> Actor:
        return Actor(account["id"], account["role"], tuple(account.get("departments", [])), account.get("inspector"))

    def authenticate(self, account_id: str, password: str) -> Actor | None:
        if not isinstance(account_id, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
            return None
        t = schema.accounts
        with self.ledger.engine.connect() as conn:
            row = conn.execute(select(t.c.password_hash, t.c.status, t.c.doc).where(t.c.id == account_id)).first()
        if row is None or row.password_hash is None or row.status != "active":
            self.hasher.hash("timing-equaliser")  # do comparable work for unknown accounts
            return None
        try:
            self.hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return self.actor_for(json.loads(row.doc))

    def signer_for(self, account_id: str) -> ActorSigner:
        with self._lock:
            cached = self._signers.get(account_id)
        revoked = self.ledger.revoked_keys()
        sm2_on_log = self.ledger.sm2_actors().get(actor_id_for(account_id))
        if cached is not None and cached.key_id not in revoked and cached.sm2_public == (
                sm2_on_log[1] if sm2_on_log else cached.sm2_public):
            # a revoked key is dropped, and so is a signer without the SM2 key the log now names
            # for the account (SPEC §3 item 11): the account's keys in force are read anew
            return cached
        if self.passphrase is None:
            raise RuntimeError("Registry needs the key passphrase to sign for accounts")
        actor_id = actor_id_for(account_id)
        with self.ledger.engine.connect() as conn:
            row = conn.execute(select(actor_keys.c.encrypted_private_key).where(
                actor_keys.c.actor_id == actor_id, actor_keys.c.active.is_(True))).first()
        if row is None or row.encrypted_private_key is None:
            if cached is not None and cached.key_id in revoked:
                raise Forbidden(tr("账户 %(account_id)s 没有可用的签名密钥：密钥 %(key_id)s 已于日志条目 %(seq)s 吊销",
                                   account_id=account_id, key_id=cached.key_id, seq=revoked[cached.key_id]))
            raise Forbidden(tr("账户 %(account_id)s 没有可用的签名密钥", account_id=account_id))
        with self.ledger.engine.connect() as conn:
            sm2_private = sm2.load_actor_private(conn, actor_id, self.passphrase)
        signer = ActorSigner(actor_id, decrypt_private_key(row.encrypted_private_key, self.passphrase), sm2_private)
        with self._lock:
            self._signers[account_id] = signer
        return signer

    @raises(RecordError, Forbidden, Conflict)
    def issue_token(self, actor: Actor, account_id: str, name: str) -> tuple[dict, str]:
        """Returns the token record and the secret (shown once; only its SHA-256 is stored)."""
        secret = "sct_" + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(6)
        with self.ledger.transaction() as tx:
            record = NORMALIZERS["token"]({"id": token_id, "account": account_id, "name": name},
                                          self.context(tx.conn))
            account = get_record(tx.conn, "account", account_id)
            if account is None or account["status"] != "active":
                raise Conflict(tr("账户不可用"))
            authorize(actor, "token", None, record)
            entry = tx.append("registry.token.issued", {"id": token_id, "state": record, "changed": sorted(record)},
                              self._signer(actor))
            write_records(tx.conn, "token", [(record, entry.seq, True)],
                          extra={token_id: {"token_hash": token_hash(secret)}})
        return record, secret

    @raises(NotFound, RecordError, Forbidden, Conflict)
    def revoke_token(self, actor: Actor, token_id: str) -> dict:
        old = self.get("token", token_id)
        if old is None:
            raise NotFound(tr("没有令牌 %(token)s", token=token_id))
        return self.save(actor, "token", {**old, "status": "revoked"}, create=False, verb="revoked")

    def actor_for_token(self, secret: str) -> Actor | None:
        t, a = schema.tokens, schema.accounts
        with self.ledger.engine.connect() as conn:
            row = conn.execute(select(a.c.doc, a.c.status).join_from(t, a, t.c.account == a.c.id).where(
                t.c.token_hash == token_hash(secret), t.c.status == "active")).first()
        if row is None or row.status != "active":
            return None
        return self.actor_for(json.loads(row.doc))


def _existing_docs(conn: Connection, kind: str, keys: list[str]) -> dict[str, dict]:
    import json

    table = schema.TABLES[kind]
    keycol = table.c[KEY_FIELD[kind]]
    out: dict[str, dict] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        for key, doc in conn.execute(select(keycol, table.c.doc).where(keycol.in_(chunk))):
            out[key] = json.loads(doc)
    return out
