"""The service's side of SPEC §D15: GET /api/v1/draws/<id>/subjects/<code>/proof on the demo,
its errors, and docs/vectors/subject-proof.json reproduced byte for byte from its bundle."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from drawsvc.instance import Instance
from tests.web.conftest import draw_ids
from verifier.subject_proof import verify_subject_proof

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("make_subject_vectors", ROOT / "docs/vectors/make_subject_vectors.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_vectors_reproduce() -> None:
    assert _generator().render() == (ROOT / "docs/vectors/subject-proof.json").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def client(web_app: Any) -> Any:
    return web_app.test_client()


def _published(client: Any, demo: Instance) -> tuple[str, dict[str, Any]]:
    did = draw_ids(demo)["published"]
    return did, client.get(f"/api/v1/public/draws/{did}").get_json()


def test_every_selected_and_some_unselected_subject_verifies(client: Any, demo: Instance) -> None:
    did, view = _published(client, demo)
    key = demo.genesis_log_key.encode()
    content = view["content"]
    chosen = [x["id"] for s in content["strata"].values() for x in s["selected"]]
    bundle = client.get(f"/api/v1/draws/{did}/bundle").get_json()
    others = [r["id"] for r in bundle["pools"]["subjects"] if r["id"] not in chosen][:5]
    for code in [*chosen, *others]:
        r = client.get(f"/api/v1/draws/{did}/subjects/{code}/proof")
        assert r.status_code == 200
        doc = r.get_json()
        report, facts = verify_subject_proof(copy.deepcopy(doc), log_key=key)
        assert report.verdict == "verified", report.to_text()
        # the demo's 2-of-3 quorum: the proof states it and its checkpoint carries the cosignatures
        assert doc["witness_policy"]["k"] == 2 and report.checks["proof_witnesses"].status == "passed"
        assert facts.drawn is (code in chosen)
        if code in chosen:
            team = next(a for a in content["matching"]["assignments"] if a["subject"] == code)
            assert facts.team == {"team": team["team"], "experts": team["experts"]}
        assert len(r.data) < 25_000  # measured: about 17.5 KB (compact JSON) on the demo draw


def test_tampered_demo_proof_fails(client: Any, demo: Instance) -> None:
    did, view = _published(client, demo)
    code = view["content"]["matching"]["assignments"][0]["subject"]
    doc = client.get(f"/api/v1/draws/{did}/subjects/{code}/proof").get_json()
    doc["claim"]["drawn"] = False
    report, _ = verify_subject_proof(doc, log_key=demo.genesis_log_key.encode())
    assert report.verdict == "failed" and "SUBJECT_DRAWN_MISMATCH" in report.codes()


def test_errors_are_json(client: Any, demo: Instance) -> None:
    ids = draw_ids(demo)
    r = client.get("/api/v1/draws/NO-SUCH-DRAW/subjects/91150222MA00000000/proof")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = client.get(f"/api/v1/draws/{ids['published']}/subjects/91150222MA00000000/proof")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "subject_not_in_draw"
    for status in ("drawn", "aborted"):  # sealed (002 八) or nothing drawn: a clear answer, nothing sealed
        r = client.get(f"/api/v1/draws/{ids[status]}/subjects/91150222MA00000000/proof")
        assert r.status_code == 409, r.data
        body = r.get_json()["error"]
        assert body["code"] == "not_published" and "尚未公示" in body["message"]
        assert "nonce" not in json.dumps(r.get_json())


@pytest.fixture(scope="module")
def with_excluded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Instance, str, str]:
    """A fresh demo and further draws of the published draw's plan, published one after another,
    until one excludes a subject (checked `frequency_cap` times this year: §D11.1) — usually the
    first, since the demo's published and sealed draws have both counted their subjects."""
    import os

    from drawsvc.demo import create_demo
    from drawsvc.draws.service import DrawService
    from drawsvc.registry.service import Registry
    from tests.pinned import drand_demo_now

    os.environ.setdefault("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    inst, _, _ = create_demo(tmp_path_factory.mktemp("subjexcl") / "instance", origin="test.example/log",
                             now=drand_demo_now())
    reg = Registry(inst.ledger(), inst.passphrase())
    svc = DrawService(inst.ledger(), reg)
    published = svc.list(status=["published"])[0]
    plan = reg.get("plan", published["plan"])
    op, admin = (reg.actor_for(reg.get("account", a)) for a in ("op-scjg", "admin"))
    for attempt in range(8):
        d = svc.prepare(op, plan["code"], published["department"], [{"type": "dice", "min_digits": 20}],
                        draw_date=plan["window_start"])
        svc.seed(op, d["id"], [{"type": "dice", "digits": f"{27182818284590452353 + attempt}"}])
        svc.run(op, d["id"])
        svc.publish(admin, d["id"])
        excluded = svc.secret(d["id"])["pools"]["excluded"]
        if excluded:
            return inst, d["id"], excluded[0]["id"]
    raise AssertionError("no draw excluded a subject")


