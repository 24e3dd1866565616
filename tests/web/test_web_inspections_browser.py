"""The inspection result workflow in real headless Chromium: an inspector of the team enters a
result, the same inspector's confirmation is refused, the reviewer (rev-scjg) confirms, the
operator publishes, and the result is on the public company page. Screenshots of the pages
go to test-artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.web.conftest import ensure_team_inspector, open_team_tasks, screenshot
from tests.web.test_web_browser import browser_login, wait

pytestmark = pytest.mark.browser


def logout(driver: Any) -> None:
    driver.find_element(By.CSS_SELECTOR, ".staff-nav form button").click()
    wait(driver).until(lambda d: "/staff" not in d.current_url)


def status_of(driver: Any) -> str:
    return driver.find_element(By.ID, "result-status").get_attribute("data-status")  # type: ignore[no-any-return]


def test_inspector_enters_reviewer_confirms_operator_publishes(browser: Any, live_server: str, demo: Any) -> None:
    ensure_team_inspector(demo)
    task_id = open_team_tasks(demo)[0]
    d = browser
    browser_login(d, live_server, "insp-team")
    d.find_element(By.ID, "my-tasks-tile").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "tasks"))
    screenshot(d, "inspector-my-tasks", 1440, 900)
    d.find_element(By.CSS_SELECTOR, f'tr[data-task="{task_id}"] a').click()
    wait(d).until(lambda x: x.find_elements(By.ID, "task-results"))
    screenshot(d, "inspector-task", 1440, 1100)
    d.find_element(By.CSS_SELECTOR, "a.enter-result").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "result-form"))
    # the exclusivity rule in the page: 未发现问题 disables the other boxes; a sub-item needs its parent
    parent = d.find_element(By.CSS_SELECTOR, 'input[value="pending_followup"]')
    sub = d.find_element(By.CSS_SELECTOR, 'input[value="not_disclosed"]')
    assert not sub.is_enabled()
    parent.click()
    assert sub.is_enabled()
    sub.click()
    nop = d.find_element(By.CSS_SELECTOR, 'input[value="no_problem"]')
    assert not nop.is_enabled()
    sub.click()
    parent.click()
    nop.click()
    assert not d.find_element(By.CSS_SELECTOR, 'input[value="corrected"]').is_enabled()
    today = d.find_element(By.ID, "check_date").get_attribute("max")
    d.execute_script("document.getElementById('check_date').value = arguments[0];", today)
    d.find_element(By.ID, "findings").send_keys("浏览器测试：现场检查未发现问题。")
    d.find_element(By.ID, "evaluation").send_keys("守法经营。")
    d.find_element(By.ID, "handling_opinion").send_keys("无需处理。")
    screenshot(d, "inspector-result-form", 1440, 1300)
    d.find_element(By.ID, "submit-result").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "result-status"))
    assert status_of(d) == "pending"
    assert d.find_elements(By.CSS_SELECTOR, "#created-entries tr.entry")
    result_url = d.current_url.split("?")[0]
    # the same person's confirmation: the server refuses, and the page says so
    d.find_element(By.ID, "confirm-button").click()
    wait(d).until(lambda x: x.find_elements(By.CSS_SELECTOR, ".flash.refused[role=alert]"))
    assert "录入人不能审核自己录入的结果" in d.find_element(By.CSS_SELECTOR, ".flash.refused[role=alert]").text
    assert status_of(d) == "pending"
    screenshot(d, "result-same-person-refused", 1440, 1100)
    logout(d)
    # the reviewer confirms
    browser_login(d, live_server, "rev-scjg")
    d.get(result_url)
    d.find_element(By.ID, "confirm-button").click()
    wait(d).until(lambda x: status_of(x) == "confirmed")
    screenshot(d, "result-confirmed-by-reviewer", 1440, 1100)
    logout(d)
    # the operator publishes
    browser_login(d, live_server, "op-scjg")
    d.get(result_url)
    d.find_element(By.ID, "publish-result-confirm").click()
    d.find_element(By.ID, "publish-result").click()
    wait(d).until(lambda x: status_of(x) == "published")
    entries = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#created-entries tr.entry")]
    assert any("inspection.result.published" in e for e in entries)
    assert d.find_element(By.CSS_SELECTOR, "#created-entries a[href*='/api/v1/log/proof/inclusion']")
    screenshot(d, "result-published", 1440, 1100)
    d.get(live_server + "/staff/inspections/deadlines")
    screenshot(d, "staff-deadlines", 1440, 900)
    d.get(live_server + "/staff/inspections/reports?kind=annual")
    screenshot(d, "staff-reports-annual", 1440, 1400)
    logout(d)
    # the public company page
    from drawsvc.inspections.service import InspectionService
    from drawsvc.registry.service import Registry

    svc = InspectionService(demo.ledger(), Registry(demo.ledger(), demo.passphrase()))
    subject = svc.task(task_id)["subject"]
    d.get(live_server + "/public/search?q=" + subject)
    d.find_element(By.CSS_SELECTOR, "a.company-link").click()
    wait(d).until(lambda x: x.find_elements(By.ID, "company-name"))
    rows = d.find_elements(By.CSS_SELECTOR, "tr.published-result")
    assert any("浏览器测试：现场检查未发现问题。" in r.text and "未发现问题" in r.text for r in rows)
    screenshot(d, "public-company-results", 1440, 1000)
    d.get(live_server + "/public/result-categories")
    screenshot(d, "public-result-categories", 1440, 1000)
