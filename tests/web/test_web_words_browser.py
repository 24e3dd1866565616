"""The page in the browser says what drawverify says: the same verdict line, the same counting
sentence and the same check titles and status words, from the one catalogue
(verifier/messages/zh.json, served at /verify/messages/zh.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from selenium.webdriver.common.by import By

from tests.web.conftest import draw_ids
from tests.web.test_web_browser import result_of_page
from verifier.cli import cli
from verifier.render import messages

pytestmark = pytest.mark.browser


def cli_lines(live_server: str, demo: Any, draw_id: str, tmp_path: Path) -> list[str]:
    bundle = tmp_path / f"{draw_id}.json"
    import urllib.request

    with urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_id}/bundle") as r:
        bundle.write_bytes(r.read())
    r = CliRunner().invoke(cli, ["bundle", str(bundle), "--log-key", demo.genesis_log_key.encode()])
    return r.output.splitlines()


@pytest.mark.parametrize("status", ["published", "aborted", "drawn"])
def test_page_and_cli_use_the_same_words(browser: Any, live_server: str, demo: Any, tmp_path: Path,
                                         status: str) -> None:
    m = messages("zh")
    draw_id = draw_ids(demo)[status]
    browser.delete_all_cookies()
    browser.get(f"{live_server}/verify/{draw_id}")
    res = result_of_page(browser)
    verdict = browser.find_element(By.ID, "verdict").text
    cli = cli_lines(live_server, demo, draw_id, tmp_path)
    # the verdict line: word for word up to the abort's particulars
    assert verdict.split(" — ")[0] == cli[0].split(" — ")[0], (verdict, cli[0])
    assert verdict.startswith("结论：")
    counts = browser.find_element(By.ID, "verdict-counts").text
    pattern = re.escape(m["words"]["counts"]).replace(r"\{n\}", r"\d+").replace(r"\{passed\}", r"\d+") \
        .replace(r"\{failed\}", r"\d+").replace(r"\{not_checked\}", r"\d+").replace(r"\{pending\}", ".*")
    assert re.fullmatch(pattern, counts) and re.fullmatch(pattern, cli[2]), (counts, cli[2])
    # each check: the catalogue's title and status word
    for li in browser.find_elements(By.CSS_SELECTOR, "#verify-results li.check"):
        cid, st = li.get_attribute("data-check"), li.get_attribute("data-status")
        key = m.get("aliases", {}).get(cid, cid)
        title = li.find_element(By.TAG_NAME, "strong").text
        badge = li.find_element(By.CLASS_NAME, "badge").text
        assert badge == m["statuses"][st], (cid, badge)
        if key in m["checks"]:
            assert title == m["checks"][key], (cid, title)
    assert res["verdict"] == {"published": "verified", "drawn": "verified", "aborted": "aborted"}[status]


def test_the_catalogue_is_served_as_drawverify_reads_it(live_server: str) -> None:
    import urllib.request

    from verifier.render import MESSAGES

    with urllib.request.urlopen(f"{live_server}/verify/messages/zh.json") as r:
        assert json.loads(r.read()) == json.loads((MESSAGES / "zh.json").read_text(encoding="utf-8"))


CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@pytest.mark.parametrize("status", ["published", "drawn"])
def test_page_scripts_speak_one_language(browser: Any, live_server: str, demo: Any, status: str) -> None:
    """The scripts' words come from the catalogue the page embeds (lib/i18n.js): with ?lang=en
    every title, status and detail the page computes is English (the demo's data, such as an abort's
    reason, shown as it is), by default every title Chinese."""
    import urllib.request

    from tests.web.test_web_i18n import _strip_data, demo_data_strings

    draw_id = draw_ids(demo)[status]
    with urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_id}/bundle") as r:
        bundle = json.loads(r.read())
    # an abort's reason, in the other draws' list, is what the official wrote
    data = demo_data_strings(demo) + [w["entry"]["payload"]["reason"] for w in bundle["entries"]
                                        if w["entry"]["type"] == "draw.aborted"]
    browser.delete_all_cookies()
    browser.get(f"{live_server}/verify/{draw_id}?lang=en")
    res = result_of_page(browser)
    assert res["verdict"] == "verified" and len(res["checks"]) > 15
    chinese = [(c["id"], c["title"], c["detail"]) for c in res["checks"]
               if CJK.search(_strip_data(c["title"] + " " + c["detail"], data))]
    assert not chinese, chinese
    shown = _strip_data(browser.find_element(By.ID, "verify-results").text, data)
    assert not CJK.search(shown), shown[:500]
    browser.get(f"{live_server}/verify/{draw_id}?lang=zh")
    res = result_of_page(browser)
    english = [c["title"] for c in res["checks"] if not CJK.search(c["title"])]
    assert not english, english


def test_verifier_page_names_sources_and_substitution_reasons_in_words(browser: Any, live_server: str,
                                                                      demo: Any) -> None:
    """Issue 14: the page showed `P020 → P002 (cannot_attend)` and `2 个公开来源：dice、witness`; it now
    says them with the staff pages' words (the same msgids), in Chinese and with ?lang=en."""
    from tests.web.test_web_browser import by_id

    published = draw_ids(demo)["published"]
    browser.delete_all_cookies()
    try:
        browser.get(f"{live_server}/verify/{published}")
        checks = by_id(result_of_page(browser)["checks"])
        subs, reveals = checks["substitutions"]["detail"], checks["reveals"]["detail"]
        assert "无法到场" in subs and "(cannot_attend)" not in subs, subs
        assert "个公开来源：" in reveals and not re.search(r"[a-z]+_[a-z]+|\bdice\b|\bwitness\b|\bdrand\b(?! 公共信标)",
                                                       reveals), reveals
        browser.get(f"{live_server}/verify/{published}?lang=en")
        checks = by_id(result_of_page(browser)["checks"])
        assert "(cannot attend)" in checks["substitutions"]["detail"], checks["substitutions"]["detail"]
    finally:
        browser.delete_all_cookies()  # back to Chinese for the tests after this one


def test_verifier_page_words_are_the_staff_pages_msgids() -> None:
    """The script's tables of words are web/labels.py's, msgid for msgid: one translation serves both."""
    from web.labels import SOURCE_LABELS, SUBSTITUTION_REASONS

    js = (Path(__file__).parents[2] / "web/static/js/verify.js").read_text(encoding="utf-8")
    for name, labels in (("SOURCE_WORDS", SOURCE_LABELS), ("REASON_WORDS", SUBSTITUTION_REASONS)):
        body = re.search(rf"const {name} = \{{(.*?)\}};", js, re.S).group(1)
        assert dict(re.findall(r'(\w+): _\("([^"]+)"\)', body)) == labels, name
