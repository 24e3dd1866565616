"""Key rotation as log entries (SPEC §2.3): the old key signs the entry, the new key
proves possession inside it, and from that entry on the verifier follows the new key."""

from __future__ import annotations

import base64
import json
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy import Connection, delete, insert, select, update

from .canonical import canonical_bytes
from .entry import Entry, key_id_for
from .keyrules import KEY_TYPES, MAX_REASON, SYSTEM_ACTOR, KeyRuleError, KeyState
from .keys import ActorSigner
from .note import ALG_COSIGNATURE_V1, NoteError, NoteSigner, NoteVerifier
from .schema import actor_keys, log_entries, witnesses
from .store import Ledger


def _possession(payload: dict, key: SigningKey) -> str:
    return base64.b64encode(key.sign(canonical_bytes(payload)).signature).decode()


def rotate_actor_key(ledger: Ledger, old: ActorSigner, new_key: SigningKey,
                     encrypted_new_key: bytes | None) -> tuple[Entry, ActorSigner]:
    new = ActorSigner(old.actor_id, new_key, old.sm2_private)  # an SM2 actor stays one (SPEC §3 item 11)
    payload = {"actor_id": old.actor_id, "old_key_id": old.key_id, "new_key_id": new.key_id,
               "new_public_key": base64.b64encode(new.public_key).decode()}
    payload["new_key_sig"] = _possession(payload, new_key)
    with ledger.transaction() as tx:
        entry = tx.append("actor.key.rotated", payload, old)
        tx.conn.execute(update(actor_keys).where(actor_keys.c.key_id == old.key_id).values(active=False))
        tx.conn.execute(insert(actor_keys).values(
            key_id=new.key_id, actor_id=old.actor_id, public_key=new.public_key,
            encrypted_private_key=encrypted_new_key, active=True, registered_seq=entry.seq))
    if old.actor_id == ledger.system.actor_id:
        ledger.system = new
    return entry, new


def rotate_log_key(ledger: Ledger, new_key: SigningKey, encrypted_new_key: bytes | None,
                   revoked_because: str | None = None) -> Entry:
    """Rotate the checkpoint key. Checkpoints covering this entry are signed by the new key.
    With `revoked_because`, the entry is `log.key.revoked` (the old key is declared compromised)."""
    new = NoteSigner(ledger.log_signer.name, new_key)
    old_pub = ledger.log_signer.verifier.public_key
    payload: dict[str, Any] = {"old_log_key": ledger.log_signer.verifier.encode(), "new_log_key": new.verifier.encode()}
    kind = "log.key.rotated"
    if revoked_because is not None:
        payload["reason"] = revoked_because
        kind = "log.key.revoked"
    payload["new_key_sig"] = _possession(payload, new_key)
    with ledger.transaction() as tx:
        entry = tx.append(kind, payload, ledger.system)
        tx.conn.execute(update(actor_keys).where(actor_keys.c.key_id == key_id_for(old_pub)).values(active=False))
        tx.conn.execute(insert(actor_keys).values(
            key_id=key_id_for(new.verifier.public_key), actor_id=f"log:{ledger.origin}",
            public_key=new.verifier.public_key, encrypted_private_key=encrypted_new_key, active=True,
            registered_seq=entry.seq))
        ledger.log_signer = new
    ledger.checkpoint()
    return entry


class KeyLifecycleError(ValueError):
    """A key operation the log's rules refuse (nothing is appended)."""


def key_state(conn: Connection) -> KeyState:
    """The key state as the log itself establishes it: a fold over its key entries (SPEC §3).

    Only the entries the `type` column marks are read (an indexed lookup); the fold checks
    each one's payload rules as the audit does, so a row the column mislabels raises here."""
    state = KeyState()
    rows = conn.execute(select(log_entries.c.seq, log_entries.c.leaf)
                        .where(log_entries.c.type.in_(sorted(KEY_TYPES))).order_by(log_entries.c.seq))
    for seq, leaf in rows:
        state.apply(json.loads(bytes(leaf)), seq)
    return state




def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_REASON:
        raise KeyLifecycleError(f"the reason must be 1 to {MAX_REASON} characters")
    return reason


