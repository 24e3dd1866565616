"""The 国密 line of a checkpoint (docs/SPEC.md §3.6, §5.1), written from the SPEC text.

* SM2 verifier key: ``<name>+<hex key hash>+<base64(0xff || "GB/T32918-SM2-SM3" || 0x04 || X || Y)>``,
  key hash = SHA-256(name || 0x0A || 0xff || "GB/T32918-SM2-SM3" || 0x04 || X || Y)[:4].
* Line: ``— <name> base64(key hash || r[32] || s[32])``: SM2 (GB/T 32918.2, recommended curve of
  GB/T 32918.5) over the note text, e = SM3(Z_A || text), user id "1234567812345678"
  (GB/T 35276's default).
* ``log.sm2_key.registered`` (actor system) with payload ``{"sm2_log_key", "key_sig"}``;
  ``key_sig`` = base64 r||s by the new key over JCS(payload without key_sig). A checkpoint of
  size n > seq of that entry must carry a valid line by the key (``SM2_SIGNATURE_MISSING`` /
  ``SM2_SIGNATURE_INVALID``); checkpoints of logs (or sizes) before any registration need none,
  so old checkpoints keep verifying.

SM2/SM3 arithmetic is snowland-smx's (``pysmx``); the range checks of GB/T 32918.2 §7.1 B1-B2
and the point check are done here because that library's Verify skips them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pysmx.SM2 import Verify
from pysmx.SM2._SM2 import sm2_a, sm2_b, sm2_N, sm2_P

from .canonical import jcs
from .note import NoteError, SignedNote, b64decode_strict

ALG_SM2 = 0xFF
SM2_TAG = b"GB/T32918-SM2-SM3"  # the identifier after 0xff (signed-note: "a longer identifier")
_HEAD = bytes([ALG_SM2]) + SM2_TAG
USER_ID = b"1234567812345678"
ENTRY_TYPE = "log.sm2_key.registered"
ACTOR_ENTRY_TYPE = "actor.sm2_key.registered"  # SPEC §3 item 11

Report = Callable[[str, str, Any, Any], None]  # (code, message, expected, actual)


@dataclass(frozen=True)
class Sm2Key:
    name: str
    key_hash: bytes
    point: bytes  # 0x04 || X || Y

    def __str__(self) -> str:
        blob = _HEAD + self.point
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(blob).decode()}"


def _on_curve(point: bytes) -> bool:
    if len(point) != 65 or point[0] != 4:
        return False
    x, y = int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")
    return x < sm2_P and y < sm2_P and (y * y - (x * x * x + sm2_a * x + sm2_b)) % sm2_P == 0


def parse_sm2_key(text: Any) -> Sm2Key:
    """Parse and check an SM2 verifier key (name, hash, tag, a point of the curve)."""
    if not isinstance(text, str):
        raise NoteError("SM2 verifier key is not a string")
    parts = text.split("+", 2)
    if len(parts) != 3 or not parts[0] or any(c.isspace() for c in parts[0]) or len(parts[1]) != 8:
        raise NoteError("SM2 verifier key must be <name>+<8 hex digits>+<base64 key>")
    name, hexid, b64 = parts
    blob = b64decode_strict(b64)
    if len(blob) != len(_HEAD) + 65 or not blob.startswith(_HEAD):
        raise NoteError(f"SM2 verifier key must be 0xff || {SM2_TAG.decode()!r} || 0x04 || X || Y")
    if not _on_curve(blob[len(_HEAD):]):
        raise NoteError("SM2 verifier key is not a point of the SM2 curve")
    kh = hashlib.sha256(name.encode() + b"\n" + blob).digest()[:4]
    if hexid != kh.hex():
        raise NoteError("SM2 verifier key hash is not SHA-256(name || 0x0A || key)[:4]")
    return Sm2Key(name, kh, blob[len(_HEAD):])


def sm2_verify(point: bytes, message: bytes, signature: bytes, user_id: bytes = USER_ID) -> bool:
    """GB/T 32918.2 §7.1: r, s in [1, n-1], then e = SM3(Z_A || M) and the curve check."""
    if len(signature) != 64 or not _on_curve(point):
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < sm2_N and 1 <= s < sm2_N) or (r + s) % sm2_N == 0:
        return False
    try:
        return bool(Verify(signature, message, point[1:].hex(), 64, uid=user_id))
    except (ValueError, ZeroDivisionError, TypeError):
        return False


def verify_sm2_line(note: SignedNote, key: Sm2Key) -> bool | None:
    """None if no line carries the key's name and hash; else whether all such lines verify."""
    mine = [s for s in note.signatures if s.name == key.name and s.key_hash == key.key_hash]
    if not mine:
        return None
    msg = note.text.encode("utf-8")
    return all(sm2_verify(key.point, msg, s.signature) for s in mine)


