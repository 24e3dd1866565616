"""drand beacon rounds: BLS12-381 signature verification (docs/SPEC.md §D2).

Why here and not trusted from a relay: a beacon round is only a public, unpredictable input if
its signature verifies against the network's public key; the relay (or the draw service) that
handed it over is not trusted.  Both schemes in use are supported:

* ``pedersen-bls-chained`` / ``pedersen-bls-unchained``: public key in G1 (48 B), signature in
  G2 (96 B), hash-to-G2;
* ``bls-unchained-g1-rfc9380`` (quicknet): public key in G2 (96 B), signature in G1 (48 B),
  hash-to-G1 (RFC 9380, needs py_ecc >= 8).

A malformed encoding (wrong length, flags, x >= p, not on the curve, the point at infinity,
outside the prime-order subgroup) raises :class:`BeaconEncodingError`; a well-formed signature
that does not verify raises :class:`BeaconSignatureInvalid` — an auditor must be able to tell
"garbage" from "a valid-looking forgery".
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SCHEMES",
    "BeaconEncodingError",
    "BeaconError",
    "BeaconSignatureInvalid",
    "Chain",
    "round_after",
    "round_message",
    "round_time",
    "verify_round",
]

DST_G2 = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"
DST_G1 = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
SCHEMES = ("pedersen-bls-chained", "pedersen-bls-unchained", "bls-unchained-g1-rfc9380")


class BeaconError(ValueError):
    """Base class of beacon verification failures."""


class BeaconEncodingError(BeaconError):
    """A key or signature is not a valid compressed point of the right prime-order group."""


class BeaconSignatureInvalid(BeaconError):
    """The points are well-formed but the pairing equation does not hold."""


@dataclass(frozen=True)
class Chain:
    """A drand network's parameters, as published in its ``/info``."""

    chain_hash: str
    scheme: str
    public_key: bytes
    genesis_time: int
    period: int
    genesis_seed: bytes | None = None
    beacon_id: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Chain:
        """Parse the bundle's ``chains`` member; raises ``ValueError`` when a field is unusable."""
        try:
            seed = d.get("genesis_seed")
            c = cls(str(d["chain_hash"]).lower(), str(d["scheme"]), bytes.fromhex(d["public_key"]),
                    int(d["genesis_time"]), int(d["period"]), bytes.fromhex(seed) if seed else None,
                    d.get("beacon_id"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"chain parameters unusable: {exc}") from exc
        if c.scheme not in SCHEMES:
            raise ValueError(f"unknown drand scheme {c.scheme!r}")
        if c.period <= 0:
            raise ValueError("period must be positive")
        return c


def round_time(chain: Chain, rnd: int) -> int:
    """t(r) = genesis_time + (r - 1) * period (Unix seconds)."""
    return chain.genesis_time + (rnd - 1) * chain.period


def round_after(chain: Chain, t: int) -> int:
    """The earliest round whose time is strictly after ``t``."""
    return 1 if t < chain.genesis_time else (t - chain.genesis_time) // chain.period + 2


def round_message(chain: Chain, rnd: int, previous_signature: bytes | None) -> bytes:
    """The 32-byte message signed for round ``rnd``."""
    if chain.scheme == "pedersen-bls-chained":
        if previous_signature is None:
            if rnd == 1 and chain.genesis_seed is not None:
                previous_signature = chain.genesis_seed
            else:
                raise BeaconEncodingError("a chained round needs its previous_signature")
        return hashlib.sha256(previous_signature + struct.pack(">Q", rnd)).digest()
    return hashlib.sha256(struct.pack(">Q", rnd)).digest()


def _decode_g1(raw: bytes, what: str) -> Any:
    from py_ecc.bls.point_compression import decompress_G1
    from py_ecc.optimized_bls12_381 import curve_order, is_inf, multiply

    if len(raw) != 48:
        raise BeaconEncodingError(f"{what}: a compressed G1 point is 48 bytes, got {len(raw)}")
    if not raw[0] & 0x80:
        raise BeaconEncodingError(f"{what}: compression flag not set")
    try:
        pt = decompress_G1(int.from_bytes(raw, "big"))  # checks flags, x < p, on the curve
    except ValueError as exc:
        raise BeaconEncodingError(f"{what}: {exc}") from exc
    if is_inf(pt):
        raise BeaconEncodingError(f"{what}: the point at infinity")
    if not is_inf(multiply(pt, curve_order)):
        raise BeaconEncodingError(f"{what}: not in the prime-order subgroup of G1")
    return pt


def _decode_g2(raw: bytes, what: str) -> Any:
    from py_ecc.bls.point_compression import decompress_G2
    from py_ecc.optimized_bls12_381 import curve_order, is_inf, multiply

    if len(raw) != 96:
        raise BeaconEncodingError(f"{what}: a compressed G2 point is 96 bytes, got {len(raw)}")
    if not raw[0] & 0x80:
        raise BeaconEncodingError(f"{what}: compression flag not set")
    if raw[48] & 0xE0:
        raise BeaconEncodingError(f"{what}: flag bits set in the second half of a G2 point")
    try:
        pt = decompress_G2((int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big")))
    except ValueError as exc:
        raise BeaconEncodingError(f"{what}: {exc}") from exc
    if is_inf(pt):
        raise BeaconEncodingError(f"{what}: the point at infinity")
    if not is_inf(multiply(pt, curve_order)):
        raise BeaconEncodingError(f"{what}: not in the prime-order subgroup of G2")
    return pt


def _pairing_check(q1: Any, p1: Any, q2: Any, p2: Any) -> bool:
    """e(p1, q1) == e(p2, q2), with one final exponentiation: e(p1,q1) * e(-p2,q2) == 1."""
    from py_ecc.fields import optimized_bls12_381_FQ12 as FQ12
    from py_ecc.optimized_bls12_381 import final_exponentiate, neg
    from py_ecc.optimized_bls12_381.optimized_pairing import miller_loop

    f = miller_loop(q1, p1, final_exponentiate=False) * miller_loop(q2, neg(p2), final_exponentiate=False)
    return final_exponentiate(f) == FQ12.one()


def verify_round(chain: Chain, rnd: int, signature: bytes, previous_signature: bytes | None = None) -> bytes:
    """Verify round ``rnd``'s signature; returns the round's randomness = SHA-256(signature).

    Raises :class:`BeaconEncodingError` or :class:`BeaconSignatureInvalid`.
    """
    from py_ecc.bls.hash_to_curve import hash_to_G1, hash_to_G2
    from py_ecc.optimized_bls12_381 import G1, G2

    if rnd < 1:
        raise BeaconEncodingError("round numbers start at 1")
    msg = round_message(chain, rnd, previous_signature)
    if chain.scheme == "bls-unchained-g1-rfc9380":
        pk = _decode_g2(chain.public_key, "public key")
        sig = _decode_g1(signature, "signature")
        ok = _pairing_check(G2, sig, pk, hash_to_G1(msg, DST_G1, hashlib.sha256))
    else:
        pk = _decode_g1(chain.public_key, "public key")
        sig = _decode_g2(signature, "signature")
        ok = _pairing_check(sig, G1, hash_to_G2(msg, DST_G2, hashlib.sha256), pk)
    if not ok:
        raise BeaconSignatureInvalid(f"round {rnd}: the BLS signature does not verify against the "
                                     f"{chain.beacon_id or chain.chain_hash[:16]} public key")
    return hashlib.sha256(signature).digest()
