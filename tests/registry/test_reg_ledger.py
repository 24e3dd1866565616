"""Registry services write through the ledger: one signed entry per change, rebuild == database."""

import base64

import pytest
from pinned import TODAY, days
from sqlalchemy import select

from drawsvc import creditcode
from drawsvc.registry import records
from drawsvc.registry.authz import Forbidden
from drawsvc.registry.demo import seed_registries
from drawsvc.registry.records import RecordError
from drawsvc.registry.service import Conflict
from drawsvc.registry.state import diff_states, load_state, rebuild, rebuild_from_ledger
from ledger.schema import actor_keys


def _db(reg):
    with reg.ledger.engine.connect() as conn:
        return load_state(conn)


@pytest.fixture
def demo(reg):
    return seed_registries(reg, subjects=120)


def test_rebuild_equals_database_after_demo(reg, demo):
    assert diff_states(_db(reg), rebuild_from_ledger(reg.ledger)) == []
    state = _db(reg)
    assert len(state["subject"]) == 120
    assert {s["credit_class"] for s in state["subject"].values()} == {"A", "B", "C", "D"}
    assert all(creditcode.is_valid(c) for c in state["subject"])
    assert state["plan"][demo["plan"]]["status"] == "approved"


def test_rebuild_at_every_position_is_a_prefix_fold(reg, demo):
    entries = reg.ledger.entries(0, reg.ledger.size())
    seqs = [e.seq for e in entries if e.type.startswith("registry.plan.")]
    before_approval = rebuild(entries, upto=seqs[-1])
    assert before_approval["plan"][demo["plan"]]["status"] == "submitted"
    assert rebuild(entries, upto=seqs[-2])["plan"][demo["plan"]]["status"] == "draft"
    assert rebuild(entries, upto=1) == rebuild([], None)
    # incremental fold equals fold at the end
    assert rebuild(entries, upto=len(entries)) == rebuild_from_ledger(reg.ledger)


def test_every_entry_is_signed_by_the_acting_accounts_registered_key(reg, demo):
    with reg.ledger.engine.connect() as conn:
        keys = {r.key_id: (r.actor_id, r.public_key) for r in conn.execute(select(actor_keys))}
    entries = reg.ledger.entries(0, reg.ledger.size())
    actors = set()
    for e in entries:
        if not e.type.startswith("registry."):
            continue
        actor_id, pub = keys[e.key_id]
        assert actor_id == e.actor_id
        e.verify(pub)
        actors.add(e.actor_id)
    assert {"user:admin", "user:op-scjg", "user:insp-p001"} <= actors
    acc = reg.get("account", "op-scjg")
    assert base64.b64decode(acc["public_key"]) == keys[acc["key_id"]][1]
    assert "password_hash" not in acc


def test_change_logs_new_state_and_changed_fields_and_nothing_when_unchanged(reg, demo):
    code = next(iter(_db(reg)["subject"]))
    op = reg.actor_for(reg.get("account", "op-scjg"))
    size = reg.ledger.size()
    rec = reg.get("subject", code)
    reg.save(op, "subject", {**rec, "credit_class": "D", "complaints": 9})
    e = reg.ledger.entries(size, size + 1)[0]
    assert e.type == "registry.subject.changed" and e.actor_id == "user:op-scjg"
    assert e.payload["changed"] == ["complaints", "credit_class"]
    assert e.payload["state"]["credit_class"] == "D"
    reg.save(op, "subject", {**rec, "credit_class": "D", "complaints": 9})
    assert reg.ledger.size() == size + 1
    assert diff_states(_db(reg), rebuild_from_ledger(reg.ledger)) == []


def test_item_versions_keep_history(reg, demo):
    op = reg.actor_for(reg.get("account", "op-scjg"))
    item = reg.get("item", "SCJG-001")
    reg.save(op, "item", {**item, "content": "年度报告与即时信息"})
    reg.withdraw_item(op, "SCJG-001")
    hist = reg.item_history("SCJG-001")
    assert [h["version"] for h in hist] == [1, 2, 3]
    assert hist[-1]["status"] == "withdrawn" and hist[0]["content"] != hist[1]["content"]
    assert diff_states(_db(reg), rebuild_from_ledger(reg.ledger)) == []


def test_roles_and_departments_are_enforced(reg, demo):
    op_yjgl = reg.actor_for(reg.get("account", "op-yjgl"))
    auditor = reg.actor_for(reg.get("account", "auditor"))
    insp = reg.actor_for(reg.get("account", "insp-p001"))
    item = reg.get("item", "SCJG-001")
    size = reg.ledger.size()
    with pytest.raises(Forbidden):
        reg.save(op_yjgl, "item", {**item, "name": "改名"})
    with pytest.raises(Forbidden):
        reg.save(op_yjgl, "item", {**reg.get("item", "YJGL-001"), "department": "scjg"})
    with pytest.raises(Forbidden):
        reg.save(auditor, "subject", {**next(iter(_db(reg)["subject"].values())), "complaints": 3})
    subj = sorted(_db(reg)["subject"])[5]
    with pytest.raises(Forbidden):
        reg.save(insp, "conflict", {"inspector": "P002", "subject": subj, "reason": "曾任职"})
    reg.save(insp, "conflict", {"inspector": "P001", "subject": subj, "reason": "曾任职"})
    assert reg.ledger.size() == size + 1


