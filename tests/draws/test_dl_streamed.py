"""A pool streamed part by part gives the draw a pool read at once gives (issue 16, point 1).

prepare() reads the registry, applies the rules, commits and stores the subject pool one part
at a time (STREAM_CHUNK subjects), and run() selects part by part. Here the parts are 16
subjects (so a 400-subject registry is 25 parts, the last one partial, parts thinned unevenly
by exclusions), the hashing is forced onto two processes, and every case the rules
distinguish is present: inactive statuses, high-risk flags, names JCS must escape, subjects at
the frequency cap. The streamed draw must commit exactly what the at-once path commits, and
its drawn content must be what the at-once recompute gives over the stored pool.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import insert, select

from drawsvc.draw import accel, parallel, pool, selection
from drawsvc.draw.pool import STREAM_CHUNK, LeafFold, commit_pool, subject_leaves
from drawsvc.draws import schema as draws_schema
from drawsvc.draws import service as service_mod
from drawsvc.draws.service import DrawService, load_pools, recompute
from drawsvc.registry.authz import Actor
from drawsvc.registry.service import Registry
from ledger.store import Ledger
from tests.conftest import new_ledger
from tests.draws.test_dl_columns import _fill, _subjects

DICE = [{"type": "dice", "digits": "31415926535897932384"}]
DRAW_DATE = "2026-06-01"  # the year of the checks below (frequency cap), whatever the clock says


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_mod, "STREAM_CHUNK", 16)
    monkeypatch.setattr(pool, "MIN_PARALLEL", 1)  # every part hashed on two processes
    monkeypatch.setattr(service_mod, "MIN_PARALLEL", 1)  # every registry part's rules in a child
    monkeypatch.setattr(selection, "MIN_PARALLEL", 1)
    monkeypatch.setenv("DRAWSVC_DRAW_WORKERS", "2")
    assert parallel.workers() == 2


def _streamed_equals_at_once(led: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    subjects = _subjects(400, random.Random(16))
    _fill(led, subjects)
    capped = sorted(s["code"] for s in subjects)[::37]  # checked twice this year: frequency cap
    with led.engine.begin() as conn:
        conn.execute(insert(draws_schema.checks), [
            {"subject": c, "year": 2026, "department": "scj", "source": f"not_random:{j}", "kind": "not_random",
             "seq": 0} for c in capped for j in range(2)])
    svc = DrawService(led, Registry(led))
    actor = Actor("system", "system", signer=led.system)
    # a draw date of the checks' year, pinned: today's date (in China) is 2027 on a 2026-12-31 UTC evening
    streamed = svc.prepare(actor, "P1", "scj", [{"type": "dice", "min_digits": 20}], draw_id="S1",
                           draw_date=DRAW_DATE)
    with led.engine.connect() as conn:
        parts = conn.execute(select(draws_schema.draw_pool_chunks.c.n).where(
            draws_schema.draw_pool_chunks.c.draw_id == "S1")).scalars().all()
    assert len(parts) > 10  # really streamed, in many parts (2^4 pool members each)
    with monkeypatch.context() as m:
        m.setattr(DrawService, "gather_streamed", lambda *a, **k: None)
        at_once = svc.prepare(actor, "P1", "scj", [{"type": "dice", "min_digits": 20}], draw_id="A1",
                              draw_date=DRAW_DATE)
    assert streamed["pools"] == at_once["pools"]
    assert streamed["expected_sizes"] == at_once["expected_sizes"]
    assert streamed["pools"]["excluded"]["counts"].get("frequency_cap")
    with led.engine.connect() as conn:
        assert load_pools(conn, "S1") == load_pools(conn, "A1")  # the parts joined = the one-value form
    svc.seed(actor, "S1", DICE)
    assert svc.run(actor, "S1")["status"] == "drawn"
    secret = svc.secret("S1", pools=False)
    with led.engine.connect() as conn:
        whole = {**secret, "pools": load_pools(conn, "S1", "strata")}
    doc = {k: v for k, v in svc.get("S1").items()}
    assert recompute(bytes.fromhex(secret["seed"]), doc, whole).content() == secret["content"]


def test_sqlite_streamed_pool_equals_the_at_once_pool(sqlite_url: str, small_parts: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _streamed_equals_at_once(new_ledger(sqlite_url), monkeypatch)


def test_sqlite_streamed_pool_without_the_accelerator(sqlite_url: str, small_parts: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The names parsed and hashed in Python (no C accelerator): the same pool."""
    monkeypatch.setattr(accel, "FAST", None)
    _streamed_equals_at_once(new_ledger(sqlite_url), monkeypatch)


def test_sqlite_streamed_pool_read_in_the_transaction(sqlite_url: str, small_parts: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the registry's next part cannot be read ahead through a second connection (not a
    plain file), the parts come through the transaction's own, with the same result."""
    monkeypatch.setattr(service_mod, "_sqlite_file", lambda conn: None)
    _streamed_equals_at_once(new_ledger(sqlite_url), monkeypatch)


@pytest.mark.postgres
def test_postgres_streamed_pool_equals_the_at_once_pool(pg_url: str, small_parts: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _streamed_equals_at_once(new_ledger(pg_url), monkeypatch)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 100, 255, 256, 257])
def test_folded_leaves_are_commit_pool(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same root as commit_pool for every size around the chunk boundaries, plain and escaped
    records, the leaf hashes arriving in uneven runs (as the registry parts' pools do)."""
    monkeypatch.setattr(pool, "MIN_PARALLEL", 1)
    rng = random.Random(n)
    ids = sorted(f"9115{rng.randrange(10**12):014d}" for _ in range(n))
    ids = sorted(set(ids))
    names = [rng.choice(["企业", 'say "hi"', "tab\t", "plain", "😀"]) + str(i) for i in range(len(ids))]
    strata = "".join(rng.choice("ABCD") for _ in ids)
    want = commit_pool([{"id": i, "name": m, "stratum": s} for i, m, s in zip(ids, names, strata, strict=True)])
    for chunk in (1, 2, 16, STREAM_CHUNK):
        fold, pos = LeafFold(chunk), 0
        while pos < len(ids):  # uneven runs
            step = rng.randrange(1, 40)
            fold.add(subject_leaves(ids[pos:pos + step], names[pos:pos + step], strata[pos:pos + step]))
            pos += step
        assert (fold.size, fold.root()) == (want.size, want.root), (n, chunk)


def test_fold_refuses_a_torn_hash() -> None:
    with pytest.raises(ValueError):
        LeafFold(4).add(b"x" * 33)


def test_streamed_prepare_refuses_parts_out_of_order(sqlite_url: str, small_parts: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry read out of id order (a collation surprise) is not streamed: prepare falls
    back to the at-once path, whose pool is the same, and keeps no stored part."""
    led = new_ledger(sqlite_url)
    _fill(led, _subjects(100, random.Random(3)))
    real = service_mod._subject_parts

    def swapped(conn, size):  # type: ignore[no-untyped-def]
        parts = list(real(conn, size))
        return iter([parts[1], parts[0], *parts[2:]])

    monkeypatch.setattr(service_mod, "_subject_parts", swapped)
    svc = DrawService(led, Registry(led))
    actor = Actor("system", "system", signer=led.system)
    d = svc.prepare(actor, "P1", "scj", [{"type": "dice", "min_digits": 20}], draw_id="S1", draw_date=DRAW_DATE)
    with led.engine.connect() as conn:
        assert conn.execute(select(draws_schema.draw_pool_chunks.c.n)).first() is None
        records = load_pools(conn, "S1")["subjects"]
    assert d["pools"]["subjects"] == commit_pool(records).to_json()