def revoke_actor_key(ledger: Ledger, actor_id: str, key_id: str, reason: str) -> Entry:
    """`actor.key.revoked` (SPEC §3 item 7), signed by system: from the next entry on, no entry, client
    record or rotation signed by that key is valid, and this service signs nothing with it."""
    reason = _check_reason(reason)
    if actor_id == SYSTEM_ACTOR:
        raise KeyLifecycleError("the system key cannot be revoked: rotate it (`drawsvc key rotate --system`)")
    with ledger.transaction() as tx:
        state = key_state(tx.conn)
        owner = state.keys.get(key_id)
        if owner is None or owner[0] != actor_id:
            raise KeyLifecycleError(f"key {key_id!r} of {actor_id!r} is not registered on the log")
        if key_id in state.revoked:
            raise KeyLifecycleError(f"key {key_id} was revoked already (seq {state.revoked[key_id]})")
        entry = tx.append("actor.key.revoked", {"actor_id": actor_id, "key_id": key_id, "reason": reason},
                          ledger.system)
        tx.conn.execute(update(actor_keys).where(actor_keys.c.key_id == key_id).values(active=False))
    ledger.forget_revoked(key_id, entry.seq)
    return entry


def revoke_log_key(ledger: Ledger, new_key: SigningKey, encrypted_new_key: bytes | None, reason: str) -> Entry:
    """`log.key.revoked` (SPEC §3 item 8): replace a compromised checkpoint key. Like a rotation, and
    a verifier refuses the old key's signature on any checkpoint beyond this entry by name."""
    reason = _check_reason(reason)
    return rotate_log_key(ledger, new_key, encrypted_new_key, revoked_because=reason)


def _witness_row(conn: Connection, name: str) -> Any:
    return conn.execute(select(witnesses).where(witnesses.c.name == name)).first()


def _adopt_unlogged(tx: Any, state: KeyState, name: str) -> None:
    """A witness registered before witness keys were logged (a bare table row): log its
    `witness.key.registered` first, in the same transaction, so that its rotation or
    revocation has a key in force to act on and verifiers can follow it."""
    row = _witness_row(tx.conn, name)
    if row is None or name in state.witnesses or row.verifier_key in state.witness_keys:
        return
    payload = {"name": name, "verifier_key": row.verifier_key}
    entry = tx.append("witness.key.registered", payload, tx.ledger.system)
    state.apply({"type": "witness.key.registered", "payload": payload, "actor": {"id": SYSTEM_ACTOR}}, entry.seq)


def register_witness(ledger: Ledger, verifier_key: str) -> Entry:
    """`witness.key.registered` (SPEC §3 item 9), signed by system, and the row the cosignature API reads."""
    try:
        v = NoteVerifier.parse(verifier_key)
    except NoteError as exc:
        raise KeyLifecycleError(f"witness verifier key: {exc}") from None
    if v.alg != ALG_COSIGNATURE_V1:
        raise KeyLifecycleError("a witness key must be a cosignature/v1 (0x04) verifier key")
    with ledger.transaction() as tx:
        state = key_state(tx.conn)
        if v.name in state.witnesses or _witness_row(tx.conn, v.name) is not None:
            raise KeyLifecycleError(f"witness {v.name!r} is registered already")
        if v.encode() in state.witness_keys:
            raise KeyLifecycleError("this witness key was on the log before: register a fresh key")
        entry = tx.append("witness.key.registered", {"name": v.name, "verifier_key": v.encode()}, ledger.system)
        tx.conn.execute(insert(witnesses).values(name=v.name, verifier_key=v.encode()))
    return entry


def witness_rotation_statement(name: str, old_key: SigningKey, new_key: SigningKey) -> dict[str, str]:
    """What a witness hands the operator to rotate its key (SPEC §3 item 9): both keys sign
    JCS({name, old_verifier_key, new_verifier_key}), so the operator cannot swap a witness's
    key for one of its own."""
    body = {"name": name,
            "old_verifier_key": NoteVerifier(name, bytes(old_key.verify_key), ALG_COSIGNATURE_V1).encode(),
            "new_verifier_key": NoteVerifier(name, bytes(new_key.verify_key), ALG_COSIGNATURE_V1).encode()}
    return {**body, "old_key_sig": _possession(body, old_key), "new_key_sig": _possession(body, new_key)}


