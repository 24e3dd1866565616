"""The log's 国密 line: an SM2 signature (GB/T 32918, recommended curve; SM3 digest, GB/T
32905) over every checkpoint, beside the Ed25519 one (docs/SPEC.md §5.1).

Why a second line: a Chinese government system is assessed (密评, GB/T 39786-2021) on SM2/SM3,
while C2SP clients and witnesses speak Ed25519. A signed note may carry any number of lines;
clients ignore a line whose key they do not know, so the SM2 line (signature type 0xff, which
signed-note keeps for types it assigns no byte to) rides along without breaking them, and our
verifiers check it.

Byte layout (SPEC §5.1):
    public key blob  = 0xff || "GB/T32918-SM2-SM3" || 0x04 || X[32] || Y[32]   (83 bytes)
    key hash         = SHA-256(name || 0x0A || public key blob)[:4]
    verifier key     = <name>+<hex key hash>+<base64(public key blob)>
    signature line   = "— <name> " base64(key hash || r[32] || s[32])
    signed message   = the note text; e = SM3(Z_A || text), Z_A with user id "1234567812345678"

SM2 and SM3 come from snowland-smx (`pysmx`); see docs/GUOMI.md for why that library.
The key is registered on the log by a `log.sm2_key.registered` entry (SPEC §3.6); from the
checkpoint that covers that entry on, every checkpoint must carry the line.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pysmx.SM2 import Sign, Verify
from pysmx.SM2._SM2 import get_random_str, kG, sm2_G, sm2_N
from sqlalchemy import func, insert, select

from .canonical import canonical_bytes
from .entry import Entry, key_id_for
from .schema import actor_keys

ALG_SM2 = 0xFF
#: C2SP signed-note: 0xff is "reserved for signature types without an identifier byte assigned
#: by this specification", RECOMMENDED to be followed by a longer identifier unlikely to collide.
SM2_TAG = b"GB/T32918-SM2-SM3"
#: GB/T 35276-2017 §10: the default user identity when none is agreed (ENTL = 128 bits).
DEFAULT_USER_ID = b"1234567812345678"
ENTRY_TYPE = "log.sm2_key.registered"
EM_DASH = "\u2014"
_KEY_MAGIC = b"spotcheck-sm2-key/1\n"  # encrypted private key file format, below


class Sm2Error(ValueError):
    """An SM2 key or signature is malformed, or a signature does not verify."""


def sm2_actor(origin: str) -> str:
    """The key store's actor id of the log's SM2 key (never signs entries)."""
    return f"log-sm2:{origin}"


def public_key_of(private: bytes) -> bytes:
    """SEC1 uncompressed point 0x04 || X || Y of the private scalar d."""
    d = int.from_bytes(private, "big")
    if len(private) != 32 or not 1 <= d < sm2_N - 1:
        raise Sm2Error("SM2 private key must be a 32-byte scalar in [1, n-2]")
    return b"\x04" + bytes.fromhex(kG(d, sm2_G, 64))


def generate_private_key() -> bytes:
    """A fresh private scalar from the OS's CSPRNG (pysmx draws it with `secrets`)."""
    while True:
        d = bytes.fromhex(get_random_str(64))
        if 1 <= int.from_bytes(d, "big") < sm2_N - 1:
            return d


def sign(private: bytes, message: bytes, user_id: bytes = DEFAULT_USER_ID, *, k: bytes | None = None) -> bytes:
    """SM2 signature r || s (32 bytes each, big-endian) over e = SM3(Z_A || message).

    `k` (the per-signature secret) is fresh from the CSPRNG unless given: only the vector
    generator gives it, so that docs/vectors/sm2-v1.json is reproducible."""
    if len(private) != 32 or not 1 <= int.from_bytes(private, "big") < sm2_N - 1:
        raise Sm2Error("SM2 private key must be a 32-byte scalar in [1, n-2]")
    nonce = k.hex() if k is not None else get_random_str(64)
    sig = Sign(message, private.hex(), nonce, 64, uid=user_id)
    if len(sig) != 64:
        raise Sm2Error("SM2 signing failed")
    return sig


