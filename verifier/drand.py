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
    "PINNED_CHAINS",
    "SCHEMES",
    "BeaconEncodingError",
    "BeaconError",
    "BeaconSignatureInvalid",
    "Chain",
    "chain_from_info",
    "chain_info_hash",
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
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"chain parameters unusable: {exc}") from exc
        if c.scheme not in SCHEMES:
            raise ValueError(f"unknown drand scheme {c.scheme!r}")
        if c.period <= 0:
            raise ValueError("period must be positive")
        if c.beacon_id is not None and not isinstance(c.beacon_id, str):
            raise ValueError("beacon_id must be a string")
        return c

    def computed_hash(self) -> str:
        """The chain hash these parameters give (drand's ChainInfo.Hash, see chain_info_hash)."""
        return chain_info_hash(self.period, self.genesis_time, self.public_key, self.genesis_seed or b"",
                               self.beacon_id)

    def to_json(self) -> dict[str, Any]:
        """The parameters as the bundle and the prepared entry carry them (SPEC §D2)."""
        return {"beacon_id": self.beacon_id or "default", "scheme": self.scheme, "chain_hash": self.chain_hash,
                "public_key": self.public_key.hex(), "genesis_time": self.genesis_time, "period": self.period,
                "genesis_seed": (self.genesis_seed or b"").hex()}


def chain_info_hash(period: int, genesis_time: int, public_key: bytes, genesis_seed: bytes,
                    beacon_id: str | None) -> str:
    """drand's chain hash: SHA-256(u32(period) || i64(genesis_time) || public_key || genesis_seed
    [|| beacon_id unless it is "default" or empty]), hex (drand common/chain/info.go, Info.Hash).

    Why: the chain hash names a network, and the parameters a round is checked with must be the
    ones the name stands for; the scheme is not in the hash, so it is pinned separately."""
    if not 0 < period < 1 << 32 or not -(1 << 63) <= genesis_time < 1 << 63:
        raise ValueError("period or genesis_time out of range for the chain hash")
    h = hashlib.sha256(struct.pack(">I", period) + struct.pack(">q", genesis_time) + public_key + genesis_seed)
    if beacon_id not in (None, "", "default"):
        h.update(beacon_id.encode("utf-8"))  # type: ignore[union-attr]
    return h.hexdigest()


def chain_from_info(d: Any) -> Chain:
    """A chain from a drand ``/info`` document (v2 names, or v1: hash, groupHash, schemeID,
    metadata.beaconID), for ``--trust-chain``; its stated chain hash must be the computed one.

    Raises ``ValueError`` naming what is wrong."""
    if not isinstance(d, dict):
        raise ValueError("a drand /info document is a JSON object")
    meta = d.get("metadata") if isinstance(d.get("metadata"), dict) else {}
    norm = {"chain_hash": d.get("chain_hash") or d.get("hash"), "scheme": d.get("scheme") or d.get("schemeID"),
            "public_key": d.get("public_key"), "genesis_time": d.get("genesis_time"), "period": d.get("period"),
            "genesis_seed": d.get("genesis_seed") or d.get("groupHash"),
            "beacon_id": d.get("beacon_id") or meta.get("beaconID") or "default"}
    if not isinstance(norm["period"], int) or not isinstance(norm["genesis_time"], int):
        raise ValueError("period and genesis_time must be integers (seconds)")
    if not norm["genesis_seed"]:
        raise ValueError("genesis_seed (groupHash) is missing: the chain hash cannot be recomputed")
    c = Chain.from_json(norm)
    if c.computed_hash() != c.chain_hash:
        raise ValueError(f"the stated chain hash {c.chain_hash} is not the hash of these parameters "
                         f"({c.computed_hash()})")
    return c


# The League of Entropy mainnet networks a verifier accepts without --trust-chain: their
# parameters are part of this verifier, not of the evidence (docs/SPEC.md §D2). Each is
# checked against its chain hash when this module loads (and in the tests).
PINNED_CHAINS: dict[str, Chain] = {c.chain_hash: c for c in (
    Chain("8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce", "pedersen-bls-chained",
          bytes.fromhex("868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529eeda66c7293784a9402801af31"),
          1595431050, 30, bytes.fromhex("176f93498eac9ca337150b46d21dd58673ea4e3581185f869672e59fa4cb390a"), "default"),
    Chain("52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971", "bls-unchained-g1-rfc9380",
          bytes.fromhex("83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec"
                        "758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"),
          1692803367, 3, bytes.fromhex("f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e"), "quicknet"),
)}
for _h, _c in PINNED_CHAINS.items():
    if _c.computed_hash() != _h:  # a corrupted copy of this file must not verify anything
        raise RuntimeError(f"pinned drand chain {_c.beacon_id}: parameters do not hash to {_h}")


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
