"""Byte encodings shared by every hash of the draw (docs/SPEC.md §D1).

Each hash starts with a domain tag: the tag's ASCII bytes followed by one 0x00 byte. Tags
contain no 0x00, so two different tags never give a common prefix, and a hash computed for one
purpose can never be replayed as another. Variable-length fields are length-prefixed
(uint32 big-endian byte count) unless they are the last field of the message.
"""

from __future__ import annotations

import hashlib
import struct

ALGORITHM = "spotcheck-draw/3"
# v1: the drand parameters, the expert pool and the prior loads were not committed at prepare,
# and §D8 let an inspector who left a subject come back to it. v2: the draw's selection and
# matching rules as today, but the prepared checkpoint's time was a bare `signed_at`. v3 (the
# same selection and matching): the prepared checkpoint carries the log's timestamped
# cosignature and the draw's entries are dated in log order (docs/SPEC.md §D13). Draws
# prepared under an earlier version keep its rules (their records verify by them).
ALGORITHM_V1 = "spotcheck-draw/1"
ALGORITHM_V2 = "spotcheck-draw/2"
ALGORITHMS = (ALGORITHM_V1, ALGORITHM_V2, ALGORITHM)

TAG_NONCE = "spotcheck/draw/v1/nonce-commitment"
TAG_CONTRIBUTION = "spotcheck/draw/v1/witness-commitment"
TAG_SEED = "spotcheck/draw/v1/seed"
TAG_SUBJECT_TICKET = "spotcheck/draw/v1/subject-ticket"
TAG_INSPECTOR_ORDER = "spotcheck/draw/v1/inspector-order"
TAG_EXPERT_ORDER = "spotcheck/draw/v1/expert-order"
TAG_SEAL = "spotcheck/draw/v1/seal"


def tag_prefix(tag: str) -> bytes:
    """ASCII(tag) || 0x00: the domain-separation prefix of every draw hash."""
    raw = tag.encode("ascii")
    if b"\x00" in raw:
        raise ValueError("a tag must not contain NUL")
    return raw + b"\x00"


def tagged_hash(tag: str, *parts: bytes) -> bytes:
    """SHA-256(tag_prefix(tag) || parts...)."""
    h = hashlib.sha256(tag_prefix(tag))
    for p in parts:
        h.update(p)
    return h.digest()


def u32(n: int) -> bytes:
    """uint32 big-endian."""
    return struct.pack(">I", n)


def u64(n: int) -> bytes:
    """uint64 big-endian."""
    return struct.pack(">Q", n)


def lp(data: bytes) -> bytes:
    """Length-prefixed field: uint32_be(len(data)) || data."""
    if len(data) > 0xFFFFFFFF:
        raise ValueError("field longer than 2^32-1 bytes")
    return u32(len(data)) + data


def lp_str(text: str) -> bytes:
    """Length-prefixed UTF-8 string."""
    return lp(text.encode("utf-8"))


def from_hex(value: str, size: int | None, what: str, error: type[Exception]) -> bytes:
    """Decode lower- or upper-case hex, checking the byte length; raise `error` otherwise."""
    if not isinstance(value, str):
        raise error(f"{what} must be a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise error(f"{what} is not hex") from None
    if size is not None and len(raw) != size:
        raise error(f"{what} must be {size} bytes, got {len(raw)}")
    return raw