def verify(public_key: bytes, message: bytes, signature: bytes, user_id: bytes = DEFAULT_USER_ID) -> bool:
    """GB/T 32918.2 §7: r, s in [1, n-1], then the library's check (which skips those ranges)."""
    if len(public_key) != 65 or public_key[0] != 4 or len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < sm2_N and 1 <= s < sm2_N):
        return False
    try:
        return bool(Verify(signature, message, public_key[1:].hex(), 64, uid=user_id))
    except (ValueError, ZeroDivisionError, TypeError):
        return False


def key_blob(public_key: bytes) -> bytes:
    return bytes([ALG_SM2]) + SM2_TAG + public_key


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + key_blob(public_key)).digest()[:4]


@dataclass(frozen=True)
class Sm2Verifier:
    """The SM2 verifier key of a signed-note signer."""

    name: str
    public_key: bytes  # 0x04 || X || Y

    @property
    def hash(self) -> bytes:
        return key_hash(self.name, self.public_key)

    def encode(self) -> str:
        return f"{self.name}+{self.hash.hex()}+{base64.b64encode(key_blob(self.public_key)).decode()}"

    @classmethod
    def parse(cls, text: str) -> Sm2Verifier:
        try:
            name, hash_hex, blob_b64 = text.strip().split("+", 2)
            blob = base64.b64decode(blob_b64, validate=True)
            claimed = bytes.fromhex(hash_hex)
        except ValueError:
            raise Sm2Error(f"SM2 verifier key {text!r} is not <name>+<hash>+<key>") from None
        if not name or any(c.isspace() for c in name):
            raise Sm2Error("SM2 verifier key has a bad name")
        head = bytes([ALG_SM2]) + SM2_TAG
        if len(blob) != len(head) + 65 or not blob.startswith(head) or blob[len(head)] != 4:
            raise Sm2Error(f"SM2 verifier key must be 0xff || {SM2_TAG.decode()!r} || 0x04 || X || Y")
        verifier = cls(name, blob[len(head):])
        if verifier.hash != claimed:
            raise Sm2Error("SM2 verifier key hash does not match the key")
        return verifier


@dataclass(frozen=True)
class Sm2NoteSigner:
    """Signs a note with SM2; `signature_line` makes it usable wherever a NoteSigner is."""

    name: str
    private_key: bytes

    @cached_property
    def verifier(self) -> Sm2Verifier:
        """Computed once: a point multiplication costs as much as a signature."""
        return Sm2Verifier(self.name, public_key_of(self.private_key))

    def signature_line(self, text: str, *, k: bytes | None = None) -> str:
        value = self.verifier.hash + sign(self.private_key, text.encode(), k=k)
        return f"{EM_DASH} {self.name} {base64.b64encode(value).decode()}\n"


def verify_note_sm2(note: str, verifier: Sm2Verifier) -> bool | None:
    """None if no line carries the key's name and hash; else whether every such line verifies."""
    text, sep, sigs = note.rpartition("\n\n")
    if not sep:
        return None
    text += "\n"
    found = None
    for line in sigs.rstrip("\n").split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or parts[1] != verifier.name:
            continue
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except ValueError:
            continue
        if raw[:4] != verifier.hash:
            continue
        ok = len(raw) == 68 and verify(verifier.public_key, text.encode(), raw[4:])
        found = ok if found is None else (found and ok)
    return found


# --- the private key in the instance's key store -------------------------------------


def encrypt_private_key(private: bytes, passphrase: bytes) -> bytes:
    """scrypt(N=2^15, r=8, p=1) → AES-256-GCM; `cryptography` cannot write SM2 PKCS#8."""
    if not passphrase:
        raise Sm2Error("refusing to store a private key without a passphrase")
    salt, nonce = os.urandom(16), os.urandom(12)
    kek = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase)
    return _KEY_MAGIC + salt + nonce + AESGCM(kek).encrypt(nonce, private, _KEY_MAGIC)


