"""REST API: a walk of every endpoint with every role, CSRF, tokens, import, OpenAPI."""

import pytest

from drawsvc.registry.demo import seed_registries

PW = "demo-pass-2026"
ROLES = ["public", "admin", "operator", "other_operator", "inspector", "auditor"]
LOGIN = {"admin": ("admin", "demo-admin-2026"), "operator": ("op-scjg", PW), "other_operator": ("op-yjgl", PW),
         "inspector": ("insp-p001", PW), "auditor": ("auditor", PW)}


@pytest.fixture
def county(reg):
    return seed_registries(reg, subjects=30)


def _client(app, role):
    c = app.test_client()
    headers = {}
    if role != "public":
        acc, pw = LOGIN[role]
        r = c.post("/api/v1/session", json={"account": acc, "password": pw})
        assert r.status_code == 200, r.json
        headers["X-CSRF-Token"] = r.json["csrf_token"]
    return c, headers


def _cases(reg, plan):
    subj = sorted(s["code"] for s in reg.list("subject"))
    item = reg.get("item", "SCJG-001")
    new_subject = {"code": "91350100M000100Y43", "name": "测试公司", "region": "350100", "industry": "C13"}
    # (method, path, json, {role: expected status}); roles not named expect the default
    W = {"public": 401, "inspector": 403, "auditor": 403}
    return [
        ("GET", "/api/v1/departments", None, {}),
        ("GET", "/api/v1/departments/scjg", None, {}),
        ("POST", "/api/v1/departments", {"code": "new", "name": "新部门"},
         {**W, "admin": 201, "operator": 403, "other_operator": 403}),
        ("PUT", "/api/v1/departments/rfb", {"name": "县国防动员办"}, {**W, "admin": 200, "operator": 403, "other_operator": 403}),
        ("DELETE", "/api/v1/departments/scjg", None, {**W, "admin": 409, "operator": 403, "other_operator": 403}),
        ("GET", "/api/v1/items", None, {}),
        ("GET", "/api/v1/items/SCJG-001", None, {}),
        ("GET", "/api/v1/items/SCJG-001/history", None, {}),
        ("POST", "/api/v1/items", {**item, "code": "SCJG-009"}, {**W, "admin": 201, "operator": 201, "other_operator": 403}),
        ("PUT", "/api/v1/items/SCJG-001", {"content": "新内容"}, {**W, "admin": 200, "operator": 200, "other_operator": 403}),
        ("GET", "/api/v1/subjects", None, {}),
        ("GET", f"/api/v1/subjects/{subj[0]}", None, {}),
        ("POST", "/api/v1/subjects", new_subject, {**W, "admin": 201, "operator": 201, "other_operator": 201}),
        ("POST", "/api/v1/subjects", {**new_subject, "code": "91350100M000100Y44"},
         {**W, "admin": 422, "operator": 422, "other_operator": 422}),
        ("PUT", f"/api/v1/subjects/{subj[1]}", {"complaints": 4}, {**W, "admin": 200, "operator": 200, "other_operator": 200}),
        ("DELETE", f"/api/v1/subjects/{subj[2]}", None, {**W, "admin": 204, "operator": 204, "other_operator": 204}),
        ("GET", "/api/v1/inspectors", None, {}),
        ("GET", "/api/v1/inspectors/P002", None, {}),
        ("POST", "/api/v1/inspectors", {"name": "新人", "cert_no": "X1", "cert_valid_from": "2025-01-01",
                                        "cert_valid_to": "2029-01-01", "department": "scjg"},
         {**W, "admin": 201, "operator": 201, "other_operator": 403}),
        ("PUT", "/api/v1/inspectors/P002", {"specialties": ["食品安全"]},
         {**W, "admin": 200, "operator": 200, "other_operator": 403}),
        ("DELETE", "/api/v1/inspectors/P007", None, {**W, "admin": 204, "operator": 204, "other_operator": 403}),
        ("GET", "/api/v1/experts", None, {}),
        ("GET", "/api/v1/experts/E01", None, {}),
        ("POST", "/api/v1/experts", {"id": "E99", "name": "专家", "specialties": ["食品检验"]},
         {**W, "admin": 201, "operator": 201, "other_operator": 201}),
        ("PUT", "/api/v1/experts/E01", {"title": "教授"}, {**W, "admin": 200, "operator": 200, "other_operator": 200}),
        ("DELETE", "/api/v1/experts/E02", None, {**W, "admin": 204, "operator": 204, "other_operator": 204}),
        ("GET", "/api/v1/conflicts", None, {"public": 401}),
        ("GET", f"/api/v1/conflicts/{reg.list('conflict')[0]['id']}", None, {"public": 401}),
        ("POST", "/api/v1/conflicts", {"inspector": "P001", "subject": subj[3], "reason": "曾任职"},
         {"public": 401, "auditor": 403, "admin": 201, "operator": 201, "other_operator": 403, "inspector": 201}),
        ("DELETE", f"/api/v1/conflicts/P001~{subj[3]}", None,
         {"public": 401, "auditor": 403, "admin": 204, "operator": 204, "other_operator": 404, "inspector": 204}),
        ("GET", "/api/v1/sublibraries", None, {}),
        ("GET", "/api/v1/sublibraries/food", None, {}),
        ("GET", "/api/v1/sublibraries/food/subjects", None, {}),
        ("POST", "/api/v1/sublibraries", {"code": "d", "name": "D类", "department": "scjg",
                                          "filter": {"credit_classes": ["D"]}},
         {**W, "admin": 201, "operator": 201, "other_operator": 403}),
        ("PUT", "/api/v1/sublibraries/food", {"name": "食品子库"}, {**W, "admin": 200, "operator": 200, "other_operator": 403}),
        ("DELETE", "/api/v1/sublibraries/all-active", None, {**W, "admin": 409, "operator": 403, "other_operator": 403}),
        ("DELETE", "/api/v1/sublibraries/food", None, {**W, "admin": 204, "operator": 204, "other_operator": 403}),
        ("GET", "/api/v1/plans", None, {}),
        ("GET", f"/api/v1/plans/{plan}", None, {"public": 404}),
        ("POST", "/api/v1/plans", {"code": "P9", "name": "计划", "year": 2026, "departments": ["scjg"],
                                   "items": ["SCJG-002"], "window_start": "2026-04-01", "window_end": "2026-05-01"},
         {**W, "admin": 201, "operator": 201, "other_operator": 403}),
        ("PUT", f"/api/v1/plans/{plan}", {"note": "改"}, {**W, "admin": 409, "operator": 409, "other_operator": 403}),
        ("POST", f"/api/v1/plans/{plan}/approve", None, {**W, "admin": 409, "operator": 409, "other_operator": 403}),
        ("POST", f"/api/v1/plans/{plan}/reopen", None, {**W, "admin": 409, "operator": 409, "other_operator": 403}),
        ("POST", f"/api/v1/plans/{plan}/reopen", {"reason": "补充事项"},
         {**W, "admin": 200, "operator": 200, "other_operator": 403}),
        ("POST", f"/api/v1/plans/{plan}/approve", None, {**W, "admin": 409, "operator": 409, "other_operator": 403}),
        ("POST", f"/api/v1/plans/{plan}/submit", None, {**W, "admin": 200, "operator": 200, "other_operator": 403}),
        # four eyes: whoever submitted cannot approve (another account does: test_reg_ledger)
        ("POST", f"/api/v1/plans/{plan}/approve", None, {**W, "admin": 403, "operator": 403, "other_operator": 403}),
        ("POST", f"/api/v1/plans/{plan}/return", {"reason": "比例需调整"},
         {**W, "admin": 200, "operator": 200, "other_operator": 403}),
        ("POST", f"/api/v1/plans/{plan}/publish", None, {**W, "admin": 409, "operator": 409, "other_operator": 403}),
        ("GET", f"/api/v1/plans/{plan}", None, {"public": 404}),
        ("GET", "/api/v1/accounts", None, {"public": 401}),
        ("GET", "/api/v1/accounts/op-scjg", None, {"public": 401, "other_operator": 404, "inspector": 404}),
        ("POST", "/api/v1/accounts", {"id": "new-op", "role": "operator", "departments": ["rfb"], "password": "long-password-1"},
         {"public": 401, "admin": 201, "operator": 403, "other_operator": 403, "inspector": 403, "auditor": 403}),
        ("PUT", "/api/v1/accounts/op-rfb", {"departments": ["rfb", "zjj"]},
         {"public": 401, "admin": 200, "operator": 403, "other_operator": 403, "inspector": 403, "auditor": 403}),
        ("POST", "/api/v1/accounts/op-rfb/password", {"password": "another-password"},
         {"public": 401, "admin": 204, "operator": 403, "other_operator": 403, "inspector": 403, "auditor": 403}),
        ("POST", "/api/v1/accounts/op-rfb/key", None,  # it holds a key in force: rotate or revoke it first
         {"public": 401, "admin": 409, "operator": 403, "other_operator": 403, "inspector": 403, "auditor": 403}),
        ("POST", "/api/v1/accounts/op-rfb/sm2-key", None,
         {"public": 401, "admin": 201, "operator": 403, "other_operator": 403, "inspector": 403, "auditor": 403}),
        ("GET", "/api/v1/tokens", None, {"public": 401}),
        ("POST", "/api/v1/tokens", {"name": "ci"}, {"public": 401, "auditor": 403, "admin": 201, "operator": 201,
                                                     "other_operator": 201, "inspector": 201}),
        ("GET", "/api/v1/tokens/tok_nothere", None, {"public": 401, "admin": 404, "operator": 404,
                                                      "other_operator": 404, "inspector": 404, "auditor": 404}),
        ("DELETE", "/api/v1/tokens/tok_nothere", None, {"public": 401, "auditor": 403, "admin": 404, "operator": 404,
                                                         "other_operator": 404, "inspector": 404}),
        ("GET", "/api/v1/session", None, {}),
        ("GET", "/api/v1/export/subjects.csv", None, {}),
        ("GET", "/api/v1/export/items.xlsx", None, {}),
        ("GET", "/api/v1/export/conflicts.csv", None, {"public": 401}),
        ("GET", "/api/v1/export/accounts.csv", None, {"public": 401, "operator": 403, "other_operator": 403,
                                                      "inspector": 403}),
        ("POST", "/api/v1/import/subjects?dry_run=1", None, {**W, "admin": 400, "operator": 400, "other_operator": 400}),
        ("GET", "/api/v1/registry/state", None, {"public": 401, "operator": 403, "other_operator": 403, "inspector": 403}),
        ("GET", "/api/v1/openapi.json", None, {}),
        ("POST", "/api/v1/items/SCJG-001/withdraw", None, {**W, "admin": 200, "operator": 200, "other_operator": 403}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_role_walk(app, reg, county, role):
    c, headers = _client(app, role)
    failures = []
    seen = set()
    for method, path, body, expect in _cases(reg, county["plan"]):
        want = expect.get(role, 200)
        r = c.open(path, method=method, json=body, headers=headers)
        seen.add((method, path.split("?")[0]))
        if r.status_code != want:
            failures.append(f"{role} {method} {path}: {r.status_code} (want {want}) {r.get_data(as_text=True)[:200]}")
        if r.status_code >= 400:
            assert "error" in r.json and r.json["error"]["message"]
    assert not failures, "\n".join(failures)


def test_every_endpoint_is_walked(app, reg, county):
    import re

    walked = {(m, re.sub(r"/api/v1/", "/", p.split("?")[0])) for m, p, _, _ in _cases(reg, county["plan"])}
    walked_patterns = {(m, re.sub(r"[^/]+", "x", p)) for m, p in walked}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("registry."):
            continue
        shape = re.sub(r"[^/]+", "x", re.sub(r"^/api/v1/", "/", rule.rule))
        for m in rule.methods - {"HEAD", "OPTIONS"}:
            assert (m, shape) in walked_patterns or m == "DELETE" and rule.rule.endswith("/session") \
                or m == "POST" and rule.rule.endswith("/session"), f"not walked: {m} {rule.rule}"


def test_csrf_tokens_and_field_errors(app, reg, county):
    c, headers = _client(app, "operator")
    assert c.post("/api/v1/experts", json={"id": "E77", "name": "x", "specialties": ["a"]}).status_code == 403
    r = c.post("/api/v1/subjects", json={"code": "bad", "name": ""}, headers=headers)
    assert r.status_code == 422
    fields = {d["field"] for d in r.json["error"]["details"]}
    assert {"code", "name", "region", "industry"} <= fields
    assert c.post("/api/v1/subjects", data="not json", headers={**headers, "Content-Type": "application/json"}
                  ).status_code == 400
    r = c.post("/api/v1/tokens", json={"name": "robot"}, headers=headers)
    secret = r.json["secret"]
    other = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert other.get("/api/v1/session", headers=auth).json["account"] == "op-scjg"
    assert other.post("/api/v1/experts", json={"id": "E78", "name": "y", "specialties": ["b"]},
                      headers=auth).status_code == 201
    assert c.delete(f"/api/v1/tokens/{r.json['id']}", headers=headers).status_code == 204
    assert other.get("/api/v1/session", headers=auth).status_code == 401
    assert app.test_client().post("/api/v1/session", json={"account": "op-scjg", "password": "wrong"}).status_code == 401


def test_certificate_validity_ending_before_it_starts_is_refused(app, reg, county):
    """A cross-field rule no schema states (the fuzz test names it): refused naming the field,
    on a new inspector and on a partial update against the stored start, with nothing logged."""
    c, headers = _client(app, "operator")
    ledger = app.extensions["ledger"]
    before = ledger.size()
    r = c.post("/api/v1/inspectors", json={"name": "新人", "cert_no": "X2", "cert_valid_from": "2027-01-01",
                                           "cert_valid_to": "2026-01-01", "department": "scjg"}, headers=headers)
    assert r.status_code == 422 and "cert_valid_to" in {d["field"] for d in r.json["error"]["details"]}
    stored = c.get("/api/v1/inspectors/P002").json
    r = c.put("/api/v1/inspectors/P002", json={"cert_valid_to": "1999-01-01"}, headers=headers)
    assert r.status_code == 422 and "cert_valid_to" in {d["field"] for d in r.json["error"]["details"]}
    assert c.get("/api/v1/inspectors/P002").json == stored and ledger.size() == before


def test_import_over_http(app, reg, county):
    c, headers = _client(app, "operator")
    data = "统一社会信用代码,名称,行政区划代码,行业代码\n91350100M000100Y44,x,350100,C13\n".encode()
    r = c.post("/api/v1/import/subjects?filename=s.csv", data=data, headers=headers)
    assert r.status_code == 422 and r.json["errors"][0]["row"] == 2
    data = "统一社会信用代码,名称,行政区划代码,行业代码\n91350100M000100Y43,x,350100,C13\n".encode()
    import io
    r = c.post("/api/v1/import/subjects", data={"file": (io.BytesIO(data), "s.csv")}, headers=headers,
               content_type="multipart/form-data")
    assert r.status_code == 200 and r.json["added"] == 1


def test_openapi_document_is_generated(app):
    doc = app.test_client().get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/subjects" in doc["paths"] and "post" in doc["paths"]["/api/v1/subjects"]
    body = doc["paths"]["/api/v1/subjects"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"]
    assert "SubjectIn" in str(doc["components"]["schemas"])


def test_new_key_after_revocation_over_http(app, reg, county):
    from ledger.rotation import revoke_actor_key

    c, headers = _client(app, "admin")
    old = reg.get("account", "op-rfb")["key_id"]
    assert c.post("/api/v1/accounts/nobody/key", headers=headers).status_code == 404
    revoke_actor_key(reg.ledger, "user:op-rfb", old, "密钥泄露")
    r = c.post("/api/v1/accounts/op-rfb/key", headers=headers)
    assert r.status_code == 201, r.json
    assert r.json["key_id"] != old and reg.get("account", "op-rfb")["key_id"] == r.json["key_id"]
    entry = reg.ledger.entry(reg.ledger.size() - 2)
    assert entry.type == "actor.key.registered" and entry.payload["key_id"] == r.json["key_id"]
    r = c.post("/api/v1/accounts/op-rfb/key", headers=headers)
    assert r.status_code == 409 and r.json["error"]["message"]


def test_sm2_account_whose_sm2_key_is_unavailable_is_refused_not_downgraded(app, reg, county):
    """op-scjg holds an SM2 key (the demo's): if its private key cannot be had (the key store row
    switched off, as when the key moved into a module the service cannot reach), its writes are
    refused with a named 403 and nothing is written — never signed with Ed25519 alone."""
    from sqlalchemy import update

    from ledger.schema import actor_keys

    with reg.ledger.engine.begin() as conn:
        conn.execute(update(actor_keys).where(actor_keys.c.actor_id == "sm2:user:op-scjg").values(active=False))
    reg._signers.clear()
    c, headers = _client(app, "operator")
    size = reg.ledger.size()
    r = c.post("/api/v1/sublibraries", json={"code": "nosm2", "name": "无国密密钥", "department": "scjg",
                                             "filter": {"statuses": ["存续"]}}, headers=headers)
    assert r.status_code == 403 and r.json["error"]["code"] == "sm2_signature_required", r.json
    assert reg.ledger.size() == size
