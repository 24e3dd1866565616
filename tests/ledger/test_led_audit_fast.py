"""The audit's fast pass (ledger.audit, ledger.auditwork) against its reference pass.

The fast pass hands out runs of leaves to worker processes and only accepts an entry on a
fast path when the reference rules would; these tests pin that down: the encodings it
relies on agree with RFC 8785 for every code point, the time check accepts exactly what
the reference accepts, and on an intact log and on every kind of damage the fast pass
(through a worker pool, with small runs so that key entries, gaps and tree levels fall
inside and across runs) reports the same findings, in the same order, as the reference.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import rfc8785
from nacl.signing import SigningKey
from sqlalchemy import text

import ledger.audit as audit_module
from drawsvc.instance import Instance, init_instance, load
from ledger.audit import Auditor, AuditReport
from ledger.auditwork import _TIME_FAST, form_ok_fast, loads
from ledger.canonical import canonical_bytes
from ledger.entry import EntryError, parse_time
from ledger.keys import ActorSigner
from ledger.rotation import rotate_actor_key, rotate_log_key

# --- the encodings the fast path relies on -------------------------------------------------


def test_orjson_escapes_every_code_point_as_jcs() -> None:
    for block in range(0, 0x110000, 0x1000):
        chars = [chr(c) for c in range(block, block + 0x1000) if not 0xD800 <= c <= 0xDFFF]
        for ch in chars:
            assert orjson.dumps(ch) == canonical_bytes(ch), hex(ord(ch))
        joined = "".join(chars)
        assert orjson.dumps(joined) == canonical_bytes(joined) == rfc8785.dumps(joined)


def test_orjson_sorts_bmp_keys_as_jcs() -> None:
    rng = random.Random(2026)
    alphabet = [chr(c) for c in (*range(0x20, 0x80), 0xE9, 0x4E2D, 0x6587, 0xD7FF, 0xE000, 0xFB01, 0xFFFD, 0xFFFF)]
    for _ in range(300):
        d = {"".join(rng.choices(alphabet, k=rng.randrange(0, 4))): rng.choice([1, "x", None, True, [1, {"é": 2}]])
             for _ in range(rng.randrange(1, 12))}
        assert orjson.dumps(d, option=orjson.OPT_SORT_KEYS) == canonical_bytes(d) == rfc8785.dumps(d)


def _reference_accepts(t: str) -> bool:
    try:
        parse_time(t)
    except (EntryError, ValueError):
        return False
    return True


def _fast_accepts(t: str) -> bool:
    if not _TIME_FAST.fullmatch(t):
        return False
    try:
        datetime.fromisoformat(t[:-1])
    except ValueError:
        return False
    return True


def test_fast_time_check_accepts_exactly_what_the_reference_accepts() -> None:
    samples = ["2026-11-23T02:10:00.123Z", "2024-02-29T23:59:59.999Z", "2026-02-29T00:00:00.000Z",
               "2026-04-31T00:00:00.000Z", "0000-01-01T00:00:00.000Z", "0001-01-01T00:00:00.000Z",
               "9999-12-31T23:59:59.999Z", "2026-13-01T00:00:00.000Z", "2026-00-10T00:00:00.000Z",
               "2026-01-00T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "2026-01-01T23:60:00.000Z",
               "2026-01-01T23:59:60.000Z", "2026-01-01T23:59:61.000Z", "2026-01-01T00:00:00.000Z\n",
               "2026-01-01T00:00:00.00Z", "2026-01-01 00:00:00.000Z", "2026-01-01T00:00:00.000+00:00",
               "２０２６-01-01T00:00:00.000Z", "2026-01-01T00:00:00,000Z"]
    moment = datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)
    rng = random.Random(7)
    for _ in range(2000):
        moment += timedelta(seconds=rng.randrange(1, 10**7), milliseconds=rng.randrange(1000))
        samples.append(moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z")
    for t in samples:
        if _fast_accepts(t):
            assert _reference_accepts(t), t
        elif t.isascii() and len(t) == 24:
            assert not _reference_accepts(t), t  # the fast check refuses nothing plain the reference takes


# --- a log with key entries, audited through a pool of small runs --------------------------


def _reference(inst: Instance) -> AuditReport:
    engine = inst.engine()
    with engine.connect() as conn, conn.begin():
        return Auditor(engine, inst.genesis_log_key)._run_reference(conn)


def _fast(inst: Instance) -> AuditReport:
    return Auditor(inst.engine(), inst.genesis_log_key, workers=2).run()


@pytest.fixture
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool for any size, and runs of 8 leaves (subtrees up to level 3 come from the workers)."""
    monkeypatch.setattr(audit_module, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(audit_module, "CHUNK", 8)
    monkeypatch.setattr(audit_module, "NODE_UNIT", 5)


def _fill(inst: Instance) -> None:
    """~120 entries: registrations, actor and system key rotations, a log key rotation."""
    ledger = inst.ledger()
    alice = ActorSigner("account:alice", SigningKey.generate())
    with ledger.transaction() as tx:
        tx.register_actor_key(alice.actor_id, alice.public_key)
    for i in range(120):
        signer = alice if i % 3 else ledger.system
        ledger.append("test.item", {"i": i, "name": f"subject-{i}", "note": "抽查" * (i % 5)}, signer)
        if i == 30:
            _, alice = rotate_actor_key(ledger, alice, SigningKey.generate(), None)
        if i == 55:
            rotate_actor_key(ledger, ledger.system, SigningKey.generate(), None)
        if i == 70:
            rotate_log_key(ledger, SigningKey.generate(), None)
        if i % 17 == 0:
            ledger.checkpoint()
    ledger.checkpoint()


@pytest.fixture
def rich_log(instance: Instance) -> Instance:
    _fill(instance)
    return instance


def _same(inst: Instance) -> AuditReport:
    fast, ref = _fast(inst), _reference(inst)
    assert [str(f) for f in fast.findings] == [str(f) for f in ref.findings]
    assert (fast.size, fast.entries_checked, fast.nodes_checked, fast.checkpoints_checked, fast.cosignatures_checked) == \
        (ref.size, ref.entries_checked, ref.nodes_checked, ref.checkpoints_checked, ref.cosignatures_checked)
    return fast


def test_intact_log_audits_clean_through_the_pool(rich_log: Instance, small_runs: None) -> None:
    report = _same(rich_log)
    assert report.ok, report.first_broken()
    assert report.entries_checked == report.size > 120


def _copy(inst: Instance, tmp_path: Path, sql: str, params: tuple = ()) -> Instance:  # type: ignore[type-arg]
    home = tmp_path / f"copy{random.randrange(1 << 30)}"
    shutil.copytree(inst.home, home)
    inst.engine().dispose()
    db = home / "drawsvc.sqlite3"
    conn = sqlite3.connect(db)
    assert conn.execute(sql, params).rowcount >= 1, sql
    conn.commit()
    conn.close()
    cfg = json.loads((home / "instance.json").read_text())
    cfg["database_url"] = f"sqlite:///{db}"
    (home / "instance.json").write_text(json.dumps(cfg))
    return load(home)


def _leaf(inst: Instance, seq: int) -> bytes:
    with sqlite3.connect(inst.home / "drawsvc.sqlite3") as c:
        return c.execute("select leaf from log_entries where seq=?", (seq,)).fetchone()[0]


def _seq_of(inst: Instance, entry_type: str) -> int:
    with sqlite3.connect(inst.home / "drawsvc.sqlite3") as c:
        return c.execute("select min(seq) from log_entries where type=?", (entry_type,)).fetchone()[0]


def _flip(data: bytes, pos: int) -> bytes:
    b = bytearray(data)
    b[pos] ^= 0x01
    return bytes(b)


MUTATIONS = [
    ("flip a payload byte", lambda i: ("update log_entries set leaf=? where seq=37", (_flip(_leaf(i, 37), 60),))),
    ("flip a signature byte", lambda i: ("update log_entries set leaf=? where seq=8", (_flip(_leaf(i, 8), len(_leaf(i, 8)) - 50),))),
    ("delete an entry at a run's start", lambda i: ("delete from log_entries where seq=16", ())),
    ("delete an entry inside a run", lambda i: ("delete from log_entries where seq=21", ())),
    ("delete a whole run", lambda i: ("delete from log_entries where seq between 16 and 23", ())),
    ("delete a run and a half", lambda i: ("delete from log_entries where seq between 40 and 51", ())),
    ("delete the last entry", lambda i: ("delete from log_entries where seq=(select max(seq) from log_entries)", ())),
    ("delete genesis", lambda i: ("delete from log_entries where seq=0", ())),
    ("swap two leaves", lambda i: ("update log_entries set leaf=case seq when 40 then ? else ? end where seq in (40, 41)",
                                   (_leaf(i, 41), _leaf(i, 40)))),
    ("non-canonical key rotation", lambda i: ("update log_entries set leaf=? where seq=?",
                                              (_leaf(i, _seq_of(i, "actor.key.rotated")).replace(b'{"actor"', b'{ "actor"'),
                                               _seq_of(i, "actor.key.rotated")))),
    ("escaped type hides a key registration", lambda i: (
        "update log_entries set leaf=? where seq=?",
        (_leaf(i, _seq_of(i, "actor.key.registered")).replace(b'"type":"actor.key.', b'"type":"actor\\u002ekey.'),
         _seq_of(i, "actor.key.registered")))),
    ("flip a byte of the log key rotation", lambda i: ("update log_entries set leaf=? where seq=?",
                                                       (_flip(_leaf(i, _seq_of(i, "log.key.rotated")), 70),
                                                        _seq_of(i, "log.key.rotated")))),
    ("leaf node", lambda i: ("update merkle_nodes set hash=? where level=0 and idx=5", (b"\x01" * 32,))),
    ("node inside a run's subtree", lambda i: ("update merkle_nodes set hash=? where level=3 and idx=2", (b"\x02" * 32,))),
    ("node above the runs", lambda i: ("update merkle_nodes set hash=? where level=5 and idx=1", (b"\x03" * 32,))),
    ("short node", lambda i: ("update merkle_nodes set hash=? where level=1 and idx=7", (b"\x04" * 31,))),
    ("missing node", lambda i: ("delete from merkle_nodes where level=2 and idx=4", ())),
    ("extra node", lambda i: ("insert into merkle_nodes (level, idx, hash) values (0, 100000, ?)", (b"\x05" * 32,))),
    ("node at a level the tree lacks", lambda i: ("insert into merkle_nodes (level, idx, hash) values (40, 0, ?)", (b"\x06" * 32,))),
    ("head size", lambda i: ("update log_head set size=size-1", ())),
    ("head hash", lambda i: ("update log_head set last_leaf_hash=?", (b"\x07" * 32,))),
    ("checkpoint root", lambda i: ("update checkpoints set root=? where size=(select max(size) from checkpoints)", (b"\x08" * 32,))),
]


@pytest.mark.parametrize("name,mutation", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_damage_is_reported_as_the_reference_reports_it(rich_log: Instance, tmp_path: Path, small_runs: None,
                                                        name: str, mutation) -> None:  # type: ignore[no-untyped-def]
    sql, params = mutation(rich_log)
    report = _same(_copy(rich_log, tmp_path, sql, params))
    assert not report.ok, name


def test_the_serial_pass_matches_too(rich_log: Instance, tmp_path: Path) -> None:
    """Below the threshold the same run check works in-process."""
    for _, mutation in MUTATIONS[:4]:
        sql, params = mutation(rich_log)
        bad = _copy(rich_log, tmp_path, sql, params)
        assert [str(f) for f in Auditor(bad.engine(), bad.genesis_log_key).run().findings] == \
            [str(f) for f in _reference(bad).findings]


def test_fast_path_refuses_what_it_cannot_prove() -> None:
    """form_ok_fast says False (ask the reference) for a float, a big integer, a non-canonical leaf."""
    sk = SigningKey.generate()
    leaf = b'{"actor":{"id":"a","key_id":"k"},"payload":{"x":1.5},"prev":"0","seq":1,"sig":"AA==","time":"2026-01-01T00:00:00.000Z","type":"a.b","v":1}'
    for bad in (leaf, leaf.replace(b"1.5", b"9007199254740993"), leaf.replace(b'"x":1.5', b'"x": 1')):
        assert form_ok_fast(bad, loads(bad), bytes(sk.verify_key)) is False


def test_postgres_fast_pass_matches_the_reference(tmp_path: Path, pg_url: str, small_runs: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    inst, _ = init_instance(tmp_path / "pg", origin="test.example/log", database_url=pg_url)
    _fill(inst)
    report = _same(inst)
    assert report.ok, report.first_broken()
    with inst.engine().begin() as conn:
        conn.execute(text("update merkle_nodes set hash = :h where level = 1 and idx = 9"), {"h": b"\x09" * 32})
        conn.execute(text("update merkle_nodes set hash = :h where level = 4 and idx = 2"), {"h": b"\x0a" * 31})
        conn.execute(text("delete from log_entries where seq = 50"))
    report = _same(inst)
    assert {f.where for f in report.findings} >= {"entry 50", "node (1, 9)", "node (4, 2)"}


def test_every_intact_entry_takes_the_fast_path(rich_log: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference form check is for damaged entries only (else the audit is slow, not wrong)."""
    import ledger.auditwork

    def refuse(seq: int, leaf: bytes, public_key: bytes) -> str | None:
        raise AssertionError(f"entry {seq} left the fast path")

    monkeypatch.setattr(ledger.auditwork, "check_form", refuse)
    assert Auditor(rich_log.engine(), rich_log.genesis_log_key).run().ok


@pytest.mark.parametrize("sql", [
    # the type column is not signed: hiding a key entry from it makes the audit start over
    "update log_entries set type='test.item' where type='actor.key.registered'",
    "update log_entries set type='test.item' where type='log.key.rotated'",
    # and naming an ordinary entry a key entry only costs a parse
    "update log_entries set type='actor.key.rotated' where seq in (9, 10, 33)",
])
def test_the_type_column_is_only_a_hint(rich_log: Instance, tmp_path: Path, small_runs: None, sql: str) -> None:
    report = _same(_copy(rich_log, tmp_path, sql))
    assert report.ok, report.first_broken()