def decrypt_private_key(blob: bytes, passphrase: bytes) -> bytes:
    if not blob.startswith(_KEY_MAGIC) or len(blob) != len(_KEY_MAGIC) + 16 + 12 + 32 + 16:
        raise Sm2Error("stored SM2 private key is damaged")
    body = blob[len(_KEY_MAGIC):]
    kek = Scrypt(salt=body[:16], length=32, n=2**15, r=8, p=1).derive(passphrase)
    try:
        private = AESGCM(kek).decrypt(body[16:28], body[28:], _KEY_MAGIC)
    except InvalidTag:
        raise Sm2Error("SM2 private key cannot be decrypted: wrong passphrase or damaged key") from None
    public_key_of(private)  # range check
    return private


# --- on the log -----------------------------------------------------------------------


def registration_payload(verifier: Sm2Verifier, private: bytes, *, k: bytes | None = None) -> dict[str, Any]:
    """`{"sm2_log_key", "key_sig"}`: key_sig = base64 SM2 (r||s) by the new key over
    JCS(payload without key_sig) — proof of possession, SPEC §3.6."""
    payload: dict[str, Any] = {"sm2_log_key": verifier.encode()}
    payload["key_sig"] = base64.b64encode(sign(private, canonical_bytes(payload), k=k)).decode()
    return payload


def register_log_sm2_key(ledger: Any, private: bytes, encrypted: bytes | None) -> Entry:
    """Log `log.sm2_key.registered` (actor system), keep the key, and sign with it from now on:
    the checkpoint covering this entry is the first that must carry the SM2 line."""
    signer = Sm2NoteSigner(ledger.origin, private)
    pub = signer.verifier.public_key
    payload = registration_payload(signer.verifier, private)
    previous = list(ledger.note_signers)
    ledger.note_signers = [s for s in previous if not isinstance(s, Sm2NoteSigner)] + [signer]
    try:
        with ledger.transaction() as tx:
            entry = tx.append(ENTRY_TYPE, payload, ledger.system)
            tx.conn.execute(actor_keys.update().where(actor_keys.c.actor_id == sm2_actor(ledger.origin))
                            .values(active=False))
            tx.conn.execute(insert(actor_keys).values(
                key_id=key_id_for(pub), actor_id=sm2_actor(ledger.origin), public_key=pub,
                encrypted_private_key=encrypted, active=True, registered_seq=entry.seq))
    except BaseException:
        ledger.note_signers = previous
        raise
    ledger.checkpoint()
    return entry


def load_log_signer(engine: Any, origin: str, passphrase: bytes) -> Sm2NoteSigner | None:
    """The log's active SM2 signer from the key store, or None for a log that has none."""
    with engine.connect() as conn:
        row = conn.execute(select(actor_keys.c.encrypted_private_key).where(
            actor_keys.c.actor_id == sm2_actor(origin), actor_keys.c.active.is_(True))).first()
    if row is None or row.encrypted_private_key is None:
        return None
    return Sm2NoteSigner(origin, decrypt_private_key(row.encrypted_private_key, passphrase))


def required_keys(conn: Any) -> list[tuple[int, Sm2Verifier]]:
    """(in force from tree size, key) of each valid `log.sm2_key.registered` on the log, in order
    (the audit's reading of SPEC §3.6; the entries' own signatures are the audit's other checks)."""
    import json

    from .schema import log_entries

    out: list[tuple[int, Sm2Verifier]] = []
    rows = conn.execute(select(log_entries.c.seq, log_entries.c.leaf).where(log_entries.c.type == ENTRY_TYPE)
                        .order_by(log_entries.c.seq))
    for row in rows:
        payload = json.loads(row.leaf).get("payload", {})
        try:
            v = Sm2Verifier.parse(str(payload.get("sm2_log_key")))
            sig = base64.b64decode(str(payload.get("key_sig")), validate=True)
        except (Sm2Error, ValueError):
            continue
        if set(payload) == {"sm2_log_key", "key_sig"} and verify(
                v.public_key, canonical_bytes({"sm2_log_key": payload["sm2_log_key"]}), sig):
            out.append((row.seq + 1, v))
    return out


