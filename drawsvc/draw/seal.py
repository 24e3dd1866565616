"""The seal: a salted commitment to the drawn content, public before the content is.

Until publication the drawn list is secret (002 八), yet it must be fixed at draw time so
nobody can change it before publishing. The *drawn* entry carries
commitment = SHA-256("spotcheck/draw/v1/seal" 0x00 || salt || JCS(content)), salt 32 random
bytes (so a short content — "which 5 of these 40 companies" — cannot be guessed by hashing
candidates); the *published* entry reveals content and salt and anyone re-computes it.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from drawsvc.i18n import tr
from ledger.canonical import EncodingError, canonical_bytes

from .codec import TAG_SEAL, tagged_hash
from .errors import SealInvalid, SealMismatch

SALT_SIZE = 32


def new_salt() -> bytes:
    """32 bytes from the OS CSPRNG (the one impure helper here)."""
    return secrets.token_bytes(SALT_SIZE)


def seal(content: Any, salt: bytes, *, known_simple: bool = False) -> bytes:
    """SHA-256(tag || salt || JCS(content)).

    `known_simple`: the caller built `content` from strings, small integers, lists and objects
    with ASCII keys only (a drawn result), so the exact fast JCS applies without the walk that
    proves it (ledger.canonical.is_simple) — a second at a million-subject draw."""
    try:
        body = canonical_bytes(content, known_simple=known_simple)
    except EncodingError as exc:
        raise SealInvalid(str(exc)) from None
    return seal_of_body(body, salt)


def seal_of_body(body: bytes, salt: bytes) -> bytes:
    """SHA-256(tag || salt || body), `body` being JCS(content) already made: a caller that also
    stores the content (the draw's secret) writes these bytes once, not the content twice."""
    if len(salt) != SALT_SIZE:
        raise SealInvalid(f"a seal salt is {SALT_SIZE} bytes, got {len(salt)}")
    return tagged_hash(TAG_SEAL, salt, body)


def check_seal(content: Any, salt: bytes, commitment: bytes) -> None:
    """Refuse (SealMismatch) a published content/salt that does not match the draw-time seal."""
    if len(commitment) != 32:
        raise SealInvalid("a seal commitment is 32 bytes")
    if not hmac.compare_digest(seal(content, salt), commitment):
        raise SealMismatch(tr("公示的内容和盐值与抽取时的封存承诺不符"))
