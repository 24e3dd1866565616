"""drand through an HTTP relay: the real round is fetched and verified; a relay that lies is
refused (it is not trusted); without a relay the operator must enter the round by hand."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine

from drawsvc.draw.errors import BeaconSignatureInvalid
from drawsvc.draws.demo import DEMO_ROUND, clock_at, quicknet_round
from drawsvc.draws.service import DrawService, DrawStateError
from drawsvc.registry.demo import demo_actor, seed_registries
from drawsvc.registry.service import Registry
from tests.conftest import new_ledger
from tests.pinned import before_drand_round


class _Relay(BaseHTTPRequestHandler):
    answers: dict[str, dict] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = self.answers.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body or {"error": "no such round"}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def relay() -> Iterator[tuple[str, dict]]:
    answers: dict[str, dict] = {}
    handler = type("Relay", (_Relay,), {"answers": answers})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", answers
    server.shutdown()


@pytest.fixture
def county(sqlite_url: str):  # type: ignore[no-untyped-def]
    """A county whose log begins the day before quicknet round 123 (entry times never run
    backwards, so the draws below can be prepared on that real round)."""
    from argon2 import PasswordHasher

    with time_machine.travel(before_drand_round(), tick=False):
        ledger = new_ledger(sqlite_url)
        reg = Registry(ledger, b"test", hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        plan = seed_registries(reg)["plan"]
    return reg, plan


def _prepare(svc: DrawService, op, plan: str) -> tuple[dict, int]:  # type: ignore[no-untyped-def]
    chain, _ = quicknet_round()
    due = chain["genesis_time"] + (DEMO_ROUND - 1) * chain["period"]
    with clock_at(svc.ledger, datetime.fromtimestamp(due - 60, UTC)):
        d = svc.prepare(op, plan, "scjg", [{"type": "drand", "chain_hash": chain["chain_hash"], "round": DEMO_ROUND},
                                            {"type": "dice"}], draw_date=svc.registry.get("plan", plan)["window_start"])
    return d, due


def test_round_fetched_from_relay_is_verified_and_used(county, relay) -> None:  # type: ignore[no-untyped-def]
    reg, plan = county
    url, answers = relay
    chain, rnd = quicknet_round()
    answers[f"/{chain['chain_hash']}/public/{DEMO_ROUND}"] = {"round": DEMO_ROUND, "signature": rnd["signature"],
                                                             "randomness": rnd["randomness"]}
    svc = DrawService(reg.ledger, reg, relay_url=url)
    op = demo_actor(reg, "op-scjg")
    d, due = _prepare(svc, op, plan)
    with clock_at(svc.ledger, datetime.fromtimestamp(due + 1, UTC)):
        seeded = svc.seed(op, d["id"], [{"type": "drand", "chain_hash": chain["chain_hash"], "round": DEMO_ROUND},
                                        {"type": "dice", "digits": "2" * 20}])
    assert seeded["reveals"][0]["signature"] == rnd["signature"]


def test_a_lying_relay_is_refused(county, relay) -> None:  # type: ignore[no-untyped-def]
    reg, plan = county
    url, answers = relay
    chain, rnd = quicknet_round()
    other = next(r for r in chain["rounds"] if r["round"] != DEMO_ROUND)
    answers[f"/{chain['chain_hash']}/public/{DEMO_ROUND}"] = {"round": DEMO_ROUND, "signature": other["signature"]}
    svc = DrawService(reg.ledger, reg, relay_url=url)
    op = demo_actor(reg, "op-scjg")
    d, due = _prepare(svc, op, plan)
    size = reg.ledger.size()
    with clock_at(svc.ledger, datetime.fromtimestamp(due + 1, UTC)), pytest.raises(BeaconSignatureInvalid):
        svc.seed(op, d["id"], [{"type": "drand", "chain_hash": chain["chain_hash"], "round": DEMO_ROUND},
                               {"type": "dice", "digits": "2" * 20}])
    assert reg.ledger.size() == size


def test_without_relay_the_round_must_be_entered_by_hand(county) -> None:  # type: ignore[no-untyped-def]
    reg, plan = county
    svc = DrawService(reg.ledger, reg, relay_url="")
    op = demo_actor(reg, "op-scjg")
    d, due = _prepare(svc, op, plan)
    chain, _ = quicknet_round()
    with clock_at(svc.ledger, datetime.fromtimestamp(due + 1, UTC)), pytest.raises(DrawStateError, match="手工填写"):
        svc.seed(op, d["id"], [{"type": "drand", "chain_hash": chain["chain_hash"], "round": DEMO_ROUND},
                               {"type": "dice", "digits": "2" * 20}])
