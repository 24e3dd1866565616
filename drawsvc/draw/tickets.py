"""Tickets: the per-subject and per-(subject, inspector) pseudo-random numbers of a draw.

subject ticket   = SHA-256("spotcheck/draw/v1/subject-ticket" 0x00 || seed || UTF-8(subject id))
inspector ticket = SHA-256("spotcheck/draw/v1/inspector-ticket" 0x00 || seed
                           || uint32_be(len subject) || UTF-8(subject id) || UTF-8(inspector id))
expert ticket    = as the inspector ticket, tag "spotcheck/draw/v1/expert-ticket".
The seed is 32 bytes and the last field runs to the end, so no length prefix is needed for it.
A ticket depends only on the seed and the ids, so any subject (or inspector) can check its own
ticket alone, and adding or removing another member never changes it.
Tickets compare as 32-byte big-endian strings; equal tickets (never seen in practice) are
ordered by the id's UTF-8 bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .codec import TAG_EXPERT_TICKET, TAG_INSPECTOR_TICKET, TAG_SUBJECT_TICKET, lp, tag_prefix
from .errors import DrawError


def _check_seed(seed: bytes) -> None:
    if len(seed) != 32:
        raise DrawError("a seed is 32 bytes")


def subject_ticket(seed: bytes, subject_id: str) -> bytes:
    _check_seed(seed)
    return hashlib.sha256(tag_prefix(TAG_SUBJECT_TICKET) + seed + subject_id.encode("utf-8")).digest()


def subject_tickets(seed: bytes, subject_ids: Iterable[str]) -> list[bytes]:
    """Tickets of many subjects: one SHA-256 state with the fixed prefix, copied per id."""
    _check_seed(seed)
    copy = hashlib.sha256(tag_prefix(TAG_SUBJECT_TICKET) + seed).copy
    out: list[bytes] = []
    append = out.append
    for sid in subject_ids:
        h = copy()
        h.update(sid.encode("utf-8"))
        append(h.digest())
    return out


def pair_prefix(seed: bytes, subject_id: str, expert: bool = False) -> hashlib._Hash:
    """The hash state after tag || seed || lp(subject): copy it and add an inspector id."""
    _check_seed(seed)
    tag = TAG_EXPERT_TICKET if expert else TAG_INSPECTOR_TICKET
    return hashlib.sha256(tag_prefix(tag) + seed + lp(subject_id.encode("utf-8")))


def inspector_ticket(seed: bytes, subject_id: str, inspector_id: str, expert: bool = False) -> bytes:
    h = pair_prefix(seed, subject_id, expert)
    h.update(inspector_id.encode("utf-8"))
    return h.digest()
