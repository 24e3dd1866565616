"""The draw lifecycle through the HTTP API on a demo county: every step is a signed log
entry; bad input is refused with nothing half-written; roles are enforced by trying to break
them; and a sealed draw's content is unreadable through every public endpoint."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pinned import before_drand_round

from drawsvc.demo import create_demo
from drawsvc.draws.demo import DEMO_ROUND, WITNESS, clock_at, quicknet_round
from drawsvc.instance import Instance
from ledger.audit import Auditor

PASSWORD = "demo-pass-2026"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    os.environ.setdefault("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    inst, _, _ = create_demo(tmp_path_factory.mktemp("demo") / "instance", origin="test.example/log")
    return inst


@pytest.fixture(scope="module")
def app(demo: Instance):  # type: ignore[no-untyped-def]
    from web import create_app

    return create_app(demo, {"TESTING": True})


def login(app, account: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    password = "demo-admin-2026" if account == "admin" else PASSWORD
    r = client.post("/api/v1/session", json={"account": account, "password": password})
    assert r.status_code == 200, r.get_json()
    client.environ_base["HTTP_X_CSRF_TOKEN"] = r.get_json()["csrf_token"]
    return client


def draws_by_status(app) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    ops = login(app, "op-scjg")
    return {d["status"]: d for d in ops.get("/api/v1/draws").get_json()["draws"]}


def log_size(app) -> int:  # type: ignore[no-untyped-def]
    return app.extensions["ledger"].size()


def plan_code(app) -> str:  # type: ignore[no-untyped-def]
    return draws_by_status(app)["published"]["plan"]


DICE_SOURCES = [{"type": "dice", "min_digits": 20}]


def test_demo_has_published_sealed_and_aborted_draws_and_audits_clean(app, demo: Instance) -> None:  # type: ignore[no-untyped-def]
    by_status = draws_by_status(app)
    assert {"published", "drawn", "aborted"} <= set(by_status)
    report = Auditor(demo.engine(), demo.genesis_log_key).run()
    assert report.ok, report.first_broken()


def test_full_lifecycle_over_http_each_step_logged(app) -> None:  # type: ignore[no-untyped-def]
    ops = login(app, "op-scjg")
    r = ops.post("/api/v1/draws", json={"plan": plan_code(app), "department": "scjg", "sources": DICE_SOURCES})
    assert r.status_code == 201, r.get_json()
    draw = r.get_json()
    ledger = app.extensions["ledger"]
    assert ledger.entry(draw["seqs"]["prepared"]).type == "draw.prepared"
    assert ledger.checkpoint_covering(draw["seqs"]["prepared"]) is not None  # checkpoint right after prepare
    r = ops.post(f"/api/v1/draws/{draw['id']}/seed", json={"reveals": [{"type": "dice", "digits": "1" * 20}]})
    assert r.status_code == 200, r.get_json()
    r = ops.post(f"/api/v1/draws/{draw['id']}/run")
    assert r.status_code == 200 and r.get_json()["status"] == "drawn"
    sealed = ops.get(f"/api/v1/draws/{draw['id']}").get_json()["sealed_content"]
    for first in sealed["matching"]["assignments"]:  # some subjects may have nobody eligible left
        r = ops.post(f"/api/v1/draws/{draw['id']}/substitutions",
                     json={"kind": "inspector", "subject": first["subject"], "leaving": first["team"][0],
                           "reason": "recusal_conflict"})
        if r.status_code != 422 or r.get_json()["error"]["code"] != "TooFewInspectors":
            break
    assert r.status_code == 201, r.get_json()
    r = ops.post(f"/api/v1/draws/{draw['id']}/publish")
    assert r.status_code == 200 and r.get_json()["status"] == "published"
    types = [e.type for e in ledger.entries(draw["seqs"]["prepared"], ledger.size())
             if e.payload.get("draw_id") == draw["id"]]
    assert types == ["draw.prepared", "draw.seeded", "draw.drawn", "draw.substituted", "draw.published"]
    public = app.test_client().get(f"/api/v1/public/draws/{draw['id']}").get_json()
    assert public["substitutions"][0]["leaving"] == first["team"][0]


@pytest.mark.parametrize("case", ["empty_pool", "unknown_plan", "too_few_inspectors", "beacon_in_past",
                                  "recipe_without_public_source", "short_dice"])
def test_bad_prepare_is_refused_and_writes_nothing(app, case: str) -> None:  # type: ignore[no-untyped-def]
    ops = login(app, "op-scjg")
    admin = login(app, "admin")
    chain, _ = quicknet_round()
    body = {"plan": plan_code(app), "department": "scjg", "sources": DICE_SOURCES}
    if case == "empty_pool":
        r = admin.post("/api/v1/sublibraries", json={"code": "nobody", "name": "空子库",
                                                      "filter": {"regions": ["990000"]}})
        plan = dict(admin.get(f"/api/v1/plans/{plan_code(app)}").get_json())
        plan.update(code="EMPTY-1", sublibraries=["nobody"], status="draft")
        assert admin.post("/api/v1/plans", json=plan).status_code in (200, 201)
        assert admin.post("/api/v1/plans/EMPTY-1/submit").status_code == 200
        assert ops.post("/api/v1/plans/EMPTY-1/approve").status_code == 200  # a second person approves
        body["plan"] = "EMPTY-1"
    elif case == "unknown_plan":
        body["plan"] = "NO-SUCH-PLAN"
    elif case == "too_few_inspectors":
        body["draw_date"] = "2090-01-01"  # every certificate has lapsed by then
    elif case == "beacon_in_past":
        body["sources"] = [{"type": "drand", "chain_hash": chain["chain_hash"], "round": DEMO_ROUND}]
    elif case == "recipe_without_public_source":
        body["sources"] = []
    elif case == "short_dice":
        body["sources"] = [{"type": "dice", "min_digits": 5}]
    before = log_size(app)
    count = len(ops.get("/api/v1/draws").get_json()["draws"])
    r = ops.post("/api/v1/draws", json=body)
    # a plan the registry does not hold is a conflict with its state (409); the rest is bad input
    assert r.status_code == (409 if case == "unknown_plan" else 422), r.get_json()
    assert r.get_json()["error"]["message"]
    assert log_size(app) == before
    assert len(ops.get("/api/v1/draws").get_json()["draws"]) == count


@pytest.fixture(scope="module")
def early_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A demo whose log ends the day before quicknet round 123: entry times never run backwards,
    so only a log begun before that real round can prepare a draw on it."""
    from web import create_app

    os.environ.setdefault("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    inst, _, _ = create_demo(tmp_path_factory.mktemp("early") / "instance", origin="test.example/log",
                             now=before_drand_round())
    return create_app(inst, {"TESTING": True})