def test_excluded_subject_proof(with_excluded: tuple[Instance, str, str]) -> None:
    from web import create_app

    inst, did, code = with_excluded
    client = create_app(inst, {"TESTING": True}).test_client()
    r = client.get(f"/api/v1/draws/{did}/subjects/{code}/proof")
    assert r.status_code == 200, r.data
    doc = r.get_json()
    assert doc["member"]["pool"] == "excluded" and doc["member"]["record"]["reason"] == "frequency_cap"
    report, facts = verify_subject_proof(copy.deepcopy(doc), log_key=inst.genesis_log_key.encode())
    assert report.verdict == "verified", report.to_text()
    assert facts.pool == "excluded" and facts.drawn is False and facts.team is None
    doc["claim"]["drawn"] = True  # an excluded subject said to be drawn
    report, _ = verify_subject_proof(doc, log_key=inst.genesis_log_key.encode())
    assert "SUBJECT_DRAWN_MISMATCH" in report.codes()


def test_drawverify_subject_proof_against_a_live_service(live_server: str, demo: Instance) -> None:
    """`drawverify subject CODE --draw ID --server URL --proof` fetches the proof document only."""
    from click.testing import CliRunner

    from verifier.cli import cli

    ids = draw_ids(demo)
    client_view = json.loads(_get(f"{live_server}/api/v1/public/draws/{ids['published']}"))
    code = client_view["content"]["matching"]["assignments"][0]["subject"]
    args = ["subject", code, "--draw", ids["published"], "--server", live_server, "--proof",
            "--log-key", demo.genesis_log_key.encode()]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "已被抽中" in r.output and "核验通过" in r.output
    r = CliRunner().invoke(cli, [*args, "--json", "--lang", "en"])
    out = json.loads(r.output)
    assert out["result"] == "verified" and out["facts"]["drawn"] is True
    r = CliRunner().invoke(cli, ["subject", code, "--draw", ids["drawn"], "--server", live_server, "--proof"])
    assert r.exit_code == 2 and "409" in r.output  # sealed: a clear refusal, not a verdict


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url) as r:
        return r.read().decode()  # type: ignore[no-any-return]


def test_gzip_on_the_wire(client: Any, demo: Instance) -> None:
    """What a browser or `requests` downloads: about 6 KB, the same document once decompressed."""
    import gzip

    did, view = _published(client, demo)
    code = view["content"]["matching"]["assignments"][0]["subject"]
    url = f"/api/v1/draws/{did}/subjects/{code}/proof"
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert json.loads(gzip.decompress(packed.data)) == plain.get_json()
    assert len(packed.data) < 8_000 < len(plain.data)


def test_direct_producer_equals_the_bundle_projection(demo: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """The endpoint's producer (store, cached subtree roots) and the vectors' (a bundle) agree on
    every member, with subtrees smaller than the pool so the cached path is exercised."""
    from drawsvc.draws import subject_proof as sp
    from drawsvc.draws.bundle import build_bundle

    ledger, key = demo.ledger(), demo.genesis_log_key.encode()
    did = draw_ids(demo)["published"]
    bundle = build_bundle(ledger, did, privileged=False, log_verifier_key=key)
    for chunk in (4, 64, sp.CHUNK):
        monkeypatch.setattr(sp, "CHUNK", chunk)
        sp._CACHE.clear()
        for r in bundle["pools"]["subjects"][::17] + bundle["pools"]["subjects"][-1:]:
            direct = sp.build_subject_proof(ledger, did, r["id"], log_verifier_key=key)
            assert direct == sp.subject_proof_from_bundle(bundle, r["id"]), (chunk, r["id"])
    sp._CACHE.clear()
