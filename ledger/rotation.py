"""Key rotation as log entries (SPEC §2.3): the old key signs the entry, the new key
proves possession inside it, and from that entry on the verifier follows the new key."""

from __future__ import annotations

import base64

from nacl.signing import SigningKey
from sqlalchemy import insert, update

from .canonical import canonical_bytes
from .entry import Entry, key_id_for
from .keys import ActorSigner
from .note import NoteSigner
from .schema import actor_keys
from .store import Ledger


def _possession(payload: dict, key: SigningKey) -> str:
    return base64.b64encode(key.sign(canonical_bytes(payload)).signature).decode()


def rotate_actor_key(ledger: Ledger, old: ActorSigner, new_key: SigningKey,
                     encrypted_new_key: bytes | None) -> tuple[Entry, ActorSigner]:
    new = ActorSigner(old.actor_id, new_key)
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


def rotate_log_key(ledger: Ledger, new_key: SigningKey, encrypted_new_key: bytes | None) -> Entry:
    """Rotate the checkpoint key. Checkpoints covering this entry are signed by the new key."""
    new = NoteSigner(ledger.log_signer.name, new_key)
    old_pub = ledger.log_signer.verifier.public_key
    payload = {"old_log_key": ledger.log_signer.verifier.encode(), "new_log_key": new.verifier.encode()}
    payload["new_key_sig"] = _possession(payload, new_key)
    with ledger.transaction() as tx:
        entry = tx.append("log.key.rotated", payload, ledger.system)
        tx.conn.execute(update(actor_keys).where(actor_keys.c.key_id == key_id_for(old_pub)).values(active=False))
        tx.conn.execute(insert(actor_keys).values(
            key_id=key_id_for(new.verifier.public_key), actor_id=f"log:{ledger.origin}",
            public_key=new.verifier.public_key, encrypted_private_key=encrypted_new_key, active=True,
            registered_seq=entry.seq))
        ledger.log_signer = new
    ledger.checkpoint()
    return entry
