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
