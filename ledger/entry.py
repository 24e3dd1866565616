"""Log entries: their fields, canonical form, signature and leaf hash (SPEC §2).

An entry is a JSON object {v, seq, time, type, actor{id, key_id}, payload, prev, sig} and,
when its actor holds an SM2 key on the log (SPEC §3 item 11), also `sm2_sig`.
sig = base64(Ed25519(actor key, JCS(entry without "sig"))); sm2_sig = base64(SM2 r || s over
the same bytes); the Merkle leaf is JCS of the whole entry, and its leaf hash
SHA-256(0x00 || leaf) is what the next entry's `prev` names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from .canonical import canonical_bytes, is_simple, simple_encode
from .merkle import leaf_hash

ENTRY_VERSION = 1
GENESIS_PREV = "0" * 64
MAX_ENTRY_BYTES = 65535  # 64 KiB less one: the most a tlog-tiles entry bundle can frame
_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_json_encode = simple_encode
_json_str = json.encoder.encode_basestring  # type: ignore[attr-defined]  # ensure_ascii=False form, as simple_encode
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class EntryError(ValueError):
    """An entry is malformed, too large, or its signature does not verify."""


def format_time(moment: datetime) -> str:
    """RFC 3339, UTC, milliseconds: 2026-11-23T02:10:00.123Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def unix_seconds(moment: datetime) -> int:
    """Whole seconds since the epoch, rounded down (a cosignature's time field)."""
    return int(moment.timestamp() // 1)


def parse_time(text: str) -> datetime:
    if not _TIME.match(text):
        raise EntryError(f"time {text!r} is not RFC 3339 UTC with milliseconds")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def key_id_for(public_key: bytes) -> str:
    """A short stable name for an Ed25519 public key: hex SHA-256(key)[:8 bytes]."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def check_type(entry_type: str) -> None:
    if not _TYPE.match(entry_type):
        raise EntryError(f"entry type {entry_type!r} must be dotted lower-case words, e.g. registry.subject.added")


@dataclass(frozen=True)
class Entry:
    seq: int
    time: str
    type: str
    actor_id: str
    key_id: str
    payload: dict[str, Any]
    prev: str
    sig: str
    v: int = ENTRY_VERSION
    #: base64 SM2 (r || s) by the actor's SM2 key over the same bytes `sig` signs (SPEC §3 item 11);
    #: None for an actor without an SM2 key, and then the member is absent from the entry.
    sm2_sig: str | None = None

    def unsigned(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "seq": self.seq,
            "time": self.time,
            "type": self.type,
            "actor": {"id": self.actor_id, "key_id": self.key_id},
            "payload": self.payload,
            "prev": self.prev,
        }

    def to_json(self) -> dict[str, Any]:
        out = {**self.unsigned(), "sig": self.sig}
        if self.sm2_sig is not None:
            out["sm2_sig"] = self.sm2_sig
        return out

    @cached_property
    def _simple(self) -> bool:
        """Whether the stdlib encoder is exact here: only the payload can hold anything else
        (the other members are ASCII keys with string or small-integer values)."""
        return is_simple(self.payload) and isinstance(self.seq, int) and 0 <= self.seq < 2**53

    @cached_property
    def _leaf(self) -> bytes:
        return canonical_bytes(self.to_json(), known_simple=self._simple)

    def leaf(self) -> bytes:
        """JCS of the whole entry; computed once (entries are immutable)."""
        return self._leaf

    @cached_property
    def _leaf_hash(self) -> bytes:
        return leaf_hash(self._leaf)

    def leaf_hash(self) -> bytes:
        return self._leaf_hash

    def signing_bytes(self) -> bytes:
        return canonical_bytes(self.unsigned(), known_simple=self._simple)

    def verify(self, public_key: bytes) -> None:
        try:
            VerifyKey(public_key).verify(self.signing_bytes(), base64.b64decode(self.sig, validate=True))
        except (BadSignatureError, ValueError):
            raise EntryError(f"entry {self.seq}: signature by {self.actor_id}/{self.key_id} does not verify") from None

    @classmethod
    def from_json(cls, obj: Any) -> Entry:
        if not isinstance(obj, dict):
            raise EntryError("entry is not a JSON object")
        expected = {"v", "seq", "time", "type", "actor", "payload", "prev", "sig"}
        if set(obj) != expected and set(obj) != expected | {"sm2_sig"}:
            raise EntryError(f"entry fields {sorted(obj)} are not {sorted(expected)}")
        actor = obj["actor"]
        if not isinstance(actor, dict) or set(actor) != {"id", "key_id"}:
            raise EntryError("entry actor must be {id, key_id}")
        if obj["v"] != ENTRY_VERSION:
            raise EntryError(f"entry version {obj['v']!r} is not {ENTRY_VERSION}")
        if not isinstance(obj["seq"], int) or isinstance(obj["seq"], bool) or obj["seq"] < 0:
            raise EntryError("entry seq must be a non-negative integer")
        if not isinstance(obj["payload"], dict):
            raise EntryError("entry payload must be an object")
        if "sm2_sig" in obj and not isinstance(obj["sm2_sig"], str):
            raise EntryError("entry sm2_sig must be a string")
        for name in ("time", "type", "prev", "sig"):
            if not isinstance(obj[name], str):
                raise EntryError(f"entry {name} must be a string")
        if not isinstance(actor["id"], str) or not isinstance(actor["key_id"], str):
            raise EntryError("entry actor id and key_id must be strings")
        parse_time(obj["time"])
        check_type(obj["type"])
        return cls(obj["seq"], obj["time"], obj["type"], actor["id"], actor["key_id"],
                   obj["payload"], obj["prev"], obj["sig"], obj["v"], obj.get("sm2_sig"))

    @classmethod
    def from_leaf(cls, leaf: bytes) -> Entry:
        try:
            obj = json.loads(leaf)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise EntryError("leaf is not JSON") from None
        entry = cls.from_json(obj)
        if entry.leaf() != leaf:
            raise EntryError(f"entry {entry.seq}: leaf is not in RFC 8785 canonical form")
        return entry


def encode_payload(payload: dict[str, Any]) -> str | None:
    """The payload's JCS text when the stdlib encoder is exact for it, else None.

    Needs no seq or prev, so callers may compute it before taking the append lock."""
    if type(payload) is not dict or not is_simple(payload):
        return None
    return _json_encode(payload)


def make_entry(
    *, seq: int, moment: datetime, entry_type: str, actor_id: str, signing_key: SigningKey,
    payload: dict[str, Any], prev: str, payload_json: str | None = None, sm2_key: bytes | None = None,
) -> Entry:
    """Build and sign an entry. Raises EntryError when it breaks a rule of SPEC §2.

    `payload_json` is `encode_payload(payload)` if the caller has it already. `sm2_key` (the
    actor's SM2 private scalar, SPEC §3 item 11) adds `sm2_sig` over the same signed bytes."""
    check_type(entry_type)
    key_id = key_id_for(bytes(signing_key.verify_key))
    time = format_time(moment)
    if payload_json is None:
        payload_json = encode_payload(payload)
    if payload_json is not None and type(seq) is int and 0 <= seq < 2**53:
        # Fast path: JCS of the entry is its members in sorted key order
        # (actor, payload, prev, seq, [sig,] time, type, v), each value in its JCS form.
        # The payload is encoded once for both the signed bytes and the leaf.
        head = (f'{{"actor":{{"id":{_json_str(actor_id)},"key_id":{_json_str(key_id)}}},'
                f'"payload":{payload_json},"prev":{_json_str(prev)},"seq":{seq},')
        tail = f'"time":{_json_str(time)},"type":{_json_str(entry_type)},"v":{ENTRY_VERSION}}}'
        message = (head + tail).encode("utf-8")
        sig = base64.b64encode(signing_key.sign(message).signature).decode()
        sm2_sig = _sm2_sign(sm2_key, message)
        entry = Entry(seq, time, entry_type, actor_id, key_id, payload, prev, sig, sm2_sig=sm2_sig)
        entry.__dict__["_simple"] = True
        sm2_member = f'"sm2_sig":{_json_str(sm2_sig)},' if sm2_sig is not None else ""
        entry.__dict__["_leaf"] = (head + f'"sig":{_json_str(sig)},' + sm2_member + tail).encode("utf-8")
    else:
        draft = Entry(seq, time, entry_type, actor_id, key_id, payload, prev, "")
        message = draft.signing_bytes()
        sig = base64.b64encode(signing_key.sign(message).signature).decode()
        entry = Entry(seq, draft.time, entry_type, actor_id, key_id, payload, prev, sig,
                      sm2_sig=_sm2_sign(sm2_key, message))
        entry.__dict__["_simple"] = draft._simple  # same payload: reuse the cached_property, don't walk it again
    size = len(entry.leaf())
    if size > MAX_ENTRY_BYTES:
        raise EntryTooLarge(size)
    return entry


def _sm2_sign(sm2_key: bytes | None, message: bytes) -> str | None:
    """base64 SM2 (r || s) over `message`, SM3 with the default user id (ledger/sm2.py); None without a key."""
    if sm2_key is None:
        return None
    from . import sm2  # ledger.sm2 imports this module

    return base64.b64encode(sm2.sign(sm2_key, message)).decode()


class EntryTooLarge(EntryError):
    def __init__(self, size: int) -> None:
        super().__init__(f"entry is {size} bytes; the limit is {MAX_ENTRY_BYTES} bytes")
        self.size = size
