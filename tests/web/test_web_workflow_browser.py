"""The official's whole workflow in headless Chromium, as each role, in Chinese (issue 14,
point 6): import → plan (drafted, submitted; approved by a second person; published) → prepare
(checked, confirmed) → ceremony → recusal → publish → tasks → result (entered by the team's
inspector, confirmed by the reviewer, published by the operator) → company page → verifier
page, and the independent verifier agrees. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import copy
import json
import os
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_app, screenshot, serve
from pinned import days
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from drawsvc import creditcode
from drawsvc.instance import Instance
from tests.conftest import PASSPHRASE
from tests.web.conftest import PASSWORDS  # the dict browser_login reads
from tests.web.test_web_browser import browser_login, result_of_page, wait

pytestmark = pytest.mark.browser
INSPECTOR = "insp-wf"


@pytest.fixture(scope="module")
def wf_demo(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    """A demo of its own, built on the pinned day: the walk adds a plan, a draw and results."""
    from drawsvc.demo import create_demo

    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    inst, _, _ = create_demo(tmp_path_factory.mktemp("wfdemo") / "instance", origin="test.example/log")
    return inst


@pytest.fixture(scope="module")
def wf_server(wf_demo: Instance) -> Iterator[str]:
    yield from serve(make_app(wf_demo, TESTING=False))


def logout(d: Any) -> None:
    d.find_element(By.CSS_SELECTOR, ".staff-nav form button").click()
    wait(d).until(lambda x: "/staff" not in x.current_url)


def login(d: Any, base: str, account: str) -> None:
    d.delete_all_cookies()
    browser_login(d, base, account)


def test_the_whole_workflow_in_chromium(browser: Any, wf_server: str, wf_demo: Instance, tmp_path: Path) -> None:
    d, base = browser, wf_server
    PASSWORDS.setdefault(INSPECTOR, "wf-inspector-pass-2026")

    # 1. import: the dry run says what it would add and writes nothing; then the import
    login(d, base, "op-scjg")
    codes = [creditcode.generate(__import__("random").Random(500 + i), region="150222") for i in range(3)]
    f = tmp_path / "名录.csv"
    f.write_bytes(("统一社会信用代码,名称,行政区划代码,行业代码,信用风险分类\n" + "".join(
        f"{c},流程测试公司{i},150222,C13,D\n" for i, c in enumerate(codes))).encode("gbk"))
    d.get(base + "/staff/import")
    d.find_element(By.ID, "import-file").send_keys(str(f))
    d.find_element(By.ID, "import-dry-run").click()
    d.find_element(By.CSS_SELECTOR, "#import-form button[type=submit]").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "import-summary"))
    assert "将新增 3 行" in d.find_element(By.ID, "import-summary").text
    screenshot(d, "wf-01-import-dry-run", 1440, 900)
    d.find_element(By.ID, "import-file").send_keys(str(f))
    d.find_element(By.CSS_SELECTOR, "#import-form button[type=submit]").click()
    wait(d).until(lambda x: "导入成功" in x.find_element(By.ID, "import-summary").text)

    # 2. plan: drafted and submitted by the operator
    d.get(base + "/staff/plans/new")
    d.find_element(By.ID, "plan-code").send_keys("WF-01")
    d.find_element(By.ID, "plan-name").send_keys("流程测试年度抽查计划")
    d.find_element(By.CSS_SELECTOR, "input[name=items][value='SCJG-001']").click()
    for el, day in (("plan-window-start", days(0)), ("plan-window-end", days(60))):
        d.execute_script("document.getElementById(arguments[0]).value = arguments[1];", el, day)
    screenshot(d, "wf-02-plan-draft", 1440, 1400)
    d.find_element(By.ID, "plan-save").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "plan-submit"))
    d.find_element(By.ID, "plan-submit").click()
    wait(d).until(lambda x: x.find_element(By.ID, "plan-status").get_attribute("data-status") == "submitted")
    # the submitter is not offered the approval (four-eyes): the button is disabled, with why
    assert not d.find_element(By.ID, "plan-approve").is_enabled()
    assert "须由另一人" in d.find_element(By.ID, "plan-approve-needs-other").text
    logout(d)

    # 3. a second person approves; the plan is published (confirmed)
    login(d, base, "admin")
    d.get(base + "/staff/plans/WF-01")
    d.find_element(By.ID, "plan-approve").click()
    wait(d).until(lambda x: x.find_element(By.ID, "plan-status").get_attribute("data-status") == "approved")
    d.find_element(By.ID, "plan-publish-confirm").click()
    d.find_element(By.ID, "plan-publish").click()
    wait(d).until(lambda x: x.find_element(By.ID, "plan-status").get_attribute("data-status") == "published")
    screenshot(d, "wf-03-plan-published", 1440, 1200)
    logout(d)

    # 4. prepare: the check page first, then the confirmed commitment
    login(d, base, "op-scjg")
    d.get(base + "/staff/draws")
    Select(d.find_element(By.ID, "plan")).select_by_value("WF-01")
    Select(d.find_element(By.ID, "department")).select_by_value("scjg")
    d.find_element(By.CSS_SELECTOR, "#prepare-form button[type=submit]").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "prepare-strata"))
    assert not d.find_elements(By.ID, "prepare-problems")
    screenshot(d, "wf-04-prepare-check", 1440, 1400)
    d.find_element(By.ID, "prepare-confirm").click()
    d.find_element(By.ID, "prepare-button").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "draw-path"))
    draw_id = re.search(r"/staff/draws/([^/?#]+)", d.current_url).group(1)  # type: ignore[union-attr]
    assert d.find_element(By.ID, "path-next").text == "随机源"

    # 5. ceremony: the path's next step leads to the screen
    d.find_element(By.ID, "path-next").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "seed-form"))
    screenshot(d, "wf-05-ceremony-committed")  # the projected screen's own size (1920×1080)
    d.find_element(By.CSS_SELECTOR, "input[name$='_digits']").send_keys("31415926535897932384626")
    wait(d).until(lambda x: x.find_elements(By.CSS_SELECTOR, ".seed-chain li.dice.revealed"))
    wait(d).until(lambda x: x.find_element(By.ID, "seed-button").is_displayed()
                  and x.find_element(By.ID, "seed-button").is_enabled())
    d.execute_script("document.getElementById('seed-button').scrollIntoView({block: 'center'});")
    d.find_element(By.ID, "seed-button").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "run-button"))[0].click()
    wait(d).until(lambda x: x.find_element(By.TAG_NAME, "body").get_attribute("data-status") == "drawn")
    time.sleep(1)
    screenshot(d, "wf-05-ceremony-drawn")

    # 6. recusal on the draw page, in draw order
    d.get(f"{base}/staff/draws/{draw_id}")
    row = d.find_elements(By.CSS_SELECTOR, "#staff-matching tbody tr")[0]
    subject = row.find_elements(By.TAG_NAME, "code")[0].text
    leaving = row.find_elements(By.TAG_NAME, "code")[1].text
    form = d.find_element(By.ID, "sub-inspector")
    form.find_element(By.NAME, "subject").send_keys(subject)
    form.find_element(By.NAME, "leaving").send_keys(leaving)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(d).until(lambda x: "draw.substituted" in x.find_element(By.ID, "created-entries").text)
    screenshot(d, "wf-06-recusal", 1440, 1200)

    # 7. publish (confirmed), then the tasks
    d.find_element(By.ID, "publish-confirm").click()
    d.find_element(By.ID, "publish-button").click()
    wait(d).until(lambda x: x.find_element(By.ID, "draw-status").get_attribute("data-status") == "published")
    d.find_element(By.ID, "tasks-button").click()
    wait(d).until(lambda x: "inspection.task" in x.find_element(By.ID, "created-entries").text)
    screenshot(d, "wf-07-published-tasks", 1440, 1200)
    logout(d)

    # 8. the team's inspector records the result
    from drawsvc.inspections.service import InspectionService
    from drawsvc.registry.service import Registry

    reg = Registry(wf_demo.ledger(), wf_demo.passphrase())
    svc = InspectionService(wf_demo.ledger(), reg)
    task = next(t for t in svc.list_tasks(reg.system, draw_id=draw_id) if t["subject"] != subject)
    task = svc.task(task["id"])
    member = task["team"][0]
    reg.create_account(reg.actor_for(reg.get("account", "admin")),
                       {"id": INSPECTOR, "name": "检查组成员", "role": "inspector", "inspector": member},
                       PASSWORDS[INSPECTOR])
    login(d, base, INSPECTOR)
    d.get(f"{base}/staff/inspections/tasks/{task['id']}")
    d.find_element(By.CSS_SELECTOR, "a.enter-result").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "result-form"))
    d.find_element(By.CSS_SELECTOR, 'input[value="no_problem"]').click()
    today = d.find_element(By.ID, "check_date").get_attribute("max")
    d.execute_script("document.getElementById('check_date').value = arguments[0];", today)
    d.find_element(By.ID, "findings").send_keys("流程测试：现场检查未发现问题。")
    d.find_element(By.ID, "evaluation").send_keys("守法经营。")
    d.find_element(By.ID, "handling_opinion").send_keys("无需处理。")
    d.find_element(By.ID, "submit-result").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "result-status"))
    result_url = d.current_url.split("?")[0]
    screenshot(d, "wf-08-result-entered", 1440, 1100)
    logout(d)

    # 9. the reviewer confirms; the operator publishes (confirmed)
    login(d, base, "rev-scjg")
    d.get(result_url)
    d.find_element(By.ID, "confirm-button").click()
    wait(d).until(lambda x: x.find_element(By.ID, "result-status").get_attribute("data-status") == "confirmed")
    logout(d)
    login(d, base, "op-scjg")
    d.get(result_url)
    d.find_element(By.ID, "publish-result-confirm").click()
    d.find_element(By.ID, "publish-result").click()
    wait(d).until(lambda x: x.find_element(By.ID, "result-status").get_attribute("data-status") == "published")
    logout(d)

    # 10. the public company page, and the verifier page (the draw re-checked in the browser)
    d.delete_all_cookies()
    d.get(f"{base}/public/companies/{task['subject']}")
    wait(d).until(lambda x: x.find_elements(By.ID, "company-name"))
    assert any("流程测试：现场检查未发现问题。" in r.text for r in d.find_elements(By.CSS_SELECTOR, "tr.published-result"))
    screenshot(d, "wf-09-company", 1440, 1000)
    d.get(f"{base}/verify/{draw_id}")
    res = result_of_page(d)
    assert res["ok"] is True, [c for c in res["checks"] if c["status"] == "failed"]
    rules = next(c for c in res["checks"] if c["id"] == "rules")  # the plan's rules checked in the page too
    assert rules["status"] == "passed", rules
    screenshot(d, "wf-10-verify", 1440, 1400)
    # the independent verifier agrees (a plan published before the draw is an approved plan)
    from verifier.draw import verify_bundle

    bundle = json.loads(urllib.request.urlopen(f"{base}/api/v1/draws/{draw_id}/bundle").read())
    report, _ = verify_bundle(copy.deepcopy(bundle))
    assert report.ok, [f for c in report.checks.values() for f in c.findings]
    assert report.checks["rules"].status == "passed"


def test_ceremony_screen_follows_a_publication_made_elsewhere(browser: Any, wf_server: str, wf_demo: Instance) -> None:
    """The projected screen updates by itself after 公示: the nonce is shown as revealed."""
    from drawsvc.draws.service import DrawService
    from drawsvc.registry.service import Registry

    reg = Registry(wf_demo.ledger(), wf_demo.passphrase())
    svc = DrawService(wf_demo.ledger(), reg)
    sealed = next(x for x in svc.list() if x["status"] == "drawn")
    login(browser, wf_server, "op-scjg")
    browser.get(f"{wf_server}/staff/draws/{sealed['id']}/ceremony")
    assert "公示时揭示" in browser.find_element(By.ID, "src-value-0").text
    svc.publish(reg.actor_for(reg.get("account", "op-scjg")), sealed["id"])  # published from elsewhere
    wait(browser, 20).until(lambda x: x.find_element(By.TAG_NAME, "body").get_attribute("data-status") == "published")
    assert browser.find_elements(By.ID, "nonce-revealed")
    assert "公示时揭示" not in browser.find_element(By.ID, "src-value-0").text
