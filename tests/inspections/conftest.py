"""A demo county with draws and demo inspections, per test module, and an HTTP login helper."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drawsvc.demo import create_demo
from drawsvc.instance import Instance

PASSWORD = "demo-pass-2026"

# tests/web (no __init__.py) would otherwise shadow the `web` package as a namespace package,
# since pytest puts tests/ on sys.path ahead of the editable install's finder.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    os.environ.setdefault("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    inst, _, _ = create_demo(tmp_path_factory.mktemp("ins") / "instance", origin="test.example/log")
    return inst


@pytest.fixture(scope="module")
def app(demo: Instance):  # type: ignore[no-untyped-def]
    from web import create_app

    return create_app(demo, {"TESTING": True, "EVIDENCE_MAX_BYTES": 256 * 1024})


@pytest.fixture(scope="module")
def login(app: Any) -> Callable[[str], Any]:
    def do(account: str, password: str | None = None) -> Any:
        client = app.test_client()
        pw = password or ("demo-admin-2026" if account == "admin" else PASSWORD)
        r = client.post("/api/v1/session", json={"account": account, "password": pw})
        assert r.status_code == 200, r.get_json()
        client.environ_base["HTTP_X_CSRF_TOKEN"] = r.get_json()["csrf_token"]
        return client
    return do


def log_size(app: Any) -> int:
    return app.extensions["ledger"].size()
