"""C2SP signed-note, tlog-checkpoint and tlog-cosignature/v1."""

import base64
import hashlib
import struct

import pytest
from nacl.signing import SigningKey

from verifier.note import (
    NoteError,
    cosign,
    format_private_key,
    parse_checkpoint,
    parse_note,
    parse_private_key,
    parse_verifier_key,
    sign_note,
    verify_cosignature,
    verify_note,
)

NAME = "example.com/log"


def _vk(sk, name=NAME, alg=1):
    pub = bytes(sk.verify_key)
    kh = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + pub).digest()[:4]
    return f"{name}+{kh.hex()}+{base64.b64encode(bytes([alg]) + pub).decode()}"


def test_verifier_key_roundtrip_and_hash():
    sk = SigningKey.generate()
    s = _vk(sk)
    k = parse_verifier_key(s)
    assert str(k) == s and k.alg == 1 and k.public_key == bytes(sk.verify_key)
    bad = s.split("+")
    bad[1] = "00000000"
    with pytest.raises(NoteError):
        parse_verifier_key("+".join(bad))
    with pytest.raises(NoteError):
        parse_verifier_key("a b+00000000+AA==")


def test_go_note_example_key_parses():
    # The example verifier key from golang.org/x/mod/sumdb/note's documentation.
    k = parse_verifier_key("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    assert k.name == "PeterNeumann" and k.alg == 1


def test_note_sign_verify_and_tamper():
    sk = SigningKey.generate()
    text = f"{NAME}\n5\n{base64.b64encode(b'r' * 32).decode()}\n"
    note = text + "\n" + sign_note(text, NAME, sk).line()
    k = parse_verifier_key(_vk(sk))
    assert verify_note(parse_note(note), k) is True
    assert verify_note(parse_note(note.replace("\n5\n", "\n6\n")), k) is False
    other = parse_verifier_key(_vk(SigningKey.generate()))
    assert verify_note(parse_note(note), other) is None  # unknown key: ignored
    cp = parse_checkpoint(parse_note(note).text)
    assert cp.size == 5 and cp.origin == NAME and cp.root == b"r" * 32


@pytest.mark.parametrize("bad", [
    "o\n05\nAAAA\n", "o\n5\n" + base64.b64encode(b"x" * 31).decode() + "\n", "o\n5\n", "\n5\n" + "A" * 43 + "=\n",
    "o\n5\n" + base64.b64encode(b"x" * 32).decode() + "\n\n",
])
def test_bad_checkpoints(bad):
    with pytest.raises(NoteError):
        parse_checkpoint(bad)


def test_bad_notes():
    for bad in ["no blank line\n— a AAAAAAAA\n", "t\n\n— a AAAAAAAA", "t\n\nnot a sig\n", "t\x01\n\n— a AAAAAAAA\n",
                "t\n\n"]:
        with pytest.raises(NoteError):
            parse_note(bad)


def test_cosignature_v1_layout_and_verify():
    wsk = SigningKey.generate()
    text = f"{NAME}\n5\n{base64.b64encode(b'r' * 32).decode()}\n"
    line = cosign(text, "witness.example/w1", wsk, 1679315147)
    # value = key ID || uint64be(t) || Ed25519 over "cosignature/v1\ntime t\n" + text
    raw = line.key_hash + line.signature
    assert raw[4:12] == struct.pack(">Q", 1679315147)
    msg = b"cosignature/v1\ntime 1679315147\n" + text.encode()
    wsk.verify_key.verify(msg, raw[12:])
    wk = parse_verifier_key(_vk(wsk, "witness.example/w1", 4))
    note = parse_note(text + "\n" + line.line())
    assert verify_cosignature(note, wk) == (True, 1679315147)
    note2 = parse_note(text.replace("\n5\n", "\n6\n") + "\n" + line.line())
    assert verify_cosignature(note2, wk)[0] is False


def test_private_key_roundtrip():
    sk = SigningKey.generate()
    s = format_private_key("w.example/w", 4, bytes(sk))
    name, alg, sk2 = parse_private_key(s)
    assert (name, alg, bytes(sk2)) == ("w.example/w", 4, bytes(sk))
