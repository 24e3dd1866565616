"""The server's SM2 (国密) line (docs/SPEC.md §3.6, §5.1): the standards' examples, the vectors
reproduced byte for byte, the key kept encrypted in the key store, and an instance whose every
checkpoint after entry 1 carries the line."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import pytest

from ledger import sm2

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
DATA = json.loads((VECTORS / "sm2-v1.json").read_text(encoding="utf-8"))


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_sm2_vectors", VECTORS / "make_sm2_vectors.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sm2_vectors_are_reproduced_exactly() -> None:
    assert _generator().render() == (VECTORS / "sm2-v1.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("v", DATA["standards"]["sm3"], ids=lambda v: v["source"])
def test_sm3_meets_gbt_32905(v: dict) -> None:
    from pysmx.SM3 import digest

    assert digest(bytes.fromhex(v["message_hex"])).hex() == v["digest_hex"]


@pytest.mark.parametrize("v", DATA["standards"]["sm2_sign"], ids=lambda v: v["source"])
def test_sm2_meets_the_standards_signature_example(v: dict) -> None:
    d = bytes.fromhex(v["private_key_hex"])
    assert sm2.public_key_of(d).hex() == v["public_key_hex"]
    msg, uid = v["message"].encode(), v["user_id"].encode()
    sig = sm2.sign(d, msg, uid, k=bytes.fromhex(v["k_hex"]))
    assert sig.hex() == v["signature_hex"]  # the very r and s of the standard
    assert sm2.verify(bytes.fromhex(v["public_key_hex"]), msg, sig, uid)
    assert not sm2.verify(bytes.fromhex(v["public_key_hex"]), msg + b".", sig, uid)
    assert not sm2.verify(bytes.fromhex(v["public_key_hex"]), msg, sig, b"ALICE123@YAHOO.COM")


def test_fresh_signatures_differ_and_verify() -> None:
    d = sm2.generate_private_key()
    pub = sm2.public_key_of(d)
    a, b = sm2.sign(d, b"note\n"), sm2.sign(d, b"note\n")
    assert a != b  # k is fresh each time
    assert sm2.verify(pub, b"note\n", a) and sm2.verify(pub, b"note\n", b)


def test_verifier_key_round_trip_and_tampering() -> None:
    v = sm2.Sm2Verifier.parse(DATA["keys"]["sm2_log"]["verifier_key"])
    assert v.encode() == DATA["keys"]["sm2_log"]["verifier_key"]
    assert v.hash.hex() == DATA["keys"]["sm2_log"]["key_hash_hex"]
    name, h, blob = v.encode().split("+", 2)
    with pytest.raises(sm2.Sm2Error):
        sm2.Sm2Verifier.parse(f"{name}+{'0' * 8}+{blob}")
    raw = base64.b64decode(blob)
    ed_typed = base64.b64encode(bytes([1]) + raw[1:]).decode()
    with pytest.raises(sm2.Sm2Error):  # an Ed25519-typed blob is not an SM2 key
        sm2.Sm2Verifier.parse(f"{name}+{h}+{ed_typed}")


def test_checkpoint_vectors_verify_with_the_servers_code() -> None:
    v = sm2.Sm2Verifier.parse(DATA["keys"]["sm2_log"]["verifier_key"])
    by_size = {c["size"]: c["note"] for c in DATA["checkpoints"]}
    assert sm2.verify_note_sm2(by_size[1], v) is None
    assert sm2.verify_note_sm2(by_size[3], v) is True
    for m in DATA["mutations"]:
        assert sm2.verify_note_sm2(m["note"], v) is (None if m["expect"] == "SM2_SIGNATURE_MISSING" else False), m["why"]


def test_private_key_is_stored_encrypted() -> None:
    d = sm2.generate_private_key()
    blob = sm2.encrypt_private_key(d, b"pass")
    assert d not in blob
    assert sm2.decrypt_private_key(blob, b"pass") == d
    with pytest.raises(sm2.Sm2Error):
        sm2.decrypt_private_key(blob, b"wrong")
    with pytest.raises(sm2.Sm2Error):
        sm2.decrypt_private_key(blob[:-1] + bytes([blob[-1] ^ 1]), b"pass")
    with pytest.raises(sm2.Sm2Error):
        sm2.encrypt_private_key(d, b"")


def test_instance_signs_every_checkpoint_after_registration_with_sm2(instance) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from ledger.schema import actor_keys
    from verifier.log import verify_log

    led = instance.ledger()  # a fresh process's view: the SM2 key comes from the key store
    assert led.entry(1).type == sm2.ENTRY_TYPE
    v = sm2.Sm2Verifier.parse(instance.config["log_sm2_verifier_key"])
    assert led.entry(1).payload["sm2_log_key"] == v.encode()
    led.append("test.thing.added", {"n": 1}, led.system)
    cp = led.checkpoint()
    assert sm2.verify_note_sm2(cp.note, v) is True
    with instance.engine().connect() as conn:
        row = conn.execute(select(actor_keys).where(actor_keys.c.actor_id == sm2.sm2_actor(instance.origin))).one()
    assert row.active and row.registered_seq == 1 and row.public_key == v.public_key
    assert row.encrypted_private_key.startswith(b"spotcheck-sm2-key/1\n")
    notes = [c.note for c in led.list_checkpoints()]
    assert sm2.verify_note_sm2(notes[0], v) is None  # size 1, before the registration
    assert all(sm2.verify_note_sm2(n, v) for n in notes[1:])
    rep = verify_log([led.entry(i).leaf() for i in range(led.size())], notes)
    assert rep.verdict == "verified", [f.code for c in rep.checks.values() for f in c.findings]


def test_wrong_passphrase_does_not_open_the_sm2_key(instance, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "not-the-passphrase")
    with pytest.raises(Exception):  # noqa: B017 - the Ed25519 key refuses first, or the SM2 key does
        instance.ledger()


def test_the_log_key_endpoint_names_the_sm2_key(instance) -> None:  # type: ignore[no-untyped-def]
    from web import create_app

    app = create_app(instance, {"TESTING": True})
    body = app.test_client().get("/api/v1/log/key").get_json()
    assert body["sm2_verifier_key"] == instance.config["log_sm2_verifier_key"]
    assert body["sm2_verifier_key"] == instance.ledger().entry(1).payload["sm2_log_key"]


@pytest.mark.postgres
def test_sm2_line_on_postgresql(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key store and the group-commit batcher on PostgreSQL carry the SM2 key and line too."""
    from drawsvc.instance import init_instance

    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "pg-pass")
    inst, _ = init_instance(tmp_path / "pg", origin="pg.example/log", database_url=pg_url)
    led = inst.ledger()
    v = sm2.Sm2Verifier.parse(inst.config["log_sm2_verifier_key"])
    with led.batch() as b:
        for i in range(3):
            b.append("test.thing.added", {"i": i}, led.system)
    cp = led.checkpoint()
    assert cp.size == 5 and sm2.verify_note_sm2(cp.note, v) is True
    assert all(sm2.verify_note_sm2(c.note, v) for c in led.list_checkpoints() if c.size > 1)
    led.close()


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
def test_the_audit_checks_the_sm2_lines(instance, reference: bool) -> None:  # type: ignore[no-untyped-def]
    """`drawsvc log audit` finds a stored checkpoint whose SM2 line was removed or forged."""
    from sqlalchemy import update

    from ledger.audit import Auditor
    from ledger.schema import checkpoints

    led = instance.ledger()
    led.append("test.thing.added", {"n": 1}, led.system)
    led.checkpoint()

    def audit() -> list[str]:
        a = Auditor(instance.engine(), instance.genesis_log_key)
        if reference:
            with instance.engine().connect() as conn, conn.begin():
                return [str(f) for f in a._run_reference(conn).findings]
        return [str(f) for f in a.run().findings]

    assert audit() == []
    cp = led.checkpoint()
    text, sigs = cp.note.split("\n\n")
    ed, line, own = sigs.splitlines()  # Ed25519, SM2, the log's timestamped cosignature
    with instance.engine().begin() as conn:
        conn.execute(update(checkpoints).where(checkpoints.c.size == cp.size).values(
            note=f"{text}\n\n{ed}\n{own}\n"))
    assert audit() == [f"checkpoint {cp.size}: no SM2 (国密) line by the log's SM2 key"]
    dash, name, value = line.split(" ")
    raw = bytearray(base64.b64decode(value))
    raw[-3] ^= 1
    forged = f"{text}\n\n{ed}\n{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n{own}\n"
    with instance.engine().begin() as conn:
        conn.execute(update(checkpoints).where(checkpoints.c.size == cp.size).values(note=forged))
    assert audit() == [f"checkpoint {cp.size}: the SM2 (国密) line does not verify"]