def rotate_witness(ledger: Ledger, statement: dict[str, Any]) -> Entry:
    """`witness.key.rotated` from the witness's statement; cosignatures are then accepted only
    under the new key."""
    fields = {"name", "old_verifier_key", "new_verifier_key", "old_key_sig", "new_key_sig"}
    if type(statement) is not dict or set(statement) != fields or not all(type(v) is str for v in statement.values()):
        raise KeyLifecycleError("the statement must be a JSON object of strings {" + ", ".join(sorted(fields)) + "}")
    with ledger.transaction() as tx:
        state = key_state(tx.conn)
        _adopt_unlogged(tx, state, statement["name"])
        probe = KeyState(witnesses=dict(state.witnesses), witness_keys=dict(state.witness_keys))
        try:
            probe.apply({"type": "witness.key.rotated", "payload": statement, "actor": {"id": SYSTEM_ACTOR}},
                        tx.size)
        except KeyRuleError as exc:
            raise KeyLifecycleError(str(exc)) from None
        entry = tx.append("witness.key.rotated", dict(statement), ledger.system)
        tx.conn.execute(update(witnesses).where(witnesses.c.name == statement["name"])
                        .values(verifier_key=statement["new_verifier_key"]))
    return entry


def revoke_witness(ledger: Ledger, name: str, reason: str) -> Entry:
    """`witness.key.revoked`: the witness's key in force no longer counts, whatever time its
    later cosignatures claim; the cosignature API stops accepting them."""
    reason = _check_reason(reason)
    with ledger.transaction() as tx:
        state = key_state(tx.conn)
        _adopt_unlogged(tx, state, name)
        key = state.witnesses.get(name)
        if key is None:
            raise KeyLifecycleError(f"witness {name!r} has no key in force on the log")
        entry = tx.append("witness.key.revoked", {"name": name, "verifier_key": key, "reason": reason},
                          ledger.system)
        tx.conn.execute(delete(witnesses).where(witnesses.c.name == name))
    return entry


def _sm2_log_keys(conn: Connection, logs: dict[str, dict[str, Any]]) -> None:
    """The 国密 checkpoint keys (SPEC §3 item 6, §5.1) beside the Ed25519 ones: each valid
    `log.sm2_key.registered` brings a key in and retires the one before it."""
    from . import sm2

    prev: dict[str, Any] | None = None
    for frm, v in sm2.required_keys(conn):
        seq = frm - 1
        when = conn.execute(select(log_entries.c.time).where(log_entries.c.seq == seq)).scalar_one()
        rec = logs.setdefault(v.encode(), {"verifier_key": v.encode(), "algorithm": "sm2", "status": "in_force",
                                           "events": []})
        if prev is not None:
            prev["events"].append({"event": "rotated_out", "seq": seq, "time": when})
            prev["status"] = "retired"
        rec["events"].append({"event": "rotated_in" if prev is not None else "registered", "seq": seq, "time": when})
        prev = rec


def _sm2_actor_keys(conn: Connection, actors: dict[str, dict[str, Any]]) -> None:
    """Actors' SM2 entry keys (SPEC §3 item 11): each valid `actor.sm2_key.registered` brings a key
    in and retires the actor's SM2 key before it (the page shows them beside the Ed25519 keys)."""
    from . import sm2

    current: dict[str, dict[str, Any]] = {}
    rows = conn.execute(select(log_entries.c.seq, log_entries.c.leaf, log_entries.c.time)
                        .where(log_entries.c.type == sm2.ACTOR_ENTRY_TYPE).order_by(log_entries.c.seq))
    for seq, leaf, when in rows:
        p = json.loads(bytes(leaf)).get("payload", {})
        try:
            point = base64.b64decode(str(p.get("sm2_public_key")), validate=True)
            sig = base64.b64decode(str(p.get("key_sig")), validate=True)
        except ValueError:
            continue
        if set(p) != {"actor_id", "sm2_public_key", "key_sig"} or not sm2.verify(point, canonical_bytes(
                {"actor_id": p["actor_id"], "sm2_public_key": p["sm2_public_key"]}), sig):
            continue
        kid = key_id_for(point)
        prev = current.get(p["actor_id"])
        if prev is not None:
            prev["events"].append({"event": "rotated_out", "seq": seq, "time": when, "successor": kid})
            prev["status"] = "retired"
        rec = actors.setdefault("sm2:" + kid, {"actor_id": p["actor_id"], "key_id": kid, "public_key":
                                               p["sm2_public_key"], "algorithm": "sm2", "status": "in_force",
                                               "events": []})
        rec["events"].append({"event": "registered" if prev is None else "rotated_in", "seq": seq, "time": when,
                              **({"predecessor": prev["key_id"]} if prev is not None else {})})
        current[p["actor_id"]] = rec


