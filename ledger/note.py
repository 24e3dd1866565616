"""C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 keys, and the
timestamped Ed25519 cosignatures of C2SP tlog-cosignature.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
    "\u2014 <name> <base64(key_hash[4] || signature)>\n"
key_hash = SHA-256(name || "\\n" || sig_type || public_key)[:4], sig_type 0x01 for
Ed25519 signatures over the note text, 0x04 for cosignatures, whose signed message is
    "cosignature/v1\\ntime <unix seconds>\\n" || note text
and whose signature value is key_hash[4] || uint64_be(time) || signature[64].
A verifier key is written "<name>+<hex key_hash>+<base64(sig_type || public_key)>".
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
EM_DASH = "\u2014"


class NoteError(ValueError):
    """A note or verifier key is malformed, or a signature on it does not verify."""


def key_hash(name: str, alg: int, public_key: bytes) -> bytes:
    """First four bytes of SHA-256(name || 0x0A || alg || public key)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class NoteVerifier:
    """A named Ed25519 public key that can check note (or cosignature) signatures."""

    name: str
    public_key: bytes
    alg: int = ALG_ED25519

    @property
    def hash(self) -> bytes:
        return key_hash(self.name, self.alg, self.public_key)

    def encode(self) -> str:
        raw = base64.b64encode(bytes([self.alg]) + self.public_key).decode()
        return f"{self.name}+{self.hash.hex()}+{raw}"

    @classmethod
    def parse(cls, text: str) -> NoteVerifier:
        try:
            name, hash_hex, raw_b64 = text.strip().split("+", 2)
            raw = base64.b64decode(raw_b64, validate=True)
            claimed = bytes.fromhex(hash_hex)
        except ValueError:
            raise NoteError(f"verifier key {text!r} is not <name>+<hash>+<key>") from None
        _check_name(name)
        if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise NoteError("verifier key must hold one algorithm byte and a 32-byte Ed25519 key")
        verifier = cls(name, raw[1:], raw[0])
        if verifier.hash != claimed:
            raise NoteError(f"verifier key hash {hash_hex} does not match the key")
        return verifier


@dataclass(frozen=True)
class NoteSigner:
    name: str
    signing_key: SigningKey

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, bytes(self.signing_key.verify_key))

    def signature_line(self, text: str) -> str:
        sig = self.signing_key.sign(text.encode()).signature
        value = base64.b64encode(self.verifier.hash + sig).decode()
        return f"{EM_DASH} {self.name} {value}\n"


@dataclass(frozen=True)
class Signature:
    name: str
    key_hash: bytes
    value: bytes  # the signature bytes after the key hash

    def line(self) -> str:
        return f"{EM_DASH} {self.name} {base64.b64encode(self.key_hash + self.value).decode()}\n"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def sign_note(text: str, signers: list[NoteSigner]) -> str:
    """The signed note: text, blank line, one signature line per signer."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    return text + "\n" + "".join(s.signature_line(text) for s in signers)


def parse_note(encoded: str) -> Note:
    """Split a signed note into text and signature lines (no signature is checked)."""
    text, sep, sigs = encoded.rpartition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise NoteError("note has no signature block")
    text += "\n"
    signatures = []
    for line in sigs[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH:
            raise NoteError(f"malformed signature line {line!r}")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except ValueError:
            raise NoteError(f"signature line {line!r} is not base64") from None
        if len(raw) < 5:
            raise NoteError(f"signature line {line!r} is too short")
        signatures.append(Signature(parts[1], raw[:4], raw[4:]))
    return Note(text, tuple(signatures))


def verify_note(encoded: str, verifier: NoteVerifier) -> Note:
    """Parse the note and check that `verifier` signed it; raise NoteError if not."""
    note = parse_note(encoded)
    for sig in note.signatures:
        if sig.name == verifier.name and sig.key_hash == verifier.hash:
            try:
                VerifyKey(verifier.public_key).verify(note.text.encode(), sig.value)
            except (BadSignatureError, ValueError):
                raise NoteError(f"signature by {verifier.name} does not verify") from None
            return note
    raise NoteError(f"note is not signed by {verifier.name}")


# --- tlog-cosignature/v1 --------------------------------------------------------


def cosignature_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def cosign(text: str, name: str, signing_key: SigningKey, timestamp: int) -> str:
    """A witness's cosignature line over a checkpoint text at `timestamp` (Unix seconds)."""
    khash = key_hash(name, ALG_COSIGNATURE_V1, bytes(signing_key.verify_key))
    sig = signing_key.sign(cosignature_message(text, timestamp)).signature
    value = base64.b64encode(khash + struct.pack(">Q", timestamp) + sig).decode()
    return f"{EM_DASH} {name} {value}\n"


def verify_cosignature(text: str, sig: Signature, verifier: NoteVerifier) -> int:
    """Check a cosignature line against a witness key; return its timestamp."""
    if verifier.alg != ALG_COSIGNATURE_V1:
        raise NoteError(f"{verifier.name} is not a cosignature key")
    if sig.name != verifier.name or sig.key_hash != verifier.hash:
        raise NoteError(f"signature is not by witness {verifier.name}")
    if len(sig.value) != 8 + 64:
        raise NoteError("cosignature must be an 8-byte time and a 64-byte signature")
    (timestamp,) = struct.unpack(">Q", sig.value[:8])
    try:
        VerifyKey(verifier.public_key).verify(cosignature_message(text, timestamp), sig.value[8:])
    except (BadSignatureError, ValueError):
        raise NoteError(f"cosignature by {verifier.name} does not verify") from None
    return timestamp


def own_cosignature_time(note: Note, log_key: NoteVerifier) -> int | None:
    """The time of the log's own timestamped cosignature on its checkpoint, or None if the note
    has none (checkpoints signed before docs/SPEC.md §5 v2). The line is the log key under
    algorithm 0x04; raises NoteError if it is there and does not verify."""
    own = NoteVerifier(log_key.name, log_key.public_key, ALG_COSIGNATURE_V1)
    for sig in note.signatures:
        if sig.name == own.name and sig.key_hash == own.hash:
            return verify_cosignature(note.text, sig, own)
    return None
