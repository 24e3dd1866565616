"""A prepared checkpoint's witnesses against the beacon round (issue 15, SPEC §D12/§D14), end to
end from the service to `drawverify`: a drand draw prepared while two of the demo's three
witnesses are down is awaiting witnesses (等待见证, exit 4, naming them) as long as its round
lies ahead; once the log shows the round's time has passed without k cosignatures dated before
it, the same draw's evidence is FAILED with PREPARED_NOT_WITNESSED — it can never become valid.
Pinned clocks only (the demo's, then a ForwardClock from the log's own last entry)."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from drawsvc.clock import ForwardClock
from drawsvc.demo import DEMO_WITNESSES, create_demo
from drawsvc.draw.drand import round_after, round_time
from drawsvc.draws.bundle import build_bundle
from drawsvc.draws.service import DrawService
from drawsvc.registry.demo import demo_actor
from drawsvc.registry.service import Registry
from ledger.schema import witnesses
from ledger.witnessing import push
from tests.conftest import PASSPHRASE
from tests.pinned import TEST_NOW
from tests.web.test_web_drand_browser import page  # noqa: F401  (page: fixture)
from tests.web.test_web_witness_browser import verify_in_page_full
from verifier.draw import DrawOptions, verify_bundle

QUICKNET = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    os.environ.pop("DATABASE_URL", None)
    inst, _, _ = create_demo(tmp_path_factory.mktemp("witdeadline") / "instance", origin="test.example/log",
                             now=TEST_NOW)
    last = inst.ledger()  # read only: the time of the log's last entry
    t0 = datetime.fromisoformat(last.entry(last.size() - 1).time.replace("Z", "+00:00")) + timedelta(hours=1)
    clock = ForwardClock(t0.astimezone(UTC))
    ledger = inst.ledger(clock)
    registry = Registry(ledger, inst.passphrase())
    return {"inst": inst, "ledger": ledger, "clock": clock, "svc": DrawService(ledger, registry),
            "op": demo_actor(registry, "op-scjg"), "registry": registry}


def verify(w: dict[str, Any], draw_id: str) -> Any:
    led = w["ledger"]
    b = build_bundle(led, draw_id, privileged=False, log_verifier_key=w["inst"].genesis_log_key.encode(),
                     checkpoint_size=led.latest_checkpoint().size)
    w.setdefault("bundles", []).append(copy.deepcopy(b))  # for the page's turn (below)
    return verify_bundle(b, DrawOptions(log_key=w["inst"].genesis_log_key.encode()))[0]


def test_prepared_checkpoint_awaits_witnesses_until_the_round_then_fails(world: dict[str, Any]) -> None:
    w, led, svc = world, world["ledger"], world["svc"]
    down = sorted(n for n, _ in DEMO_WITNESSES[1:])
    with led.engine.begin() as conn:
        conn.execute(update(witnesses).where(witnesses.c.name.in_(down)).values(url="http://127.0.0.1:9"))
    chain = svc.chains[QUICKNET]
    now = int(w["clock"]().timestamp())
    rnd = round_after(chain, now + 3600)  # an hour ahead of the service's clock
    plan = w["registry"].list("plan")[0]
    d = svc.prepare(w["op"], plan["code"], plan["departments"][0],
                    [{"type": "drand", "chain_hash": QUICKNET, "round": rnd}, {"type": "dice", "min_digits": 20}],
                    note="见证期限测试")
    push(led, timeout=2)
    report = verify(w, d["id"])
    # honest, round still ahead: 等待见证, exit 4, the two missing witnesses named
    assert report.verdict == "awaiting_witnesses" and report.exit_code == 4 and not report.findings, report.to_text()
    assert report.checks["timing"].status == "awaiting_witnesses", report.to_text()
    assert report.awaiting is not None and report.awaiting["more_needed"] == 1
    assert sorted(report.awaiting["missing"]) == down
    # the round's time passes with the two still down; the log goes on (another draw prepared)
    w["clock"].set(datetime.fromtimestamp(round_time(chain, rnd) + 600, UTC))
    svc.prepare(w["op"], plan["code"], plan["departments"][0], [{"type": "dice", "min_digits": 20}],
                note="见证期限测试（之后）")
    push(led, timeout=2)
    report = verify(w, d["id"])
    assert report.verdict == "failed" and "PREPARED_NOT_WITNESSED" in report.codes(), report.to_text()
    f = next(x for x in report.findings if x.code == "PREPARED_NOT_WITNESSED")
    assert "has passed" in f.message and all(n in f.message for n in down), f.render()


@pytest.mark.browser
def test_the_page_says_the_same(world: dict[str, Any], page: Any) -> None:  # noqa: F811
    """The browser verifier on the same two bundles: 等待见证 for the prepared checkpoint while
    the round is ahead, PREPARED_NOT_WITNESSED after it."""
    waiting, late = world["bundles"]
    res = verify_in_page_full(page, waiting)
    got = {c["id"]: c for c in res["checks"]}["prepared_cp"]
    assert res["verdict"] == "awaiting_witnesses" and got["status"] == "awaiting_witnesses", res["checks"]
    assert got["detail"].startswith("等待见证") and all(n in got["detail"] for n, _ in DEMO_WITNESSES[1:]), got
    res = verify_in_page_full(page, late)
    got = {c["id"]: c for c in res["checks"]}["prepared_cp"]
    assert res["verdict"] == "failed" and got["status"] == "failed" and "PREPARED_NOT_WITNESSED" in got["detail"], got
