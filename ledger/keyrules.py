"""Which key may sign which entry, as the log itself establishes (SPEC §2.3).

Keys enter the log by `log.genesis` (the system key), `actor.key.registered` (signed by
system) and `actor.key.rotated` (signed by the old key, carrying a proof of possession of
the new one, which retires the old key). `log.key.rotated` changes the checkpoint key.
`actor.key.revoked` (system) revokes a key whose holder left or which leaked, `log.key.revoked`
replaces a compromised checkpoint key, and `witness.key.*` keep the witnesses' keys on the
log (§3 items 7-10). This state is a pure fold over the entries, so the audit and any verifier
can rebuild it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .canonical import canonical_bytes
from .entry import key_id_for
from .note import ALG_COSIGNATURE_V1, NoteError, NoteVerifier

SYSTEM_ACTOR = "system"
#: Every entry type that changes which key may sign what (entries, checkpoints, cosignatures).
KEY_TYPES = frozenset({"log.genesis", "actor.key.registered", "actor.key.rotated", "log.key.rotated",
                       "actor.key.revoked", "log.key.revoked", "witness.key.registered",
                       "witness.key.rotated", "witness.key.revoked"})
MAX_REASON = 200


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


def proof_of_possession_ok(payload: dict[str, Any], public_key: bytes, field_name: str = "new_key_sig",
                           exclude: tuple[str, ...] = ()) -> bool:
    body = {k: v for k, v in payload.items() if k != field_name and k not in exclude}
    try:
        VerifyKey(public_key).verify(canonical_bytes(body), base64.b64decode(payload[field_name], validate=True))
    except (BadSignatureError, ValueError, KeyError, TypeError):
        return False
    return True


def _reason(payload: dict[str, Any]) -> str:
    r = payload.get("reason")
    if type(r) is not str or not 1 <= len(r) <= MAX_REASON:
        raise KeyRuleError(f"reason must be a string of 1 to {MAX_REASON} characters")
    return r


def _witness_key(text: Any, name: Any) -> NoteVerifier:
    try:
        v = NoteVerifier.parse(str(text))
    except NoteError as exc:
        raise KeyRuleError(f"witness verifier key: {exc}") from None
    if v.alg != ALG_COSIGNATURE_V1 or v.name != name:
        raise KeyRuleError(f"a witness key must be a cosignature/v1 (0x04) key named {name!r}")
    return v


@dataclass
class KeyState:
    keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # key_id -> (actor, public key)
    retired: set[str] = field(default_factory=set)  # retired by a rotation, or revoked
    genesis_log_key: str | None = None
    revoked: dict[str, int] = field(default_factory=dict)  # key_id -> seq of its actor.key.revoked
    #: witness name -> its verifier key in force (absent once revoked)
    witnesses: dict[str, str] = field(default_factory=dict)
    #: every witness verifier key the log ever named -> (name, first seq in force, last seq in force or None)
    witness_keys: dict[str, tuple[str, int, int | None]] = field(default_factory=dict)
    log_key: str | None = None  # the checkpoint key in force
    revoked_log_keys: set[str] = field(default_factory=set)

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
        if key_id in self.revoked:
            raise KeyRuleError(f"key {key_id} of {actor_id!r} was revoked at seq {self.revoked[key_id]}")
        if key_id in self.retired:
            raise KeyRuleError(f"key {key_id} of {actor_id!r} was retired by a rotation")
        return key

    def apply(self, obj: dict[str, Any], seq: int) -> NoteVerifier | None:
        """Fold an entry's key changes in; returns a new log key if it rotates it."""
        kind, payload, actor = obj.get("type"), obj.get("payload", {}), obj.get("actor", {})
        if kind == "log.genesis":
            key = _b64key(payload.get("system_key"), "genesis system_key")
            self.keys[key_id_for(key)] = (SYSTEM_ACTOR, key)
            self.genesis_log_key = self.log_key = payload.get("log_key")
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
            if payload["new_key_id"] in self.revoked:
                raise KeyRuleError(f"rotation to key {payload['new_key_id']}, which was revoked")
            self.retired.add(payload["old_key_id"])
            self.keys[payload["new_key_id"]] = (payload["actor_id"], key)
        elif kind in ("log.key.rotated", "log.key.revoked"):
            if actor.get("id") != SYSTEM_ACTOR:
                raise KeyRuleError(f"{kind} must be signed by system")
            if kind == "log.key.revoked":
                _reason(payload)
            if self.log_key is not None and payload.get("old_log_key") != self.log_key:
                raise KeyRuleError("old_log_key is not the log key in force")
            try:
                new = NoteVerifier.parse(str(payload.get("new_log_key")))
            except NoteError as exc:
                raise KeyRuleError(f"new_log_key: {exc}") from None
            if new.encode() in self.revoked_log_keys:
                raise KeyRuleError("new_log_key was revoked")
            if not proof_of_possession_ok(payload, new.public_key):
                raise KeyRuleError("log key rotation new_key_sig does not verify with the new key")
            if kind == "log.key.revoked":
                self.revoked_log_keys.add(str(payload.get("old_log_key")))
            self.log_key = new.encode()
            return new
        elif kind == "actor.key.revoked":
            self._revoke(payload, actor, seq)
        elif kind.startswith("witness.key."):
            self._witness(kind, payload, actor, seq)
        return None

    def _revoke(self, payload: dict[str, Any], actor: dict[str, Any], seq: int) -> None:
        if actor.get("id") != SYSTEM_ACTOR:
            raise KeyRuleError("actor.key.revoked must be signed by system")
        if set(payload) != {"actor_id", "key_id", "reason"}:
            raise KeyRuleError("actor.key.revoked payload must be {actor_id, key_id, reason}")
        _reason(payload)
        key_id, actor_id = payload["key_id"], payload["actor_id"]
        if actor_id == SYSTEM_ACTOR:
            raise KeyRuleError("the system key is replaced by a rotation, never revoked")
        if key_id not in self.keys or self.keys[key_id][0] != actor_id:
            raise KeyRuleError(f"key {key_id!r} of {actor_id!r} is not registered on the log")
        if key_id in self.revoked:
            raise KeyRuleError(f"key {key_id} was revoked already at seq {self.revoked[key_id]}")
        self.revoked[key_id] = seq
        self.retired.add(key_id)

    def _witness(self, kind: str, payload: dict[str, Any], actor: dict[str, Any], seq: int) -> None:
        if actor.get("id") != SYSTEM_ACTOR:
            raise KeyRuleError(f"{kind} must be signed by system")
        name = payload.get("name")
        if type(name) is not str or not name:
            raise KeyRuleError("witness name must be a non-empty string")
        if kind == "witness.key.registered":
            if set(payload) != {"name", "verifier_key"}:
                raise KeyRuleError("witness.key.registered payload must be {name, verifier_key}")
            v = _witness_key(payload["verifier_key"], name).encode()
            if name in self.witnesses:
                raise KeyRuleError(f"witness {name!r} is registered already")
            if v in self.witness_keys:
                raise KeyRuleError("this witness key was on the log before: a key is registered once")
            self.witnesses[name] = v
            self.witness_keys[v] = (name, seq + 1, None)
        elif kind == "witness.key.rotated":
            fields = {"name", "old_verifier_key", "new_verifier_key", "old_key_sig", "new_key_sig"}
            if set(payload) != fields:
                raise KeyRuleError("witness.key.rotated payload must be {" + ", ".join(sorted(fields)) + "}")
            old = _witness_key(payload["old_verifier_key"], name)
            new = _witness_key(payload["new_verifier_key"], name)
            if self.witnesses.get(name) != old.encode():
                raise KeyRuleError(f"old_verifier_key is not the key in force of witness {name!r}")
            if new.encode() in self.witness_keys:
                raise KeyRuleError("the new witness key was on the log before")
            both = ("old_key_sig", "new_key_sig")
            if not proof_of_possession_ok(payload, old.public_key, "old_key_sig", both):
                raise KeyRuleError("old_key_sig does not verify with the old witness key")
            if not proof_of_possession_ok(payload, new.public_key, "new_key_sig", both):
                raise KeyRuleError("new_key_sig does not verify with the new witness key")
            first = self.witness_keys[old.encode()][1]
            self.witness_keys[old.encode()] = (name, first, seq)
            self.witnesses[name] = new.encode()
            self.witness_keys[new.encode()] = (name, seq + 1, None)
        elif kind == "witness.key.revoked":
            if set(payload) != {"name", "verifier_key", "reason"}:
                raise KeyRuleError("witness.key.revoked payload must be {name, verifier_key, reason}")
            _reason(payload)
            v = _witness_key(payload["verifier_key"], name).encode()
            if self.witnesses.get(name) != v:
                raise KeyRuleError(f"verifier_key is not the key in force of witness {name!r}")
            first = self.witness_keys[v][1]
            self.witness_keys[v] = (name, first, seq)
            del self.witnesses[name]
        else:
            raise KeyRuleError(f"unknown witness key entry {kind}")
