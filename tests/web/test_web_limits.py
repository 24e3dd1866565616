"""Every input has a bound (issue 13): each bound is tried, and the refusal is a 4xx JSON error that
names the limit; the requests that once made 500s or exhausted the server are regression cases."""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any

import pytest

from tests.web.conftest import PASSWORDS, make_app
from web import limits


@pytest.fixture(scope="module")
def app(demo: Any):  # type: ignore[no-untyped-def]
    # TESTING=False: an unhandled error must show as the 500 a client would get, not as a raise
    return make_app(demo, TESTING=False)


def _session(app: Any, account: str = "admin") -> tuple[Any, dict[str, str]]:
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = f"10.13.0.{len(account)}"  # its own address: no shared throttle
    r = c.post("/api/v1/session", json={"account": account, "password": PASSWORDS[account]})
    assert r.status_code == 200, r.data
    return c, {"X-CSRF-Token": r.json["csrf_token"]}


def _refused(r: Any, status: int, *words: str) -> dict[str, Any]:
    """A 4xx JSON error whose message names every word (the bound)."""
    assert r.status_code == status, (r.status_code, r.data[:300])
    err = r.get_json()["error"]
    for w in words:
        assert w in err["message"], (w, err)
    return err


# --- the requests of the issue -------------------------------------------------------------

def test_annual_report_of_year_99999_is_refused_quickly(app: Any) -> None:
    c, h = _session(app, "auditor")
    started = time.perf_counter()
    r = c.get("/api/v1/inspections/reports/annual?year=99999&format=pdf", headers=h)
    assert time.perf_counter() - started < 5
    _refused(r, 400, str(limits.YEAR_MIN), str(limits.YEAR_MAX))
    for year in ("1999", "2101", "²", "-1", "1" * 40):
        assert c.get(f"/api/v1/inspections/reports/annual?year={year}", headers=h).status_code == 400, year
    assert c.get(f"/api/v1/inspections/reports/annual?year={limits.YEAR_MAX}", headers=h).status_code == 200


def test_calendar_of_a_huge_year_is_refused(app: Any) -> None:
    c = app.test_client()
    _refused(c.get("/api/v1/inspections/calendar/2147483648"), 400, str(limits.YEAR_MAX))
    _refused(c.get("/api/v1/inspections/calendar/1"), 400, str(limits.YEAR_MIN))
    assert c.get("/api/v1/inspections/calendar/2026").status_code == 200


def test_login_with_a_list_body_is_a_400(app: Any) -> None:
    c = app.test_client()
    for raw in ("[null, null]", "[]", "3", '"admin"', "null", "{"):
        r = c.post("/api/v1/session", data=raw, content_type="application/json")
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_json", (raw, r.data)
    r = c.post("/api/v1/session", json={"account": ["admin"], "password": {}})
    assert r.status_code == 401


def test_disclosure_of_year_1_is_refused(app: Any) -> None:
    c, h = _session(app)
    _refused(c.post("/api/v1/inspections/disclosures/0/1", headers=h), 400, str(limits.YEAR_MIN))
    _refused(c.get("/api/v1/public/disclosures?year=99999"), 400, str(limits.YEAR_MAX))
    assert c.get("/api/v1/public/disclosures?year=2025").status_code == 200


def test_item_with_an_object_as_kind_is_a_422(app: Any) -> None:
    c, h = _session(app)
    item = {"code": "LIM-1", "name": "n", "legal_basis": "b", "department": "scjg", "object_scope": "o",
            "content": "c", "methods": ["现场检查"]}
    for bad in ({}, [], ["key"]):
        r = c.post("/api/v1/items", json={**item, "kind": bad}, headers=h)
        assert r.status_code == 422, (bad, r.data)
        assert [e["field"] for e in r.json["error"]["details"]] == ["kind"]


# --- each bound ----------------------------------------------------------------------------

