"""The group-commit path: prepared entries are byte-identical to make_entry's, batches commit
whole or not at all, checkpoints signed inside a batch are right, and the batcher's own
PostgreSQL connection survives failures (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from nacl.signing import SigningKey
from sqlalchemy import create_engine, func, select, text

from ledger import merkle
from ledger.audit import Auditor
from ledger.batcher import AppendBatcher
from ledger.checkpoint import Checkpoint
from ledger.entry import MAX_ENTRY_BYTES, Entry, EntryError, EntryTooLarge, format_time, make_entry
from ledger.keys import ActorSigner
from ledger.note import verify_note
from ledger.prepared import prepare
from ledger.schema import checkpoints, log_entries
from ledger.store import Ledger, PgBatch
from tests.conftest import new_ledger

PAYLOADS = [
    {},
    {"i": 1, "subject": "91310000MA1K00000001", "note": "x" * 120},
    {"名称": "上海某某有限公司", "nested": {"list": [1, "二", None, True, False, {"z": [], "a": {}}]}},
    {"esc": "quote \" backslash \\ newline \n tab \t ctl \u0001 del \u007f", "big": 2**53 - 1, "neg": -(2**53 - 1)},
    {"b": 1, "a": 2, "A": 3, "_": 4, "é": 5, "\u00e9\u0301": 6},
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("seq,prev", [(0, "0" * 64), (1, "ab" * 32), (2**40 + 7, os.urandom(32).hex())])
def test_prepared_entries_are_byte_identical_to_make_entry(payload: dict, seq: int, prev: str) -> None:
    signer = ActorSigner("inspector:07", SigningKey.generate())
    moment = datetime(2026, 11, 23, 2, 10, 0, 123456, tzinfo=UTC)
    expected = make_entry(seq=seq, moment=moment, entry_type="registry.subject.added", actor_id=signer.actor_id,
                          signing_key=signer.signing_key, payload=payload, prev=prev)
    prepared = prepare("registry.subject.added", payload, signer)
    assert prepared is not None
    got = prepared.sign(seq, prev, format_time(moment))
    assert got == expected
    assert got.leaf() == expected.leaf() and got.leaf_hash() == expected.leaf_hash()
    assert Entry.from_leaf(got.leaf()) == expected
    got.verify(signer.public_key)


def test_prepare_leaves_what_only_rfc8785_encodes_to_make_entry_and_refuses_bad_types() -> None:
    signer = ActorSigner("system", SigningKey.generate())
    assert prepare("test.float", {"x": 1.5}, signer) is None
    assert prepare("test.bigint", {"x": 2**60}, signer) is None
    with pytest.raises(EntryError):
        prepare("Bad Type", {}, signer)
    prepared = prepare("test.big", {"pad": "x" * MAX_ENTRY_BYTES}, signer)
    assert prepared is not None
    with pytest.raises(EntryTooLarge):
        prepared.sign(5, "0" * 64, "2026-11-23T02:10:00.123Z")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_ledger(request: pytest.FixtureRequest, tmp_path) -> Ledger:  # type: ignore[no-untyped-def]
    sqlite = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    led = new_ledger(sqlite if request.param == "sqlite" else request.getfixturevalue("pg_url"))
    yield led
    led.close()
    led.engine.dispose()


def _audit_ok(led: Ledger) -> None:
    report = Auditor(led.engine, led.log_signer.verifier).run()
    assert report.ok, report.first_broken()


def test_batches_mixing_good_bad_and_rfc8785_payloads(any_ledger: Ledger) -> None:
    led = any_ledger
    batcher = AppendBatcher(led, max_batch=200, checkpoint_interval=0.05)
    try:
        futs = []
        for i in range(300):
            if i % 50 == 7:
                futs.append(("bad-type", batcher.submit("Not A Type", {"i": i}, led.system)))
            elif i % 50 == 13:
                futs.append(("too-big", batcher.submit("test.big", {"pad": "x" * MAX_ENTRY_BYTES}, led.system)))
            elif i % 50 == 21:
                futs.append(("float", batcher.submit("test.float", {"i": i, "x": 0.5}, led.system)))
            else:
                futs.append(("ok", batcher.submit("test.item", {"i": i, "名": "值"}, led.system)))
        seqs = []
        for kind, fut in futs:
            if kind in ("bad-type", "too-big"):
                with pytest.raises(EntryError):
                    fut.result()
            else:
                seqs.append(fut.result().seq)
    finally:
        batcher.close()
    assert sorted(seqs) == list(range(1, 1 + len(seqs)))  # genesis is 0; no gap, no repeat
    assert led.size() == 1 + len(seqs)
    assert led.entry(seqs[-1]).payload["i"] == 299
    _audit_ok(led)


def test_a_checkpoint_signed_inside_a_batch_is_right(any_ledger: Ledger) -> None:
    led = any_ledger
    batcher = AppendBatcher(led, checkpoint_interval=0.0)  # every batch signs one
    try:
        for round_no in range(5):
            entries = [f.result() for f in [batcher.submit("test.item", {"r": round_no, "i": i}, led.system)
                                            for i in range(37)]]
    finally:
        batcher.close()
    size = led.size()
    with led.engine.connect() as conn:
        sizes = list(conn.execute(select(checkpoints.c.size).order_by(checkpoints.c.size)).scalars())
    assert size in sizes and len(sizes) >= 3
    leaves = led.leaves(0, size)
    hashes = [merkle.leaf_hash(x) for x in leaves]
    for cp_size in sizes:
        cp = led.checkpoint_at(cp_size)
        body = Checkpoint.parse(verify_note(cp.note, led.log_signer.verifier).text)
        assert body.size == cp_size
        assert body.root == cp.root == merkle.root_from_leaf_hashes(hashes[:cp_size])
    last = entries[-1]
    cp = led.checkpoint_covering(last.seq)
    assert cp is not None
    merkle.verify_inclusion(last.seq, cp.size, last.leaf_hash(), led.inclusion_proof(last.seq, cp.size), cp.root)
    _audit_ok(led)


def test_checkpoint_without_new_entries_takes_no_lock_and_signs_nothing(any_ledger: Ledger) -> None:
    led = any_ledger
    first = led.checkpoint()
    led.append("test.item", {"i": 1}, led.system)
    second = led.checkpoint()
    assert second.size == first.size + 1
    with led.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(checkpoints)).scalar_one()
    assert led.checkpoint() == second
    with led.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(checkpoints)).scalar_one() == before


@pytest.mark.postgres
def test_a_failed_pg_batch_leaves_nothing_and_the_next_one_commits(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    led = new_ledger(pg_url)
    try:
        start = led.size()
        # fail after some chunks were already sent in the pipeline
        real_finish = PgBatch.finish

        def failing_finish(self: PgBatch) -> None:
            raise RuntimeError("injected failure before commit")

        monkeypatch.setattr(PgBatch, "finish", failing_finish)
        batcher = AppendBatcher(led)
        futs = [batcher.submit("test.item", {"i": i}, led.system) for i in range(300)]
        errors = 0
        for f in futs:
            try:
                f.result()
            except RuntimeError:
                errors += 1
        assert errors == 300
        assert led.size() == start
        with led.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(log_entries)).scalar_one() == start
        monkeypatch.setattr(PgBatch, "finish", real_finish)
        entries = [f.result() for f in [batcher.submit("test.item", {"i": i}, led.system) for i in range(150)]]
        assert [e.seq for e in entries] == list(range(start, start + 150))
        batcher.close()
        _audit_ok(led)
    finally:
        led.close()
        led.engine.dispose()


@pytest.mark.postgres
def test_pg_batch_reconnects_when_its_connection_was_terminated(pg_url: str) -> None:
    led = new_ledger(pg_url)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        batcher = AppendBatcher(led)
        batcher.append("test.item", {"i": 0}, led.system)
        pid = led._writer_conn.info.backend_pid
        with admin.connect() as conn:
            assert conn.execute(text("select pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
        entry = batcher.append("test.item", {"i": 1}, led.system)  # idle connection gone: one retry
        assert led._writer_conn.info.backend_pid != pid
        assert entry.seq == led.size() - 1
        batcher.close()
        _audit_ok(led)
    finally:
        admin.dispose()
        led.close()
        led.engine.dispose()


@pytest.mark.postgres
def test_unbatched_and_batched_writers_in_one_process_interleave_cleanly(pg_url: str) -> None:
    import threading

    led = new_ledger(pg_url)
    try:
        batcher = AppendBatcher(led, max_batch=64, checkpoint_interval=0.01)
        errors: list[BaseException] = []

        def batched() -> None:
            try:
                for k in range(10):
                    [f.result() for f in [batcher.submit("test.b", {"k": k, "i": i}, led.system) for i in range(50)]]
            except BaseException as exc:  # report
                errors.append(exc)

        def single() -> None:
            try:
                for i in range(30):
                    led.append("test.s", {"i": i}, led.system)
                    led.checkpoint()
            except BaseException as exc:  # report
                errors.append(exc)

        ts = [threading.Thread(target=batched), threading.Thread(target=batched), threading.Thread(target=single)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        batcher.close()
        assert not errors, errors
        assert led.size() == 1 + 2 * 500 + 30
        _audit_ok(led)
    finally:
        led.close()
        led.engine.dispose()


@pytest.mark.postgres
def test_pg_batch_whose_lock_statement_fails_leaves_the_connection_usable(pg_url: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger import store

    led = new_ledger(pg_url)
    try:
        batcher = AppendBatcher(led)
        batcher.append("test.item", {"i": 0}, led.system)
        conn = led._writer_conn
        monkeypatch.setattr(store, "_PG_LOCK", "BEGIN; SELECT 1 / 0")
        with pytest.raises(Exception, match="division by zero"):
            batcher.append("test.item", {"i": 1}, led.system)
        monkeypatch.undo()
        entry = batcher.append("test.item", {"i": 2}, led.system)
        assert led._writer_conn is conn  # rolled back, not replaced
        assert entry.seq == led.size() - 1 == 2
        batcher.close()
        _audit_ok(led)
    finally:
        led.close()
        led.engine.dispose()


def test_a_clock_that_steps_back_never_dates_an_entry_or_checkpoint_earlier(any_ledger: Ledger) -> None:
    """Entry times are non-decreasing on every write path (transaction, batch, prepared entries),
    and each checkpoint carries the log's own timestamped cosignature, no earlier than its entries."""
    from ledger.entry import parse_time, unix_seconds
    from ledger.note import own_cosignature_time, parse_note

    led = any_ledger
    ahead, behind = datetime(2030, 5, 1, 8, 0, tzinfo=UTC), datetime(2029, 1, 1, 8, 0, tzinfo=UTC)
    led.clock = lambda: ahead
    first = led.append("test.item", {"i": 0}, led.system)
    led.clock = lambda: behind  # the machine's clock steps back a year
    with led.transaction() as tx:
        second = tx.append("test.item", {"i": 1}, led.system)
        third = tx.append_prepared(prepare("test.item", {"i": 2}, led.system), format_time(behind))
        tx.want_checkpoint = True
    batcher = AppendBatcher(led, checkpoint_interval=0.0)
    try:
        fourth = batcher.submit("test.item", {"i": 3}, led.system).result()
    finally:
        batcher.close()
    times = [e.time for e in (first, second, third, fourth)]
    assert times == [format_time(ahead)] * 4, times
    stored = [led.entry(e.seq).time for e in (first, second, third, fourth)]
    assert stored == times
    cp = led.checkpoint_covering(fourth.seq)
    assert cp is not None and cp.signed_at == format_time(ahead)
    assert own_cosignature_time(parse_note(cp.note), led.log_signer.verifier) == unix_seconds(ahead)
    led.clock = lambda: datetime(2031, 1, 1, tzinfo=UTC)  # and once the clock is ahead again, it is followed
    assert parse_time(led.append("test.item", {"i": 4}, led.system).time).year == 2031
    _audit_ok(led)


