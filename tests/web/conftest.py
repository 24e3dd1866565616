"""Fixtures of the web tests: one demo instance per session, an app on it, a live server in a
background thread, and headless Debian Chromium driven by Selenium."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pinned import drand_demo_now

from drawsvc.demo import create_demo
from drawsvc.instance import Instance
from tests.conftest import PASSPHRASE, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("SPOTCHECK_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SPOTCHECK_CHROMEDRIVER", "/usr/bin/chromedriver")
PASSWORDS = {"admin": "demo-admin-2026", "op-scjg": "demo-pass-2026", "auditor": "demo-pass-2026",
             "insp-p001": "demo-pass-2026", "op-rfb": "demo-pass-2026", "rev-scjg": "demo-pass-2026",
             "insp-team": "demo-pass-2026"}
TEAM_ACCOUNT = "insp-team"  # the inspector on the most demo teams (may be P001, whose account is insp-p001)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    os.environ.pop("DATABASE_URL", None)
    # built on a day whose ceremony replays a recorded real drand round, so the pages' BLS checks run
    inst, _, _ = create_demo(tmp_path_factory.mktemp("webdemo") / "instance", origin="test.example/log",
                             now=drand_demo_now())
    return inst


def make_app(demo: Instance, **config: Any):  # type: ignore[no-untyped-def]
    from web import create_app

    return create_app(demo, {"TESTING": True, **config})


@pytest.fixture(scope="module")
def web_app(demo: Instance):  # type: ignore[no-untyped-def]
    return make_app(demo)


def csrf_of(html: bytes) -> str:
    m = re.search(rb'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field in the form"
    return m.group(1).decode()


def login(client: Any, account: str) -> None:
    tok = csrf_of(client.get("/staff/login").data)
    r = client.post("/staff/login", data={"csrf_token": tok, "account": account, "password": PASSWORDS[account]})
    assert r.status_code == 302, r.data[:500]


def draw_ids(demo: Instance) -> dict[str, str]:
    from drawsvc.draws.service import DrawService
    from drawsvc.registry.service import Registry

    svc = DrawService(demo.ledger(), Registry(demo.ledger(), demo.passphrase()))
    out: dict[str, str] = {}
    for d in reversed(svc.list()):
        out.setdefault(d["status"], d["id"])
    return out


def team_inspector(demo: Instance) -> str:
    """The inspector behind the `insp-team` account: the scjg inspector on the most open tasks of
    the demo draw (the draw is random, so the choice is made per demo instance)."""
    from drawsvc.registry.service import Registry

    reg = Registry(demo.ledger(), demo.passphrase())
    acct = reg.get("account", TEAM_ACCOUNT)
    if acct is not None:
        return str(acct["inspector"])
    # not P001: its own account insp-p001 stands for "an inspector who is not this one" in the tests
    scjg = [i["id"] for i in reg.list("inspector") if i["department"] == "scjg" and i["id"] != "P001"]
    return max(scjg, key=lambda i: (len(open_team_tasks(demo, i)), i))


def ensure_team_inspector(demo: Instance) -> str:
    """An inspector account (`insp-team`) for an inspector on several teams of the demo draw's tasks."""
    from drawsvc.registry.service import Registry

    reg = Registry(demo.ledger(), demo.passphrase())
    if reg.get("account", TEAM_ACCOUNT) is None:
        inspector = team_inspector(demo)
        admin = reg.actor_for(reg.get("account", "admin"))
        reg.create_account(admin, {"id": TEAM_ACCOUNT, "name": "检查组成员", "role": "inspector",
                                   "inspector": inspector}, PASSWORDS[TEAM_ACCOUNT])
    return TEAM_ACCOUNT


def open_team_tasks(demo: Instance, inspector: str | None = None) -> list[str]:
    """Open tasks of the demo draw with this inspector on the team and no result yet."""
    import json

    from sqlalchemy import select

    from drawsvc.inspections import schema

    with demo.ledger().engine.connect() as conn:
        have = set(conn.execute(select(schema.results.c.task_id)).scalars())
        rows = conn.execute(select(schema.tasks.c.id, schema.tasks.c.doc, schema.tasks.c.kind,
                                   schema.tasks.c.status).order_by(schema.tasks.c.created_seq)).all()
    inspector = inspector or team_inspector(demo)
    return [r.id for r in rows if r.kind == "random" and r.status == "open" and r.id not in have
            and inspector in json.loads(r.doc)["team"]]


# --- live server + browser ----------------------------------------------------------------

def serve(app: Any) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread for the browser; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def live_server(demo: Instance) -> Iterator[str]:
    yield from serve(make_app(demo, TESTING=False))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        skip_or_fail(f"headless Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER}); "
                     "apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="spotcheck-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1920,1080", "--lang=zh-CN"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_script_timeout(120)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, name: str, width: int = 1920, height: int = 1080) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # an exact viewport (a window size would include the browser's own frame)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
