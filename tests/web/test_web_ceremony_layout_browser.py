"""The ceremony screen on the laptops officials project from (issue 14): at 1366 and 1440 pixels
wide the 种子的形成 column once wrapped to one character per line (its grid gave the source's name
a fixed 250 px in a column narrower than that). Each source's name and value must keep a
readable width, in every state of the demo's draws; screenshots are saved as CI artefacts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import draw_ids, screenshot
from tests.web.test_web_browser import browser_login

pytestmark = pytest.mark.browser

# per source row: the widths of its name and value, and the name's line count
MEASURE = """
return Array.from(document.querySelectorAll("#seed-chain li.src")).map((li) => {
  const t = li.querySelector(".src-type"), v = li.querySelector(".src-value");
  const range = document.createRange();
  range.selectNodeContents(t);
  const tops = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
  return {type: t.getBoundingClientRect().width, value: v.getBoundingClientRect().width,
          lines: tops.size, text: t.textContent.trim(), overflow: li.scrollWidth > li.clientWidth + 1};
});
"""


@pytest.mark.parametrize("width", [1366, 1440, 1920])
def test_seed_column_is_readable_on_laptop_widths(browser: Any, live_server: str, demo: Any, width: int) -> None:
    browser.delete_all_cookies()
    browser_login(browser, live_server, "op-scjg")
    try:
        for status, draw_id in sorted(draw_ids(demo).items()):
            browser.get(f"{live_server}/staff/draws/{draw_id}/ceremony")
            path = screenshot(browser, f"ceremony-{width}-{status}", width, 768 if width < 1900 else 1080)
            rows = browser.execute_script(MEASURE)
            assert rows, (status, "no source rows")
            for r in rows:
                # a name fits on one line, or two for a long one; the value column is wide enough
                # to hold a word of digits, not one character a line
                assert r["lines"] <= 2, (width, status, r, str(path))
                assert r["type"] >= 80 and r["value"] >= 160, (width, status, r, str(path))
                assert not r["overflow"], (width, status, r, str(path))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        browser.delete_all_cookies()
