"""The in-browser verifier (real headless Chromium) gives the same verdict as drawverify at each
step of a draw: VERIFIED while sealed (what cannot be checked yet says so), a step beyond the
bundle's checkpoint pending (never 'dropped'), a dropped step and a tampered bundle FAILED, an
aborted draw ABORTED — on its /verify page too, and its public page says so."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.web.conftest import PASSWORDS, make_app
from tests.web.test_web_browser import result_of_page, wait
from verifier.draw import DrawOptions, verify_bundle

pytestmark = pytest.mark.browser
DICE = [{"type": "dice", "min_digits": 20}]


def in_page(driver: Any, base: str, bundle: dict[str, Any]) -> dict[str, Any]:
    """The page's own verifier on a bundle: its verdict and checks."""
    if "/verify" not in driver.current_url:
        driver.get(base + "/verify")
    wait(driver).until(lambda d: d.execute_script("return !!window.SpotcheckVerifier"))
    return driver.execute_async_script(  # type: ignore[no-any-return]
        "const done = arguments[arguments.length - 1];"
        "window.SpotcheckVerifier.verifyBundle(arguments[0], []).then(done, (e) => done({error: String(e)}));",
        bundle)


def both(driver: Any, base: str, bundle: dict[str, Any], key: str) -> tuple[str, dict[str, Any]]:
    """drawverify's verdict and the page's; they must agree."""
    report, _ = verify_bundle(copy.deepcopy(bundle), DrawOptions(log_key=key))
    page = in_page(driver, base, bundle)
    assert "error" not in page, page
    assert page["verdict"] == report.verdict, (page, report.to_text())
    return report.verdict, {c["id"]: c for c in page["checks"]}


def api(client: Any, method: str, url: str, **kw: Any) -> dict[str, Any]:
    r = getattr(client, method)(url, **kw)
    assert r.status_code in (200, 201), r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def test_page_and_drawverify_agree_at_every_step(browser: Any, live_server: str, demo: Any) -> None:
    app = make_app(demo)
    key = demo.genesis_log_key.encode()
    ops, admin, anon = app.test_client(), app.test_client(), app.test_client()
    for client, account in ((ops, "op-scjg"), (admin, "admin")):
        tok = api(client, "post", "/api/v1/session", json={"account": account, "password": PASSWORDS[account]})
        client.environ_base["HTTP_X_CSRF_TOKEN"] = tok["csrf_token"]
    published = next(d for d in api(ops, "get", "/api/v1/draws")["draws"] if d["status"] == "published")
    plan = {**api(admin, "get", f"/api/v1/plans/{published['plan']}"), "code": "BROWSER-LC", "status": "draft"}
    api(admin, "post", "/api/v1/plans", json=plan)
    api(admin, "post", "/api/v1/plans/BROWSER-LC/submit")
    api(ops, "post", "/api/v1/plans/BROWSER-LC/approve")  # the four-eyes rule: a second person
    body = {"plan": "BROWSER-LC", "department": plan["departments"][0], "sources": DICE,
            "draw_date": plan["window_start"]}

    def bundle(did: str, size: int | None = None) -> dict[str, Any]:
        return api(anon, "get", f"/api/v1/draws/{did}/bundle" + (f"?checkpoint={size}" if size else ""))

    d = api(ops, "post", "/api/v1/draws", json=body)
    assert both(browser, live_server, bundle(d["id"]), key)[0] == "verified"
    s = api(ops, "post", f"/api/v1/draws/{d['id']}/seed", json={"reveals": [{"type": "dice", "digits": "2" * 20}]})
    verdict, checks = both(browser, live_server, bundle(d["id"]), key)
    assert verdict == "verified" and checks["lifecycle"]["status"] == "passed"
    assert checks["seed"]["status"] == "not_checked"  # sealed until publication: said so, not a pass
    r = api(ops, "post", f"/api/v1/draws/{d['id']}/run")
    # against the checkpoint signed with the seed, the drawn step is pending — not dropped
    old = bundle(d["id"], s["receipt"]["tree_size"])
    verdict, checks = both(browser, live_server, old, key)
    assert verdict == "verified" and checks["coverage"]["status"] == "pending", checks["coverage"]
    assert str(r["receipt"]["seq"]) in checks["coverage"]["detail"]
    dropped = {**old, "pending_entries": []}
    verdict, checks = both(browser, live_server, dropped, key)
    assert verdict == "failed" and "LIFECYCLE_INCOMPLETE" in checks["lifecycle"]["detail"]
    api(ops, "post", f"/api/v1/draws/{d['id']}/publish")
    pub = bundle(d["id"])
    assert both(browser, live_server, pub, key)[0] == "verified"
    bad = copy.deepcopy(pub)
    bad["pools"]["subjects"][0]["name"] += "（改）"
    assert both(browser, live_server, bad, key)[0] == "failed"
    bad = copy.deepcopy(pub)
    bad["status"] = "drawn"
    assert both(browser, live_server, bad, key)[0] == "failed"

    # a second attempt, aborted at prepare: ABORTED everywhere; the published draw's page lists it
    a = api(ops, "post", "/api/v1/draws", json=body)
    reason = "见证人未到场，改期 / witness absent"
    api(ops, "post", f"/api/v1/draws/{a['id']}/abort", json={"reason": reason})
    verdict, _ = both(browser, live_server, bundle(a["id"]), key)
    assert verdict == "aborted"
    browser.get(f"{live_server}/verify/{a['id']}")
    res = result_of_page(browser)
    assert res["verdict"] == "aborted" and res["aborted"]["reason"] == reason
    summary = browser.find_element(By.ID, "verdict")
    assert summary.get_attribute("data-verdict") == "aborted" and reason in summary.text
    browser.get(f"{live_server}/public/draws/{a['id']}")
    assert browser.find_element(By.ID, "draw-status").get_attribute("data-status") == "aborted"
    assert browser.find_element(By.ID, "abort-reason").text == reason
    assert browser.find_element(By.ID, "abort-actor").text == "user:op-scjg"
    browser.get(f"{live_server}/public/draws/{d['id']}")
    assert browser.find_element(By.CSS_SELECTOR, f"#plan-history li[data-draw='{a['id']}']")