def test_an_old_log_adopts_an_sm2_key_and_keeps_verifying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log made before SM2 (no registration) gets its first SM2 key with `drawsvc key rotate
    --sm2-key`; its old checkpoints still verify, every later one carries the line; a second
    registration replaces the key from its own entry on."""
    from click.testing import CliRunner

    from drawsvc.cli import main
    from drawsvc.instance import init_instance, load
    from verifier.log import verify_log

    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "pp")
    home = tmp_path / "old"
    inst, _ = init_instance(home, origin="old.example/log", sm2_key=False)
    led = inst.ledger()
    assert led.note_signers == [] and "log_sm2_verifier_key" not in inst.config
    led.append("test.thing.added", {"n": 1}, led.system)
    old_notes = [c.note for c in led.list_checkpoints()]
    assert all(len(n.split("\n\n")[1].splitlines()) == 2 for n in old_notes)  # Ed25519 and its time only

    r = CliRunner().invoke(main, ["--home", str(home), "key", "rotate", "--sm2-key"])
    assert r.exit_code == 0, r.output
    first = sm2.Sm2Verifier.parse(load(home).config["log_sm2_verifier_key"])
    r = CliRunner().invoke(main, ["--home", str(home), "key", "rotate", "--sm2-key"])
    assert r.exit_code == 0, r.output
    second = sm2.Sm2Verifier.parse(load(home).config["log_sm2_verifier_key"])
    assert first != second
    led = load(home).ledger()
    led.append("test.thing.added", {"n": 2}, led.system)
    last = led.checkpoint()
    assert sm2.verify_note_sm2(last.note, second) is True and sm2.verify_note_sm2(last.note, first) is None
    notes = [c.note for c in led.list_checkpoints()]
    assert notes[:len(old_notes)] == old_notes
    rep = verify_log([led.entry(i).leaf() for i in range(led.size())], notes)
    assert rep.verdict == "verified", [f.code for c in rep.checks.values() for f in c.findings]
    stripped = notes[:-1] + [notes[-1].split("\n\n")[0] + "\n\n" + notes[-1].split("\n\n")[1].splitlines()[0] + "\n"]
    rep = verify_log([led.entry(i).leaf() for i in range(led.size())], stripped)
    assert [f.code for c in rep.checks.values() for f in c.findings] == ["SM2_SIGNATURE_MISSING"]


def test_entry_with_both_signatures_is_canonical_and_each_verifies() -> None:
    """make_entry with an SM2 key (SPEC §3 item 11): the leaf is JCS of the whole entry on both
    encoding paths (the fast one and the general one, taken for a float), sm2_sig and sig sign the
    same bytes, and the leaf parses back to the same entry."""
    import base64
    from datetime import UTC, datetime

    from nacl.signing import SigningKey

    from ledger import sm2
    from ledger.canonical import canonical_bytes
    from ledger.entry import Entry, make_entry

    key, d = SigningKey.generate(), sm2.generate_private_key()
    for payload in ({"name": "示例", "n": 1}, {"ratio": 0.25}):
        e = make_entry(seq=7, moment=datetime(2026, 1, 5, tzinfo=UTC), entry_type="registry.item.added",
                       actor_id="user:alice", signing_key=key, payload=payload, prev="0" * 64, sm2_key=d)
        assert e.leaf() == canonical_bytes(e.to_json())
        assert Entry.from_leaf(e.leaf()) == e
        e.verify(bytes(key.verify_key))
        assert sm2.verify(sm2.public_key_of(d), e.signing_bytes(), base64.b64decode(e.sm2_sig))
        assert not sm2.verify(sm2.public_key_of(d), e.leaf(), base64.b64decode(e.sm2_sig))


def _sm2_sig_without_a_key_found_by_audit(instance, monkeypatch, reference: bool) -> None:  # type: ignore[no-untyped-def]
    from nacl.signing import SigningKey

    from ledger import store
    from ledger.audit import Auditor
    from ledger.keys import ActorSigner

    led = instance.ledger()
    alice = ActorSigner("user:alice", SigningKey.generate())
    with led.transaction() as tx:
        tx.register_actor_key(alice.actor_id, alice.public_key)
    led.append("test.thing.added", {"n": 1, "sm2_sig": "a payload member of that name is no signature"}, alice)
    stolen = sm2.generate_private_key()
    monkeypatch.setattr(store._Appender, "_check_sm2", lambda self, signer: stolen)
    forged = led.append("test.thing.added", {"n": 2}, alice)
    monkeypatch.undo()
    assert forged.sm2_sig is not None
    led.checkpoint()

    a = Auditor(instance.engine(), instance.genesis_log_key)
    if reference:
        with instance.engine().connect() as conn, conn.begin():
            found = [str(f) for f in a._run_reference(conn).findings]
    else:
        found = [str(f) for f in a.run().findings]
    assert found == [f"entry {forged.seq}: an SM2 signature by user:alice, who holds no SM2 key on the log at this entry"]


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
def test_the_audit_refuses_an_sm2_sig_by_an_actor_without_an_sm2_key(instance, monkeypatch, reference: bool) -> None:  # type: ignore[no-untyped-def]
    """A service that wrote an `sm2_sig` for an actor who never registered an SM2 key (a bug, or
    a forger passing off SM2 authority) wrote an entry the verifiers refuse
    (ENTRY_SM2_SIGNATURE_INVALID): `drawsvc log audit` names it too, and nothing else."""
    _sm2_sig_without_a_key_found_by_audit(instance, monkeypatch, reference)


def test_the_audit_refuses_an_sm2_sig_without_a_key_on_postgresql(pg_url: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The same on PostgreSQL (the leaves holding the member are found with bytea LIKE there)."""
    from drawsvc.instance import init_instance

    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "pg-pass")
    inst, _ = init_instance(tmp_path / "pg", origin="pg.example/log", database_url=pg_url)
    _sm2_sig_without_a_key_found_by_audit(inst, monkeypatch, reference=False)