def test_page_size_and_integers_are_bounded(app: Any) -> None:
    c = app.test_client()
    assert c.get(f"/api/v1/subjects?limit={limits.MAX_PAGE}").status_code == 200
    _refused(c.get(f"/api/v1/subjects?limit={limits.MAX_PAGE + 1}"), 400, str(limits.MAX_PAGE))
    _refused(c.get("/api/v1/subjects?offset=99999999999999999999"), 400, str(limits.MAX_INT))
    _refused(c.get("/api/v1/log/entries?start=99999999999999999999"), 400, str(limits.MAX_INT))
    _refused(c.get("/api/v1/log/entries/99999999999999999999"), 400, str(limits.MAX_INT))
    _refused(c.get("/api/v1/log/receipts/99999999999999999999"), 400, str(limits.MAX_INT))
    assert c.get("/api/v1/log/entries/²").status_code == 400
    # the pages fall back to their defaults rather than overflow
    for path in ("/public/items?page=99999999999999999999", "/public/draws?page=²"):
        assert c.get(path).status_code == 200, path


@pytest.mark.parametrize(("path", "key"), [("/api/v1/draws", "draws"), ("/api/v1/inspections/tasks", "tasks")])
def test_draws_and_tasks_are_paged_like_every_list(app: Any, path: str, key: str) -> None:
    c, h = _session(app, "auditor")
    everything = c.get(f"{path}?limit={limits.MAX_PAGE}", headers=h)
    assert everything.status_code == 200, everything.data[:300]
    rows = everything.json[key]
    assert len(rows) >= 2 and everything.json["limit"] == limits.MAX_PAGE and everything.json["offset"] == 0
    _refused(c.get(f"{path}?limit=5000", headers=h), 400, str(limits.MAX_PAGE))
    _refused(c.get(f"{path}?limit={limits.MAX_PAGE + 1}", headers=h), 400, str(limits.MAX_PAGE))
    _refused(c.get(f"{path}?offset=99999999999999999999", headers=h), 400, str(limits.MAX_INT))
    one = c.get(f"{path}?limit=1&offset=1", headers=h).json
    assert one[key] == rows[1:2] and (one["limit"], one["offset"]) == (1, 1)
    assert c.get(f"{path}?limit=0", headers=h).json[key] == []
    assert c.get(path, headers=h).json["limit"] == limits.DEFAULT_PAGE


def test_an_inspectors_tasks_are_paged_after_the_team_filter(app: Any) -> None:
    c, h = _session(app, "insp-team")
    rows = c.get(f"/api/v1/inspections/tasks?limit={limits.MAX_PAGE}", headers=h).json["tasks"]
    assert len(rows) >= 2
    for offset in range(len(rows)):
        page = c.get(f"/api/v1/inspections/tasks?limit=1&offset={offset}", headers=h).json["tasks"]
        assert page == rows[offset:offset + 1]


def test_string_lengths_are_bounded(app: Any) -> None:
    c = app.test_client()
    _refused(c.get("/api/v1/subjects?q=" + "x" * (limits.MAX_SEARCH + 1)), 400, str(limits.MAX_SEARCH))
    _refused(c.get("/api/v1/public/results?q=" + "x" * (limits.MAX_SEARCH + 1)), 400, str(limits.MAX_SEARCH))
    _refused(c.get("/api/v1/items?status=" + "x" * (limits.MAX_QUERY_VALUE + 1)), 400, str(limits.MAX_QUERY_VALUE))
    _refused(c.get("/api/v1/items/" + "x" * (limits.MAX_PATH + 1)), 414, str(limits.MAX_PATH))
    c2, h = _session(app)
    r = c2.post("/api/v1/experts", json={"id": "LIM-E", "name": "x" * 5000, "specialties": ["a"]}, headers=h)
    assert r.status_code == 422 and re.search(r"超过\d+字", r.json["error"]["details"][0]["message"])
    # the message is in the request's language, the field and code stay as they are
    r = c2.post("/api/v1/experts?lang=en", json={"id": "LIM-E", "name": "x" * 5000, "specialties": ["a"]}, headers=h)
    assert r.status_code == 422 and re.search(r"longer than \d+ characters", r.json["error"]["details"][0]["message"])