def test_the_audit_reports_a_forged_checkpoint_time(ledger: Ledger) -> None:
    """The stored signed_at must be the signed time of the log's cosignature; a moved one is reported."""
    ledger.append("test.item", {"i": 0}, ledger.system)
    cp = ledger.checkpoint()
    with ledger.engine.begin() as conn:
        conn.execute(checkpoints.update().where(checkpoints.c.size == cp.size).values(
            signed_at="2020-01-01T00:00:00.000Z"))
    report = Auditor(ledger.engine, ledger.log_signer.verifier).run()
    assert any("signed_at" in f.message and f.where == f"checkpoint {cp.size}" for f in report.findings), \
        report.findings


def test_the_audit_reports_an_entry_dated_backwards(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log written by a service that did not clamp (simulated by switching the clamp off) is
    reported by both audit passes at the entry dated backwards, across chunk boundaries too."""
    import ledger.audit as audit_mod
    import ledger.store as store

    monkeypatch.setattr(store, "not_before", lambda moment, last_time: moment)
    monkeypatch.setattr(audit_mod, "CHUNK", 4)
    times = [datetime(2030, 1, 1, 8, 0, s, tzinfo=UTC) for s in (1, 2, 3, 4, 5, 6, 7)] + [
        datetime(2029, 1, 1, tzinfo=UTC)] + [datetime(2030, 1, 1, 9, 0, tzinfo=UTC)]
    seqs = []
    for i, moment in enumerate(times):
        ledger.clock = lambda moment=moment: moment  # type: ignore[misc]
        seqs.append(ledger.append("test.item", {"i": i}, ledger.system).seq)
    backwards = seqs[7]
    auditor = Auditor(ledger.engine, ledger.log_signer.verifier)
    fast = auditor.run()
    with ledger.engine.connect() as conn:
        reference = auditor._run_reference(conn)
    for report in (fast, reference):
        found = [f for f in report.findings if "never run backwards" in f.message]
        assert [f.seq for f in found] == [backwards], report.findings


def test_a_rolled_back_transaction_of_several_flushes_leaves_no_tree_node_behind(ledger: Ledger) -> None:
    """A long transaction (a registry import) flushes every few thousand entries; if it then
    rolls back, none of its uncommitted tree nodes may linger in the shared node cache, or the
    next append would hash its new leaves onto a right edge that does not exist."""
    before = ledger.size()
    with pytest.raises(RuntimeError), ledger.transaction() as tx:
        for i in range(7):
            tx.append("test.rolled_back", {"i": i}, ledger.system)
            tx.flush()  # each flush after the first reads the edge the previous one wrote
        raise RuntimeError("a bad row late in the file")
    assert ledger.size() == before
    with ledger.transaction() as tx:  # the same positions again, other leaves, several flushes
        for i in range(9):
            tx.append("test.kept", {"i": i}, ledger.system)
            tx.flush()
    size = ledger.size()
    leaves = [merkle.leaf_hash(leaf) for leaf in ledger.leaves(0, size)]
    assert ledger.root(size) == merkle.root_from_leaf_hashes(leaves)
    assert ledger.checkpoint().root == merkle.root_from_leaf_hashes(leaves)