def key_history(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every actor, witness and log key the log names, with its history (SPEC §3): for each key,
    its status now (`in_force`, `retired`, `revoked`) and its events — `registered`, `rotated_in`,
    `rotated_out`, `revoked` — each with the entry's seq and time (and the reason of a revocation).

    Read from the log's own key entries (the indexed `type` column), so the page and the API
    show exactly what a verifier following the log from genesis would. Entries the key rules
    refuse are left out, as a verifier leaves them out."""
    state = KeyState()
    actors: dict[str, dict[str, Any]] = {}
    wits: dict[str, dict[str, Any]] = {}
    logs: dict[str, dict[str, Any]] = {}

    def key(table: dict[str, dict[str, Any]], ident: str, **fields: Any) -> dict[str, Any]:
        return table.setdefault(ident, {**fields, "status": "in_force", "events": []})

    rows = conn.execute(select(log_entries.c.seq, log_entries.c.leaf)
                        .where(log_entries.c.type.in_(sorted(KEY_TYPES))).order_by(log_entries.c.seq))
    for seq, leaf in rows:
        obj = json.loads(bytes(leaf))
        try:
            if seq:
                state.resolve(obj)
            state.apply(obj, seq)
        except (KeyRuleError, ValueError, KeyError, TypeError, AttributeError):
            continue
        kind, p, when = obj["type"], obj["payload"], obj["time"]

        def ev(rec: dict[str, Any], what: str, status: str | None = None, **extra: Any) -> None:
            rec["events"].append({"event": what, "seq": seq, "time": when, **extra})  # noqa: B023
            if status:
                rec["status"] = status

        if kind == "log.genesis":
            kid = key_id_for(base64.b64decode(p["system_key"]))
            ev(key(actors, kid, actor_id=SYSTEM_ACTOR, key_id=kid, public_key=p["system_key"]), "registered")
            ev(key(logs, p["log_key"], verifier_key=p["log_key"], algorithm="ed25519"), "registered")
        elif kind == "actor.key.registered":
            ev(key(actors, p["key_id"], actor_id=p["actor_id"], key_id=p["key_id"], public_key=p["public_key"]),
               "registered")
        elif kind == "actor.key.rotated":
            if p["old_key_id"] in actors:
                ev(actors[p["old_key_id"]], "rotated_out", "retired", successor=p["new_key_id"])
            ev(key(actors, p["new_key_id"], actor_id=p["actor_id"], key_id=p["new_key_id"],
                   public_key=p["new_public_key"]), "rotated_in", predecessor=p["old_key_id"])
        elif kind == "actor.key.revoked":
            ev(actors[p["key_id"]], "revoked", "revoked", reason=p["reason"])
        elif kind in ("log.key.rotated", "log.key.revoked"):
            old = key(logs, p["old_log_key"], verifier_key=p["old_log_key"], algorithm="ed25519")
            if kind == "log.key.revoked":
                ev(old, "revoked", "revoked", reason=p["reason"])
            else:
                ev(old, "rotated_out", "retired")
            ev(key(logs, p["new_log_key"], verifier_key=p["new_log_key"], algorithm="ed25519"), "rotated_in")
        elif kind == "witness.key.registered":
            ev(key(wits, p["verifier_key"], name=p["name"], verifier_key=p["verifier_key"]), "registered")
        elif kind == "witness.key.rotated":
            ev(wits[p["old_verifier_key"]], "rotated_out", "retired")
            ev(key(wits, p["new_verifier_key"], name=p["name"], verifier_key=p["new_verifier_key"]), "rotated_in")
        elif kind == "witness.key.revoked":
            ev(wits[p["verifier_key"]], "revoked", "revoked", reason=p["reason"])
    for rec in actors.values():
        rec.setdefault("algorithm", "ed25519")
    _sm2_actor_keys(conn, actors)
    _sm2_log_keys(conn, logs)
    return {"actors": list(actors.values()), "witnesses": list(wits.values()), "log": list(logs.values())}
