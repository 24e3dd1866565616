"""Staff draw page: the operator creates a published draw's inspection tasks with one button;
the page lists the log entries it made; another department's operator cannot."""

from __future__ import annotations

import os
import re

import pytest
from conftest import PASSPHRASE, csrf_of, login, make_app

from drawsvc.demo import create_demo
from drawsvc.draws.service import DrawService
from drawsvc.instance import Instance
from drawsvc.registry.demo import demo_actor
from drawsvc.registry.service import Registry


def _published_draw_without_tasks(demo) -> str:  # type: ignore[no-untyped-def]
    ledger = demo.ledger()
    registry = Registry(ledger, demo.passphrase())
    svc = DrawService(ledger, registry)
    op = demo_actor(registry, "op-scjg")
    plan = registry.list("plan")[0]
    d = svc.prepare(op, plan["code"], "scjg", [{"type": "dice", "min_digits": 20}])
    svc.seed(op, d["id"], [{"type": "dice", "digits": "27182818284590452353"}])
    svc.run(op, d["id"])
    return svc.publish(op, d["id"])["id"]


@pytest.fixture(scope="module")
def own_demo(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    """A demo of its own: this test adds a published draw, which the shared demo must not see."""
    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    inst, _, _ = create_demo(tmp_path_factory.mktemp("tasksdemo") / "instance", origin="test.example/log")
    return inst


def test_operator_creates_the_tasks_of_a_published_draw(own_demo: Instance) -> None:
    demo = own_demo
    draw_id = _published_draw_without_tasks(demo)
    app = make_app(demo)
    other = app.test_client()
    login(other, "op-rfb")
    page = other.get(f"/staff/draws/{draw_id}")
    assert b'id="tasks-form"' not in page.data  # not their department: no button, and no action
    before = demo.ledger().size()
    r = other.post(f"/staff/draws/{draw_id}/tasks", data={"csrf_token": csrf_of(other.get("/staff/").data)})
    assert r.status_code in (302, 403)
    assert demo.ledger().size() == before

    client = app.test_client()
    login(client, "op-scjg")
    page = client.get(f"/staff/draws/{draw_id}")
    assert b'id="tasks-form"' in page.data
    r = client.post(f"/staff/draws/{draw_id}/tasks", data={"csrf_token": csrf_of(page.data)})
    assert r.status_code == 302
    seqs = [int(x) for x in re.search(r"entries=([0-9%C,]+)", r.headers["Location"]).group(1)
            .replace("%2C", ",").split(",")]
    ledger = demo.ledger()
    created = [ledger.entry(s) for s in seqs]
    assert created and all(e.type == "inspection.task.created" for e in created)
    assert {e.payload.get("draw_id") for e in created} == {draw_id}
    # pressing it again creates nothing more: only the missing tasks are made
    again = client.post(f"/staff/draws/{draw_id}/tasks", data={"csrf_token": csrf_of(page.data)})
    assert "entries=" not in again.headers["Location"]