@dataclass
class Sm2Keys:
    """The SM2 log keys the log registered: (in force from tree size, key)."""

    keys: list[tuple[int, Sm2Key]] = field(default_factory=list)
    verified: int = 0  # checkpoints whose required line verified

    def register(self, payload: Any, seq: int, report: Report, origin: str | None = None) -> None:
        """Fold in a ``log.sm2_key.registered`` entry already checked as signed by system; the
        key's name must be the log's ``origin`` (when known)."""
        if not isinstance(payload, dict) or payload.keys() != {"sm2_log_key", "key_sig"}:
            report("SM2_KEY_INVALID", f"{ENTRY_TYPE} payload must be {{sm2_log_key, key_sig}}",
                   "sm2_log_key, key_sig", sorted(payload) if isinstance(payload, dict) else type(payload).__name__)
            return
        try:
            key = parse_sm2_key(payload["sm2_log_key"])
            sig = b64decode_strict(payload["key_sig"]) if isinstance(payload["key_sig"], str) else b""
        except NoteError as exc:
            report("SM2_KEY_INVALID", f"sm2_log_key unusable: {exc}", None, payload.get("sm2_log_key"))
            return
        if origin is not None and key.name != origin:
            report("SM2_KEY_INVALID", "the SM2 key's name is not the log's origin", origin, key.name)
            return
        if not sm2_verify(key.point, jcs({"sm2_log_key": payload["sm2_log_key"]}), sig):
            report("SM2_KEY_INVALID", "key_sig is not an SM2 signature by the new key over JCS(payload without "
                   "key_sig): no proof of possession; not applied", "valid SM2 signature", "invalid")
            return
        self.keys.append((seq + 1, key))

    def key_at(self, size: int) -> tuple[int, Sm2Key] | None:
        found = None
        for frm, k in self.keys:
            if frm <= size:
                found = (frm, k)
        return found

    def check(self, note: SignedNote, size: int, report: Report) -> bool:
        """Whether the checkpoint of ``size`` carries the SM2 line the log requires of it
        (True where none is required)."""
        found = self.key_at(size)
        if found is None:
            return True
        since, key = found
        ok = verify_sm2_line(note, key)
        if ok is None:
            report("SM2_SIGNATURE_MISSING", f"no SM2 (国密) signature line by the log's SM2 key, required from "
                   f"size {since} on", f"SM2 line by {key}",
                   ", ".join(f"{s.name}/{s.key_hash.hex()}" for s in note.signatures))
            return False
        if not ok:
            report("SM2_SIGNATURE_INVALID", "the SM2 (国密) signature line does not verify (SM2 with SM3, user id "
                   "1234567812345678, over the note text)", f"valid SM2 line by {key}", "invalid signature")
            return False
        self.verified += 1
        return True


def parse_actor_sm2(payload: Any) -> tuple[str, bytes] | str:
    """(actor id, point) of a valid ``actor.sm2_key.registered`` payload (SPEC §3 item 11), or why not:
    exactly ``{actor_id, sm2_public_key, key_sig}`` (strings), the key a point of the curve, and
    key_sig an SM2 signature by it over JCS({actor_id, sm2_public_key})."""
    if not isinstance(payload, dict) or payload.keys() != {"actor_id", "sm2_public_key", "key_sig"} \
            or not all(type(v) is str for v in payload.values()):
        return "payload must be {actor_id, sm2_public_key, key_sig} (strings)"
    try:
        point = b64decode_strict(payload["sm2_public_key"])
        sig = b64decode_strict(payload["key_sig"])
    except NoteError:
        return "sm2_public_key or key_sig is not base64"
    if not _on_curve(point):
        return "sm2_public_key is not 0x04 || X || Y, a point of the SM2 curve"
    if not sm2_verify(point, jcs({"actor_id": payload["actor_id"], "sm2_public_key": payload["sm2_public_key"]}), sig):
        return "key_sig is not an SM2 signature by the new key over JCS(payload without key_sig): no proof of possession"
    return payload["actor_id"], point


def entry_sm2_problem(point: bytes | None, sm2_sig: Any, message: bytes) -> tuple[str, str] | None:
    """(finding code, message) if an entry's SM2 signature breaks SPEC §3 item 11, else None.

    ``point``: the actor's SM2 key in force (None: the actor holds none); ``message``: the bytes
    the Ed25519 ``sig`` signs, JCS(entry without sig and sm2_sig)."""
    if point is None:
        if sm2_sig is None:
            return None
        return "ENTRY_SM2_SIGNATURE_INVALID", "the entry carries sm2_sig but its actor holds no SM2 key on the log"
    if sm2_sig is None:
        return "ENTRY_SM2_SIGNATURE_MISSING", "the actor holds an SM2 key on the log: its entries need sm2_sig too"
    try:
        raw = b64decode_strict(sm2_sig) if type(sm2_sig) is str else b""
    except NoteError:
        raw = b""
    if not sm2_verify(point, message, raw):
        return "ENTRY_SM2_SIGNATURE_INVALID", "sm2_sig does not verify over JCS(entry without sig and sm2_sig) " \
            "with the actor's SM2 key (SM3, user id 1234567812345678)"
    return None
