"""drawverify checks the SM2 (国密) line from docs/vectors/sm2-v1.json alone (no server code):
the standards' examples, a log whose entry 1 registers the SM2 key, and attacks on the line —
each one found, each with its own code; checkpoints from before the registration need no line."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from verifier import sm2
from verifier.canonical import jcs
from verifier.log import verify_log
from verifier.note import parse_note

DATA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "sm2-v1.json").read_text("utf-8"))
KEY = sm2.parse_sm2_key(DATA["keys"]["sm2_log"]["verifier_key"])
NOTES = [c["note"] for c in DATA["checkpoints"]]


def codes(rep: Any) -> list[str]:
    return [f.code for c in rep.checks.values() for f in c.findings]


@pytest.mark.parametrize("v", DATA["standards"]["sm2_sign"], ids=lambda v: v["source"])
def test_the_standards_signature_example_verifies(v: dict) -> None:
    point, sig = bytes.fromhex(v["public_key_hex"]), bytes.fromhex(v["signature_hex"])
    assert sm2.sm2_verify(point, v["message"].encode(), sig, v["user_id"].encode())
    assert not sm2.sm2_verify(point, v["message"].encode(), sig, b"ALICE123@YAHOO.COM")  # Z_A binds the user id
    assert not sm2.sm2_verify(point, b"message digesT", sig, v["user_id"].encode())


def test_key_parses_and_its_hash_is_as_specified() -> None:
    assert str(KEY) == DATA["keys"]["sm2_log"]["verifier_key"]
    blob = base64.b64decode(DATA["keys"]["sm2_log"]["key_blob_b64"])
    assert blob[:18] == b"\xffGB/T32918-SM2-SM3" and blob[18:] == KEY.point and len(blob) == 83
    assert hashlib.sha256(DATA["origin"].encode() + b"\n" + blob).digest()[:4].hex() == KEY.key_hash.hex()


def test_a_key_off_the_curve_is_refused() -> None:
    name, _, b64 = DATA["keys"]["sm2_log"]["verifier_key"].split("+", 2)
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 1
    kh = hashlib.sha256(name.encode() + b"\n" + bytes(blob)).digest()[:4].hex()
    with pytest.raises(sm2.NoteError, match="not a point"):
        sm2.parse_sm2_key(f"{name}+{kh}+{base64.b64encode(bytes(blob)).decode()}")


def test_the_vector_log_verifies_and_old_checkpoints_need_no_line() -> None:
    rep = verify_log(DATA["entries"], NOTES)
    assert rep.verdict == "verified", codes(rep)
    assert sm2.verify_sm2_line(parse_note(NOTES[0]), KEY) is None  # size 1 has none, and is fine


def test_a_log_without_registration_needs_no_line() -> None:
    """An old log (no log.sm2_key.registered) keeps verifying with Ed25519 alone."""
    only_genesis = DATA["entries"][:1]
    assert verify_log(only_genesis, NOTES[:1]).verdict == "verified"


@pytest.mark.parametrize("m", DATA["mutations"], ids=lambda m: m["why"])
def test_every_mutation_of_the_line_is_found(m: dict) -> None:
    rep = verify_log(DATA["entries"], NOTES[:2] + [m["note"]])
    assert rep.verdict == "failed"
    assert codes(rep) == [m["expect"]], m["why"]
    assert sm2.verify_sm2_line(parse_note(m["note"]), KEY) is (None if m["expect"] == "SM2_SIGNATURE_MISSING" else False)


def test_stripping_the_line_from_an_earlier_required_checkpoint_is_found() -> None:
    text, sigs = NOTES[1].split("\n\n")
    rep = verify_log(DATA["entries"], [NOTES[0], f"{text}\n\n{sigs.splitlines()[0]}\n", NOTES[2]])
    assert codes(rep) == ["SM2_SIGNATURE_MISSING"]


def _resign(entries: list[dict], seq: int, payload: dict) -> list[dict]:
    """Entries with entry `seq`'s payload replaced and the chain re-signed by the system key (an
    operator who holds the Ed25519 keys but not the SM2 one)."""
    system = SigningKey(base64.b64decode(DATA["keys"]["system"]["seed"]))
    out, prev = [], None
    for e in entries:
        e = dict(e)
        if e["seq"] == seq:
            e["payload"] = payload
        if prev is not None:
            e["prev"] = prev
        body = {k: v for k, v in e.items() if k != "sig"}
        e["sig"] = base64.b64encode(system.sign(jcs(body)).signature).decode()
        prev = hashlib.sha256(b"\x00" + jcs(e)).hexdigest()
        out.append(e)
    return out


def test_a_registration_without_proof_of_possession_is_refused() -> None:
    p = dict(DATA["entries"][1]["payload"])
    sig = bytearray(base64.b64decode(p["key_sig"]))
    sig[5] ^= 1
    p["key_sig"] = base64.b64encode(bytes(sig)).decode()
    rep = verify_log(_resign(DATA["entries"], 1, p))  # no checkpoints: the entries alone
    assert codes(rep) == ["SM2_KEY_INVALID"]


def test_a_registration_with_extra_fields_is_refused() -> None:
    p = {**DATA["entries"][1]["payload"], "note": "x"}
    assert codes(verify_log(_resign(DATA["entries"], 1, p))) == ["SM2_KEY_INVALID"]


def test_a_registration_signed_by_someone_else_than_system_is_refused() -> None:
    entries = [dict(e) for e in DATA["entries"]]
    entries[1]["actor"] = {"id": "user:op-1", "key_id": entries[1]["actor"]["key_id"]}
    rep = verify_log(entries)
    assert "KEY_RULE_VIOLATION" in codes(rep)


# --- draw bundles: their checkpoint and prepared checkpoint must carry the line ------------------

def _strip_sm2(note: str) -> str:
    """The note without its SM2 line (the second, right after the Ed25519 one); every other line
    (the log's timestamped cosignature, witnesses' cosignatures) stays."""
    text, sigs = note.split("\n\n")
    lines = sigs.splitlines()
    return f"{text}\n\n" + "".join(ln + "\n" for ln in [lines[0], *lines[2:]])


def test_demo_draw_bundle_checks_the_sm2_line(demo: Any) -> None:
    from vf_drawkit import run

    bundle = demo.load("published")
    assert any(e["entry"]["type"] == sm2.ENTRY_TYPE for e in bundle["entries"])  # bundles carry the key entry
    report, _ = run(bundle, log_key=demo.log_key)
    assert report.ok, report.to_text()
    assert "SM2" in report.checks["bundle_checkpoint"].detail

    stripped = json.loads(json.dumps(bundle))
    stripped["log"]["checkpoint"]["note"] = _strip_sm2(stripped["log"]["checkpoint"]["note"])
    report, _ = run(stripped, log_key=demo.log_key)
    assert [f.code for f in report.checks["bundle_checkpoint"].findings] == ["SM2_SIGNATURE_MISSING"]

    forged = json.loads(json.dumps(bundle))
    text, sigs = forged["prepared_checkpoint"]["note"].split("\n\n")
    ed, line = sigs.splitlines()[:2]
    dash, name, value = line.split(" ")
    raw = bytearray(base64.b64decode(value))
    raw[7] ^= 0x40
    rest = "".join(ln + "\n" for ln in sigs.splitlines()[2:])
    forged["prepared_checkpoint"]["note"] = f"{text}\n\n{ed}\n{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n{rest}"
    report, _ = run(forged, log_key=demo.log_key)
    assert "SM2_SIGNATURE_INVALID" in [f.code for f in report.checks["prepared_checkpoint"].findings]


def test_drawverify_checkpoint_checks_the_sm2_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from verifier.cli import cli

    keys = ["--log-key", DATA["keys"]["log"]["verifier_key"], "--sm2-key", DATA["keys"]["sm2_log"]["verifier_key"]]
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(NOTES[2], encoding="utf-8")
    bad.write_text(DATA["mutations"][0]["note"], encoding="utf-8")  # no SM2 line
    r = CliRunner().invoke(cli, ["checkpoint", str(good), *keys, "--json"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["checkpoint", str(bad), *keys, "--json"])
    assert r.exit_code == 1 and "SM2_SIGNATURE_MISSING" in r.output
    r = CliRunner().invoke(cli, ["checkpoint", str(good), "--log-key", DATA["keys"]["log"]["verifier_key"],
                                 "--sm2-key", "not+a+key"])
    assert r.exit_code == 2


@pytest.mark.parametrize("chunk,parallel", [(1, False), (2, True), (8, True)])
def test_raw_leaves_in_chunks_and_workers_apply_the_registration(monkeypatch: pytest.MonkeyPatch, chunk: int,
                                                                 parallel: bool) -> None:
    """Raw leaves (as read from tiles), split into chunks and worker processes, still find the
    registration (the main process replays key entries) — so the requirement cannot be lost."""
    import rfc8785

    from verifier import log as vlog
    from verifier.log import LogOptions

    monkeypatch.setattr(vlog, "CHUNK", chunk)
    leaves = [rfc8785.dumps(e) for e in DATA["entries"]]
    opts = LogOptions(parallel=parallel, workers=2 if parallel else None)
    assert verify_log(leaves, NOTES, total=len(leaves), options=opts).verdict == "verified"
    rep = verify_log(leaves, NOTES[:2] + [DATA["mutations"][0]["note"]], total=len(leaves), options=opts)
    assert codes(rep) == ["SM2_SIGNATURE_MISSING"]


def test_a_registration_of_a_key_named_other_than_the_origin_is_refused() -> None:
    from pysmx.SM2 import Sign

    blob = base64.b64decode(DATA["keys"]["sm2_log"]["key_blob_b64"])
    name = "other.example/log"
    kh = hashlib.sha256(name.encode() + bytes([0x0A]) + blob).digest()[:4].hex()
    vkey = f"{name}+{kh}+{base64.b64encode(blob).decode()}"
    sig = Sign(jcs({"sm2_log_key": vkey}), DATA["keys"]["sm2_log"]["private_key_hex"], "2" * 64, 64,
               uid=b"1234567812345678")
    p = {"sm2_log_key": vkey, "key_sig": base64.b64encode(sig).decode()}
    assert codes(verify_log(_resign(DATA["entries"], 1, p))) == ["SM2_KEY_INVALID"]