def audit_lines(conn: Any, checkpoint_rows: list[Any]) -> list[tuple[str, int, str]]:
    """(where, size, problem) for each stored checkpoint that lacks, or carries a bad, SM2 line
    the log requires of it."""
    keys = required_keys(conn)
    problems = []
    for row in checkpoint_rows:
        key = None
        for since, k in keys:
            if since <= row.size:
                key = k
        if key is None:
            continue
        ok = verify_note_sm2(row.note, key)
        if not ok:
            problems.append((f"checkpoint {row.size}", row.size, "no SM2 (国密) line by the log's SM2 key"
                             if ok is None else "the SM2 (国密) line does not verify"))
    return problems


# --- actors' SM2 keys (SPEC §3 item 11) ------------------------------------------------

ACTOR_ENTRY_TYPE = "actor.sm2_key.registered"


def actor_store_id(actor_id: str) -> str:
    """The key store's actor id of an actor's SM2 key (the log names the actor itself)."""
    return f"sm2:{actor_id}"


def actor_registration_payload(actor_id: str, private: bytes, *, k: bytes | None = None) -> dict[str, Any]:
    """`{"actor_id", "sm2_public_key", "key_sig"}`: key_sig = base64 SM2 (r || s) by the new key
    over JCS({"actor_id", "sm2_public_key"}) — proof of possession, SPEC §3 item 11."""
    payload: dict[str, Any] = {"actor_id": actor_id,
                               "sm2_public_key": base64.b64encode(public_key_of(private)).decode()}
    payload["key_sig"] = base64.b64encode(sign(private, canonical_bytes(payload), k=k)).decode()
    return payload


def register_actor_sm2_key(ledger: Any, actor_id: str, private: bytes, encrypted: bytes | None) -> Entry:
    """Log `actor.sm2_key.registered` (actor system) and keep the key: from the next entry on,
    every entry by `actor_id` carries `sm2_sig` beside `sig`, and the service signs none without
    it. A later registration replaces the key. The actor must hold an Ed25519 key in force: the
    SM2 signature is a second signature, never the only one."""
    from .rotation import KeyLifecycleError, key_state  # rotation imports the store, which imports this module

    if actor_id == ledger.system.actor_id or not actor_id or actor_id.startswith(("log:", "log-sm2:", "sm2:")):
        raise KeyLifecycleError(f"{actor_id!r} cannot hold an SM2 entry key (only user: and client: actors sign entries)")
    pub = public_key_of(private)
    payload = actor_registration_payload(actor_id, private)
    with ledger.transaction() as tx:
        state = key_state(tx.conn)
        if not any(owner == actor_id and kid not in state.revoked and kid not in state.retired
                   for kid, (owner, _pk) in state.keys.items()):
            raise KeyLifecycleError(f"{actor_id} has no Ed25519 key in force on the log: issue one first")
        entry = tx.append(ACTOR_ENTRY_TYPE, payload, ledger.system)
        tx.conn.execute(actor_keys.update().where(actor_keys.c.actor_id == actor_store_id(actor_id))
                        .values(active=False))
        tx.conn.execute(actor_keys.delete().where(actor_keys.c.key_id == key_id_for(pub)))
        tx.conn.execute(insert(actor_keys).values(
            key_id=key_id_for(pub), actor_id=actor_store_id(actor_id), public_key=pub,
            encrypted_private_key=encrypted, active=True, registered_seq=entry.seq))
        tx.sm2_registered(actor_id, entry.seq, pub)
    return entry


