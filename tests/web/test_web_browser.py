"""The pages in real headless Chromium: the in-browser verifier on every vector, login and an
import error report, a whole draw through the ceremony screen, publication, the QR link,
verification in the page (and a tampered bundle failing), a company search. Screenshots of the
main pages go to test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.web.conftest import PASSWORDS, ROOT, draw_ids, screenshot

pytestmark = pytest.mark.browser
VECTORS = ROOT / "docs" / "vectors"


def wait(driver: Any, timeout: float = 30) -> WebDriverWait:
    """Poll until the condition holds; an element replaced by a navigation in between is retried."""
    return WebDriverWait(driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def run_vector(driver: Any, name: str) -> dict[str, Any]:
    data = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    out = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const go = () => window.SpotcheckVectors ? window.SpotcheckVectors.run(arguments[0], arguments[1]).then(done)"
        " : setTimeout(go, 50); go();", name, data)
    assert "error" not in out, out.get("error")
    return out  # type: ignore[no-any-return]


def result_of_page(driver: Any, timeout: float = 60) -> dict[str, Any]:
    wait(driver, timeout).until(lambda d: d.execute_script("return window.spotcheckResult"))
    return driver.execute_script("return window.spotcheckResult")  # type: ignore[no-any-return]


def by_id(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in checks}


def browser_login(driver: Any, base: str, account: str) -> None:
    driver.get(base + "/staff/login")
    driver.find_element(By.ID, "account").send_keys(account)
    driver.find_element(By.ID, "password").send_keys(PASSWORDS[account])
    driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    wait(driver).until(lambda d: "/staff/login" not in d.current_url)


# --- the verifier agrees with the vectors ---------------------------------------------------

def test_verifier_agrees_with_every_vector(browser: Any, live_server: str) -> None:
    browser.get(live_server + "/verify")
    wait(browser).until(lambda d: d.execute_script("return !!window.SpotcheckVectors"))
    # log-v1: canonical leaves, signatures under the key rules, roots, proofs, checkpoints, cosignature
    log = json.loads((VECTORS / "log-v1.json").read_text(encoding="utf-8"))
    out = run_vector(browser, "log-v1.json")
    assert [e["leaf_hash_hex"] for e in out["entries"]] == [e["leaf_hash_hex"] for e in log["entries"]]
    assert all(e["ok"] for e in out["entries"]), out["entries"]
    assert out["roots"] == log["roots"]
    assert all(out["inclusion_proofs"]) and len(out["inclusion_proofs"]) == len(log["inclusion_proofs"])
    assert all(out["consistency_proofs"]) and len(out["consistency_proofs"]) == len(log["consistency_proofs"])
    assert out["checkpoints"] == [True] * len(log["checkpoints"])
    assert out["cosignature"] is True
    assert out["mutation_detected"] is True
    # §3 items 7-8 on the page: revocations followed from the genesis key; the revoked key's later
    # (backdated) entry and the revoked log key's later checkpoint refused
    assert out["key_lifecycle"]["entries_ok"] is True
    assert out["key_lifecycle"]["revoked_key_refused"] is True
    assert out["key_lifecycle"]["checkpoints"] == [True] * len(log["key_lifecycle"]["checkpoints"]) + [False]
    # seed
    v = json.loads((VECTORS / "draw-seed.json").read_text(encoding="utf-8"))["outputs"]
    out = run_vector(browser, "draw-seed.json")
    for k in ("rfc3797_lottery", "encoded_sources", "seed", "seed_without_drand"):
        assert out[k] == v[k], k
    assert out["nonce_commitment_ok"] is True
    # pools
    v = json.loads((VECTORS / "draw-pool.json").read_text(encoding="utf-8"))["outputs"]
    out = run_vector(browser, "draw-pool.json")
    assert out["pool_commitment"] == v["pool_commitment"]
    assert out["excluded_commitment"] == v["excluded_commitment"]
    assert out["leaf_of_member"] == v["leaf_of_member"]
    assert out["member_index"] == v["member_proof"]["index"] and out["member_proof_ok"] is True
    # sizes
    v = json.loads((VECTORS / "draw-rules.json").read_text(encoding="utf-8"))["outputs"]
    assert run_vector(browser, "draw-rules.json")["sizes"] == v["sizes"]
    # tickets, selection, matching (lazy keyed Fisher-Yates), substitutions and the swap
    v = json.loads((VECTORS / "draw-selection-matching.json").read_text(encoding="utf-8"))["outputs"]
    out = run_vector(browser, "draw-selection-matching.json")
    for k in ("subject_tickets", "sizes", "matching_order", "replacement_order", "cutoffs", "removed_report", "content",
              "inspector_order_of_first", "expert_order_of_first", "final_matching"):
        assert out[k] == v[k], k
    assert out["substitution_problems"] == []
    assert out["swap_teams_after"] == v["swap"]["teams_after"]
    assert out["wrong_claim_refused"] is True
    # v2 §D8 in the page: a recusal after a swap never brings the recused inspector back
    assert out["recusal_after_swap"] == {"accepted": True, "v1_accepted_by_v1": True, "v1_incoming_refused": True}, \
        out["recusal_after_swap"]
    # seal
    v = json.loads((VECTORS / "draw-seal.json").read_text(encoding="utf-8"))["outputs"]
    assert run_vector(browser, "draw-seal.json") == v


# --- staff: login, import error report ---------------------------------------------------------

def test_login_and_import_error_report(browser: Any, live_server: str, tmp_path: Path) -> None:
    browser.delete_all_cookies()
    browser_login(browser, live_server, "op-scjg")
    screenshot(browser, "staff-dashboard", 1440, 900)
    template = (ROOT / "docs" / "templates" / "subjects.csv").read_text(encoding="utf-8-sig").splitlines()
    bad = template[1].split(",")
    bad[0] = "91150222MA00000000"  # a credit code with a wrong check character
    csv = tmp_path / "subjects-with-error.csv"
    csv.write_text("\n".join([template[0], template[2], ",".join(bad)]) + "\n", encoding="utf-8-sig")
    browser.get(live_server + "/staff/import")
    Select(browser.find_element(By.ID, "import-kind")).select_by_value("subjects")
    browser.find_element(By.ID, "import-file").send_keys(str(csv))
    browser.find_element(By.CSS_SELECTOR, "#import-form button[type=submit]").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "import-report")))
    report = browser.find_element(By.ID, "import-report")
    assert report.get_attribute("data-ok") == "false"
    rows = browser.find_elements(By.CSS_SELECTOR, "#import-errors tr.import-error")
    assert rows and any(r.find_elements(By.TAG_NAME, "td")[0].text == "3" for r in rows), [r.text for r in rows]
    screenshot(browser, "staff-import-error-report", 1440, 900)


# --- a whole draw through the ceremony screen -------------------------------------------------

def test_ceremony_publish_qr_verify_tamper_search(browser: Any, live_server: str, demo: Any, tmp_path: Path) -> None:
    from drawsvc.draw.seed import contribution_commitment
    from drawsvc.registry.service import Registry

    browser.delete_all_cookies()
    browser_login(browser, live_server, "op-scjg")
    contribution = "00112233445566778899aabbccddeeff0123"
    browser.get(live_server + "/staff/draws")
    plan = Registry(demo.ledger(), demo.passphrase()).list("plan")[0]
    date_input = browser.find_element(By.NAME, "draw_date")  # a day inside the demo plan's window
    browser.execute_script("arguments[0].value = arguments[1]", date_input, plan["window_end"])
    browser.find_element(By.ID, "witness_1").send_keys("纪检监察室-李")
    browser.find_element(By.ID, "witness_commitment_1").send_keys(contribution_commitment(bytes.fromhex(contribution)).hex())
    browser.find_element(By.CSS_SELECTOR, "#prepare-form button[type=submit]").click()
    # nothing is signed before the official has seen the pools and confirmed
    wait(browser).until(EC.presence_of_element_located((By.ID, "prepare-strata")))
    assert browser.find_elements(By.CSS_SELECTOR, "#prepare-left-out tr[data-reason='wrong_department']")
    screenshot(browser, "staff-prepare-check", 1440, 1400)
    browser.find_element(By.ID, "prepare-confirm").click()
    browser.find_element(By.ID, "prepare-button").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "created-entries")))
    assert "draw.prepared" in browser.find_element(By.ID, "created-entries").text
    proof_link = browser.find_element(By.CSS_SELECTOR, "#created-entries a[href*='/api/v1/log/proof/inclusion']")
    assert re.search(r"index=\d+&size=\d+", proof_link.get_attribute("href"))
    draw_id = re.search(r"/staff/draws/([^/?]+)", browser.current_url).group(1)  # type: ignore[union-attr]

    browser.find_element(By.ID, "ceremony-link").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "seed-form")))
    screenshot(browser, "ceremony-1-committed")
    browser.find_element(By.CSS_SELECTOR, "input[name$='_digits']").send_keys("31415926535897932384626")
    wrong = browser.find_element(By.CSS_SELECTOR, "input[name$='_contribution']")
    wrong.send_keys("ff" * 16)
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".seed-chain li.invalid"))  # mismatch shows live
    # in the reader's language (lib/draw.js's words from the catalogue), not the script's English
    assert "与其承诺不符" in browser.find_element(By.CSS_SELECTOR, ".seed-chain li.invalid").text
    wrong.clear()
    wrong.send_keys(contribution)
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".seed-chain li.revealed")) == 2)
    screenshot(browser, "ceremony-2-sources")
    browser.find_element(By.ID, "seed-button").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "run-button"))).click()
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".cer-stratum.shown")
                        and len(d.find_elements(By.CSS_SELECTOR, ".cer-stratum.shown"))
                        == len(d.find_elements(By.CSS_SELECTOR, ".cer-stratum")))
    time.sleep(1)  # let the last stratum's transition finish before the screenshot
    screenshot(browser, "ceremony-3-drawn")
    qr = browser.find_element(By.ID, "ceremony-qr")
    qr_url = qr.get_attribute("data-qr-url")
    assert qr_url == f"{live_server}/verify/{draw_id}"
    assert browser.find_element(By.ID, "qr-url").text == qr_url
    import segno

    expected = segno.make_qr(qr_url, error="m").svg_inline(scale=7, dark="#111", light="#fff", border=2)
    # the modules drawn are exactly those of a QR code encoding that URL
    assert re.findall(r' d="([^"]+)"', expected)[-1] == re.findall(r' d="([^"]+)"', qr.get_attribute("innerHTML"))[-1]

    # before publication the public pages do not show it
    browser.get(live_server + "/public/draws")
    assert draw_id not in browser.page_source
    browser.get(live_server + f"/staff/draws/{draw_id}/ceremony")
    browser.find_element(By.ID, "cer-publish-confirm").click()
    browser.find_element(By.ID, "cer-publish-button").click()
    wait(browser).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-status") == "published")
    assert browser.find_element(By.ID, "nonce-revealed")  # no longer "revealed at publication"
    screenshot(browser, "ceremony-4-published")

    # open the public verification page from the QR link, as a phone would (no login)
    browser.delete_all_cookies()
    browser.get(qr_url)
    res = result_of_page(browser)
    checks = by_id(res["checks"])
    assert res["ok"] is True, [c for c in res["checks"] if c["status"] == "failed"]
    for k in ("canonical", "signatures", "keys", "checkpoint", "inclusion", "prepared_cp", "nonce", "seed", "pools",
              "sizes", "selection", "matching", "seal", "substitutions"):
        assert checks[k]["status"] == "passed", (k, checks[k])
    assert "drand_bls" not in checks  # no beacon declared in this draw
    screenshot(browser, "verify-passed", 1440, 1400)

    # a tampered bundle fails in the page
    bundle = json.loads(urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_id}/bundle").read())
    stratum = next(s for s, st in bundle["content"]["strata"].items() if st["selected"])
    others = [r["id"] for r in bundle["pools"]["subjects"] if r["stratum"] == stratum]
    chosen = {x["id"] for x in bundle["content"]["strata"][stratum]["selected"]}
    bundle["content"]["strata"][stratum]["selected"][0]["id"] = next(i for i in others if i not in chosen)
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    browser.get(live_server + "/verify")
    browser.execute_script("window.spotcheckResult = null")
    browser.find_element(By.ID, "bundle-file").send_keys(str(bad))
    res = result_of_page(browser)
    checks = by_id(res["checks"])
    assert res["ok"] is False
    assert checks["selection"]["status"] == "failed" and checks["seal"]["status"] == "failed"
    assert browser.find_element(By.ID, "verdict").get_attribute("data-ok") == "false"
    screenshot(browser, "verify-tampered", 1440, 1400)
    # and a forged log entry breaks its signature and inclusion
    bundle = json.loads(urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_id}/bundle").read())
    prep = next(e for e in bundle["entries"] if e["entry"]["type"] == "draw.prepared")
    prep["entry"]["payload"]["note"] = "changed after the fact"
    res = browser.execute_async_script("const done = arguments[1]; window.SpotcheckVerifier.verifyBundle(arguments[0]).then(done);", bundle)
    checks = by_id(res["checks"])
    assert checks["signatures"]["status"] == "failed" and checks["inclusion"]["status"] == "failed"

    # search the first drawn company by name: its published check is listed
    subj = bundle["content"]["strata"][stratum]["selected"][0]["id"]
    name = next(r["name"] for r in bundle["pools"]["subjects"] if r["id"] == subj)
    browser.get(live_server + "/public/search")
    browser.find_element(By.ID, "q").send_keys(name)
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    card = wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, f"article.company[data-code='{subj}']")))
    assert draw_id in card.text
    screenshot(browser, "public-search", 1440, 900)


def test_sealed_draw_bundle_checks_commitments_only(browser: Any, live_server: str, demo: Any) -> None:
    sealed = draw_ids(demo)["drawn"]
    browser.get(f"{live_server}/verify/{sealed}")
    res = result_of_page(browser)
    checks = by_id(res["checks"])
    assert checks["signatures"]["status"] == "passed"
    assert checks["seed"]["status"] == "not_checked" and checks["selection"]["status"] == "not_checked"


def test_screenshots_of_main_pages(browser: Any, live_server: str, demo: Any) -> None:
    published = draw_ids(demo)["published"]
    browser.delete_all_cookies()
    for name, path in (("public-home", "/"), ("public-items", "/public/items"), ("public-draws", "/public/draws"),
                       ("public-draw", f"/public/draws/{published}"), ("public-checkpoint", "/public/checkpoint"),
                       ("public-home-en", "/?lang=en"), ("public-inspectors", "/public/inspectors?lang=zh")):
        browser.get(live_server + path)
        assert browser.find_elements(By.TAG_NAME, "main")
        screenshot(browser, name, 1440, 1000)
    browser_login(browser, live_server, "op-scjg")
    browser.get(f"{live_server}/staff/draws/{published}/ceremony")
    wait(browser).until(EC.presence_of_element_located((By.ID, "ceremony-qr")))
    screenshot(browser, "ceremony-published-demo")
    browser.get(f"{live_server}/staff/draws")
    screenshot(browser, "staff-draws", 1440, 1200)
    # no console errors from CSP violations on the pages walked
    logs = [e for e in browser.get_log("browser") if "Content Security Policy" in e.get("message", "")]
    assert not logs, logs
