"""C2SP signed-note, tlog-checkpoint and tlog-cosignature/v1, from the C2SP texts.

* signed-note: text ending in a newline, a blank line, then lines
  ``— <key name> base64(4-byte key ID || signature)``; key ID =
  SHA-256(name || 0x0A || type || public key)[:4]; verifier keys are
  ``<name>+<hex key ID>+<base64(type || public key)>``.  Ed25519 is type 0x01.
* tlog-checkpoint: note text = origin, decimal size without leading zeros, base64 root,
  then optional non-empty extension lines.
* tlog-cosignature/v1: type 0x04; the signature is key ID || uint64be(time) || Ed25519 over
  ``"cosignature/v1\\ntime <t>\\n" + note text``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass, field

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "Checkpoint",
    "NoteError",
    "NoteSignature",
    "SignedNote",
    "VerifierKey",
    "b64decode_strict",
    "cosign",
    "cosignature_message",
    "format_private_key",
    "key_id",
    "parse_checkpoint",
    "parse_note",
    "parse_private_key",
    "parse_verifier_key",
    "sign_note",
    "verify_cosignature",
    "verify_note",
]

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
_DASH = "\u2014"
_MAX_SIGNATURES = 64
_B64_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


class NoteError(ValueError):
    """A note, checkpoint or key string that does not follow the C2SP format."""


def b64decode_strict(s: str) -> bytes:
    """Standard base64 with padding (RFC 4648 §4); rejects anything non-canonical-looking."""
    if not isinstance(s, str) or len(s) % 4 or not _B64_RE.match(s):
        raise NoteError(f"not standard padded base64: {s[:40]!r}")
    try:
        return base64.b64decode(s, validate=True)
    except binascii.Error as exc:
        raise NoteError(f"bad base64: {exc}") from exc


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """SHA-256(name || "\\n" || alg || public key)[:4] (signed-note, recommended key ID)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"invalid key name {name!r}: empty, or contains a space or '+'")


@dataclass(frozen=True)
class VerifierKey:
    """A parsed verifier key: name, key ID, signature type and 32-byte Ed25519 public key."""

    name: str
    key_hash: bytes
    alg: int
    public_key: bytes

    def __str__(self) -> str:
        blob = base64.b64encode(bytes([self.alg]) + self.public_key).decode()
        return f"{self.name}+{self.key_hash.hex()}+{blob}"


def parse_verifier_key(vkey: str) -> VerifierKey:
    """Parse ``<name>+<hex key ID>+<base64(type || key)>`` and check the key ID matches."""
    if not isinstance(vkey, str):
        raise NoteError("verifier key is not a string")
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key must be <name>+<hex key id>+<base64 key>")
    name, hexid, blob = parts
    _check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hexid):
        raise NoteError("verifier key ID must be 8 lower-case hex digits")
    raw = b64decode_strict(blob)
    if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise NoteError("verifier key must hold an Ed25519 (0x01) or cosignature/v1 (0x04) public key")
    alg, pub = raw[0], raw[1:]
    kh = bytes.fromhex(hexid)
    if key_id(name, alg, pub) != kh:
        raise NoteError("verifier key ID does not match SHA-256(name || \\n || type || key)[:4]")
    return VerifierKey(name, kh, alg, pub)


def parse_witness_policy(wp: object, log_public_keys: set[bytes], origin: str | None) -> tuple[list[VerifierKey], str | None]:
    """A stated witness policy {k, witnesses: [verifier keys]} (docs/SPEC.md §D12): its keys, or
    why it is unusable. A policy names k of n distinct cosignature/v1 (0x04) keys, none of them
    the log's own (by key, or by the origin's name): the log's timestamped line is not a witness."""
    if not isinstance(wp, dict) or type(wp.get("k")) is not int or not isinstance(wp.get("witnesses"), list) \
            or not all(isinstance(w, str) for w in wp["witnesses"]):
        return [], "witness_policy must be {k: integer, witnesses: [verifier keys]}"
    keys: list[VerifierKey] = []
    for w in wp["witnesses"]:
        try:
            k = parse_verifier_key(w)
        except NoteError as exc:
            return [], f"witness key {w[:60]!r}: {exc}"
        if k.alg != 0x04:
            return [], f"witness key {k.name} is not a cosignature/v1 (0x04) key"
        if bytes(k.public_key) in log_public_keys or (origin is not None and k.name == origin):
            return [], f"witness key {k.name} is the log's own key: the log is not its own witness"
        if any(x.name == k.name for x in keys):
            return [], f"witness {k.name} is named twice"
        keys.append(k)
    if not 1 <= wp["k"] <= len(keys):
        return [], f"k = {wp['k']} is not between 1 and the {len(keys)} witnesses named"
    return keys, None


def format_private_key(name: str, alg: int, seed: bytes) -> str:
    """Private key file line, in the same layout Go's golang.org/x/mod/sumdb/note uses."""
    pub = bytes(SigningKey(seed).verify_key)
    kh = key_id(name, alg, pub)
    return f"PRIVATE+KEY+{name}+{kh.hex()}+{base64.b64encode(bytes([alg]) + seed).decode()}"


