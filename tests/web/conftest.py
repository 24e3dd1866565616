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

from drawsvc.demo import load_demo
from drawsvc.instance import Instance, init_instance
from tests.conftest import PASSPHRASE, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("SPOTCHECK_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SPOTCHECK_CHROMEDRIVER", "/usr/bin/chromedriver")
PASSWORDS = {"admin": "demo-admin-2026", "op-scjg": "demo-pass-2026", "auditor": "demo-pass-2026",
             "insp-p001": "demo-pass-2026", "op-rfb": "demo-pass-2026"}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    os.environ.pop("DATABASE_URL", None)
    inst, _ = init_instance(tmp_path_factory.mktemp("webdemo") / "instance", origin="test.example/log")
    list(load_demo(inst))
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


# --- live server + browser ----------------------------------------------------------------

@pytest.fixture(scope="module")
def live_server(demo: Instance) -> Iterator[str]:
    from werkzeug.serving import make_server

    app = make_app(demo, TESTING=False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


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
