"""The page checks what a v2 draw binds (SPEC §D11.1): the drand parameters committed at prepare,
the expert pool and the prior workloads — as drawverify does, on the demo's published drand draw
and on bundles edited after the fact."""

from __future__ import annotations

import copy
import json
import urllib.request
from typing import Any

import pytest

from tests.web.conftest import draw_ids
from tests.web.test_web_lifecycle_browser import in_page
from verifier.draw import DrawOptions, verify_bundle

pytestmark = pytest.mark.browser


def published_bundle(live_server: str, demo: Any) -> dict[str, Any]:
    with urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_ids(demo)['published']}/bundle") as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def page_and_cli(browser: Any, live_server: str, bundle: dict[str, Any], key: str) -> tuple[dict[str, Any], set[str]]:
    page = in_page(browser, live_server, bundle)
    assert "error" not in page, page
    report, _ = verify_bundle(copy.deepcopy(bundle), DrawOptions(log_key=key))
    assert page["verdict"] == report.verdict, (page["verdict"], report.to_text())
    return {c["id"]: c for c in page["checks"]}, report.codes()


def test_v2_bindings_in_the_page(browser: Any, live_server: str, demo: Any) -> None:
    key = demo.genesis_log_key.encode()
    honest = published_bundle(live_server, demo)
    assert honest["format"] == "spotcheck-draw-bundle/2"
    checks, codes = page_and_cli(browser, live_server, honest, key)
    assert not codes and checks["chains_committed"]["status"] == "passed" and checks["pools"]["status"] == "passed"

    forged = copy.deepcopy(honest)
    forged["pools"]["prior_load"] = {forged["pools"]["inspectors"][0]["id"]: 5}
    checks, codes = page_and_cli(browser, live_server, forged, key)
    assert "PRIOR_LOAD_MISMATCH" in codes and "PRIOR_LOAD_MISMATCH" in checks["pools"]["detail"]

    forged = copy.deepcopy(honest)
    forged["pools"]["experts"] = [*forged["pools"].get("experts", []), {"id": "E99", "field": "化工安全"}]
    checks, codes = page_and_cli(browser, live_server, forged, key)
    assert checks["pools"]["status"] == "failed" and "experts" in checks["pools"]["detail"]

    forged = copy.deepcopy(honest)
    h = next(iter(forged["chains"]))
    forged["chains"][h] = {**forged["chains"][h], "period": forged["chains"][h]["period"] + 1}
    checks, codes = page_and_cli(browser, live_server, forged, key)
    assert checks["chains_committed"]["status"] == "failed" and "CHAIN_NOT_COMMITTED" in checks["chains_committed"]["detail"]