def test_wrong_beacon_signature_and_early_seed_are_refused(early_app) -> None:  # type: ignore[no-untyped-def]
    app = early_app
    ops = login(app, "op-scjg")
    ledger = app.extensions["ledger"]
    chain, rnd = quicknet_round()
    due = chain["genesis_time"] + (DEMO_ROUND - 1) * chain["period"]
    sources = [{"type": "drand", "chain_hash": chain["chain_hash"], "round": DEMO_ROUND}, *DICE_SOURCES]
    plan = plan_code(app)
    with clock_at(ledger, datetime.fromtimestamp(due - 60, UTC)):
        r = ops.post("/api/v1/draws", json={"plan": plan, "department": "scjg", "sources": sources,
                                            "draw_date": login(app, "admin").get(f"/api/v1/plans/{plan}")
                                            .get_json()["window_start"]})  # inside the plan's window
        assert r.status_code == 201, r.get_json()
        draw_id = r.get_json()["id"]
        good = {"type": "drand", "chain_hash": chain["chain_hash"], "round": DEMO_ROUND, "signature": rnd["signature"]}
        dice = {"type": "dice", "digits": "9" * 20}
        before = log_size(app)
        r = ops.post(f"/api/v1/draws/{draw_id}/seed", json={"reveals": [good, dice]})
        assert r.status_code == 409 and "才产生" in r.get_json()["error"]["message"]
    with clock_at(ledger, datetime.fromtimestamp(due + 1, UTC)):
        other = next(x for x in chain["rounds"] if x["round"] != DEMO_ROUND)
        forged = {**good, "signature": other["signature"]}
        r = ops.post(f"/api/v1/draws/{draw_id}/seed", json={"reveals": [forged, dice]})
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "BeaconSignatureInvalid"
        bad = bytearray(bytes.fromhex(rnd["signature"]))
        bad[5] ^= 0xFF
        r = ops.post(f"/api/v1/draws/{draw_id}/seed", json={"reveals": [{**good, "signature": bad.hex()}, dice]})
        assert r.status_code == 422 and r.get_json()["error"]["code"] in ("BeaconEncodingError", "BeaconSignatureInvalid")
        assert log_size(app) == before
        assert ops.post(f"/api/v1/draws/{draw_id}/seed", json={"reveals": [good, dice]}).status_code == 200
        r = ops.post(f"/api/v1/draws/{draw_id}/seed", json={"reveals": [good, dice]})
        assert r.status_code == 409  # seeding twice
    assert ops.post(f"/api/v1/draws/{draw_id}/abort", json={"reason": "测试"}).status_code == 200


