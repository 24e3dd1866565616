"""`drawsvc init --demo`: a realistic demo county, generated (no real people).

The demo is a history that ends on the day it is built: the log begins 120 days earlier, the
plan's window runs from 100 days before to 30 days after that day, the published draw's ceremony
was 98 days before it, its inspections follow in time, and what is overdue is overdue by working
days counted from that day. Every step runs on one forward-only clock, so entry times never
run backwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from ledger.store import utcnow

from .clock import ForwardClock, beijing, china_date
from .instance import Instance, init_instance

LOG_BEGINS = 120  # days before the demo's today
SEALED_DAYS_AGO = 1


def create_demo(home: Path, origin: str | None = None, database_url: str | None = None,
                passphrase: str | None = None, now: datetime | None = None) -> tuple[Instance, list[str], list[str]]:
    """Initialise `home` and write the demo history up to `now` (default: the wall clock).

    Returns the instance, init notices and the lines describing the demo."""
    now = now or utcnow()
    today = china_date(now)
    clock = ForwardClock(beijing(today - timedelta(days=LOG_BEGINS), 9))
    inst, notices = init_instance(home, origin=origin, database_url=database_url, passphrase=passphrase,
                                  clock=clock)
    lines = list(load_demo(inst, clock, now))
    return inst, notices, lines


def load_demo(instance: Instance, clock: ForwardClock, now: datetime) -> Iterator[str]:
    """The demo's registries, draws and inspections on a freshly initialised instance."""
    from .draws.demo import PUBLISHED_DAYS_AGO, published_draw, sealed_draw
    from .draws.service import DrawService
    from .inspections.demo import seed_demo_inspections
    from .inspections.demo_team import seed_team_account
    from .registry.demo import demo_actor, plan_window, seed_demo
    from .registry.service import Registry

    today = china_date(now)
    ledger = instance.ledger(clock)
    yield from demo_witnesses(instance, ledger, clock)
    yield from seed_demo(ledger, instance, window=plan_window(today))
    registry = Registry(ledger, instance.passphrase())
    plan = registry.list("plan")[0]
    svc = DrawService(ledger, registry)
    op = demo_actor(registry, "op-scjg")
    pub = published_draw(svc, op, plan["code"], plan["departments"][0], clock,
                         today - timedelta(days=PUBLISHED_DAYS_AGO))
    sources = ", ".join(x["type"] for x in pub.get("seed_recipe", {}).get("sources", [])) or "dice, witness"
    yield f"demo draw {pub['id']}: published (sources: {sources})"
    yield from seed_demo_inspections(ledger, registry, instance.evidence_dir, pub["id"], clock, today)
    yield from seed_team_account(ledger, registry, pub["id"])  # an inspector with tasks to record
    aborted, sealed = sealed_draw(svc, op, plan["code"], plan["departments"][0], clock,
                                  today - timedelta(days=SEALED_DAYS_AGO))
    yield f"demo draw {aborted['id']}: aborted; re-run as {sealed['id']}: drawn and still sealed"
    clock.set(max(now, clock()))
    ledger.checkpoint()


# The demo's three witnesses (市监局上级 / 纪检监察 / 公证处), 2 of 3 needed. They run in the serving
# process (local:<state dir>): `make run` on a fresh machine then needs no further process, port or
# service manager, and the history is witnessed as it is written (each checkpoint pushed at the
# demo clock's time, so the prepared checkpoint is cosigned before the beacon round). They speak
# the same C2SP add-checkpoint as `drawverify witness serve`; a real deployment registers outside
# witnesses by URL instead (docs/WITNESS.md), whose keys the department never holds.
DEMO_WITNESSES = (("supervisor.scjg.demo/witness", "市监局上级"), ("jijian.demo/witness", "纪检监察"),
                  ("notary.demo/witness", "公证处"))
DEMO_QUORUM = 2


def demo_witnesses(instance: Instance, ledger, clock: ForwardClock) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Make, register and trust the demo's three in-process witnesses; push every checkpoint to them."""
    from nacl.signing import SigningKey
    from sqlalchemy import insert

    from ledger.entry import unix_seconds
    from ledger.note import NoteVerifier
    from ledger.schema import witnesses
    from ledger.witnessing import push, set_quorum
    from verifier.note import ALG_COSIGNATURE_V1, format_private_key
    from verifier.witness import Witness, load_witness_key

    log_key = ledger.log_signer.verifier.encode()
    for name, label in DEMO_WITNESSES:
        state = (instance.home / "witnesses" / name.split(".")[0]).resolve()
        state.mkdir(parents=True, exist_ok=True)
        sk = SigningKey.generate()
        key_file = state / "key"
        key_file.write_text(format_private_key(name, ALG_COSIGNATURE_V1, bytes(sk)) + "\n")
        key_file.chmod(0o600)
        Witness(state, load_witness_key(key_file)).trust(log_key)
        v = NoteVerifier(name, bytes(sk.verify_key), alg=ALG_COSIGNATURE_V1)
        with ledger.engine.begin() as conn:
            conn.execute(insert(witnesses).values(name=name, verifier_key=v.encode(), url=f"local:{state}"))
        yield f"demo witness {label}: {v.encode()}"
    set_quorum(ledger.engine, DEMO_QUORUM)
    ledger.on_checkpoint.append(lambda _cp: push(ledger, now=unix_seconds(clock())))
    push(ledger, now=unix_seconds(clock()))
    yield f"witness quorum: {DEMO_QUORUM} of {len(DEMO_WITNESSES)} (publication waits for it)"
