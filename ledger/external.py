"""The trust layer for other software (SPEC §2.4): records signed by a client's own key.

The client cannot sign the entry itself (it cannot know seq, prev or time), so it signs
JCS({"client", "type", "record"}) with its registered key; the service checks that
signature, wraps it in an `external.<name>` entry signed by `system`, and anyone can
re-check both signatures later.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import Engine, insert, select

from .canonical import canonical_bytes
from .entry import Entry, format_time, key_id_for
from .schema import actor_keys, api_tokens
from .store import Ledger

_EXTERNAL_TYPE = re.compile(r"^external\.[a-z0-9_]+(\.[a-z0-9_]+)*$")
_CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ExternalError(ValueError):
    """An external record is malformed or its client signature does not verify."""


class AuthError(PermissionError):
    """Missing, unknown or revoked API token."""


def client_actor(name: str) -> str:
    return f"client:{name}"


def client_message(client: str, entry_type: str, record: Any) -> bytes:
    return canonical_bytes({"client": client, "type": entry_type, "record": record})


def sign_record(client: str, entry_type: str, record: Any, key: SigningKey) -> str:
    return base64.b64encode(key.sign(client_message(client, entry_type, record)).signature).decode()


@dataclass(frozen=True)
class Client:
    name: str
    actor_id: str
    public_key: bytes

    @property
    def key_id(self) -> str:
        return key_id_for(self.public_key)


def build_external_payload(client: Client, entry_type: str, record: Any, client_sig: str) -> dict[str, Any]:
    """Validate a client's record and signature; return the entry payload."""
    if not _EXTERNAL_TYPE.match(entry_type or ""):
        raise ExternalError(f"type {entry_type!r} must look like external.<name>")
    if not isinstance(record, dict):
        raise ExternalError("record must be a JSON object")
    try:
        sig = base64.b64decode(client_sig, validate=True)
        VerifyKey(client.public_key).verify(client_message(client.name, entry_type, record), sig)
    except (BadSignatureError, ValueError, TypeError):
        raise ExternalError(f"client_sig does not verify with the key registered for {client.name}") from None
    return {"client": client.name, "client_key_id": client.key_id, "record": record, "client_sig": client_sig}


def append_external(ledger: Ledger, client: Client, entry_type: str, record: Any, client_sig: str) -> Entry:
    return ledger.append(entry_type, build_external_payload(client, entry_type, record, client_sig), ledger.system)


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_client(ledger: Ledger, name: str, public_key: bytes) -> str:
    """Register a client's key on the log and issue its API token (returned once)."""
    if not _CLIENT_NAME.match(name):
        raise ExternalError(f"client name {name!r} must be lower-case letters, digits, '-' or '_'")
    token = "sct_" + secrets.token_urlsafe(32)
    with ledger.transaction() as tx:
        if tx.conn.execute(select(api_tokens.c.name).where(api_tokens.c.name == name)).first():
            raise ExternalError(f"a client named {name!r} exists already")
        tx.register_actor_key(client_actor(name), public_key)
        tx.conn.execute(insert(api_tokens).values(
            token_hash=_token_hash(token), name=name, actor_id=client_actor(name), scopes="log.append",
            created_at=format_time(ledger.clock()), revoked=False))
    return token


def client_by_name(engine: Engine, name: str) -> Client:
    with engine.connect() as conn:
        row = conn.execute(select(actor_keys).where(actor_keys.c.actor_id == client_actor(name),
                                                    actor_keys.c.active.is_(True))).first()
    if row is None:
        raise AuthError(f"no client named {name!r}")
    return Client(name, row.actor_id, row.public_key)


def client_for_token(engine: Engine, token: str) -> Client:
    with engine.connect() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == _token_hash(token))).first()
    if row is None or row.revoked:
        raise AuthError("the API token is unknown or revoked")
    return client_by_name(engine, row.name)
