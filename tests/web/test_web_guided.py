"""The guided path (issue 14, point 4): the draw page shows 承诺 → 随机源 → 抽取 → 公示 with the
next step linked to where it is done, and the demo has an inspector on a team with tasks to
record, so the inspector's own path can be walked from the demo alone."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from conftest import PASSPHRASE, PASSWORDS, draw_ids, login, make_app, open_team_tasks

from drawsvc.inspections.demo_team import PASSWORD, TEAM_ACCOUNT
from drawsvc.registry.service import Registry


def test_draw_page_shows_the_path_and_links_the_next_step(demo: Any) -> None:
    app = make_app(demo)
    c = app.test_client()
    login(c, "op-scjg")
    ids = draw_ids(demo)
    page = c.get(f"/staff/draws/{ids['drawn']}").data.decode()
    steps = re.findall(r'<li class="([^"]*)" data-step="([a-z]+)">', page)
    assert [s for _, s in steps] == ["prepared", "seeded", "drawn", "published"]
    assert [("done" in cls) for cls, _ in steps] == [True, True, True, False]
    assert "next" in steps[3][0] and '<a href="#publish-form" id="path-next">公示</a>' in page
    assert 'id="publish-form"' in page  # the link's target is on the page
    for word in ("承诺", "随机源", "抽取", "公示"):
        assert word in page
    page = c.get(f"/staff/draws/{ids['published']}").data.decode()
    assert 'id="path-next"' not in page and "生成检查任务" in page
    page = c.get(f"/staff/draws/{ids['aborted']}").data.decode()
    assert 'id="path-next"' not in page and "已中止" in page


def test_fresh_prepared_draw_points_to_the_ceremony_screen(tmp_path: Path) -> None:
    """A prepared draw's next step (随机源) links to the seed form on the ceremony screen
    (on a demo of its own: the shared one must not gain a draw)."""
    from drawsvc.demo import create_demo
    from drawsvc.draws.service import DrawService

    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    demo, _, _ = create_demo(tmp_path / "instance", origin="test.example/log")

    reg = Registry(demo.ledger(), demo.passphrase())
    svc = DrawService(demo.ledger(), reg)
    plan = reg.list("plan")[0]
    d = svc.prepare(reg.actor_for(reg.get("account", "op-scjg")), plan["code"], "scjg",
                    [{"type": "dice", "min_digits": 20}], draw_date=plan["window_end"])
    app = make_app(demo)
    c = app.test_client()
    login(c, "op-scjg")
    page = c.get(f"/staff/draws/{d['id']}").data.decode()
    link = re.search(r'<a href="([^"]+)" id="path-next">随机源</a>', page)
    assert link and link.group(1) == f"/staff/draws/{d['id']}/ceremony#seed-form"
    assert 'id="seed-form"' in c.get(f"/staff/draws/{d['id']}/ceremony").data.decode()
    assert "下一步在摇号大屏上进行" in page


def test_demo_inspector_is_on_a_team_with_tasks_to_record(demo: Any) -> None:
    reg = Registry(demo.ledger(), demo.passphrase())
    account = reg.get("account", TEAM_ACCOUNT)
    assert account is not None and account["role"] == "inspector" and PASSWORDS[TEAM_ACCOUNT] == PASSWORD
    tasks = open_team_tasks(demo, account["inspector"])
    assert tasks  # open, on their team, no result yet
    app = make_app(demo)
    c = app.test_client()
    login(c, TEAM_ACCOUNT)
    page = c.get("/staff/inspections/tasks").data.decode()
    for tid in tasks:
        assert tid in page
    assert c.get(f"/staff/inspections/tasks/{tasks[0]}").status_code == 200
