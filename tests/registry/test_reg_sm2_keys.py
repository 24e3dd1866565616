"""Actor key lifecycle through the registry, tested by attacking it: an account given an SM2 key
signs its entries with both signatures (SPEC §3 item 11) and the service refuses it Ed25519 alone;
disabling an account revokes its keys, so its old key signs nothing the service accepts or a
verifier passes (REVOKED_KEY); an admin issues a revoked account a new key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drawsvc.registry.authz import Forbidden
from drawsvc.registry.service import Conflict
from drawsvc.registry.state import diff_states, load_state, rebuild_from_ledger
from ledger.entry import make_entry
from ledger.keys import ActorSigner
from ledger.store import KeyRevoked, Sm2SignatureRequired
from verifier.log import LogOptions, verify_log

PW = "correct horse battery staple 9"


@pytest.fixture
def alice(reg):
    reg.create_account(reg.system, {"id": "alice", "name": "Alice", "role": "admin", "departments": []}, PW)
    return reg.actor_for(reg.get("account", "alice"))


def _verify(reg, extra=()):
    led = reg.ledger
    cp = led.checkpoint()
    entries = [e.to_json() for e in led.entries(0, led.size())] + list(extra)
    return verify_log(entries, [cp.note], options=LogOptions(log_key=led.log_signer.verifier.encode()))


def _dept(reg, actor, code):
    return reg.save(actor, "department", {"code": code, "name": f"部门{code}", "level": "county"})


def test_sm2_account_signs_both_and_verifies(reg, alice):
    before = reg.save(alice, "department", {"code": "d1", "name": "一局", "level": "county"})
    assert before
    out = reg.give_sm2_key(reg.system, "alice")
    reg.save(alice, "department", {"code": "d2", "name": "二局", "level": "county"})
    last = reg.ledger.entry(reg.ledger.size() - 1)
    assert last.actor_id == "user:alice" and last.sm2_sig is not None and out["seq"] < last.seq
    assert reg.ledger.entry(out["seq"] - 1).sm2_sig is None  # entries before the registration: Ed25519 only
    rep = _verify(reg)
    assert rep.ok, rep.to_text()
    with reg.ledger.engine.connect() as conn:
        assert diff_states(load_state(conn), rebuild_from_ledger(reg.ledger)) == []


def test_service_refuses_ed25519_only_entry_by_sm2_actor(reg, alice):
    reg.give_sm2_key(reg.system, "alice")
    signer = reg.signer_for("alice")
    stolen = ActorSigner(signer.actor_id, signer.signing_key)  # the Ed25519 key alone, e.g. copied off a backup
    size = reg.ledger.size()
    with pytest.raises(Sm2SignatureRequired):
        reg.ledger.append("registry.department.added", {"id": "x"}, stolen)
    assert reg.ledger.size() == size
    # forged outside the service: the verifier refuses it by name
    forged = make_entry(seq=size, moment=datetime(2026, 3, 2, tzinfo=UTC), entry_type="registry.department.added",
                        actor_id=signer.actor_id, signing_key=signer.signing_key, payload={"id": "x"},
                        prev=reg.ledger.entry(size - 1).leaf_hash().hex())
    rep = _verify(reg, [forged.to_json()])
    assert "ENTRY_SM2_SIGNATURE_MISSING" in rep.codes(), rep.to_text()


def test_sm2_key_needs_a_live_account_and_an_admin(reg, alice):
    reg.create_account(reg.system, {"id": "bob", "name": "Bob", "role": "auditor", "departments": []}, PW)
    bob = reg.actor_for(reg.get("account", "bob"))
    with pytest.raises(Forbidden):
        reg.give_sm2_key(bob, "alice")
    reg.update_account(alice, "bob", {"status": "disabled"})
    with pytest.raises(Conflict):
        reg.give_sm2_key(alice, "bob")


def test_disabling_revokes_keys_and_the_old_key_is_refused_everywhere(reg, alice):
    reg.give_sm2_key(reg.system, "alice")
    old = reg.signer_for("alice")
    reg.create_account(reg.system, {"id": "root2", "name": "Root", "role": "admin", "departments": []}, PW)
    root2 = reg.actor_for(reg.get("account", "root2"))
    reg.update_account(root2, "alice", {"status": "disabled"})
    revoked = [e for e in reg.ledger.entries(0, reg.ledger.size()) if e.type == "actor.key.revoked"]
    assert [e.payload["key_id"] for e in revoked] == [old.key_id]
    # the service: nothing more signed with it, even by a process holding the key
    size = reg.ledger.size()
    with pytest.raises(KeyRevoked):
        reg.ledger.append("registry.department.added", {"id": "late"}, old)
    assert reg.ledger.size() == size
    # the verifier: an entry forged later with the old key (both signatures, backdated) fails
    forged = make_entry(seq=size, moment=datetime(2020, 1, 1, tzinfo=UTC), entry_type="registry.department.added",
                        actor_id=old.actor_id, signing_key=old.signing_key, payload={"id": "late"},
                        prev=reg.ledger.entry(size - 1).leaf_hash().hex(), sm2_key=old.sm2_private)
    rep = _verify(reg, [forged.to_json()])
    assert not rep.ok and "REVOKED_KEY" in rep.codes(), rep.to_text()
    assert _verify(reg).ok
    with reg.ledger.engine.connect() as conn:
        assert diff_states(load_state(conn), rebuild_from_ledger(reg.ledger)) == []


def test_new_key_after_revocation(reg, alice):
    from ledger.rotation import revoke_actor_key

    reg.give_sm2_key(reg.system, "alice")
    with pytest.raises(Conflict):  # a key in force: rotate it, not a second one
        reg.issue_new_key(reg.system, "alice")
    old = reg.signer_for("alice")
    revoke_actor_key(reg.ledger, "user:alice", old.key_id, "笔记本遗失")
    with pytest.raises(Forbidden):
        reg.save(alice, "department", {"code": "d3", "name": "三局", "level": "county"})
    rec = reg.issue_new_key(reg.system, "alice")
    assert rec["key_id"] != old.key_id and reg.get("account", "alice")["key_id"] == rec["key_id"]
    reg.save(alice, "department", {"code": "d3", "name": "三局", "level": "county"})
    last = reg.ledger.entry(reg.ledger.size() - 1)
    assert last.key_id == rec["key_id"] and last.sm2_sig is not None  # still an SM2 actor
    rep = _verify(reg)
    assert rep.ok, rep.to_text()
    with reg.ledger.engine.connect() as conn:  # the account's new key is in the registry the log rebuilds
        assert diff_states(load_state(conn), rebuild_from_ledger(reg.ledger)) == []


def test_audit_finds_a_stripped_or_forged_sm2_sig_in_storage(reg, alice):
    """Someone with write access to the database strips one entry's sm2_sig and forges another's:
    the service's own audit names both entries (beside the root mismatches of the rewrite)."""
    import json

    from sqlalchemy import update

    from ledger.audit import Auditor
    from ledger.canonical import canonical_bytes
    from ledger.schema import log_entries

    reg.give_sm2_key(reg.system, "alice")
    reg.save(alice, "department", {"code": "d4", "name": "四局", "level": "county"})
    reg.save(alice, "department", {"code": "d5", "name": "五局", "level": "county"})
    reg.ledger.checkpoint()
    n = reg.ledger.size()
    assert not [f for f in Auditor(reg.ledger.engine, reg.ledger.log_signer.verifier).run().findings], "honest log"
    a, b = reg.ledger.entry(n - 2).to_json(), reg.ledger.entry(n - 1).to_json()
    del a["sm2_sig"]
    b["sm2_sig"] = b["sm2_sig"][:10] + ("A" if b["sm2_sig"][10] != "A" else "B") + b["sm2_sig"][11:]
    with reg.ledger.engine.begin() as conn:
        for e in (a, b):
            conn.execute(update(log_entries).where(log_entries.c.seq == e["seq"]).values(leaf=canonical_bytes(e)))
    found = [f for f in Auditor(reg.ledger.engine, reg.ledger.log_signer.verifier).run().findings]
    text = json.dumps([str(f) for f in found], ensure_ascii=False)
    assert f"entry {n - 2}" in text and "no SM2 signature" in text, text
    assert f"entry {n - 1}" in text and "does not verify" in text, text
