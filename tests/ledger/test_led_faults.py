"""Faults and attacks on the stored log: processes killed mid-append, every kind of stored
byte mutated, concurrent writers in several processes, and a retired key used again."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from sqlalchemy import func, select

from drawsvc.instance import Instance, init_instance, load
from ledger.audit import Auditor, AuditReport
from ledger.rotation import rotate_actor_key
from ledger.schema import log_entries

APPENDER = Path(__file__).with_name("_appender.py")
ROOT = Path(__file__).resolve().parents[2]


def audit(inst: Instance) -> AuditReport:
    return Auditor(inst.engine(), inst.genesis_log_key).run()


def spawn(home: Path, count: int, threads: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(APPENDER), str(home), str(count), str(threads)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_ready(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.strip() == "ready", proc.stderr.read()  # type: ignore[union-attr]


def wait_for_other_sessions(inst: Instance, timeout: float = 15.0) -> None:
    """On PostgreSQL a killed client's server backend may still be finishing a COMMIT it had
    sent; wait until no other session of this database remains, so the checks below compare
    one settled state (the audit itself reads one snapshot either way)."""
    engine = inst.engine()
    if engine.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            others = conn.execute(text("select count(*) from pg_stat_activity where datname = current_database() "
                                       "and pid <> pg_backend_pid() and state <> 'idle'")).scalar_one()
            if others == 0:
                return
            time.sleep(0.05)
            conn.rollback()


def kill_repeatedly(inst: Instance, rounds: int) -> None:
    rng = random.Random(20261123)
    for round_no in range(rounds):
        before = inst.ledger().size()
        proc = spawn(inst.home, 0, 3)
        wait_ready(proc)
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        wait_for_other_sessions(inst)
        report = audit(inst)
        assert report.ok, f"round {round_no}: {report.first_broken()}"
        with inst.engine().connect() as conn:
            stored = conn.execute(select(func.count()).select_from(log_entries)).scalar_one()
        assert stored == report.size == inst.ledger().size()
        assert report.size >= before
    assert inst.ledger().size() > 100  # the children really appended between kills


@pytest.mark.slow
def test_sigkill_mid_append_leaves_a_clean_log_sqlite(instance: Instance) -> None:
    kill_repeatedly(instance, rounds=25)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_mid_append_leaves_a_clean_log_postgres(tmp_path: Path, pg_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    inst, _ = init_instance(tmp_path / "pg", origin="test.example/log", database_url=pg_url)
    kill_repeatedly(inst, rounds=10)


def concurrent_appends(inst: Instance) -> None:
    start = inst.ledger().size()
    procs = [spawn(inst.home, 120, 2) for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    ledger = inst.ledger()
    size = ledger.size()
    # 4 processes x 2 threads x (120 batched + 3 single) entries
    assert size - start == 4 * 2 * (120 + 3)
    with inst.engine().connect() as conn:
        seqs = conn.execute(select(log_entries.c.seq).order_by(log_entries.c.seq)).scalars().all()
    assert seqs == list(range(size))  # no gap, no repeat
    report = audit(inst)
    assert report.ok, report.first_broken()


@pytest.mark.postgres
def test_concurrent_appends_from_four_processes_postgres(tmp_path: Path, pg_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    inst, _ = init_instance(tmp_path / "pg", origin="test.example/log", database_url=pg_url)
    concurrent_appends(inst)


def test_concurrent_appends_from_four_processes_sqlite(instance: Instance) -> None:
    concurrent_appends(instance)


def audit_while_appending(inst: Instance) -> None:
    proc = spawn(inst.home, 0, 2)
    wait_ready(proc)
    try:
        sizes: list[int] = []
        deadline = time.monotonic() + 60
        # audit until the log has visibly grown between audits (the child appends meanwhile)
        while (len(sizes) < 3 or sizes[-1] <= sizes[0]) and time.monotonic() < deadline:
            report = audit(inst)
            assert report.ok, report.first_broken()
            sizes.append(report.size)
        assert sizes[-1] > sizes[0], sizes  # the log really grew while it was audited
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_audit_of_a_live_log_sees_one_consistent_snapshot_sqlite(instance: Instance) -> None:
    audit_while_appending(instance)


@pytest.mark.postgres
def test_audit_of_a_live_log_sees_one_consistent_snapshot_postgres(tmp_path: Path, pg_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    inst, _ = init_instance(tmp_path / "pg", origin="test.example/log", database_url=pg_url)
    audit_while_appending(inst)


# --- mutation: change any stored byte, the audit must say where -------------------


@pytest.fixture
def small_log(instance: Instance) -> Instance:
    ledger = instance.ledger()
    for i in range(40):
        ledger.append("test.item", {"i": i, "name": f"subject-{i}"}, ledger.system)
        if i % 9 == 0:
            ledger.checkpoint()
    ledger.checkpoint()
    assert audit(instance).ok
    return instance


def _mutated_copy(inst: Instance, tmp_path: Path, sql: str, params: tuple = ()) -> Instance:  # type: ignore[type-arg]
    home = tmp_path / f"copy{random.randrange(1 << 30)}"
    shutil.copytree(inst.home, home)
    inst.engine().dispose()
    db = home / "drawsvc.sqlite3"
    conn = sqlite3.connect(db)
    cur = conn.execute(sql, params)
    assert cur.rowcount >= 1, sql
    conn.commit()
    conn.close()
    cfg = json.loads((home / "instance.json").read_text())
    cfg["database_url"] = f"sqlite:///{db}"
    (home / "instance.json").write_text(json.dumps(cfg))
    return load(home)


def _flip(data: bytes, pos: int) -> bytes:
    b = bytearray(data)
    b[pos] ^= 0x01
    return bytes(b)


def _leaf(inst: Instance, seq: int) -> bytes:
    with sqlite3.connect(inst.home / "drawsvc.sqlite3") as c:
        return c.execute("select leaf from log_entries where seq=?", (seq,)).fetchone()[0]


@pytest.mark.parametrize("seq", [0, 1, 17, 40])
def test_mutating_an_entry_byte_is_reported_at_that_entry(small_log: Instance, tmp_path: Path, seq: int) -> None:
    leaf = _leaf(small_log, seq)
    for pos in (len(leaf) // 3, len(leaf) - 30):
        bad = _mutated_copy(small_log, tmp_path, "update log_entries set leaf=? where seq=?", (_flip(leaf, pos), seq))
        report = audit(bad)
        assert not report.ok
        assert report.first_broken().where == f"entry {seq}", report.first_broken()


def test_changing_a_payload_and_resigning_with_an_unregistered_key_is_reported(small_log: Instance, tmp_path: Path) -> None:
    from ledger.entry import Entry, make_entry, parse_time

    e = Entry.from_leaf(_leaf(small_log, 5))
    forged = make_entry(seq=5, moment=parse_time(e.time), entry_type=e.type, actor_id="system",
                        signing_key=SigningKey.generate(), payload={**e.payload, "i": 999}, prev=e.prev)
    bad = _mutated_copy(small_log, tmp_path, "update log_entries set leaf=? where seq=5", (forged.leaf(),))
    first = audit(bad).first_broken()
    assert first.where == "entry 5" and "not registered" in first.message


def test_deleting_an_entry_is_reported(small_log: Instance, tmp_path: Path) -> None:
    bad = _mutated_copy(small_log, tmp_path, "delete from log_entries where seq=12")
    assert audit(bad).first_broken().where == "entry 12"


@pytest.mark.parametrize("level,idx", [(0, 3), (1, 0), (3, 2), (5, 0)])
def test_mutating_a_tree_node_is_reported(small_log: Instance, tmp_path: Path, level: int, idx: int) -> None:
    with sqlite3.connect(small_log.home / "drawsvc.sqlite3") as c:
        h = c.execute("select hash from merkle_nodes where level=? and idx=?", (level, idx)).fetchone()[0]
    bad = _mutated_copy(small_log, tmp_path, "update merkle_nodes set hash=? where level=? and idx=?",
                        (_flip(h, 7), level, idx))
    report = audit(bad)
    assert any(f.where == f"node ({level}, {idx})" for f in report.findings), report.findings


def test_mutating_a_checkpoint_note_or_root_is_reported(small_log: Instance, tmp_path: Path) -> None:
    with sqlite3.connect(small_log.home / "drawsvc.sqlite3") as c:
        size, note, root = c.execute("select size, note, root from checkpoints where size > 1 order by size limit 1").fetchone()
    for sql, params in [
        ("update checkpoints set note=? where size=?", (note.replace(f"\n{size}\n", f"\n{size + 1}\n"), size)),
        ("update checkpoints set note=? where size=?", (note[:-10] + ("A" if note[-10] != "A" else "B") + note[-9:], size)),
        ("update checkpoints set root=? where size=?", (_flip(root, 0), size)),
    ]:
        report = audit(_mutated_copy(small_log, tmp_path, sql, params))
        assert any(f.where == f"checkpoint {size}" for f in report.findings), report.findings


def test_mutating_the_head_is_reported(small_log: Instance, tmp_path: Path) -> None:
    report = audit(_mutated_copy(small_log, tmp_path, "update log_head set size=size-1"))
    assert any(f.where == "head" for f in report.findings)


def test_a_retired_key_cannot_sign_after_rotation(instance: Instance) -> None:
    ledger = instance.ledger()
    old = ledger.system
    rotate_actor_key(ledger, old, SigningKey.generate(), None)
    ledger.append("test.after", {"ok": True}, ledger.system)
    assert audit(instance).ok  # verification follows the rotation
    with ledger.transaction() as tx:  # the attack: the old key keeps signing
        tx.append("test.after", {"ok": False}, old)
    first = audit(instance).first_broken()
    assert first is not None and "retired" in first.message


def test_cli_audit_exit_codes(small_log: Instance, tmp_path: Path) -> None:
    env = {**os.environ, "DRAWSVC_KEY_PASSPHRASE": "test-passphrase"}
    drawsvc = [sys.executable, "-m", "drawsvc.cli"]
    ok = subprocess.run([*drawsvc, "--home", str(small_log.home), "log", "audit"], env=env,
                        capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stderr
    bad = _mutated_copy(small_log, tmp_path, "delete from log_entries where seq=3")
    broken = subprocess.run([*drawsvc, "--home", str(bad.home), "log", "audit"], env=env,
                            capture_output=True, text=True, cwd=ROOT)
    assert broken.returncode == 1 and "entry 3" in broken.stdout
    missing = subprocess.run([*drawsvc, "--home", str(tmp_path / "nowhere"), "log", "audit"], env=env,
                             capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
