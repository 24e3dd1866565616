"""The public key page 密钥与见证者 and GET /api/v1/log/keys (SPEC §3): every actor, witness and log
key with its history, read from the log; a revoked client key's later record is refused."""

from __future__ import annotations

import re
from typing import Any

from nacl.signing import SigningKey

from ledger.entry import key_id_for
from ledger.external import create_client, sign_record
from ledger.note import ALG_COSIGNATURE_V1, NoteVerifier
from ledger.rotation import (
    register_witness,
    revoke_actor_key,
    revoke_log_key,
    revoke_witness,
    rotate_witness,
    witness_rotation_statement,
)


def _post(client: Any, token: str, key: SigningKey, n: int) -> Any:
    record = {"permit": f"闽A-{n:04d}"}
    return client.post("/api/v1/log/entries", headers={"Authorization": f"Bearer {token}"},
                       json={"type": "external.permit", "record": record,
                             "client_sig": sign_record("permits", "external.permit", record, key)})


def _wkey(key: SigningKey) -> str:
    return NoteVerifier("notary", bytes(key.verify_key), ALG_COSIGNATURE_V1).encode()


def test_key_page_and_api_show_every_change(app: Any, client: Any) -> None:
    ledger = app.extensions["ledger"]
    ck = SigningKey.generate()
    token = create_client(ledger, "permits", bytes(ck.verify_key))
    assert _post(client, token, ck, 1).status_code == 201
    kid = key_id_for(bytes(ck.verify_key))
    rev = revoke_actor_key(ledger, "client:permits", kid, "对接系统停用")
    refused = _post(client, token, ck, 2)  # the attack: the revoked client keeps submitting
    assert refused.status_code == 401 and "error" in refused.get_json()
    w1, w2 = SigningKey.generate(), SigningKey.generate()
    register_witness(ledger, _wkey(w1))
    rot = rotate_witness(ledger, witness_rotation_statement("notary", w1, w2))
    wrev = revoke_witness(ledger, "notary", "公证处更换")
    lrev = revoke_log_key(ledger, SigningKey.generate(), None, "签名服务器更换")

    data = client.get("/api/v1/log/keys").get_json()
    actor = next(k for k in data["actors"] if k["key_id"] == kid)
    assert actor["status"] == "revoked" and actor["actor_id"] == "client:permits"
    assert [e["event"] for e in actor["events"]] == ["registered", "revoked"]
    assert actor["events"][-1] == {"event": "revoked", "seq": rev.seq, "time": rev.time, "reason": "对接系统停用"}
    assert [(k["status"], [e["event"] for e in k["events"]]) for k in data["witnesses"]] == [
        ("retired", ["registered", "rotated_out"]), ("revoked", ["rotated_in", "revoked"])]
    assert data["witnesses"][1]["events"][0]["seq"] == rot.seq
    assert data["witnesses"][1]["events"][1]["seq"] == wrev.seq
    ed = [k for k in data["log"] if k["algorithm"] == "ed25519"]
    assert [k["status"] for k in ed] == ["revoked", "in_force"]
    assert ed[0]["events"][-1]["seq"] == lrev.seq
    assert [k["status"] for k in data["log"] if k["algorithm"] == "sm2"] == ["in_force"]  # drawsvc init's 国密 key
    assert next(k for k in data["actors"] if k["actor_id"] == "system")["status"] == "in_force"

    html = client.get("/public/keys").get_data(as_text=True)
    assert "密钥与见证者" in html and "已吊销" in html and "轮换停用" in html and "对接系统停用" in html
    assert f'href="/api/v1/log/entries/{rev.seq}"' in html
    assert f'href="/api/v1/log/entries/{lrev.seq}"' in html
    assert not re.search(r"\b(in_force|rotated_out|revoked)\b", html)  # no raw codes on the page
    en = client.get("/public/keys?lang=en").get_data(as_text=True)
    assert "Keys and witnesses" in en and "revoked" in en and "密钥与见证者" not in en
    assert 'href="/public/keys"' in client.get("/public/checkpoint").get_data(as_text=True)


def test_key_page_of_a_fresh_log(client: Any) -> None:
    html = client.get("/public/keys").get_data(as_text=True)
    assert "有效" in html and "日志上尚未登记见证者" in html
    data = client.get("/api/v1/log/keys").get_json()
    assert data["witnesses"] == [] and data["actors"][0]["actor_id"] == "system"
    assert sorted(k["algorithm"] for k in data["log"]) == ["ed25519", "sm2"]


def test_a_person_whose_key_was_revoked_signs_nothing_more(app: Any, client: Any) -> None:
    """谁录入谁负责: an account's key revoked (the person left, the key leaked) — the service refuses
    to sign that account's next change with a clear 403, writes nothing, and says so."""
    from web.registry_api import registry

    ledger = app.extensions["ledger"]
    with app.app_context():
        reg = registry()
        rec = reg.create_account(reg.system, {"id": "admin", "name": "管理员", "role": "admin"}, None)
        _, secret = reg.issue_token(reg.actor_for(rec), "admin", "ops")
    auth = {"Authorization": f"Bearer {secret}"}

    def add(account: str) -> Any:
        return client.post("/api/v1/accounts", headers=auth,
                           json={"id": account, "name": "张三", "role": "auditor"})

    assert add("aud-1").status_code == 201  # the account's key signs
    rev = revoke_actor_key(ledger, "user:admin", rec["key_id"], "调离")
    size = ledger.size()
    refused = add("aud-2")
    assert refused.status_code == 403, refused.get_data(as_text=True)
    assert f"已于日志条目 {rev.seq} 吊销" in refused.get_json()["error"]["message"]
    assert ledger.size() == size  # nothing written


def test_sm2_entry_keys_on_the_key_page(app: Any, client: Any) -> None:
    """SPEC §3 item 11: an actor's SM2 keys are listed beside its Ed25519 keys, a second
    registration retiring the first; the page labels them, in Chinese or (?lang=en) English."""
    from ledger import sm2

    ledger = app.extensions["ledger"]
    ck = SigningKey.generate()
    create_client(ledger, "permits", bytes(ck.verify_key))
    first, second = sm2.generate_private_key(), sm2.generate_private_key()
    sm2.register_actor_sm2_key(ledger, "client:permits", first, None)
    sm2.register_actor_sm2_key(ledger, "client:permits", second, None)
    data = client.get("/api/v1/log/keys").get_json()
    mine = [k for k in data["actors"] if k["actor_id"] == "client:permits"]
    assert sorted((k["algorithm"], k["status"]) for k in mine) == [
        ("ed25519", "in_force"), ("sm2", "in_force"), ("sm2", "retired")]
    old = next(k for k in mine if k["algorithm"] == "sm2" and k["status"] == "retired")
    assert old["key_id"] == key_id_for(sm2.public_key_of(first))
    assert [e["event"] for e in old["events"]] == ["registered", "rotated_out"]
    assert client.get("/public/keys").get_data(as_text=True).count("国密 SM2 条目签名密钥") == 2
    assert client.get("/public/keys?lang=en").get_data(as_text=True).count("SM2 entry signing key") == 2
