"""Entries (RFC 8785 + Ed25519), C2SP signed notes, checkpoints, cosignatures and tile paths."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from nacl.signing import SigningKey

from ledger.checkpoint import Checkpoint, CheckpointError
from ledger.entry import MAX_ENTRY_BYTES, Entry, EntryError, EntryTooLarge, make_entry
from ledger.note import (
    NoteError,
    NoteSigner,
    NoteVerifier,
    cosign,
    parse_note,
    sign_note,
    verify_cosignature,
    verify_note,
)
from ledger.tiles import TileError, decode_entry_bundle, encode_entry_bundle, encode_index, parse_tile_path, tile_path

KEY = SigningKey(bytes(range(32)))
MOMENT = datetime(2026, 11, 23, 2, 10, 0, 123000, tzinfo=UTC)


def _entry(**kw) -> Entry:  # type: ignore[no-untyped-def]
    args = dict(seq=0, moment=MOMENT, entry_type="registry.subject.added", actor_id="op-1",
                signing_key=KEY, payload={"名称": "某某公司", "n": 1}, prev="0" * 64)
    args.update(kw)
    return make_entry(**args)


def test_entry_is_canonical_signed_and_round_trips() -> None:
    e = _entry()
    leaf = e.leaf()
    assert leaf.startswith(b'{"actor":{"id":"op-1"')  # keys sorted (RFC 8785)
    assert "某某公司".encode() in leaf  # UTF-8, not \u escapes
    assert e.time == "2026-11-23T02:10:00.123Z"
    e.verify(bytes(KEY.verify_key))
    assert Entry.from_leaf(leaf) == e


def test_tampered_entry_fails_signature() -> None:
    e = _entry()
    obj = e.to_json()
    obj["payload"]["n"] = 2
    with pytest.raises(EntryError, match="does not verify"):
        Entry.from_json(obj).verify(bytes(KEY.verify_key))


def test_non_canonical_leaf_is_refused() -> None:
    leaf = json.dumps(_entry().to_json(), indent=1).encode()
    with pytest.raises(EntryError, match="canonical"):
        Entry.from_leaf(leaf)


@pytest.mark.parametrize("bad_type", ["Registry.x", "nodot", "a..b", "a.b-c", ""])
def test_bad_entry_types_are_refused(bad_type: str) -> None:
    with pytest.raises(EntryError, match="entry type"):
        _entry(entry_type=bad_type)


def test_oversized_entry_names_the_limit() -> None:
    with pytest.raises(EntryTooLarge, match=str(MAX_ENTRY_BYTES)):
        _entry(payload={"blob": "x" * MAX_ENTRY_BYTES})


def test_signed_note_round_trip_and_tampering() -> None:
    signer = NoteSigner("example.com/log", KEY)
    vkey = signer.verifier.encode()
    assert vkey.startswith("example.com/log+") and NoteVerifier.parse(vkey) == signer.verifier
    note = sign_note("example.com/log\n5\n" + base64.b64encode(b"\x01" * 32).decode() + "\n", [signer])
    assert verify_note(note, signer.verifier).text.endswith("\n")
    with pytest.raises(NoteError):
        verify_note(note.replace("\n5\n", "\n6\n"), signer.verifier)
    other = NoteSigner("example.com/log", SigningKey.generate())
    with pytest.raises(NoteError, match="not signed"):
        verify_note(note, other.verifier)


def test_verifier_key_with_wrong_hash_is_refused() -> None:
    vkey = NoteSigner("example.com/log", KEY).verifier.encode()
    name, h, key = vkey.split("+", 2)
    with pytest.raises(NoteError, match="hash"):
        NoteVerifier.parse(f"{name}+{'0' * 8}+{key}")


def test_checkpoint_parse_rejects_malformed_bodies() -> None:
    cp = Checkpoint("o", 3, b"\x02" * 32)
    assert Checkpoint.parse(cp.body()) == cp
    for bad in ["o\n3\n", "o\n03\n" + base64.b64encode(b"\x02" * 32).decode() + "\n",
                "o\nx\n" + base64.b64encode(b"\x02" * 32).decode() + "\n", "o\n3\nAAAA\n"]:
        with pytest.raises(CheckpointError):
            Checkpoint.parse(bad)


def test_cosignature_round_trip() -> None:
    text = Checkpoint("o", 3, b"\x02" * 32).body()
    wkey = SigningKey.generate()
    line = cosign(text, "witness.example", wkey, 1_790_000_000)
    sig = parse_note(text + "\n" + line).signatures[0]
    v = NoteVerifier("witness.example", bytes(wkey.verify_key), alg=0x04)
    assert verify_cosignature(text, sig, v) == 1_790_000_000
    with pytest.raises(NoteError):
        verify_cosignature(text.replace("3", "4"), sig, v)


def test_tile_paths_follow_c2sp() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(5) == "005"
    assert tile_path(0, 1234067) == "0/x001/x234/067"
    assert tile_path("entries", 3, 17) == "entries/003.p/17"
    assert parse_tile_path("1/x001/x234/067.p/255") == ("1", 1234067, 255)
    for bad in ["0/5", "0/005.p/256", "0/005.p/0", "x/005", "0/x000/005x", "0/0005"]:
        with pytest.raises(TileError):
            parse_tile_path(bad)


def test_entry_bundle_framing() -> None:
    items = [b"", b"a", b"x" * 300]
    assert decode_entry_bundle(encode_entry_bundle(items)) == items
    with pytest.raises(TileError):
        decode_entry_bundle(encode_entry_bundle(items)[:-1])