def test_public_search_text_over_the_limit_is_a_400_page_naming_it(app: Any) -> None:
    c = app.test_client()
    long = "企" * (limits.MAX_SEARCH + 1)
    r = c.get("/public/search", query_string={"q": long})
    body = r.data.decode()
    assert r.status_code == 400 and 'id="search-error"' in body, (r.status_code, body[:300])
    assert f"查询文字不能超过 {limits.MAX_SEARCH} 个字符" in body
    r = c.get("/public/search", query_string={"q": long, "lang": "en"})
    assert r.status_code == 400 and f"longer than {limits.MAX_SEARCH} characters" in r.data.decode()
    ok = c.get("/public/search", query_string={"q": "企" * limits.MAX_SEARCH})
    assert ok.status_code == 200 and 'id="search-error"' not in ok.data.decode()


def test_json_size_and_nesting_are_bounded(app: Any) -> None:
    c, h = _session(app)
    deep = "[" * (limits.MAX_JSON_DEPTH + 1) + "]" * (limits.MAX_JSON_DEPTH + 1)
    _refused(c.post("/api/v1/items", data=deep, content_type="application/json", headers=h), 400,
             str(limits.MAX_JSON_DEPTH))
    very_deep = '{"a":' * 100_000 + "1" + "}" * 100_000  # deeper than Python's recursion limit
    _refused(c.post("/api/v1/session", data=very_deep, content_type="application/json"), 400,
             str(limits.MAX_JSON_DEPTH))
    # brackets inside strings are text, not nesting
    ok = json.dumps({"account": "[" * 100, "password": "{" * 100})
    assert c.post("/api/v1/session", data=ok, content_type="application/json").status_code == 401
    big = json.dumps({"account": "x", "password": "y" * limits.MAX_JSON_BODY})
    _refused(c.post("/api/v1/session", data=big, content_type="application/json"), 413, str(limits.MAX_JSON_BODY))


def test_upload_size_is_bounded(app: Any) -> None:
    c, h = _session(app)
    data = b"x" * (limits.MAX_BODY + 1)
    r = c.post("/api/v1/log/cosignatures", data=data, headers=h, content_type="text/plain")
    _refused(r, 413, str(limits.MAX_BODY))
    # an import has its own, tighter bound (test_api_import_size_is_the_staff_page_bound)
    r = c.post("/api/v1/import/subjects?filename=s.csv", data=data, headers=h, content_type="text/csv")
    _refused(r, 413, str(limits.MAX_IMPORT_BYTES))


