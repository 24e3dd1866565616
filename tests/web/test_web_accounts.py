"""The staff page 账户与密钥: an administrator gives an account an SM2 key and, after its key was
revoked, issues it a new one; others cannot reach it; every change is a log entry."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import csrf_of, login


def test_admin_gives_sm2_key_and_new_key_after_revocation(web_app: Any) -> None:
    from ledger.rotation import revoke_actor_key
    from web.registry_api import registry

    with web_app.app_context():
        reg = registry()
    led = reg.ledger
    reg.create_account(reg.system, {"id": "keytest", "name": "测试员", "role": "auditor"}, "a-long-password-1")
    c = web_app.test_client()
    login(c, "admin")
    page = c.get("/staff/accounts").get_data(as_text=True)
    assert 'data-account="keytest"' in page and "登记国密 SM2 密钥" in page
    tok = csrf_of(c.get("/staff/accounts").data)
    r = c.post("/staff/accounts/keytest/sm2-key", data={"csrf_token": tok}, follow_redirects=True)
    assert r.status_code == 200 and "已为账户 keytest 登记国密 SM2 密钥" in r.get_data(as_text=True)
    assert "user:keytest" in led.sm2_actors()
    key_id = reg.get("account", "keytest")["key_id"]
    revoke_actor_key(led, "user:keytest", key_id, "密钥遗失")
    page = c.get("/staff/accounts").get_data(as_text=True)
    assert "无有效密钥（已吊销）" in page
    r = c.post("/staff/accounts/keytest/new-key", data={"csrf_token": tok}, follow_redirects=True)
    assert r.status_code == 200 and "已为账户 keytest 签发新密钥" in r.get_data(as_text=True)
    assert reg.get("account", "keytest")["key_id"] != key_id
    r = c.post("/staff/accounts/keytest/new-key", data={"csrf_token": tok}, follow_redirects=True)
    assert "仍有有效密钥" in r.get_data(as_text=True)  # refused, named, nothing written
    en = c.get("/staff/accounts?lang=en").get_data(as_text=True)
    assert "Accounts and signing keys" in en and "账户与签名密钥" not in en


def test_accounts_page_is_for_admins_only(web_app: Any) -> None:
    c = web_app.test_client()
    assert c.get("/staff/accounts").status_code in (302, 401, 403)
    login(c, "op-scjg")
    assert c.get("/staff/accounts").status_code == 403
    tok = csrf_of(c.get("/staff/draws").data)
    assert c.post("/staff/accounts/op-scjg/sm2-key", data={"csrf_token": tok}).status_code == 403
