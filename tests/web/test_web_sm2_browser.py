"""The page checks the 国密 line in real headless Chromium with the vendored sm-crypto: the
standards' SM3 and SM2 examples and docs/vectors/sm2-v1.json agree; the demo's published draw
passes its SM2 check; a bundle whose checkpoint lost its SM2 line, or carries a forged one, fails."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

import pytest

from tests.web.conftest import draw_ids
from tests.web.test_web_browser import VECTORS, by_id, result_of_page, run_vector, wait

pytestmark = pytest.mark.browser


def test_page_agrees_with_the_sm2_vectors(browser: Any, live_server: str) -> None:
    browser.get(live_server + "/verify")
    wait(browser).until(lambda d: d.execute_script("return !!window.SpotcheckVectors"))
    v = json.loads((VECTORS / "sm2-v1.json").read_text(encoding="utf-8"))
    out = run_vector(browser, "sm2-v1.json")
    assert out["sm3"] == [True] * len(v["standards"]["sm3"])
    assert out["sm2_standard"] == [{"ok": True, "other_user_id": False}] * len(v["standards"]["sm2_sign"])
    assert all(out["entries_ok"]), out
    assert out["checkpoints"] == ["not_checked", "passed", "passed"]  # size 1 predates the registration
    assert out["mutations"] == [{"status": "failed", "code_named": True}] * len(v["mutations"])
    assert "SM2_KEY_INVALID" in out["bad_registration"]
    # §3 item 11: an SM2 actor's entry with both signatures passes; each mutation fails by name
    assert all(out["actor_ok"]), out
    assert out["actor_sm2_checked"] == [5]
    assert out["actor_mutations"] == [{"expect": m["expect"], "named": True} for m in v["actor_sm2"]["mutations"]]


def _verify(browser: Any, bundle: dict) -> dict[str, Any]:
    res = browser.execute_async_script(
        "const done = arguments[1]; window.SpotcheckVerifier.verifyBundle(arguments[0]).then(done);", bundle)
    return by_id(res["checks"])


def test_published_draw_sm2_line_checked_in_the_page(browser: Any, live_server: str, demo: Any) -> None:
    draw_id = draw_ids(demo)["published"]
    browser.get(f"{live_server}/verify/{draw_id}")
    res = result_of_page(browser)
    checks = by_id(res["checks"])
    assert checks["sm2"]["status"] == "passed", checks["sm2"]
    assert checks["prepared_cp"]["status"] == "passed", checks["prepared_cp"]

    bundle = json.loads(urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_id}/bundle").read())
    note = bundle["log"]["checkpoint"]["note"]
    text, sigs = note.split("\n\n")
    ed_line, sm2_line = sigs.splitlines()[:2]
    # the SM2 line removed: the Ed25519 checkpoint still verifies, the 国密 check fails
    stripped = json.loads(json.dumps(bundle))
    stripped["log"]["checkpoint"]["note"] = f"{text}\n\n{ed_line}\n"
    checks = _verify(browser, stripped)
    assert checks["checkpoint"]["status"] == "passed"
    assert checks["sm2"]["status"] == "failed" and "SM2_SIGNATURE_MISSING" in checks["sm2"]["detail"]
    # a forged SM2 line (one bit of s flipped)
    dash, name, value = sm2_line.split(" ")
    raw = bytearray(base64.b64decode(value))
    raw[-1] ^= 1
    forged = json.loads(json.dumps(bundle))
    forged["log"]["checkpoint"]["note"] = f"{text}\n\n{ed_line}\n{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n"
    checks = _verify(browser, forged)
    assert checks["sm2"]["status"] == "failed" and "SM2_SIGNATURE_INVALID" in checks["sm2"]["detail"]
    # the prepared checkpoint must carry it too
    pc = json.loads(json.dumps(bundle))
    ptext, psigs = pc["prepared_checkpoint"]["note"].split("\n\n")
    pc["prepared_checkpoint"]["note"] = f"{ptext}\n\n{psigs.splitlines()[0]}\n"
    checks = _verify(browser, pc)
    assert checks["prepared_cp"]["status"] == "failed" and "SM2_SIGNATURE_MISSING" in checks["prepared_cp"]["detail"]


def test_published_draw_sm2_entry_signatures_checked_in_the_page(browser: Any, live_server: str, demo: Any) -> None:
    """The demo's operator holds an SM2 key: the page checks its entries' sm2_sig with sm-crypto,
    and a bundle whose entry lost, or carries a forged, sm2_sig fails with the named finding."""
    draw_id = draw_ids(demo)["published"]
    browser.get(f"{live_server}/verify/{draw_id}")
    res = result_of_page(browser)
    checks = by_id(res["checks"])
    assert checks["sm2_entries"]["status"] == "passed" and "sm-crypto" in checks["sm2_entries"]["detail"], checks
    bundle = json.loads(urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_id}/bundle").read())
    signed = [i for i, w in enumerate(bundle["entries"]) if "sm2_sig" in w["entry"]]
    assert signed
    stripped = json.loads(json.dumps(bundle))
    del stripped["entries"][signed[0]]["entry"]["sm2_sig"]
    checks = _verify(browser, stripped)
    assert checks["sm2_entries"]["status"] == "failed" and "ENTRY_SM2_SIGNATURE_MISSING" in checks["sm2_entries"]["detail"]
    assert checks["signatures"]["status"] == "passed"  # the Ed25519 signature alone still verifies
    forged = json.loads(json.dumps(bundle))
    e = forged["entries"][signed[0]]["entry"]
    raw = bytearray(base64.b64decode(e["sm2_sig"]))
    raw[-1] ^= 1
    e["sm2_sig"] = base64.b64encode(bytes(raw)).decode()
    checks = _verify(browser, forged)
    assert checks["sm2_entries"]["status"] == "failed" and "ENTRY_SM2_SIGNATURE_INVALID" in checks["sm2_entries"]["detail"]
