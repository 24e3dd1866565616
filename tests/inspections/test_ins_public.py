"""一公开 without leaks: every GET route of the app, called without a login, with unpublished
results (pending, confirmed, corrected) present, never shows their content."""

from __future__ import annotations

import json
import re
from typing import Any

from pinned import TODAY, days
from sqlalchemy import select

from drawsvc.inspections import schema


def _unpublished(app: Any) -> list[Any]:
    with app.extensions["ledger"].engine.connect() as conn:
        rows = conn.execute(select(schema.results).where(schema.results.c.published_version.is_(None))).all()
        versions = conn.execute(select(schema.result_versions)).all()
    return rows, versions


def test_every_public_route_serves_only_published_results(app: Any, login: Any) -> None:
    ops = login("op-scjg")
    tasks = ops.get("/api/v1/inspections/tasks").get_json()["tasks"]
    open_task = next(t for t in tasks if t["status"] == "open" and t["kind"] == "random")
    marker = "未公示机密标记M9Q2"
    r = ops.post(f"/api/v1/inspections/tasks/{open_task['id']}/results", json={
        "department": open_task["department"], "categories": ["corrected"], "findings": marker,
        "evaluation": marker, "handling_opinion": marker, "follow_up": {"kind": "order_correct"},
        "check_date": days(-5)})
    assert r.status_code == 201, r.get_json()
    rows, versions = _unpublished(app)
    assert {r.status for r in rows} >= {"pending", "confirmed"}
    secrets = {marker}
    for v in versions:
        doc = json.loads(v.doc)
        unpublished = [x for x in rows if x.id == v.result_id]
        if unpublished:  # unpublished result: its texts and salts must not leak
            secrets.add(v.salt)
            secrets.update(t for t in (doc["findings"], doc["evaluation"], doc["handling_opinion"]) if len(t) > 12)
    pending_subjects = sorted({r.subject for r in rows})
    ids = {"code": pending_subjects, "key": pending_subjects[:2], "draw_id": [open_task["draw_id"]],
           "task_id": [open_task["id"]], "result_id": [r.id for r in rows][:3], "n": ["1"], "year": [str(TODAY.year)],
           "department": ["scjg"], "seq": ["0"], "kind": ["monthly", "annual"]}
    anonymous = app.test_client()
    ledger = app.extensions["ledger"]
    urls: set[str] = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/static"):
            continue
        path = rule.rule
        combos = [path]
        for arg in rule.arguments:
            values = ids.get(arg, ["x"])
            combos = [re.sub(rf"<(?:[a-z]+:)?{arg}>", v, c) for c in combos for v in values]
        urls.update(combos)
    for q in pending_subjects[:5] + ["固阳县", "公司"]:
        urls.add(f"/api/v1/public/results?q={q}")
    for start in range(0, ledger.size(), 1000):
        urls.add(f"/api/v1/log/entries?start={start}&end={min(start + 1000, ledger.size())}")
    assert any("/public/results" in u for u in urls) and any("/public/subjects/" in u for u in urls)
    checked = 0
    for url in sorted(urls):
        resp = anonymous.get(url)
        text = resp.get_data(as_text=True)
        checked += 1
        for s in secrets:
            assert s not in text, f"{url} leaks unpublished content {s[:20]}"
        if "/public/" in url and resp.status_code == 200 and resp.is_json:
            body = resp.get_json()
            for res in body.get("results", []) if isinstance(body, dict) else []:
                assert res["published_date"], url
                assert res["result_id"] not in {r.id for r in rows if r.published_version is None}
    assert checked > 30
    # staff endpoints refuse anonymous callers
    assert anonymous.get("/api/v1/inspections/tasks").status_code == 401
    assert anonymous.get(f"/api/v1/inspections/results/{rows[0].id}").status_code == 401


def test_public_search_finds_published_results_in_several_categories(app: Any) -> None:
    client = app.test_client()
    found = client.get("/api/v1/public/results?q=固阳县").get_json()["results"]
    categories = {c for r in found for c in r["categories"]}
    assert {"no_problem", "corrected", "uncooperative", "pending_followup"} <= categories
    code = found[0]["subject"]
    by_code = client.get(f"/api/v1/public/results?q={code}").get_json()["results"]
    assert by_code and all(r["subject"] == code for r in by_code)
    assert client.get("/api/v1/public/results?q=").get_json()["results"] == []
    assert client.get("/api/v1/public/subjects/NOSUCHCODE/results").get_json()["results"] == []
