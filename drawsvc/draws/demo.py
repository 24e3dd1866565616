"""Demo draws for `drawsvc init --demo`: one published, one aborted and one still sealed.

Time is an input: each ceremony is dated relative to the day the demo is built and runs on the
demo's forward-only clock. `clock_at` and `quicknet_round` serve the tests, which replay a real
drand round (quicknet round 123, from data/drand_networks.json) at that round's own time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from drawsvc.clock import ForwardClock, beijing, china_date
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


def recorded_round_on(day: date) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A real quicknet round recorded in data/drand_networks.json whose time falls on `day`
    (Beijing time), or None: the demo can only replay a round that fits its own dates."""
    chain = json.loads(NETWORKS_FILE.read_text(encoding="utf-8"))["chains"]["quicknet"]
    for rnd in sorted(chain["rounds"], key=lambda r: -r["round"]):  # the latest round of the day
        moment = datetime.fromtimestamp(chain["genesis_time"] + (rnd["round"] - 1) * chain["period"], UTC)
        if china_date(moment) == day:
            return chain, rnd
    return None


def published_draw(svc: DrawService, op: Actor, plan: str, department: str, clock: ForwardClock,
                   day: date) -> dict[str, Any]:
    """The ceremony of `day`: prepared, dice thrown and the witness's value revealed, drawn, one
    substitution, published.

    An offline demo cannot fetch a drand round. When a real round recorded in the data file
    falls on `day`, the draw declares it (prepared two minutes before the round, seeded just
    after, as a live ceremony would be) and replays its real signature; otherwise the draw's
    public randomness is the dice and the witness's value alone (the page lists a draw's
    sources), rather than an old round that would date the prepare entry before the log began.
    """
    contribution = bytes.fromhex("5b1f0c7e9a2d4e6f8a1b3c5d7e9f0a2b")
    replay = recorded_round_on(day)
    declared: list[dict[str, Any]] = [
        {"type": "dice", "min_digits": 20},
        {"type": "witness", "witness": WITNESS, "commitment": contribution_commitment(contribution).hex()}]
    reveals: list[dict[str, Any]] = [{"type": "dice", "digits": DICE},
                                     {"type": "witness", "witness": WITNESS, "contribution": contribution.hex()}]
    if replay is None:
        prepare_at, seed_at, note = beijing(day, 9, 30), beijing(day, 10), "演示：现场掷骰与见证人贡献值"
    else:
        chain, rnd = replay
        due = datetime.fromtimestamp(chain["genesis_time"] + (rnd["round"] - 1) * chain["period"], UTC)
        prepare_at, seed_at = due - timedelta(seconds=120), due + timedelta(seconds=5)
        declared.insert(0, {"type": "drand", "chain_hash": chain["chain_hash"], "round": rnd["round"]})
        reveals.insert(0, {"type": "drand", "chain_hash": chain["chain_hash"], "round": rnd["round"],
                           "signature": rnd["signature"]})
        note = f"演示：重放 drand quicknet 第{rnd['round']}轮（真实信标）、现场掷骰与见证人贡献值"
    clock.set(prepare_at)
    d = svc.prepare(op, plan, department, declared, draw_date=day.isoformat(), note=note)
    clock.set(seed_at)
    svc.seed(op, d["id"], reveals)
    svc.run(op, d["id"])
    substitute_someone(svc, op, d["id"])
    clock.set(seed_at + timedelta(minutes=30))
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
