"""Which key may sign which entry, as the log itself establishes (SPEC §2.3).

Keys enter the log by `log.genesis` (the system key), `actor.key.registered` (signed by
system) and `actor.key.rotated` (signed by the old key, carrying a proof of possession of
the new one, which retires the old key). `log.key.rotated` changes the checkpoint key.
This state is a pure fold over the entries, so the audit and any verifier can rebuild it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .canonical import canonical_bytes
from .entry import key_id_for
from .note import NoteError, NoteVerifier

SYSTEM_ACTOR = "system"


class KeyRuleError(ValueError):
    """An entry is signed by a key the log has not registered, or breaks a key rule."""


def _b64key(text: Any, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise KeyRuleError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise KeyRuleError(f"{what} is not a 32-byte Ed25519 key")
    return raw


def proof_of_possession_ok(payload: dict[str, Any], public_key: bytes, field_name: str = "new_key_sig") -> bool:
    body = {k: v for k, v in payload.items() if k != field_name}
    try:
        VerifyKey(public_key).verify(canonical_bytes(body), base64.b64decode(payload[field_name], validate=True))
    except (BadSignatureError, ValueError, KeyError, TypeError):
        return False
    return True


@dataclass
class KeyState:
    keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # key_id -> (actor, public key)
    retired: set[str] = field(default_factory=set)
    genesis_log_key: str | None = None

    def resolve(self, obj: dict[str, Any]) -> bytes:
        """The public key that must have signed this entry (raises if none may)."""
        actor = obj.get("actor") or {}
        actor_id, key_id = actor.get("id"), actor.get("key_id")
        if obj.get("seq") == 0:
            if obj.get("type") != "log.genesis":
                raise KeyRuleError("entry 0 is not log.genesis")
            key = _b64key(obj.get("payload", {}).get("system_key"), "genesis system_key")
            if actor_id != SYSTEM_ACTOR or key_id != key_id_for(key):
                raise KeyRuleError("genesis is not signed by the system key it names")
            return key
        if key_id not in self.keys:
            raise KeyRuleError(f"key {key_id!r} of {actor_id!r} is not registered on the log")
        owner, key = self.keys[key_id]
        if owner != actor_id:
            raise KeyRuleError(f"key {key_id} belongs to {owner!r}, not {actor_id!r}")
        if key_id in self.retired:
            raise KeyRuleError(f"key {key_id} of {actor_id!r} was retired by a rotation")
        return key

    def apply(self, obj: dict[str, Any], seq: int) -> NoteVerifier | None:
        """Fold an entry's key changes in; returns a new log key if it rotates it."""
        kind, payload, actor = obj.get("type"), obj.get("payload", {}), obj.get("actor", {})
        if kind == "log.genesis":
            key = _b64key(payload.get("system_key"), "genesis system_key")
            self.keys[key_id_for(key)] = (SYSTEM_ACTOR, key)
            self.genesis_log_key = payload.get("log_key")
        elif kind == "actor.key.registered":
            if actor.get("id") != SYSTEM_ACTOR:
                raise KeyRuleError("actor.key.registered must be signed by system")
            key = _b64key(payload.get("public_key"), "registered public_key")
            if payload.get("key_id") != key_id_for(key):
                raise KeyRuleError("registered key_id does not match the public key")
            if payload["key_id"] in self.keys:
                raise KeyRuleError(f"key {payload['key_id']} is registered twice")
            self.keys[payload["key_id"]] = (str(payload.get("actor_id")), key)
        elif kind == "actor.key.rotated":
            key = _b64key(payload.get("new_public_key"), "new_public_key")
            if payload.get("actor_id") != actor.get("id") or payload.get("old_key_id") != actor.get("key_id"):
                raise KeyRuleError("a rotation must be signed by the old key of the same actor")
            if payload.get("new_key_id") != key_id_for(key):
                raise KeyRuleError("rotation new_key_id does not match new_public_key")
            if not proof_of_possession_ok(payload, key):
                raise KeyRuleError("rotation new_key_sig does not verify with the new key")
            self.retired.add(payload["old_key_id"])
            self.keys[payload["new_key_id"]] = (payload["actor_id"], key)
        elif kind == "log.key.rotated":
            if actor.get("id") != SYSTEM_ACTOR:
                raise KeyRuleError("log.key.rotated must be signed by system")
            try:
                new = NoteVerifier.parse(str(payload.get("new_log_key")))
            except NoteError as exc:
                raise KeyRuleError(f"new_log_key: {exc}") from None
            if not proof_of_possession_ok(payload, new.public_key):
                raise KeyRuleError("log key rotation new_key_sig does not verify with the new key")
            return new
        return None