def load_actor_private(conn: Any, actor_id: str, passphrase: bytes) -> bytes | None:
    """The actor's SM2 private key in force from the key store, or None if it holds none."""
    row = conn.execute(select(actor_keys.c.encrypted_private_key).where(
        actor_keys.c.actor_id == actor_store_id(actor_id), actor_keys.c.active.is_(True))).first()
    if row is None or row.encrypted_private_key is None:
        return None
    return decrypt_private_key(row.encrypted_private_key, passphrase)


def audit_entries(conn: Any) -> list[tuple[str, int, str]]:
    """(where, seq, problem) for each entry by an actor holding an SM2 key (SPEC §3 item 11) whose
    `sm2_sig` is missing or does not verify, and each registration without proof of possession.
    Reads only the registrations and the SM2 actors' own entries (the actor column is indexed)."""
    import json

    from .schema import log_entries

    problems: list[tuple[str, int, str]] = []
    spans: dict[str, list[tuple[int, bytes]]] = {}
    for row in conn.execute(select(log_entries.c.seq, log_entries.c.leaf)
                            .where(log_entries.c.type == ACTOR_ENTRY_TYPE).order_by(log_entries.c.seq)):
        p = json.loads(bytes(row.leaf)).get("payload", {})
        try:
            point = base64.b64decode(str(p.get("sm2_public_key")), validate=True)
            sig = base64.b64decode(str(p.get("key_sig")), validate=True)
            ok = set(p) == {"actor_id", "sm2_public_key", "key_sig"} and verify(point, canonical_bytes(
                {"actor_id": p["actor_id"], "sm2_public_key": p["sm2_public_key"]}), sig)
        except ValueError:
            ok = False
        if not ok:
            problems.append((f"entry {row.seq}", row.seq, "actor.sm2_key.registered without a valid SM2 proof of "
                             "possession"))
            continue
        spans.setdefault(p["actor_id"], []).append((row.seq, point))
    # an sm2_sig by an actor holding no SM2 key at that entry (none registered before it): the
    # verifiers refuse it (ENTRY_SM2_SIGNATURE_INVALID), so the audit must too. The engine finds
    # the few leaves holding the byte string (a payload may hold a member of that name too: parsed).
    member = b'"sm2_sig":"'
    holds = (func.instr(log_entries.c.leaf, member) > 0 if conn.dialect.name == "sqlite"  # LIKE fails on a blob
             else log_entries.c.leaf.contains(member))  # PostgreSQL: bytea LIKE bytea
    for row in conn.execute(select(log_entries.c.seq, log_entries.c.actor_id, log_entries.c.leaf)
                            .where(holds).order_by(log_entries.c.seq)):
        try:
            carries = "sm2_sig" in json.loads(bytes(row.leaf))
        except ValueError:  # malformed: the audit's main pass reports it
            continue
        if carries and not any(since < row.seq for since, _ in spans.get(row.actor_id, ())):
            problems.append((f"entry {row.seq}", row.seq,
                             f"an SM2 signature by {row.actor_id}, who holds no SM2 key on the log at this entry"))
    for actor, regs in spans.items():
        rows = conn.execute(select(log_entries.c.seq, log_entries.c.leaf).where(
            log_entries.c.actor_id == actor, log_entries.c.seq > regs[0][0]).order_by(log_entries.c.seq))
        for row in rows:
            point = [pt for since, pt in regs if since < row.seq][-1]
            try:
                entry = Entry.from_leaf(bytes(row.leaf))
            except ValueError:  # EntryError: malformed, which the audit's main pass reports
                continue
            raw = b""
            if entry.sm2_sig is not None:
                try:
                    raw = base64.b64decode(entry.sm2_sig, validate=True)
                except ValueError:
                    raw = b""
            if entry.sm2_sig is None:
                problems.append((f"entry {row.seq}", row.seq, f"no SM2 signature by {actor}, who holds an SM2 key"))
            elif not verify(point, entry.signing_bytes(), raw):
                problems.append((f"entry {row.seq}", row.seq, f"the SM2 signature by {actor} does not verify"))
    return problems