def test_random_lifecycles_page_agrees(browser: Any, live_server: str, demo: Any, tmp_path: Any) -> None:
    """The hypothesis machine of tests/verifier/test_vf_lifecycle_machine.py, with the page's own
    verdict checked at every step next to drawverify's, and one mutation per step in the page."""
    from datetime import UTC, datetime

    from hypothesis import HealthCheck, Phase, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import run_state_machine_as_test

    from tests.verifier.test_vf_lifecycle_machine import (
        Lifecycles,
        SteppingClock,
        World,
        binding_paths,
        expected,
        get_path,
        mutate_value,
        pick,
        set_path,
    )

    class PageLifecycles(Lifecycles):
        def verify(self, did: str, seq: int, kind: str) -> dict[str, Any]:
            bundle = super().verify(did, seq, kind)
            want, _ = expected(self.draws, did, bundle["log"]["checkpoint"]["size"])
            assert both(browser, live_server, bundle, self.world.log_key)[0] == want
            return bundle

        def mutations(self, did: str, bundle: dict[str, Any], data: st.DataObject) -> None:
            super().mutations(did, bundle, data)
            paths = binding_paths(bundle)
            path = pick(data, [p for p in paths if p[0] == pick(data, sorted({p[0] for p in paths}))])
            bad = copy.deepcopy(bundle)
            set_path(bad, path, mutate_value(get_path(bundle, path)))
            page = in_page(browser, live_server, bad)
            assert page.get("verdict") == "failed", (path, page)

    app = make_app(demo)
    ledger = app.extensions["ledger"]
    ledger.clock = SteppingClock(datetime(2027, 6, 7, 2, 0, tzinfo=UTC))
    ops, admin = app.test_client(), app.test_client()
    for client, account in ((ops, "op-scjg"), (admin, "admin")):
        tok = api(client, "post", "/api/v1/session", json={"account": account, "password": PASSWORDS[account]})
        client.environ_base["HTTP_X_CSRF_TOKEN"] = tok["csrf_token"]
    published = next(d for d in api(ops, "get", "/api/v1/draws")["draws"] if d["status"] == "published")
    plan = api(admin, "get", f"/api/v1/plans/{published['plan']}")
    PageLifecycles.world = World(app, live_server, demo.genesis_log_key.encode(), ops, admin, plan, tmp_path,
                                 plans_made=100)
    run_state_machine_as_test(PageLifecycles, settings=settings(
        max_examples=2, stateful_step_count=6, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck)))
