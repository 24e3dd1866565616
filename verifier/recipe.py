"""The seed (docs/SPEC.md §D1 and §D3): domain tags, commitments, source encodings.

Why re-implemented byte by byte: the seed is the only randomness of a draw; if the verifier
recomputes it from the committed nonce and the public reveals and gets the published value,
nobody (the service included) chose it.
"""

from __future__ import annotations

import hashlib
import re
import struct
from typing import Any

__all__ = [
    "TAGS",
    "RecipeError",
    "contribution_commitment",
    "encode_source",
    "hash_tagged",
    "lp",
    "nonce_commitment",
    "rfc3797",
    "seed_from",
]

TAGS = {
    "nonce": b"spotcheck/draw/v1/nonce-commitment",
    "witness": b"spotcheck/draw/v1/witness-commitment",
    "seed": b"spotcheck/draw/v1/seed",
    "subject": b"spotcheck/draw/v1/subject-ticket",
    "inspector": b"spotcheck/draw/v1/inspector-ticket",
    "expert": b"spotcheck/draw/v1/expert-ticket",
    "seal": b"spotcheck/draw/v1/seal",
}
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


class RecipeError(ValueError):
    """A reveal that does not fit its declaration; ``code`` is the finding code to report."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def hash_tagged(tag: bytes, m: bytes) -> bytes:
    """H(tag, m) = SHA-256(ASCII(tag) || 0x00 || m)."""
    return hashlib.sha256(tag + b"\x00" + m).digest()


def lp(x: bytes) -> bytes:
    """u32(len(x)) || x."""
    return struct.pack(">I", len(x)) + x


def hexbytes(s: Any, what: str, length: int | None = None) -> bytes:
    """Hex (either case) to bytes, or RecipeError(REVEAL_MISMATCH)."""
    if not isinstance(s, str) or not _HEX.fullmatch(s):
        raise RecipeError("REVEAL_MISMATCH", f"{what} is not hex")
    b = bytes.fromhex(s)
    if length is not None and len(b) != length:
        raise RecipeError("REVEAL_MISMATCH", f"{what} must be {length} bytes, got {len(b)}")
    return b


def nonce_commitment(nonce: bytes) -> bytes:
    return hash_tagged(TAGS["nonce"], nonce)


def contribution_commitment(contribution: bytes) -> bytes:
    return hash_tagged(TAGS["witness"], contribution)


def rfc3797(groups: Any) -> str:
    """RFC 3797 §3.2: each group sorted, numbers as ``n.``, each group closed by ``/``."""
    if not isinstance(groups, list) or not groups:
        raise RecipeError("LOTTERY_INVALID", "lottery groups must be a non-empty list of lists")
    out = []
    for g in groups:
        if not isinstance(g, list) or not g or any(type(n) is not int or n < 0 for n in g):
            raise RecipeError("LOTTERY_INVALID", "each lottery group is a non-empty list of non-negative integers")
        out.append("".join(f"{n}." for n in sorted(g)) + "/")
    return "".join(out)


def encode_source(decl: dict[str, Any], reveal: dict[str, Any], *, nonce: bytes | None = None,
                  randomness: bytes | None = None) -> bytes:
    """enc_i of §3 for one declared source and its reveal (drand: pass the verified randomness)."""
    t = decl.get("type")
    if reveal.get("type", t) != t:
        raise RecipeError("REVEAL_MISMATCH", f"reveal of type {reveal.get('type')!r} for a {t!r} declaration")
    if t == "server_nonce":
        assert nonce is not None
        return lp(b"server_nonce") + lp(nonce)
    if t == "drand":
        ch = hexbytes(reveal.get("chain_hash"), "drand chain_hash", 32)
        if reveal.get("chain_hash", "").lower() != str(decl.get("chain_hash", "")).lower() \
                or reveal.get("round") != decl.get("round"):
            raise RecipeError("REVEAL_MISMATCH", "drand reveal names another chain or round than declared")
        sig = hexbytes(reveal.get("signature"), "drand signature")
        assert randomness is not None
        body = lp(ch) + struct.pack(">Q", int(reveal["round"])) + lp(randomness) + lp(sig)
        return lp(b"drand") + lp(body)
    if t == "dice":
        d = reveal.get("digits")
        need = max(20, int(decl.get("min_digits", 20)))
        if not isinstance(d, str) or not _DIGITS.fullmatch(d) or not d.isascii() or len(d) < need:
            raise RecipeError("DICE_DIGITS_INVALID", f"dice digits must be at least {need} ASCII digits")
        return lp(b"dice") + lp(d.encode("ascii"))
    if t == "lottery":
        if reveal.get("name", decl.get("name")) != decl.get("name") or \
                reveal.get("period", decl.get("period")) != decl.get("period"):
            raise RecipeError("REVEAL_MISMATCH", "lottery reveal names another draw than declared")
        enc = rfc3797(reveal.get("groups"))
        body = lp(str(decl["name"]).encode()) + lp(str(decl["period"]).encode()) + lp(enc.encode("ascii"))
        return lp(b"lottery") + lp(body)
    if t == "witness":
        if reveal.get("witness") != decl.get("witness"):
            raise RecipeError("REVEAL_MISMATCH", "witness reveal names another witness than declared")
        c = hexbytes(reveal.get("contribution"), "witness contribution")
        if not 16 <= len(c) <= 1024:
            raise RecipeError("REVEAL_MISMATCH", "a witness contribution is 16-1024 bytes")
        if contribution_commitment(c).hex() != str(decl.get("commitment", "")).lower():
            raise RecipeError("CONTRIBUTION_MISMATCH",
                              f"contribution of {decl.get('witness')} does not match its commitment")
        return lp(b"witness") + lp(lp(str(decl["witness"]).encode()) + lp(c))
    raise RecipeError("REVEAL_MISMATCH", f"unknown source type {t!r}")


def seed_from(prepared_leaf_hash: bytes, encodings: list[bytes]) -> bytes:
    """Seed = H(seed tag, prepared_leaf_hash || u32(n) || enc_1 || ... || enc_n)."""
    return hash_tagged(TAGS["seed"], prepared_leaf_hash + struct.pack(">I", len(encodings)) + b"".join(encodings))
