"""Demo draws for `drawsvc init --demo`: one published, one aborted and one still sealed.

Time is an input: each ceremony is dated relative to the day the demo is built and runs on the
demo's forward-only clock. `clock_at` and `quicknet_round` serve the tests, which replay a real
drand round (quicknet round 123, from data/drand_networks.json) at that round's own time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from drawsvc.clock import ForwardClock, beijing
from drawsvc.draw.errors import TooFewInspectors
from drawsvc.draw.seed import contribution_commitment
from drawsvc.registry.authz import Actor
from ledger.store import Ledger

from .service import NETWORKS_FILE, DrawService

PUBLISHED_DAYS_AGO = 98  # the published demo draw's ceremony, counted back from the demo's today

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


def published_draw(svc: DrawService, op: Actor, plan: str, department: str, clock: ForwardClock,
                   day: date) -> dict[str, Any]:
    """The ceremony of `day`: prepared at 09:30, dice thrown and the witness's value revealed at
    10:00, drawn, one substitution, published at 10:30 (Beijing time).

    An offline demo cannot fetch a drand round from `day`, and replaying an old real round would
    date the prepare entry years before the log began; so this draw's public randomness is the
    dice and the witness (the page says which sources a draw used). Drawing with a real round is
    shown by the tests, which replay recorded rounds at their own times.
    """
    contribution = bytes.fromhex("5b1f0c7e9a2d4e6f8a1b3c5d7e9f0a2b")
    clock.set(beijing(day, 9, 30))
    d = svc.prepare(op, plan, department, [
        {"type": "dice", "min_digits": 20},
        {"type": "witness", "witness": WITNESS, "commitment": contribution_commitment(contribution).hex()},
    ], draw_date=day.isoformat(), note="演示：现场掷骰与见证人贡献值")
    clock.set(beijing(day, 10))
    svc.seed(op, d["id"], [
        {"type": "dice", "digits": DICE},
        {"type": "witness", "witness": WITNESS, "contribution": contribution.hex()},
    ])
    svc.run(op, d["id"])
    substitute_someone(svc, op, d["id"])
    clock.set(beijing(day, 10, 30))
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


def sealed_draw(svc: DrawService, op: Actor, plan: str, department: str, clock: ForwardClock,
                day: date) -> tuple[dict[str, Any], dict[str, Any]]:
    """An aborted attempt on `day` and its re-run, drawn but not yet published (still sealed)."""
    contribution = bytes.fromhex("c0ffee00112233445566778899aabbcc")
    sources = [{"type": "dice", "min_digits": 20},
               {"type": "witness", "witness": WITNESS, "commitment": contribution_commitment(contribution).hex()}]
    clock.set(beijing(day, 15))
    aborted = svc.prepare(op, plan, department, sources, draw_date=day.isoformat(), note="演示：第一次准备")
    clock.set(beijing(day, 15, 10))
    aborted = svc.abort(op, aborted["id"], "见证人未到场，改期重新组织摇号")
    clock.set(beijing(day, 16))
    d = svc.prepare(op, plan, department, sources, draw_date=day.isoformat(), note="演示：重新准备（前次已中止）")
    clock.set(beijing(day, 16, 30))
    svc.seed(op, d["id"], [{"type": "dice", "digits": "50288419716939937510"},
                           {"type": "witness", "witness": WITNESS, "contribution": contribution.hex()}])
    return aborted, svc.run(op, d["id"])
