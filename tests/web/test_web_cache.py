"""Public pages are cached (issue 13): anonymous visitors get ETag + Cache-Control and cached
renders keyed by the log's size; a new log entry changes the key; staff are never cached."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import login, make_app


def _company(c: Any) -> str:
    code = c.get("/api/v1/subjects?limit=1").get_json()["items"][0]["code"]
    return f"/public/companies/{code}"


def test_anonymous_public_pages_are_cached_until_the_log_grows(demo: Any) -> None:
    app = make_app(demo)
    c = app.test_client()
    page = _company(c)
    first = c.get(page)
    assert first.status_code == 200 and "X-Cache" not in first.headers
    assert first.headers["Cache-Control"].startswith("public, max-age=") and first.headers["ETag"]
    second = c.get(page)
    assert second.headers.get("X-Cache") == "hit" and second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"]
    assert "Content-Security-Policy" in second.headers  # the security headers are on hits too
    # a CDN revalidating gets 304 without a body
    r = c.get(page, headers={"If-None-Match": first.headers["ETag"]})
    assert r.status_code == 304 and r.data == b""
    # the language is part of the key
    en = c.get(page + "?lang=en")
    assert en.data != first.data
    # a new log entry (any change to public data is one) is a new version of every page
    admin = app.test_client()
    login(admin, "admin")
    with admin.session_transaction() as s:
        tok = s["csrf"]
    r = admin.post("/api/v1/experts", json={"id": "CACHE-E1", "name": "缓存专家", "specialties": ["食品"]},
                   headers={"X-CSRF-Token": tok})
    assert r.status_code == 201, r.data
    third = c.get(page)
    assert "X-Cache" not in third.headers and third.headers["ETag"] != first.headers["ETag"]
    assert c.get(page, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_staff_are_never_served_from_the_cache(demo: Any) -> None:
    app = make_app(demo)
    anon = app.test_client()
    first = anon.get("/")
    assert anon.get("/").headers.get("X-Cache") == "hit"
    staff = app.test_client()
    login(staff, "op-scjg")
    r = staff.get("/")
    assert "X-Cache" not in r.headers and r.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in r.headers
    # staff renders are not stored: the public still gets its own cached page
    again = anon.get("/")
    assert again.headers.get("X-Cache") == "hit" and again.data == first.data


def test_bundles_are_cached_for_anonymous_readers_only(demo: Any) -> None:
    from tests.web.conftest import draw_ids

    app = make_app(demo)
    url = f"/api/v1/draws/{draw_ids(demo)['published']}/bundle"
    c = app.test_client()
    first = c.get(url)
    assert first.status_code == 200 and c.get(url).headers.get("X-Cache") == "hit"
    assert c.get(url).get_json() == first.get_json()
    r = c.get(url, headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and "X-Cache" not in r.headers


def test_what_changes_without_a_log_entry_also_misses_the_cache(tmp_path: Any, monkeypatch: Any) -> None:
    """A witness (and its cosignatures, and a checkpoint signed after its entries) change what the
    checkpoint page and bundles show without a new entry: they are part of the version."""
    from sqlalchemy import insert

    from drawsvc.instance import init_instance
    from ledger.schema import witnesses
    from ledger.witnessing import set_quorum
    from tests.conftest import PASSPHRASE
    from web import create_app

    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", PASSPHRASE)  # alone, too: not left by another test
    inst, _ = init_instance(tmp_path / "inst", origin="cache.example/log", passphrase=PASSPHRASE)
    app = create_app(inst, {"TESTING": True})
    c = app.test_client()
    first = c.get("/public/checkpoint")
    assert first.status_code == 200 and c.get("/public/checkpoint").headers.get("X-Cache") == "hit"
    with inst.engine().begin() as conn:
        conn.execute(insert(witnesses).values(name="witness.example/w1", verifier_key="witness.example/w1+00000000+AA=="))
    again = c.get("/public/checkpoint")
    assert "X-Cache" not in again.headers and b"witness.example/w1" in again.data
    # the quorum k decides what is public yet (等待见证): changing it changes the version too
    assert c.get("/public/checkpoint").headers.get("X-Cache") == "hit"
    before = c.get("/api/v1/log/checkpoints").get_json()
    set_quorum(inst.engine(), 1)
    third = c.get("/public/checkpoint")
    assert "X-Cache" not in third.headers and third.data != again.data
    assert c.get("/api/v1/log/checkpoints").get_json() == before  # no entry, no checkpoint: only k changed


def test_a_worker_reuses_the_public_version_for_its_ttl_and_drops_it_on_its_own_changes(demo: Any) -> None:
    """`drawsvc serve` sets PUBLIC_VERSION_TTL: a cached page then costs no database read. A change
    made by another process is seen once the TTL has passed; a change through this worker at once."""
    app = make_app(demo, PUBLIC_VERSION_TTL=3600)
    c = app.test_client()
    page = _company(c)
    first = c.get(page)
    assert c.get(page).headers.get("X-Cache") == "hit"
    # another process appends (here: the ledger directly, not through this app)
    from drawsvc.registry.service import Registry

    reg = Registry(demo.ledger(), demo.passphrase())
    reg.save(reg.actor_for(reg.get("account", "admin")), "expert",
             {"id": "CACHE-TTL1", "name": "另一进程", "specialties": ["食品"]}, create=True)
    kept = c.get(page)
    assert kept.headers.get("X-Cache") == "hit" and kept.headers["ETag"] == first.headers["ETag"]
    # any change request through this worker drops the kept version
    c.post("/api/v1/session", json={"account": "nobody", "password": "wrong-password"})
    fresh = c.get(page)
    assert "X-Cache" not in fresh.headers and fresh.headers["ETag"] != first.headers["ETag"]


def test_tiles_and_the_checkpoint_are_cached_with_their_own_cache_control(demo: Any) -> None:
    c = make_app(demo).test_client()
    tile = c.get("/tile/0/000")
    assert tile.status_code == 200 and tile.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = c.get("/tile/0/000")
    assert again.headers.get("X-Cache") == "hit" and again.data == tile.data
    assert again.headers["Cache-Control"] == tile.headers["Cache-Control"] and again.headers["ETag"]
    cp = c.get("/checkpoint")
    hit = c.get("/checkpoint")
    assert hit.headers.get("X-Cache") == "hit" and hit.data == cp.data and hit.headers["Cache-Control"] == "no-cache"
    assert c.get("/checkpoint", headers={"If-None-Match": hit.headers["ETag"]}).status_code == 304