def test_substitution_that_is_not_the_next_eligible_is_refused(app) -> None:  # type: ignore[no-untyped-def]
    ops = login(app, "op-scjg")
    sealed_id = draws_by_status(app)["drawn"]["id"]
    matching = ops.get(f"/api/v1/draws/{sealed_id}").get_json()["sealed_content"]["matching"]
    before = log_size(app)
    codes = []
    for a in matching["assignments"]:  # an operator's own pick is never the rule's next eligible
        r = ops.post(f"/api/v1/draws/{sealed_id}/substitutions",
                     json={"kind": "inspector", "subject": a["subject"], "leaving": a["team"][0],
                           "reason": "cannot_attend", "incoming": "P-FRIEND-OF-OPERATOR"})
        assert r.status_code == 422, r.get_json()
        codes.append(r.get_json()["error"]["code"])
        if codes[-1] == "NotNextEligible":
            break
    assert codes[-1] == "NotNextEligible" and set(codes) <= {"NotNextEligible", "TooFewInspectors"}
    assert log_size(app) == before
    a = matching["assignments"][0]
    r = ops.post(f"/api/v1/draws/{sealed_id}/substitutions",
                 json={"kind": "inspector", "subject": a["subject"], "leaving": "NOBODY", "reason": "cannot_attend"})
    # well-formed, but NOBODY is not on that team as the draw stands: a conflict with its state
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "SubstitutionInvalid"
    r = ops.post(f"/api/v1/draws/{sealed_id}/substitutions",
                 json={"kind": "inspector", "subject": a["subject"], "leaving": a["team"][0], "reason": "bored"})
    assert r.status_code == 422 and "cannot_attend" in r.get_json()["error"]["message"]


def test_roles_are_enforced_on_every_draw_action(app) -> None:  # type: ignore[no-untyped-def]
    sealed_id = draws_by_status(app)["drawn"]["id"]
    anonymous = app.test_client()
    auditor = login(app, "auditor")
    other_op = login(app, "op-yjgl")
    inspector = login(app, "insp-p001")
    body = {"plan": plan_code(app), "department": "scjg", "sources": DICE_SOURCES}
    assert anonymous.post("/api/v1/draws", json=body).status_code in (401, 403)
    assert auditor.post("/api/v1/draws", json=body).status_code == 403
    assert inspector.post("/api/v1/draws", json=body).status_code == 403
    assert other_op.post("/api/v1/draws", json=body).status_code == 403
    assert other_op.post(f"/api/v1/draws/{sealed_id}/publish").status_code == 403
    assert other_op.get(f"/api/v1/draws/{sealed_id}").status_code == 403
    assert auditor.post(f"/api/v1/draws/{sealed_id}/publish").status_code == 403
    assert auditor.get(f"/api/v1/draws/{sealed_id}").get_json()["sealed_content"]["matching"]
    assert anonymous.get(f"/api/v1/draws/{sealed_id}").status_code == 401
    no_csrf = app.test_client()
    no_csrf.post("/api/v1/session", json={"account": "op-scjg", "password": PASSWORD})
    assert no_csrf.post(f"/api/v1/draws/{sealed_id}/abort", json={"reason": "x"}).status_code == 403


def test_sealed_draw_is_unreadable_through_every_public_endpoint(app, demo: Instance) -> None:  # type: ignore[no-untyped-def]
    sealed_id = draws_by_status(app)["drawn"]["id"]
    secret = app.extensions["draws"].secret(sealed_id) if "draws" in app.extensions else None
    if secret is None:
        from drawsvc.draws.service import DrawService
        from drawsvc.registry.service import Registry

        secret = DrawService(app.extensions["ledger"], Registry(app.extensions["ledger"])).secret(sealed_id)
    drawn = {a["subject"] for a in secret["matching"]["assignments"]}
    needles = [secret["nonce"], secret["salt"], secret["seed"]]
    anonymous = app.test_client()
    ledger = app.extensions["ledger"]
    urls = {"/checkpoint", f"/api/v1/draws/{sealed_id}/bundle", f"/api/v1/public/draws/{sealed_id}",
            f"/api/v1/public/draws/{sealed_id}/subjects/{sorted(drawn)[0]}",
            f"/api/v1/log/entries?start=0&end={min(ledger.size(), 1000)}"}
    for rule in app.url_map.iter_rules():  # every parameterless GET route, whatever it is
        if "GET" in rule.methods and not rule.arguments:
            urls.add(rule.rule)
    for seq in range(max(0, ledger.size() - 1000), ledger.size(), 1000):
        urls.add(f"/api/v1/log/entries?start={seq}&end={min(ledger.size(), seq + 1000)}")
    for url in sorted(urls):
        r = anonymous.get(url)
        text = r.get_data(as_text=True)
        for secret_value in needles:
            assert secret_value not in text, f"{url} leaks a sealed secret"
        if url.endswith("/bundle") or "/public/" in url:
            leaked = [s for s in drawn if s in text]
            assert not leaked or r.status_code == 404 and not leaked, f"{url} names drawn subjects {leaked[:3]}"
    bundle = anonymous.get(f"/api/v1/draws/{sealed_id}/bundle").get_json()
    assert "pools" not in bundle and "content" not in bundle and "sealed" not in bundle


def test_demo_witness_and_round_are_real(demo: Instance) -> None:
    chain, rnd = quicknet_round()
    from drawsvc.draw.drand import chain_from_json, verify_round

    verify_round(chain_from_json(chain), DEMO_ROUND, bytes.fromhex(rnd["signature"]))
    assert WITNESS


def test_bundle_file_round_trips_as_json(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pub = draws_by_status(app)["published"]["id"]
    data = app.test_client().get(f"/api/v1/draws/{pub}/bundle").get_json()
    assert data["format"] == "spotcheck-draw-bundle/3" and data["content"] and data["pools"]
    (tmp_path / "b.json").write_text(json.dumps(data, ensure_ascii=False))
