"""The service's side of SPEC §D12.1: the bundle with the subject pool in parts
(`GET .../bundle?pool=parts`) and the parts themselves (`GET .../pool/subjects/<n>`), their access
rule (the pool's: public once published, else a privileged reader) and errors; the verifier
checks the parts as served."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from drawsvc.instance import Instance
from ledger.canonical import canonical_bytes
from tests.web.conftest import draw_ids, login
from verifier.draw import DrawOptions, verify_bundle


@pytest.fixture(scope="module")
def client(web_app: Any) -> Any:
    return web_app.test_client()


def test_published_parts_are_the_pool_and_verify(client: Any, demo: Instance) -> None:
    did = draw_ids(demo)["published"]
    whole = client.get(f"/api/v1/draws/{did}/bundle").get_json()
    r = client.get(f"/api/v1/draws/{did}/bundle?pool=parts")
    assert r.status_code == 200
    split = r.get_json()
    desc = split["pool_parts"]["subjects"]
    assert "subjects" not in split["pools"] and desc["encoding"] == "spotcheck-pool-part/1"
    assert desc["part_size"] == 1 << 20 and len(desc["parts"]) == 1  # the demo's pool: one part
    part = client.get(f"/api/v1/draws/{did}/pool/subjects/0")
    assert part.status_code == 200 and part.mimetype == "application/x-ndjson"
    assert part.data == b"".join(canonical_bytes(x) + b"\n" for x in whole["pools"]["subjects"])
    assert hashlib.sha256(part.data).hexdigest() == desc["parts"][0]["sha256"]
    assert {k: v for k, v in split.items() if k not in ("pools", "pool_parts")} == \
        {k: v for k, v in whole.items() if k != "pools"}

    def read(n: int) -> bytes:
        got = client.get(f"/api/v1/draws/{did}/pool/subjects/{n}")
        assert got.status_code == 200
        return bytes(got.data)
    report, _ = verify_bundle(copy.deepcopy(split), DrawOptions(pool_part=read))
    assert report.verdict == "verified", report.to_text()


def test_part_errors(client: Any, demo: Instance) -> None:
    did = draw_ids(demo)["published"]
    r = client.get(f"/api/v1/draws/{did}/pool/subjects/1")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = client.get(f"/api/v1/draws/{did}/bundle?pool=all")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_field"
    r = client.get("/api/v1/draws/no-such-draw/pool/subjects/0")
    assert r.status_code == 404


def test_sealed_pool_parts_only_for_a_privileged_reader(web_app: Any, demo: Instance) -> None:
    did = draw_ids(demo)["drawn"]
    public = web_app.test_client()
    r = public.get(f"/api/v1/draws/{did}/pool/subjects/0")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_published"
    b = public.get(f"/api/v1/draws/{did}/bundle?pool=parts").get_json()
    assert "pool_parts" not in b and "pools" not in b
    admin = web_app.test_client()
    login(admin, "admin")
    assert admin.get(f"/api/v1/draws/{did}/pool/subjects/0").status_code == 200
    assert "subjects" in admin.get(f"/api/v1/draws/{did}/bundle?pool=parts").get_json()["pool_parts"]