def parse_private_key(text: str) -> tuple[str, int, SigningKey]:
    """Inverse of :func:`format_private_key`; checks the key ID against the derived public key."""
    parts = text.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("private key must be PRIVATE+KEY+<name>+<hex id>+<base64>")
    name, hexid, blob = parts[2:]
    _check_name(name)
    raw = b64decode_strict(blob)
    if len(raw) != 33:
        raise NoteError("private key must hold a type byte and a 32-byte seed")
    sk = SigningKey(raw[1:])
    if key_id(name, raw[0], bytes(sk.verify_key)).hex() != hexid:
        raise NoteError("private key ID does not match its key")
    return name, raw[0], sk


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID, signature bytes (after the ID)."""

    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        return f"{_DASH} {self.name} {base64.b64encode(self.key_hash + self.signature).decode()}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note's text (with its final newline) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...] = field(default_factory=tuple)

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def parse_note(note: str | bytes) -> SignedNote:
    """Split a signed note into text and signatures, enforcing the signed-note format rules."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("note is not UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("note contains a control character other than newline")
    if not note.endswith("\n"):
        raise NoteError("note does not end with a newline")
    i = note.rfind("\n\n")
    if i < 0:
        raise NoteError("note has no blank line before its signatures")
    text, sigblock = note[: i + 1], note[i + 2 :]
    sigs = []
    for line in sigblock.split("\n")[:-1]:
        if not line.startswith(_DASH + " "):
            raise NoteError(f"malformed signature line {line[:60]!r}")
        rest = line[2:].split(" ")
        if len(rest) != 2:
            raise NoteError(f"malformed signature line {line[:60]!r}")
        name, blob = rest
        _check_name(name)
        raw = b64decode_strict(blob)
        if len(raw) < 5:
            raise NoteError("signature too short")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    if not sigs:
        raise NoteError("note has no signature lines")
    if len(sigs) > _MAX_SIGNATURES:
        raise NoteError(f"note has more than {_MAX_SIGNATURES} signatures")
    return SignedNote(text, tuple(sigs))


def _ed25519_ok(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def verify_note(note: SignedNote, vkey: VerifierKey) -> bool | None:
    """Verify the note's signatures by ``vkey`` (type 0x01).

    Returns None when no signature line carries that key's name and ID (signed-note: such lines
    are ignored), False when one does and any of them fails, True when they all verify.
    """
    if vkey.alg != ALG_ED25519:
        raise NoteError("not an Ed25519 note key")
    mine = [s for s in note.signatures if s.name == vkey.name and s.key_hash == vkey.key_hash]
    if not mine:
        return None
    msg = note.text.encode("utf-8")
    return all(len(s.signature) == 64 and _ed25519_ok(vkey.public_key, msg, s.signature) for s in mine)


def sign_note(text: str, name: str, sk: SigningKey) -> NoteSignature:
    """Ed25519 (0x01) note signature, used by tests and tools that build notes."""
    kh = key_id(name, ALG_ED25519, bytes(sk.verify_key))
    return NoteSignature(name, kh, sk.sign(text.encode("utf-8")).signature)


@dataclass(frozen=True)
class Checkpoint:
    """The tlog-checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text (origin, size, root, extension lines)."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint needs origin, size and root hash lines")
    origin, size_s, root_s, *ext = lines
    if not origin:
        raise NoteError("checkpoint origin is empty")
    if not re.fullmatch(r"0|[1-9][0-9]*", size_s):
        raise NoteError(f"checkpoint size {size_s!r} is not a decimal without leading zeros")
    root = b64decode_strict(root_s)
    if len(root) != 32:
        raise NoteError("checkpoint root hash is not 32 bytes")
    if any(not e for e in ext):
        raise NoteError("checkpoint extension lines must be non-empty")
    return Checkpoint(origin, int(size_s), root, tuple(ext))


def cosignature_message(text: str, timestamp: int) -> bytes:
    """The cosignature/v1 signed message for a note text at POSIX time ``timestamp``."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(text: str, name: str, sk: SigningKey, timestamp: int) -> NoteSignature:
    """Make a tlog-cosignature/v1 signature line body for the checkpoint ``text``."""
    if not 0 <= timestamp < 2**63:
        raise ValueError("timestamp out of range")
    kh = key_id(name, ALG_COSIGNATURE_V1, bytes(sk.verify_key))
    sig = sk.sign(cosignature_message(text, timestamp)).signature
    return NoteSignature(name, kh, struct.pack(">Q", timestamp) + sig)


def verify_cosignature(note: SignedNote, vkey: VerifierKey) -> tuple[bool | None, int | None]:
    """Verify a witness cosignature by ``vkey`` (type 0x04) on the note.

    Returns ``(None, None)`` if the witness did not cosign, ``(False, t)`` if a matching line
    fails, ``(True, t)`` with the cosigned POSIX time if it verifies.
    """
    if vkey.alg != ALG_COSIGNATURE_V1:
        raise NoteError("not a cosignature/v1 key")
    mine = [s for s in note.signatures if s.name == vkey.name and s.key_hash == vkey.key_hash]
    if not mine:
        return None, None
    best: int | None = None
    for s in mine:
        if len(s.signature) != 72:
            return False, None
        (t,) = struct.unpack(">Q", s.signature[:8])
        if t >= 2**63 or not _ed25519_ok(vkey.public_key, cosignature_message(note.text, t), s.signature[8:]):
            return False, t
        best = t if best is None else max(best, t)
    return True, best


def own_cosignature_key(log_key: VerifierKey) -> VerifierKey:
    """The log's own timestamped-cosignature key (docs/SPEC.md §5): the log key's Ed25519 public
    key under algorithm 0x04, so its key ID differs from the note signature's."""
    return VerifierKey(log_key.name, key_id(log_key.name, ALG_COSIGNATURE_V1, log_key.public_key),
                       ALG_COSIGNATURE_V1, log_key.public_key)
