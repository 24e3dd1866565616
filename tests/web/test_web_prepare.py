"""The draw's rules checked before the commitment (issue 14, point 3).

Nothing is signed before the official has seen the pools per stratum and who of the inspectors
is left out and why; a draw outside its plan's window, or with an inspector pool that cannot
give random teams, is refused; every form value is validated and refused, never replaced; the
irreversible steps need a ticked confirmation."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

import pytest
from conftest import PASSPHRASE, csrf_of, login, make_app
from pinned import TODAY

from drawsvc.demo import create_demo
from drawsvc.draw.errors import DrawError
from drawsvc.draws.inputs import InputsError
from drawsvc.draws.service import DrawService
from drawsvc.instance import Instance
from drawsvc.registry.demo import demo_actor
from drawsvc.registry.service import Registry

DICE = {"use_dice": "1", "dice_min_digits": "20"}


@pytest.fixture(scope="module")
def own_demo(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    """A demo of its own, built on the pinned day: these tests prepare draws and retire inspectors."""
    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    inst, _, _ = create_demo(tmp_path_factory.mktemp("preparedemo") / "instance", origin="test.example/log")
    return inst


def _svc(demo: Instance) -> tuple[DrawService, Registry]:
    registry = Registry(demo.ledger(), demo.passphrase())
    return DrawService(demo.ledger(), registry), registry


def _plan(demo: Instance) -> dict[str, Any]:
    return Registry(demo.ledger(), demo.passphrase()).list("plan")[0]


def _form(client: Any, plan: dict[str, Any], **values: str) -> dict[str, str]:
    tok = csrf_of(client.get("/staff/draws").data)
    return {"csrf_token": tok, "plan": plan["code"], "department": "scjg", "draw_date": TODAY.isoformat(),
            **DICE, **values}


@pytest.mark.parametrize(("values", "message"), [
    ({"dice_min_digits": "abc"}, "骰子最少位数“abc”不是有效的正整数"),
    ({"dice_min_digits": "5"}, "骰子最少位数应在 20–200 之间"),
    ({"use_drand": "1", "drand_round": "-5"}, "drand 轮次“-5”不是有效的正整数"),
    ({"draw_date": "2026-13-45"}, "不是有效日期"),
    ({"witness_1": "李", "witness_commitment_1": "abc"}, "64 位十六进制"),
])
def test_bad_form_values_are_refused_never_replaced(own_demo: Instance, values: dict[str, str], message: str) -> None:
    app = make_app(own_demo)
    c = app.test_client()
    login(c, "op-scjg")
    plan = _plan(own_demo)
    before = own_demo.ledger().size()
    for path in ("/staff/draws/check", "/staff/draws"):
        data = _form(c, plan, **values, confirm="1")
        body = c.post(path, data=data, follow_redirects=True).data.decode()
        assert message in body, (path, body[:3000])
        assert 'id="prepare-strata"' not in body
        # the form comes back as it was typed, to correct one field (not reset to the defaults)
        for name, value in values.items():
            if not name.startswith("use_"):
                assert f'name="{name}"' in body and f'value="{value}"' in body, (name, value)
        assert f'<option value="{plan["code"]}" selected>' in body
    assert own_demo.ledger().size() == before  # nothing signed


def test_check_page_shows_pools_and_left_out_inspectors_before_anything_is_signed(own_demo: Instance) -> None:
    app = make_app(own_demo)
    c = app.test_client()
    login(c, "op-scjg")
    plan = _plan(own_demo)
    svc, registry = _svc(own_demo)
    before = own_demo.ledger().size()
    body = c.post("/staff/draws/check", data=_form(c, plan), follow_redirects=True).data.decode()
    assert own_demo.ledger().size() == before
    assert 'id="prepare-strata"' in body and 'id="prepare-confirm-form"' in body
    preview = svc.preview(demo_actor(registry, "op-scjg"), plan["code"], "scjg", TODAY.isoformat())
    for s in preview["strata"]:
        assert f"<td>{s['stratum']} 类</td><td class=\"num\">{s['pool']}</td>" in body
    # the registry's inspectors: each either eligible or left out with its reason
    today = TODAY.isoformat()
    lapsing = next(r for r in registry.list("inspector") if r["department"] == "scjg" and r["status"] == "在岗")
    registry.save(demo_actor(registry, "admin"), "inspector",  # a 执法证 that expired yesterday
                  {**lapsing, "cert_valid_to": (TODAY - timedelta(days=1)).isoformat()}, create=False)
    preview = svc.preview(demo_actor(registry, "op-scjg"), plan["code"], "scjg", TODAY.isoformat())
    body = c.post("/staff/draws/check", data=_form(c, plan), follow_redirects=True).data.decode()
    before = own_demo.ledger().size()
    insp = registry.list("inspector")
    expired = [r["id"] for r in insp if r["status"] == "在岗" and r["department"] in plan["departments"]
               and r["cert_valid_to"] < today]
    other = [r["id"] for r in insp if r["status"] == "在岗" and r["department"] not in plan["departments"]]
    assert expired and other
    left = {r["id"]: r["reason"] for r in preview["left_out"]}
    assert all(left[i] == "certificate_not_valid" for i in expired)
    assert all(left[i] == "wrong_department" for i in other)
    assert {r["id"] for r in preview["eligible"]}.isdisjoint(left)
    assert len(preview["eligible"]) + len(left) == len(insp)
    assert "行政执法证在抽签日不在有效期内" in body and "不属于本次抽签的部门" in body
    ids = {r["id"] for r in preview["eligible"]}
    assert {(x["inspector"], x["subject"]) for x in preview["recused"]} == {
        (x["inspector"], x["subject"]) for x in registry.list("conflict") if x["inspector"] in ids}

    # the prepare itself needs the ticked confirmation
    form = {k: v for k, v in _form(c, plan).items()}
    body = c.post("/staff/draws", data=form, follow_redirects=True).data.decode()
    assert "勾选确认" in body and own_demo.ledger().size() == before
    r = c.post("/staff/draws", data={**form, "confirm": "1"})
    assert r.status_code == 302 and "/staff/draws/D" in r.headers["Location"]
    assert own_demo.ledger().size() > before


def test_draw_outside_the_plan_window_is_refused(own_demo: Instance) -> None:
    svc, registry = _svc(own_demo)
    op = demo_actor(registry, "op-scjg")
    plan = _plan(own_demo)
    start, end = date.fromisoformat(plan["window_start"]), date.fromisoformat(plan["window_end"])
    before = own_demo.ledger().size()
    for day, word in ((end + timedelta(days=1), "晚于"), (start - timedelta(days=1), "早于")):
        with pytest.raises(InputsError, match=word):
            svc.prepare(op, plan["code"], "scjg", [{"type": "dice", "min_digits": 20}], draw_date=day.isoformat())
        assert svc.preview(op, plan["code"], "scjg", day.isoformat())["problems"]
    assert own_demo.ledger().size() == before
    assert not svc.preview(op, plan["code"], "scjg", end.isoformat())["problems"]  # the last day is inside


def test_department_can_ask_four_eyes_for_draw_publication(own_demo: Instance) -> None:
    from drawsvc.registry.authz import Forbidden

    svc, registry = _svc(own_demo)
    op, admin = demo_actor(registry, "op-scjg"), demo_actor(registry, "admin")
    plan = _plan(own_demo)
    registry.save(admin, "department", {**registry.get("department", "scjg"), "four_eyes_draws": True}, create=False)
    try:
        d = svc.prepare(op, plan["code"], "scjg", [{"type": "dice", "min_digits": 20}])
        svc.seed(op, d["id"], [{"type": "dice", "digits": "27182818284590452353"}])
        svc.run(op, d["id"])
        with pytest.raises(Forbidden, match="另一人"):
            svc.publish(op, d["id"])
        assert svc.get(d["id"])["status"] == "drawn"
        assert svc.publish(admin, d["id"])["status"] == "published"  # a second person publishes
    finally:
        registry.save(admin, "department", {**registry.get("department", "scjg"), "four_eyes_draws": False},
                      create=False)


def test_pool_that_cannot_give_random_teams_is_refused_and_shown(own_demo: Instance) -> None:
    """With as many eligible inspectors as a team holds, every subject would get the same team."""
    svc, registry = _svc(own_demo)
    op = demo_actor(registry, "op-scjg")
    admin = demo_actor(registry, "admin")
    plan = _plan(own_demo)
    eligible = [r["id"] for r in svc.preview(op, plan["code"], "scjg", TODAY.isoformat())["eligible"]]
    team = plan["team_size"]
    assert len(eligible) > team
    for i in eligible[team:]:  # all but a team's worth retire
        registry.save(admin, "inspector", {**registry.get("inspector", i), "status": "停用"}, create=False)
    preview = svc.preview(op, plan["code"], "scjg", TODAY.isoformat())
    assert len(preview["eligible"]) == team and any("同一组" in p for p in preview["problems"])
    before = own_demo.ledger().size()
    with pytest.raises(DrawError, match="同一组"):
        svc.prepare(op, plan["code"], "scjg", [{"type": "dice", "min_digits": 20}])
    assert own_demo.ledger().size() == before
    app = make_app(own_demo)
    c = app.test_client()
    login(c, "op-scjg")
    body = c.post("/staff/draws/check", data=_form(c, plan), follow_redirects=True).data.decode()
    assert 'id="prepare-problems"' in body and 'id="prepare-confirm-form"' not in body
    assert "不在岗" in body


def test_irreversible_draw_steps_need_the_confirmation(own_demo: Instance) -> None:
    svc, registry = _svc(own_demo)
    op = demo_actor(registry, "op-scjg")
    drawn = next(d for d in svc.list() if d["status"] == "drawn")
    app = make_app(own_demo)
    c = app.test_client()
    login(c, "op-scjg")
    page = c.get(f"/staff/draws/{drawn['id']}").data
    assert b'id="publish-confirm"' in page
    before = own_demo.ledger().size()
    body = c.post(f"/staff/draws/{drawn['id']}/publish", data={"csrf_token": csrf_of(page)},
                  follow_redirects=True).data.decode()
    assert "勾选确认" in body and svc.get(drawn["id"])["status"] == "drawn"
    assert own_demo.ledger().size() == before
    c.post(f"/staff/draws/{drawn['id']}/publish", data={"csrf_token": csrf_of(page), "confirm": "1"})
    assert svc.get(drawn["id"])["status"] == "published"
    # after publication the ceremony screen shows the revealed nonce, not "revealed at publication"
    screen = c.get(f"/staff/draws/{drawn['id']}/ceremony").data.decode()
    nonce = own_demo.ledger().entry(svc.get(drawn["id"])["seqs"]["published"]).payload["nonce"]
    assert nonce in screen and "公示时揭示" not in screen
    assert op.id == "op-scjg"


def test_prepare_refusals_follow_the_reader_language(own_demo: Instance) -> None:
    """Issue 14: the window and team refusals were Chinese f-strings that stayed Chinese with ?lang=en."""
    plan = _plan(own_demo)
    late = (date.fromisoformat(plan["window_end"]) + timedelta(days=1)).isoformat()
    c = make_app(own_demo).test_client()
    login(c, "op-scjg")
    zh = c.post("/staff/draws/check", data=_form(c, plan, draw_date=late), follow_redirects=True).data.decode()
    assert f"抽签日期 {late} 晚于计划 {plan['code']} 的实施期限" in zh
    en = c.post("/staff/draws/check?lang=en", data=_form(c, plan, draw_date=late), follow_redirects=True).data.decode()
    assert f"The draw date {late} is after the window of plan {plan['code']}" in en and "晚于" not in en
    from drawsvc.draws import precheck

    assert "少于计划规定的每组 3 人" in precheck.team_problem(2, 3)  # no request: Chinese, the default
