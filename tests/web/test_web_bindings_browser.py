"""The page checks what a draw binds (SPEC §D11.1, §D13): the drand parameters committed at prepare,
the expert pool and the prior workloads, and (v3) the signed time of the prepared checkpoint and
entry times in log order — as drawverify does, on the demo's published drand draw and on bundles
edited after the fact."""

from __future__ import annotations

import copy
import json
import urllib.request
from typing import Any

import pytest

from tests.verifier.vf_drawkit import resign, retime_prepared_checkpoint
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
    assert honest["format"] == "spotcheck-draw-bundle/3"
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


def test_v3_time_binding_in_the_page(browser: Any, live_server: str, demo: Any) -> None:
    """The prepared checkpoint's time is the log's signed cosignature time: late, missing or
    altered, the page fails it as drawverify does; an entry dated backwards is named."""
    key = demo.genesis_log_key.encode()
    honest = published_bundle(live_server, demo)
    checks, codes = page_and_cli(browser, live_server, honest, key)
    assert not codes and "日志签名的时间" in checks["prepared_cp"]["detail"], checks["prepared_cp"]
    assert checks["time_order"]["status"] == "passed"
    sk = demo.active_signer(f"log:{demo.origin}").signing_key
    prepared = next(w["entry"] for w in honest["entries"] if w["entry"]["type"] == "draw.prepared"
                    and w["entry"]["payload"]["draw_id"] == honest["draw_id"])
    late = copy.deepcopy(honest)  # re-made with the real log key at the round's time: too late
    retime_prepared_checkpoint(late, demo.origin, sk, prepared["payload"]["not_before"])
    checks, codes = page_and_cli(browser, live_server, late, key)
    assert "PREPARED_TOO_LATE" in codes and checks["prepared_cp"]["status"] == "failed"
    untimed = copy.deepcopy(honest)
    retime_prepared_checkpoint(untimed, demo.origin, sk, None)
    checks, codes = page_and_cli(browser, live_server, untimed, key)
    assert "PREPARED_CHECKPOINT_UNTIMED" in codes and "PREPARED_CHECKPOINT_UNTIMED" in checks["prepared_cp"]["detail"]
    backwards = copy.deepcopy(honest)
    drawn = next(w["entry"] for w in backwards["entries"] if w["entry"]["type"] == "draw.drawn"
                 and w["entry"]["payload"]["draw_id"] == honest["draw_id"])
    drawn["time"] = prepared["time"][:11] + "00:00:00.000Z"
    resign(drawn, demo.active_signer(drawn["actor"]["id"]).signing_key)
    checks, codes = page_and_cli(browser, live_server, backwards, key)
    assert "ENTRY_TIME_DECREASING" in codes and "ENTRY_TIME_DECREASING" in checks["time_order"]["detail"]