def test_plan_workflow_and_bounds(reg, demo):
    op = reg.actor_for(reg.get("account", "op-scjg"))
    base = {"code": "P2", "name": "计划", "year": 2026, "departments": ["scjg"], "items": ["SCJG-001"],
            "window_start": "2026-04-01", "window_end": "2026-06-30"}
    with pytest.raises(RecordError) as err:
        reg.save(op, "plan", {**base, "ratios_bp": {"A": 100, "B": 200, "C": 300, "D": 400}})
    assert err.value.errors[0]["field"] == "ratios_bp"  # below the general item's 5% floor
    plan = reg.save(op, "plan", base)
    assert plan["ratios_bp"] == {"A": 100, "B": 300, "C": 1000, "D": 2000} and plan["team_size"] == 2
    admin = reg.actor_for(reg.get("account", "admin"))
    with pytest.raises(Conflict, match="双人审批"):  # four eyes: no approval without a submission
        reg.set_plan_status(admin, "P2", "approved")
    submitted = reg.set_plan_status(op, "P2", "submitted")
    assert submitted["submitted_by"] == "op-scjg"
    with pytest.raises(Conflict):  # a submitted plan is not edited
        reg.save(op, "plan", {**base, "name": "改"})
    with pytest.raises(Forbidden, match="另一人"):  # the submitter does not approve
        reg.set_plan_status(op, "P2", "approved")
    with pytest.raises(Conflict, match="理由"):
        reg.set_plan_status(admin, "P2", "draft")
    reg.set_plan_status(admin, "P2", "draft", reason="比例需调整")  # returned with a reason
    reg.save(op, "plan", {**base, "name": "改后的计划"})
    reg.set_plan_status(op, "P2", "submitted")
    approved = reg.set_plan_status(admin, "P2", "approved")
    assert approved["status"] == "approved" and "submitted_by" not in approved
    with pytest.raises(Conflict):
        reg.save(op, "plan", {**base, "name": "改"})
    with pytest.raises(Conflict):
        reg.set_plan_status(op, "P2", "approved")
    assert reg.set_plan_status(op, "P2", "published")["status"] == "published"
    entries = [e for e in reg.ledger.entries(0, reg.ledger.size()) if e.payload.get("id") == "P2"]
    assert [e.type for e in entries] == [
        "registry.plan.added", "registry.plan.submitted", "registry.plan.returned", "registry.plan.changed",
        "registry.plan.submitted", "registry.plan.approved", "registry.plan.published"]
    # both signatures on the log: the approval, signed by the admin, names the submission signed by the operator
    approval = entries[5]
    assert approval.actor_id != entries[4].actor_id
    assert approval.payload["submitted_seq"] == entries[4].seq and approval.payload["submitted_by"] == "op-scjg"
    assert entries[2].payload["reason"] == "比例需调整"


def test_four_eyes_can_be_turned_off_per_department(reg, demo):
    op = reg.actor_for(reg.get("account", "op-scjg"))
    admin = reg.actor_for(reg.get("account", "admin"))
    reg.save(admin, "department", {**reg.get("department", "scjg"), "four_eyes": False}, create=False)
    reg.save(op, "plan", {"code": "P3", "name": "计划", "year": TODAY.year, "departments": ["scjg"],
                          "items": ["SCJG-001"], "window_start": days(0), "window_end": days(60)})
    reg.set_plan_status(op, "P3", "submitted")
    assert reg.set_plan_status(op, "P3", "approved")["status"] == "approved"  # the department chose one person


def test_failed_transaction_leaves_nothing_half_written(reg, demo):
    admin = reg.actor_for(reg.get("account", "admin"))
    size = reg.ledger.size()
    subs = sorted(_db(reg)["subject"].values(), key=lambda s: s["code"])[:3]
    changed = [{**s, "complaints": 77} for s in subs]
    changed[2]["region"] = "990000"  # invalid: apply_batch validates record by record
    with pytest.raises(RecordError):
        reg.apply_batch(admin, "subject", changed)
    assert reg.ledger.size() == size
    assert all(reg.get("subject", s["code"])["complaints"] == s["complaints"] for s in subs)


def test_certificate_validity_and_filters():
    insp = {"status": "在岗", "cert_valid_from": "2024-01-01", "cert_valid_to": "2026-03-01"}
    from datetime import date
    assert records.certificate_valid_on(insp, date(2026, 3, 1))
    assert not records.certificate_valid_on(insp, date(2026, 3, 2))
    assert not records.certificate_valid_on({**insp, "status": "停用"}, date(2025, 3, 2))
    subj = {"code": "x", "region": "150222", "industry": "C1311", "credit_class": "C", "status": "存续",
            "licences": ["食品生产许可证"], "tags": ["重点监管"], "abnormal": True, "complaints": 3}
    assert records.match_filter(subj, {"regions": ["150200"], "industries": ["C13"], "credit_classes": ["C", "D"]})
    assert not records.match_filter(subj, {"regions": ["150221"]})
    assert records.match_filter(subj, {"tags_any": ["重点监管", "x"], "abnormal": True, "min_complaints": 3})
    assert not records.match_filter(subj, {"licences": ["排污许可证"]})
