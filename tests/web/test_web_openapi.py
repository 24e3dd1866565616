"""The served OpenAPI document says what the API is (issue 13): every API route is in it with its
methods and nothing else is; every parameter carries the bound web/limits.py enforces; and the
error answers the code gives are the ones documented, with the documented body.

Independent of what ran before in the process: the document is built per app (another app, such as
the registry tests' registry-only one, asking first once made it describe that app), and the
clients log in from addresses of their own (the login throttle's counts live in the shared demo)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import PASSWORDS, make_app
from web import limits


@pytest.fixture(scope="module")
def app(demo: Any):  # type: ignore[no-untyped-def]
    return make_app(demo, TESTING=False)


@pytest.fixture(scope="module")
def doc(app: Any) -> dict[str, Any]:
    return app.test_client().get("/api/v1/openapi.json").get_json()


def _api_routes(app: Any) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        if not path.startswith(("/api/v1/", "/checkpoint", "/tile/")) or "apidoc" in path or path.endswith("openapi.json"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out.add((method.lower(), path))
    return out


def test_every_api_route_is_documented_and_nothing_else(app: Any, doc: dict[str, Any]) -> None:
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == _api_routes(app)
    assert not any(p.startswith(("/staff", "/public/", "/verify")) for p in doc["paths"])


def test_parameters_carry_their_bounds(doc: dict[str, Any]) -> None:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                s = p["schema"]
                where = (method, path, p["name"])
                if s.get("type") == "integer":
                    assert "maximum" in s and "minimum" in s, where
                elif s.get("type") == "string":
                    assert "maxLength" in s or "enum" in s or "pattern" in s, where
                if p["name"] == "year":
                    assert (s["minimum"], s["maximum"]) == (limits.YEAR_MIN, limits.YEAR_MAX), where
                if p["name"] == "limit":
                    assert s["maximum"] == limits.MAX_PAGE, where
    report = doc["paths"]["/api/v1/inspections/reports/{kind}"]["get"]
    assert {p["name"] for p in report["parameters"]} >= {"year", "month", "half", "format", "department"}
    assert doc["paths"]["/api/v1/draws"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] \
        == ["plan", "department", "sources"]


def _session(app: Any, account: str) -> tuple[Any, dict[str, str]]:
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = "10.13.1.1"
    r = c.post("/api/v1/session", json={"account": account, "password": PASSWORDS[account]})
    assert r.status_code == 200
    return c, {"X-CSRF-Token": r.json["csrf_token"]}


def test_each_app_is_described_by_its_own_routes(demo: Any, doc: dict[str, Any], app: Any) -> None:
    """Two apps in one process: a registry-only app asking first does not make the full app's
    document (nor spectree's own copy, read by the Swagger page) describe the registry alone."""
    from flask import Flask

    from web.openapi import init_openapi
    from web.registry_api import bp

    small = Flask("registry-only")
    small.config.update(TESTING=True, SECRET_KEY="test")
    small.register_blueprint(bp)
    init_openapi(small)
    small_doc = small.test_client().get("/api/v1/openapi.json").get_json()
    full = make_app(demo)  # built after the small one asked
    full_doc = full.test_client().get("/api/v1/openapi.json").get_json()

    def documented(d: dict[str, Any]) -> set[tuple[str, str]]:
        return {(m, p) for p, ops in d["paths"].items() for m in ops}

    assert documented(small_doc) == _api_routes(small) and "/api/v1/draws" not in small_doc["paths"]
    assert documented(full_doc) == _api_routes(full) == documented(doc)
    assert full.test_client().get("/api/v1/apidoc/openapi.json").get_json() == full_doc
    assert app.test_client().get("/api/v1/openapi.json").get_json() == doc  # the first app's is unchanged


def test_documented_errors_are_the_ones_returned(app: Any, doc: dict[str, Any]) -> None:
    anon = app.test_client()
    anon.environ_base["REMOTE_ADDR"] = "10.13.1.2"  # its failed login counts against its own address
    insp, ih = _session(app, "insp-p001")
    admin, ah = _session(app, "admin")
    cases = [
        (anon, {}, "get", "/api/v1/inspections/reports/{kind}", "/api/v1/inspections/reports/annual", 401),
        (insp, ih, "get", "/api/v1/inspections/reports/{kind}", "/api/v1/inspections/reports/annual", 403),
        (admin, ah, "get", "/api/v1/inspections/reports/{kind}", "/api/v1/inspections/reports/annual?year=1", 400),
        (anon, {}, "get", "/api/v1/subjects/{key}", "/api/v1/subjects/NOPE", 404),
        (anon, {}, "get", "/api/v1/subjects", f"/api/v1/subjects?limit={limits.MAX_PAGE + 1}", 400),
        (admin, ah, "post", "/api/v1/experts", "/api/v1/experts", 422),
        (admin, ah, "post", "/api/v1/draws/{draw_id}/publish", "/api/v1/draws/NOPE/publish", 404),
        (anon, {}, "get", "/api/v1/items/{key}", "/api/v1/items/" + "x" * (limits.MAX_PATH + 1), 414),
        (anon, {}, "post", "/api/v1/session", "/api/v1/session", 401),
    ]
    error_schema = next(k for k in doc["components"]["schemas"] if k.startswith("ErrorResponse"))
    for client, headers, method, path, url, status in cases:
        r = getattr(client, method)(url, headers=headers, json={"name": 1} if method == "post" else None)
        assert r.status_code == status, (url, r.status_code, r.data[:200])
        documented = doc["paths"][path][method]["responses"]
        assert str(status) in documented, (path, status)
        schema = documented[str(status)]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith(error_schema)
        body = r.get_json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body


# each operation lists the 4xx its code can answer, not one blanket set (issue 13): a service call
# gives the statuses of what its method declares it raises (@raises), not every status the
# blueprint's _call maps; 414 (URL path too long) only where the path has parameters
EXACT_ERRORS = {
    ("get", "/api/v1/draws"): {400, 401, 403},
    ("get", "/api/v1/inspections/tasks"): {400, 401, 403},
    ("get", "/api/v1/log/checkpoints"): {400},
    ("get", "/api/v1/public/draws/{draw_id}"): {400, 404, 414},
    ("get", "/api/v1/inspections/calendar/{year}"): {400, 404, 414},
    ("post", "/api/v1/session"): {400, 401, 403, 413, 429},
    ("delete", "/api/v1/session"): {400, 403},
    ("post", "/api/v1/log/cosignatures"): {400, 403, 404, 409, 413},
    # reading a draw cannot be a wrong state or bad input (DrawService.get raises DrawNotFound only)
    ("get", "/api/v1/draws/{draw_id}"): {400, 401, 403, 404, 414},
    ("get", "/api/v1/draws/{draw_id}/bundle"): {400, 401, 404, 414},
    ("post", "/api/v1/draws"): {400, 401, 403, 409, 413, 422},
    ("post", "/api/v1/draws/{draw_id}/publish"): {400, 401, 403, 404, 409, 414},
    ("post", "/api/v1/draws/{draw_id}/abort"): {400, 401, 403, 404, 409, 413, 414},
    ("get", "/api/v1/public/draws/{draw_id}/subjects/{code}"): {400, 404, 414},
    ("get", "/api/v1/inspections/tasks/{task_id}"): {400, 401, 403, 404, 414},
    ("get", "/api/v1/inspections/results/{result_id}"): {400, 401, 403, 404, 414},
    ("post", "/api/v1/inspections/results/{result_id}/publish"): {400, 401, 403, 404, 409, 414},
    ("post", "/api/v1/inspections/results/{result_id}/return"): {400, 401, 403, 404, 409, 413, 414, 422},
    ("post", "/api/v1/inspections/draws/{draw_id}/tasks"): {400, 401, 403, 404, 409, 414},
    ("put", "/api/v1/inspections/settings/{department}"): {400, 401, 403, 404, 413, 414, 422},
    ("post", "/api/v1/items"): {400, 401, 403, 409, 413, 422},  # adding cannot be a 404
    ("put", "/api/v1/items/{key}"): {400, 401, 403, 404, 409, 413, 414, 422},
    ("delete", "/api/v1/subjects/{key}"): {400, 401, 403, 404, 409, 414},
    ("post", "/api/v1/accounts/{key}/key"): {400, 401, 403, 404, 409, 414},
    ("get", "/api/v1/items"): {400, 401},  # only the subject listing has a ?sublibrary= to miss
    ("get", "/api/v1/subjects"): {400, 401, 404},
    ("post", "/api/v1/plans/{key}/approve"): {400, 401, 403, 404, 409, 414, 422},  # re-checks the record
    ("post", "/api/v1/plans/{key}/submit"): {400, 401, 403, 404, 409, 414},
}


def test_operations_list_exactly_their_errors(doc: dict[str, Any]) -> None:
    for (method, path), codes in EXACT_ERRORS.items():
        listed = {int(c) for c in doc["paths"][path][method]["responses"] if c.startswith("4")}
        assert listed == codes, (method, path, sorted(listed))
    blanket = {400, 401, 403, 404, 409, 413, 414, 422}
    ops = [(m, p, op) for p, o in doc["paths"].items() for m, op in o.items()]
    assert sum({int(c) for c in op["responses"] if c.startswith("4")} == blanket for _, _, op in ops) < len(ops) / 2
    for method, path, op in ops:
        if "requestBody" in op:
            assert "413" in op["responses"], (method, path)
        if method != "get":
            assert "403" in op["responses"], (method, path)  # CSRF, before every change


def test_listed_errors_are_answered(app: Any) -> None:
    """The sets above are not just a scan's opinion: each status is what the operation answers."""
    anon = app.test_client()
    insp, ih = _session(app, "insp-p001")
    assert anon.get("/api/v1/draws").status_code == 401
    assert insp.get("/api/v1/draws", headers=ih).status_code == 403
    assert anon.get("/api/v1/draws", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert anon.get("/api/v1/public/draws/NOPE").status_code == 404
    assert anon.get("/api/v1/log/checkpoints?after=x").status_code == 400
    assert insp.delete("/api/v1/session").status_code == 403  # no CSRF token


def test_status_scan_reads_literals_helpers_and_tuples() -> None:
    from web.errors import ApiError
    from web.openapi import raised_statuses
    from web.registry_api import need

    def helper() -> None:
        raise ApiError(418, "teapot", "x")

    helper.__module__ = "web.example"  # the scan follows the service's own code (web/), not the world
    def view() -> Any:
        need("admin")
        helper()
        return {}, 201

    assert raised_statuses(view) == {201, 401, 403, 418}


def test_each_documented_error_is_provoked(demo: Any) -> None:
    """For a sample of operations, every 4xx the document lists is one the code answers, provoked
    one by one (and the sample covers the whole listed set): the lists are not a scan's opinion."""
    from tests.web.conftest import draw_ids

    small = make_app(demo, TESTING=False, MAX_CONTENT_LENGTH=4096)  # a 413 without a 16 MB body
    doc = small.test_client().get("/api/v1/openapi.json").get_json()
    anon = small.test_client()
    anon.environ_base["REMOTE_ADDR"] = "10.13.1.3"
    admin, ah = _session(small, "admin")
    insp, ih = _session(small, "insp-p001")
    other_dept, oh = _session(small, "op-rfb")
    long_query = "?x=" + "x" * (limits.MAX_QUERY_VALUE + 1)
    long_part = "x" * limits.MAX_PATH
    published = draw_ids(demo)["published"]
    item = admin.get("/api/v1/items?limit=1").get_json()["items"][0]
    task = next(t for t in admin.get("/api/v1/inspections/tasks").get_json()["tasks"]
                if "rfb" not in " ".join([t["department"], *t.get("departments", [])]))
    conflict = admin.get("/api/v1/conflicts?limit=1").get_json()["items"][0]
    cases: dict[tuple[str, str], dict[int, tuple[Any, dict[str, str], str, dict[str, Any]]]] = {
        ("get", "/api/v1/draws/{draw_id}"): {
            400: (anon, {}, f"/api/v1/draws/{published}{long_query}", {}),
            401: (anon, {}, f"/api/v1/draws/{published}", {}),
            403: (insp, ih, f"/api/v1/draws/{published}", {}),
            404: (admin, ah, "/api/v1/draws/NOPE", {}),
            414: (anon, {}, f"/api/v1/draws/{long_part}", {}),
        },
        ("post", "/api/v1/draws/{draw_id}/publish"): {
            400: (anon, {}, f"/api/v1/draws/{published}/publish{long_query}", {}),
            401: (anon, {}, f"/api/v1/draws/{published}/publish", {}),
            403: (insp, ih, f"/api/v1/draws/{published}/publish", {}),
            404: (admin, ah, "/api/v1/draws/NOPE/publish", {}),
            409: (admin, ah, f"/api/v1/draws/{published}/publish", {}),  # published already: a wrong state
            414: (anon, {}, f"/api/v1/draws/{long_part}/publish", {}),
        },
        ("post", "/api/v1/items"): {
            400: (admin, ah, "/api/v1/items", {"data": "not json", "content_type": "application/json"}),
            401: (anon, {}, "/api/v1/items", {"json": {}}),
            403: (insp, ih, "/api/v1/items", {"json": {}}),
            409: (admin, ah, "/api/v1/items", {"json": item}),  # its code exists
            413: (admin, ah, "/api/v1/items", {"json": {"name": "x" * 5000}}),
            422: (admin, ah, "/api/v1/items", {"json": {"name": 1}}),
        },
        ("get", "/api/v1/inspections/tasks/{task_id}"): {
            400: (anon, {}, f"/api/v1/inspections/tasks/{task['id']}{long_query}", {}),
            401: (anon, {}, f"/api/v1/inspections/tasks/{task['id']}", {}),
            403: (other_dept, oh, f"/api/v1/inspections/tasks/{task['id']}", {}),  # another department's task
            404: (admin, ah, "/api/v1/inspections/tasks/NOPE", {}),
            414: (anon, {}, f"/api/v1/inspections/tasks/{long_part}", {}),
        },
        ("delete", "/api/v1/subjects/{key}"): {
            400: (anon, {}, f"/api/v1/subjects/{conflict['subject']}{long_query}", {}),
            401: (anon, {}, f"/api/v1/subjects/{conflict['subject']}", {}),
            403: (insp, ih, f"/api/v1/subjects/{conflict['subject']}", {}),
            404: (admin, ah, "/api/v1/subjects/NOPE", {}),
            409: (admin, ah, f"/api/v1/subjects/{conflict['subject']}", {}),  # a conflict record names it
            414: (anon, {}, f"/api/v1/subjects/{long_part}", {}),
        },
    }
    for (method, path), provoked in cases.items():
        listed = {int(c) for c in doc["paths"][path][method]["responses"] if c.startswith("4")}
        assert set(provoked) == listed, (method, path, sorted(listed))
        for status, (client, headers, url, kwargs) in provoked.items():
            r = getattr(client, method)(url, headers=headers, **kwargs)
            assert r.status_code == status, (method, path, status, r.status_code, r.data[:300])
            assert set(r.get_json()) == {"error"}, r.data[:300]
    assert admin.get(f"/api/v1/subjects/{conflict['subject']}").status_code == 200  # the 409 removed nothing


def test_every_service_call_names_its_declared_refusals(app: Any) -> None:
    """Every `_call(fn, …)` of every API view names a function that declares what it raises
    (@raises), each declared refusal answered by that blueprint's _call: no operation falls back
    to listing every status the mapping knows, and none can turn a declared refusal into a 500."""
    from web.openapi import raised_statuses, views_of

    misses: list[str] = []
    for view in views_of(app).values():
        raised_statuses(view, misses=misses)
    assert misses == []


def test_status_scan_reads_declared_refusals() -> None:
    """`_call(service().get, …)` gives the statuses of what DrawService.get declares; a call the
    scan cannot name gives every status of the mapping, and is reported."""
    from web.draws_api import _call, service
    from web.openapi import raised_statuses

    def reads(draw_id: str) -> Any:
        return _call(service().get, draw_id)

    def runs(draw_id: str) -> Any:
        svc = service()
        return _call(svc.run, None, draw_id)

    def unnamed(fn: Any) -> Any:
        return _call(fn)

    for f in (reads, runs, unnamed):
        f.__module__ = "web.example"
    assert raised_statuses(reads) == {404}
    assert raised_statuses(runs) == {403, 404, 409, 422}
    misses: list[str] = []
    assert raised_statuses(unnamed, misses=misses) == {403, 404, 409, 422}
    assert len(misses) == 1 and "_call(fn)" in misses[0]


def test_an_undeclared_refusal_is_answered_and_warned(app: Any) -> None:
    """A service function raising a refusal it did not declare still gets its 4xx (never a 500),
    with an UndeclaredRefusal warning — an error under pytest, so the test that reaches it fails."""
    from drawsvc.draws.service import DrawStateError
    from drawsvc.raises import raises
    from web.draws_api import _call
    from web.errors import ApiError, UndeclaredRefusal

    @raises(DrawStateError)
    def declared_409() -> None:
        raise DrawStateError("wrong state")

    @raises(DrawStateError)
    def undeclared_404() -> None:
        from drawsvc.draws.service import DrawNotFound

        raise DrawNotFound("no such draw")

    with pytest.raises(ApiError) as err:
        _call(declared_409)
    assert err.value.status == 409
    with pytest.warns(UndeclaredRefusal, match="DrawNotFound"), pytest.raises(ApiError) as err:
        _call(undeclared_404)
    assert err.value.status == 404
