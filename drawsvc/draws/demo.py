"""Demo draws for `drawsvc init --demo`: one published, one aborted and one still sealed.

The published draw replays a real drand round (quicknet round 123, from
data/drand_networks.json). Time is an input: the demo sets the ledger's clock to just before
that round's time to prepare, and just after it to seed — as the tests do. Nothing is
invented: the round's signature is the real one and is verified.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from drawsvc.draw.errors import TooFewInspectors
from drawsvc.draw.seed import contribution_commitment
from drawsvc.registry.authz import Actor
from ledger.store import Ledger

from .service import NETWORKS_FILE, DrawService

DEMO_ROUND = 123
WITNESS = "纪检监察室-见证人"
DICE = "73920518463927150486"


@contextmanager
def clock_at(ledger: Ledger, moment: datetime) -> Iterator[None]:
    saved: Callable[[], datetime] = ledger.clock
    ledger.clock = lambda: moment
    try:
        yield
    finally:
        ledger.clock = saved


def quicknet_round(number: int = DEMO_ROUND) -> tuple[dict[str, Any], dict[str, Any]]:
    chain = json.loads(NETWORKS_FILE.read_text(encoding="utf-8"))["chains"]["quicknet"]
    rnd = next(r for r in chain["rounds"] if r["round"] == number)
    return chain, rnd


def published_draw(svc: DrawService, op: Actor, plan: str, department: str, draw_date: str) -> dict[str, Any]:
    chain, rnd = quicknet_round()
    due = chain["genesis_time"] + (DEMO_ROUND - 1) * chain["period"]
    contribution = bytes.fromhex("5b1f0c7e9a2d4e6f8a1b3c5d7e9f0a2b")
    with clock_at(svc.ledger, datetime.fromtimestamp(due - 120, UTC)):
        d = svc.prepare(op, plan, department, [
            {"type": "drand", "chain_hash": chain["chain_hash"], "round": DEMO_ROUND},
            {"type": "dice", "min_digits": 20},
            {"type": "witness", "witness": WITNESS, "commitment": contribution_commitment(contribution).hex()},
        ], draw_date=draw_date, note="演示：时钟设为 drand quicknet 第123轮之前，以重放真实信标 / demo replays a real drand round")
    with clock_at(svc.ledger, datetime.fromtimestamp(due + 5, UTC)):
        svc.seed(op, d["id"], [
            {"type": "drand", "chain_hash": chain["chain_hash"], "round": DEMO_ROUND, "signature": rnd["signature"]},
            {"type": "dice", "digits": DICE},
            {"type": "witness", "witness": WITNESS, "contribution": contribution.hex()},
        ])
        svc.run(op, d["id"])
        substitute_someone(svc, op, d["id"])
        return svc.publish(op, d["id"])


def substitute_someone(svc: DrawService, op: Actor, draw_id: str) -> dict[str, Any]:
    """One inspector cannot attend: replaced by the next eligible, as the rules say.

    With a small county an inspector's subject may have nobody eligible left (every other
    candidate conflicted, capped or from the wrong department); the service refuses that
    substitution and writes nothing, so the demo tries the next assignment.
    """
    for a in svc.secret(draw_id, pools=False)["matching"]["assignments"]:
        try:
            return svc.substitute_inspector(op, draw_id, a["subject"], a["team"][0], "cannot_attend")
        except TooFewInspectors:
            continue
    raise TooFewInspectors("*", "no assignment of the demo draw can take a substitute")


def sealed_draw(svc: DrawService, op: Actor, plan: str, department: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An aborted attempt and its re-run, drawn but not yet published (still sealed)."""
    contribution = bytes.fromhex("c0ffee00112233445566778899aabbcc")
    sources = [{"type": "dice", "min_digits": 20},
               {"type": "witness", "witness": WITNESS, "commitment": contribution_commitment(contribution).hex()}]
    aborted = svc.prepare(op, plan, department, sources, note="演示：第一次准备")
    aborted = svc.abort(op, aborted["id"], "见证人未到场，改期重新组织摇号 / witness absent; ceremony rescheduled")
    d = svc.prepare(op, plan, department, sources, note="演示：重新准备（前次已中止）")
    svc.seed(op, d["id"], [{"type": "dice", "digits": "50288419716939937510"},
                           {"type": "witness", "witness": WITNESS, "contribution": contribution.hex()}])
    return aborted, svc.run(op, d["id"])


def seed_demo_draws(svc: DrawService, op: Actor, plan: str, department: str, draw_date: str) -> list[str]:
    pub = published_draw(svc, op, plan, department, draw_date)
    aborted, sealed = sealed_draw(svc, op, plan, department)
    return [f"demo draw {pub['id']}: published (drand quicknet round {DEMO_ROUND}, dice, witness)",
            f"demo draw {aborted['id']}: aborted; re-run as {sealed['id']}: drawn and still sealed"]
