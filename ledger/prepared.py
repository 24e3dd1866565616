"""Entries prepared before the append lock (SPEC §2 byte form, built in two steps).

Only seq, prev and time depend on the entry's place in the log. Everything else of the
canonical entry — the actor, key id, payload and type, already in JCS form — is built
here by the submitting thread, outside the lock, as two byte strings around the
position-dependent members. Inside the lock `PreparedEntry.sign` joins them, signs and
hashes. The bytes are exactly those `entry.make_entry` produces (a test checks it).

JCS sorts the members: actor, payload, prev, seq, [sig,] time, type, v. prev is 64 hex
digits and time is digits and `-:.TZ`, so neither needs escaping.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

from .entry import (
    ENTRY_VERSION,
    MAX_ENTRY_BYTES,
    Entry,
    EntryTooLarge,
    check_type,
    encode_payload,
    key_id_for,
)
from .keys import ActorSigner

_sha256 = hashlib.sha256
_b64 = base64.b64encode
_json_str = json.encoder.encode_basestring  # type: ignore[attr-defined]  # JSON string, non-ASCII kept (as JCS)


@dataclass(slots=True)
class PreparedEntry:
    entry_type: str
    payload: dict[str, Any]
    actor_id: str
    key_id: str
    secret: bytes  # libsodium's 64-byte secret key (seed || public key): no per-signature expansion
    head: bytes  # {"actor":{...},"payload":...,"prev":"
    tail: bytes  # ,"type":"...","v":1}

    def sign(self, seq: int, prev: str, time: str) -> Entry:
        """The signed entry at `seq` after `prev`, appended at `time` (formatted). Raises
        EntryTooLarge when the whole entry exceeds the limit."""
        mid = f'{prev}","seq":{seq},'.encode()
        when = f'"time":"{time}"'.encode()
        sig = _b64(crypto_sign(self.head + mid + when + self.tail, self.secret)[:64])
        leaf = self.head + mid + b'"sig":"' + sig + b'",' + when + self.tail
        if len(leaf) > MAX_ENTRY_BYTES:
            raise EntryTooLarge(len(leaf))
        entry = Entry(seq, time, self.entry_type, self.actor_id, self.key_id, self.payload, prev, sig.decode())
        d = entry.__dict__  # the cached_properties, filled in: this is the entry's canonical form
        d["_simple"] = True
        d["_leaf"] = leaf
        d["_leaf_hash"] = _sha256(b"\x00" + leaf).digest()
        return entry


def prepare(entry_type: str, payload: dict[str, Any], signer: ActorSigner) -> PreparedEntry | None:
    """Build the position-independent parts; None when only `make_entry` can encode the
    payload (floats, big integers, ...) or the signer's entries carry an SM2 signature too. Raises EntryError for a malformed type."""
    check_type(entry_type)
    if signer.sm2_private is not None:  # two signatures (SPEC §3 item 11): make_entry signs both
        return None
    payload_json = encode_payload(payload)
    if payload_json is None:
        return None
    key = signer.signing_key
    public = bytes(key.verify_key)
    # libsodium's secret key: PyNaCl keeps it (SigningKey.sign passes the same bytes); derive
    # it from the seed only if that ever changes.
    secret = getattr(key, "_signing_key", b"")
    if len(secret) != 64 or secret[32:] != public:
        secret = crypto_sign_seed_keypair(bytes(key))[1]
    key_id = key_id_for(public)
    head = (f'{{"actor":{{"id":{_json_str(signer.actor_id)},"key_id":{_json_str(key_id)}}},'
            f'"payload":{payload_json},"prev":"').encode()
    tail = f',"type":{_json_str(entry_type)},"v":{ENTRY_VERSION}}}'.encode()
    return PreparedEntry(entry_type, payload, signer.actor_id, key_id, secret, head, tail)