def test_import_row_count_is_bounded(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from drawsvc.registry import io as regio

    monkeypatch.setattr(regio, "MAX_IMPORT_ROWS", 3)
    c, h = _session(app, "op-scjg")
    rows = "".join(f"91350100M00010{i:02d}Y4{i % 10},x{i},350100,C13\n" for i in range(4))
    data = ("统一社会信用代码,名称,行政区划代码,行业代码\n" + rows).encode()
    r = c.post("/api/v1/import/subjects?dry_run=1", data={"file": (io.BytesIO(data), "s.csv")}, headers=h,
               content_type="multipart/form-data")
    _refused(r, 400, "3")


def _subjects_csv(big_row: int = 3) -> bytes:
    """A subjects CSV whose data row `big_row` (file row, header = 1) holds a name over the csv
    module's field limit."""
    rows = [f"91350100M000{i:04d}Y4{i % 10},x{i},350100,C13" for i in range(4)]
    code = rows[big_row - 2].split(",", 1)[0]
    rows[big_row - 2] = f'{code},"{"名" * (131072 + 1)}",350100,C13'
    return ("统一社会信用代码,名称,行政区划代码,行业代码\n" + "\n".join(rows) + "\n").encode()


def test_a_csv_field_over_the_field_limit_is_a_400_naming_limit_and_row(app: Any) -> None:
    from drawsvc.registry import io as regio

    c, h = _session(app, "op-scjg")
    size = app.extensions["ledger"].size()
    for dry in ("1", "0"):
        r = c.post(f"/api/v1/import/subjects?dry_run={dry}", data={"file": (io.BytesIO(_subjects_csv()), "s.csv")},
                   headers=h, content_type="multipart/form-data")
        _refused(r, 400, str(regio.MAX_CSV_FIELD), "第 3 行")
    assert app.extensions["ledger"].size() == size  # nothing written
    # the staff page: its own error message, in Chinese, with a 4xx
    from tests.web.conftest import csrf_of

    tok = csrf_of(c.get("/staff/import").data)
    r = c.post("/staff/import", data={"csrf_token": tok, "kind": "subjects",
                                      "file": (io.BytesIO(_subjects_csv()), "s.csv")},
               content_type="multipart/form-data")
    body = r.data.decode()
    assert r.status_code == 400 and 'id="import-error"' in body, (r.status_code, body[:500])
    assert str(regio.MAX_CSV_FIELD) in body and "第 3 行" in body and "字段" in body


def test_api_import_size_is_the_staff_page_bound(app: Any) -> None:
    from web.pages import staff

    assert staff.MAX_UPLOAD == limits.MAX_IMPORT_BYTES  # one constant for both
    c, h = _session(app, "op-scjg")
    big = _subjects_csv(2).split(b"\n", 1)[0] + b"\n" + b"#" * limits.MAX_IMPORT_BYTES
    r = c.post("/api/v1/import/subjects?dry_run=1", data={"file": (io.BytesIO(big), "s.csv")},
               headers=h, content_type="multipart/form-data")
    _refused(r, 413, str(limits.MAX_IMPORT_BYTES))
    r = c.post("/api/v1/import/subjects?dry_run=1&filename=s.csv", data=big, headers=h, content_type="text/csv")
    _refused(r, 413, str(limits.MAX_IMPORT_BYTES))
    from tests.web.conftest import csrf_of

    tok = csrf_of(c.get("/staff/import").data)
    r = c.post("/staff/import", data={"csrf_token": tok, "kind": "subjects", "file": (io.BytesIO(big), "s.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 413 and 'id="import-error"' in r.data.decode()


# --- failures schemathesis found (tests/web/test_web_openapi_fuzz.py) ------------------------

def test_account_with_a_number_as_password_is_a_422(app: Any) -> None:
    c, h = _session(app)
    for bad in (12345678901, ["p" * 12], "short", "p" * 1025):
        r = c.post("/api/v1/accounts", json={"id": "lim-acct", "role": "auditor", "password": bad}, headers=h)
        assert r.status_code == 422 and r.json["error"]["details"][0]["field"] == "password", (bad, r.data)
    r = c.post("/api/v1/accounts/admin/password", json={"password": "p" * 1025}, headers=h)
    assert r.status_code == 422


def test_inspection_bodies_of_the_wrong_shape_are_422(app: Any) -> None:
    c, h = _session(app)
    task = {"department": "scjg", "trigger": "complaint", "reference": "r", "subject": "x", "items": ["i"],
            "team": ["a", "b"], "window": {"start": "2026-01-01", "end": "2026-01-02"}}
    for bad in ({"window": [1]}, {"window": "2026"}, {"team": [{}, []]}, {"trigger": ["complaint"]},
                {"window": {"start": "9999-12-01", "end": "9999-12-31"}}):
        r = c.post("/api/v1/inspections/tasks", json={**task, **bad}, headers=h)
        assert r.status_code == 422, (bad, r.data)
    for step, body in (("followup", {"kind": ["x"]}), ("followup-close", {"outcome": {}, "decision_date": "2026-01-01"})):
        r = c.post(f"/api/v1/inspections/results/NOPE:scjg/{step}", json=body, headers=h)
        assert r.status_code in (404, 422), (step, r.data)


def test_a_second_inspector_with_the_same_certificate_number_is_a_409_not_a_500(app: Any) -> None:
    """Found by the schema-driven fuzzer once the document described valid certificate numbers."""
    c, h = _session(app, "admin")
    body = {"name": "甲", "cert_no": "DUP-CERT-13", "cert_valid_from": "2026-01-01", "cert_valid_to": "2030-12-31",
            "department": "scjg"}
    assert c.post("/api/v1/inspectors", json={**body, "id": "D13-1"}, headers=h).status_code == 201
    size = app.extensions["ledger"].size()
    r = c.post("/api/v1/inspectors", json={**body, "id": "D13-2"}, headers=h)
    assert r.status_code == 409 and "cert_no" in r.get_json()["error"]["message"], r.data
    assert app.extensions["ledger"].size() == size  # nothing half-written
    assert c.get("/api/v1/inspectors/D13-2", headers=h).status_code == 404
