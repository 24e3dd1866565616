"""Keys that outlive people (SPEC §3 items 7-10), server side: revocation and witness keys are log
entries; the service refuses to sign with a revoked key; a verifier reading the service's log with
only the genesis key and the first witness key follows every change — each tested by attacking it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from drawsvc.instance import Instance
from ledger.batcher import AppendBatcher
from ledger.keys import ActorSigner
from ledger.note import ALG_COSIGNATURE_V1, NoteVerifier, cosign
from ledger.rotation import (
    KeyLifecycleError,
    key_state,
    register_witness,
    revoke_actor_key,
    revoke_log_key,
    revoke_witness,
    rotate_witness,
    witness_rotation_statement,
)
from ledger.store import KeyRevoked, Ledger
from verifier.log import LogOptions, verify_log

ROOT = Path(__file__).resolve().parents[2]


def _person(ledger: Ledger, name: str = "user:alice") -> ActorSigner:
    signer = ActorSigner(name, SigningKey.generate())
    with ledger.transaction() as tx:
        tx.register_actor_key(name, signer.public_key)
    return signer


def _wkey(name: str, key: SigningKey) -> str:
    return NoteVerifier(name, bytes(key.verify_key), ALG_COSIGNATURE_V1).encode()


def _log(ledger: Ledger) -> list[bytes]:
    return ledger.leaves(0, ledger.size())


def test_revoked_key_signs_nothing_more(ledger: Ledger) -> None:
    alice = _person(ledger)
    ledger.append("test.by_alice", {"n": 1}, alice)
    entry = revoke_actor_key(ledger, alice.actor_id, alice.key_id, "调离 / left")
    size = ledger.size()
    with pytest.raises(KeyRevoked, match=f"revoked at seq {entry.seq}"):
        ledger.append("test.by_alice", {"n": 2}, alice)
    # a transaction with other entries: refused before anything is buffered, all rolled back
    with pytest.raises(KeyRevoked), ledger.transaction() as tx:
        tx.append("test.by_system", {"n": 3}, ledger.system)
        tx.append("test.by_alice", {"n": 4}, alice)
    assert ledger.size() == size  # nothing half-written
    state = key_state(ledger.engine.connect())
    assert state.revoked == {alice.key_id: entry.seq}


def test_another_process_revocation_is_seen_by_a_plain_transaction(sqlite_url: str, ledger: Ledger) -> None:
    """A second Ledger on the same database (another gunicorn worker) with a warm cache: the plain
    transaction path reads revocations under the append lock, so it refuses at once."""
    alice = _person(ledger)
    other = Ledger(ledger.engine, ledger.origin, ledger.log_signer, ledger.system, ledger.clock)
    assert other.revoked_keys() == {}  # cache warmed before the revocation
    revoke_actor_key(ledger, alice.actor_id, alice.key_id, "key leaked")
    with pytest.raises(KeyRevoked):
        other.append("test.by_alice", {"n": 1}, alice)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    from tests.conftest import new_ledger

    led = new_ledger(f"sqlite:///{tmp_path / 'log.sqlite3'}" if request.param == "sqlite"
                     else request.getfixturevalue("pg_url"))
    yield led
    led.close()
    led.engine.dispose()


def test_batcher_refuses_a_revoked_signer_alone(any_ledger: Ledger) -> None:
    """On PostgreSQL the batched path (PgBatch) reads the revocations refreshed before the lock."""
    ledger = any_ledger
    alice = _person(ledger)
    batcher = AppendBatcher(ledger, max_batch=8, checkpoint_interval=60)
    try:
        assert batcher.submit("test.by_alice", {"n": 0}, alice).result(timeout=30).seq > 0
        revoke_actor_key(ledger, alice.actor_id, alice.key_id, "key leaked")
        bad = batcher.submit("test.by_alice", {"n": 1}, alice)
        good = batcher.submit("test.by_system", {"n": 2}, ledger.system)
        with pytest.raises(KeyRevoked):
            bad.result(timeout=30)
        assert good.result(timeout=30).type == "test.by_system"
    finally:
        batcher.close()


@pytest.mark.parametrize(("actor", "key", "why"), [
    ("system", None, "rotate"), ("user:nobody", "0123456789abcdef", "not registered")])
def test_revocations_the_rules_refuse(ledger: Ledger, actor: str, key: str | None, why: str) -> None:
    size = ledger.size()
    with pytest.raises(KeyLifecycleError, match=why):
        revoke_actor_key(ledger, actor, key or ledger.system.key_id, "x")
    assert ledger.size() == size


def test_revoking_twice_or_without_reason_is_refused(ledger: Ledger) -> None:
    alice = _person(ledger)
    with pytest.raises(KeyLifecycleError, match="reason"):
        revoke_actor_key(ledger, alice.actor_id, alice.key_id, "  ")
    with pytest.raises(KeyLifecycleError, match="reason"):
        revoke_actor_key(ledger, alice.actor_id, alice.key_id, "x" * 201)
    revoke_actor_key(ledger, alice.actor_id, alice.key_id, "left")
    with pytest.raises(KeyLifecycleError, match="revoked already"):
        revoke_actor_key(ledger, alice.actor_id, alice.key_id, "left")


def test_verifier_follows_the_services_log_from_the_genesis_key(ledger: Ledger) -> None:
    """Witness registered, rotated (by its own statement), revoked; an actor key revoked; the log
    key revoked. Given only the genesis log key and the witness's first key, the verifier counts the
    cosignatures the keys in force made and refuses the others by name."""
    genesis_key = ledger.log_signer.verifier.encode()
    alice = _person(ledger)
    w1, w2 = SigningKey.generate(), SigningKey.generate()
    register_witness(ledger, _wkey("notary", w1))
    ledger.append("test.by_alice", {"n": 1}, alice)
    cp1 = ledger.checkpoint()
    rotate_witness(ledger, witness_rotation_statement("notary", w1, w2))
    revoke_actor_key(ledger, alice.actor_id, alice.key_id, "left")
    cp2 = ledger.checkpoint()
    revoke_witness(ledger, "notary", "notary office replaced")
    revoke_log_key(ledger, SigningKey.generate(), None, "host stolen")
    cp3 = ledger.checkpoint()

    def cosigned(cp, *keys: SigningKey) -> str:  # type: ignore[no-untyped-def]
        text = cp.note.split("\n\n")[0] + "\n"
        return cp.note + "".join(cosign(text, "notary", k, 1_800_000_000) for k in keys)

    notes = [cosigned(cp1, w1), cosigned(cp2, w1, w2), cosigned(cp3, w2)]
    opts = LogOptions(log_key=genesis_key, witnesses=[_wkey("notary", w1)], min_witnesses=1)
    rep = verify_log(_log(ledger), notes[:2], options=opts)
    assert rep.codes() == {"WITNESS_KEY_RETIRED"}, rep.to_text()  # w1 on cp2: rotated away before it
    assert rep.info["cosigned_by"] == ["notary@1800000000"]  # w2 counted on cp2 via the rotation
    rep = verify_log(_log(ledger), notes, options=opts)
    assert "WITNESS_KEY_REVOKED" in rep.codes() and rep.verdict == "failed"  # a revoked key's later line
    assert rep.checks["checkpoints"].status == "passed", rep.to_text()  # the new log key was followed


def test_a_forged_entry_by_a_revoked_key_is_refused_by_the_verifier(ledger: Ledger) -> None:
    """The attack the service refuses, written past it straight into the log: the verifier names it."""
    from ledger.entry import make_entry, parse_time

    alice = _person(ledger)
    revoke_actor_key(ledger, alice.actor_id, alice.key_id, "key leaked")
    leaves = _log(ledger)
    head = ledger.entry(ledger.size() - 1)
    forged = make_entry(seq=ledger.size(), moment=parse_time(ledger.entry(1).time), entry_type="test.forged",
                        actor_id=alice.actor_id, signing_key=alice.signing_key, payload={"backdated": True},
                        prev=head.leaf_hash().hex())
    rep = verify_log([*leaves, forged.leaf()], options=LogOptions(log_key=ledger.log_signer.verifier.encode()))
    assert "REVOKED_KEY" in rep.codes(), rep.to_text()


def test_witness_rules(ledger: Ledger) -> None:
    w1, w2, mine = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    with pytest.raises(KeyLifecycleError, match="0x04"):
        register_witness(ledger, ledger.log_signer.verifier.encode())
    register_witness(ledger, _wkey("notary", w1))
    with pytest.raises(KeyLifecycleError, match="registered already"):
        register_witness(ledger, _wkey("notary", w2))
    forged = witness_rotation_statement("notary", mine, w2)  # the operator's own key, not the witness's
    forged["old_verifier_key"] = _wkey("notary", w1)
    size = ledger.size()
    with pytest.raises(KeyLifecycleError, match="old_key_sig"):
        rotate_witness(ledger, forged)
    with pytest.raises(KeyLifecycleError, match="JSON object"):
        rotate_witness(ledger, {"name": "notary"})
    assert ledger.size() == size
    rotate_witness(ledger, witness_rotation_statement("notary", w1, w2))
    revoke_witness(ledger, "notary", "left")
    with pytest.raises(KeyLifecycleError, match="no key in force"):
        revoke_witness(ledger, "notary", "again")
    with pytest.raises(KeyLifecycleError, match="on the log before"):
        register_witness(ledger, _wkey("notary", w2))
    register_witness(ledger, _wkey("notary", SigningKey.generate()))  # a fresh key may come back


def test_cosignature_api_follows_the_witness_key(client, app) -> None:  # type: ignore[no-untyped-def]
    """POST /api/v1/log/cosignatures takes only the key in force: not the rotated-away one, not a revoked one."""
    ledger = app.extensions["ledger"]
    w1, w2 = SigningKey.generate(), SigningKey.generate()
    register_witness(ledger, _wkey("notary", w1))
    rotate_witness(ledger, witness_rotation_statement("notary", w1, w2))
    cp = ledger.checkpoint()
    text = cp.note.split("\n\n")[0] + "\n"

    def post(key: SigningKey) -> int:
        return client.post("/api/v1/log/cosignatures", data=cp.note + cosign(text, "notary", key, 1_800_000_000),
                           content_type="text/plain").status_code

    assert post(w1) == 403  # rotated away: not a witness key in force (C2SP: 403)
    assert post(w2) == 201
    revoke_witness(ledger, "notary", "left")
    cp = ledger.checkpoint()
    text = cp.note.split("\n\n")[0] + "\n"
    assert post(w2) == 403  # revoked


def test_cli_key_and_witness_lifecycle(instance: Instance, tmp_path: Path) -> None:
    env = {**os.environ, "DRAWSVC_KEY_PASSPHRASE": "test-passphrase"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "drawsvc.cli", "--home", str(instance.home), *args], env=env,
                              capture_output=True, text=True, cwd=ROOT, timeout=120)

    ledger = instance.ledger()
    alice = _person(ledger)
    w1, w2 = SigningKey.generate(), SigningKey.generate()
    assert run("witness", "add", _wkey("notary", w1)).returncode == 0
    again = run("witness", "add", _wkey("notary", w1))
    assert again.returncode == 2 and "registered already" in again.stderr and "Traceback" not in again.stderr
    stmt = tmp_path / "rotate.json"
    stmt.write_text(json.dumps(witness_rotation_statement("notary", w1, w2)))
    assert run("witness", "rotate", "--statement", str(stmt)).returncode == 0
    stmt.write_text("{not json")
    assert run("witness", "rotate", "--statement", str(stmt)).returncode == 2
    assert run("witness", "revoke", "notary", "--reason", "replaced").returncode == 0
    ok = run("key", "revoke", alice.actor_id, "--reason", "调离")
    assert ok.returncode == 0, ok.stderr
    assert alice.key_id in ok.stdout
    system = run("key", "revoke", "system", "--reason", "x")
    assert system.returncode == 2 and "rotate" in system.stderr
    log = run("key", "revoke", "--log-key", "--reason", "host stolen")
    assert log.returncode == 0, log.stderr
    fresh = instance.ledger()
    with pytest.raises(KeyRevoked):
        fresh.append("test.by_alice", {"n": 1}, alice)
    rep = verify_log(fresh.leaves(0, fresh.size()), [c.note for c in fresh.list_checkpoints()],
                     options=LogOptions(log_key=ledger.log_signer.verifier.encode()))
    assert rep.ok, rep.to_text()
    assert len(rep.info["log_keys"]) == 2
    audit = run("log", "audit")  # the server's own audit folds the same key entries
    assert audit.returncode == 0 and "intact" in audit.stdout, audit.stdout + audit.stderr


def test_a_witness_registered_before_logging_is_adopted(ledger: Ledger) -> None:
    """An instance whose witness is a bare table row (registered before witness keys were logged):
    revoking it first logs its registration, in the same transaction, so a verifier can follow."""
    from sqlalchemy import insert

    from ledger.schema import witnesses

    w1 = SigningKey.generate()
    with ledger.engine.begin() as conn:
        conn.execute(insert(witnesses).values(name="notary", verifier_key=_wkey("notary", w1)))
    entry = revoke_witness(ledger, "notary", "replaced")
    kinds = [ledger.entry(s).type for s in (entry.seq - 1, entry.seq)]
    assert kinds == ["witness.key.registered", "witness.key.revoked"]
    assert key_state(ledger.engine.connect()).witness_keys[_wkey("notary", w1)] == ("notary", entry.seq, entry.seq)
