"""Verification of drand (League of Entropy) beacon rounds, pure Python BLS12-381 (py_ecc).

A round is only used as a seed source after its BLS signature verifies against the network's
public key: the relay that served it is not trusted. Decoded points are checked to lie on the
curve *and* in the prime-order subgroup, and a malformed encoding (BeaconEncodingError) is told
apart from a well-formed signature that does not verify (BeaconSignatureInvalid), so an operator
knows whether the data was mangled in transit or forged.

Schemes (drand's scheme ids):
- ``pedersen-bls-chained`` (network ``default``): public key in G1 (48 bytes), signature in G2
  (96 bytes), message = SHA-256(previous_signature || uint64_be(round)), DST
  ``BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_``. Round 1's previous signature is the genesis seed.
- ``pedersen-bls-unchained``: as above, message = SHA-256(uint64_be(round)).
- ``bls-unchained-g1-rfc9380`` (network ``quicknet``): public key in G2 (96 bytes), signature in
  G1 (48 bytes), message = SHA-256(uint64_be(round)), DST
  ``BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_``.
randomness = SHA-256(signature). Round r is published at genesis_time + (r - 1) * period.

A network's parameters are only taken under its chain hash if they hash to it the way drand
computes it (chain_info_hash): a key the service owns cannot pass for quicknet's.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from drawsvc.i18n import tr

from .codec import from_hex, u64
from .errors import (
    BeaconChainHashMismatch,
    BeaconChainUnknown,
    BeaconEncodingError,
    BeaconRandomnessMismatch,
    BeaconRoundInPast,
    BeaconSignatureInvalid,
)

SCHEME_CHAINED = "pedersen-bls-chained"
SCHEME_UNCHAINED = "pedersen-bls-unchained"
SCHEME_G1_RFC9380 = "bls-unchained-g1-rfc9380"
DST_G2 = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"
DST_G1 = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
SCHEMES = (SCHEME_CHAINED, SCHEME_UNCHAINED, SCHEME_G1_RFC9380)


@dataclass(frozen=True)
class ChainInfo:
    """The public parameters of one drand network (its /info document)."""

    chain_hash: bytes
    scheme: str
    public_key: bytes
    genesis_time: int
    period: int
    genesis_seed: bytes | None = None
    beacon_id: str = "default"

    @property
    def chain_hash_hex(self) -> str:
        return self.chain_hash.hex()

    def to_json(self) -> dict[str, Any]:
        """The parameters as committed in draw.prepared and carried in the bundle (SPEC §D2, §D11.1)."""
        return {"beacon_id": self.beacon_id, "scheme": self.scheme, "chain_hash": self.chain_hash.hex(),
                "public_key": self.public_key.hex(), "genesis_time": self.genesis_time, "period": self.period,
                "genesis_seed": (self.genesis_seed or b"").hex()}


def chain_info_hash(period: int, genesis_time: int, public_key: bytes, genesis_seed: bytes, beacon_id: str) -> bytes:
    """drand's chain hash (common/chain/info.go Info.Hash): SHA-256(u32(period) || i64(genesis_time)
    || public_key || genesis_seed [|| beacon_id unless it is "default" or empty])."""
    if not 0 < period < 1 << 32:
        raise BeaconEncodingError(f"period {period} is out of range")
    h = hashlib.sha256(struct.pack(">I", period) + struct.pack(">q", genesis_time) + public_key + genesis_seed)
    if beacon_id not in ("", "default"):
        h.update(beacon_id.encode("utf-8"))
    return h.digest()


@dataclass(frozen=True)
class BeaconRound:
    """One verified round: what the seed derivation consumes."""

    chain_hash: bytes
    round: int
    signature: bytes
    randomness: bytes


def chain_from_json(info: Mapping[str, Any]) -> ChainInfo:
    """A ChainInfo from drand /info JSON (v2 names: chain_hash, scheme, public_key, ...; v1:
    hash, groupHash, schemeID, metadata.beaconID). The parameters must hash to the stated chain
    hash (BeaconChainHashMismatch otherwise), so a network file cannot carry a foreign key."""
    scheme = info.get("scheme") or info.get("schemeID")
    if scheme not in SCHEMES:
        raise BeaconEncodingError(f"unsupported drand scheme {scheme!r}")
    chain_hash = from_hex(info.get("chain_hash") or info.get("hash") or "", 32, "chain hash", BeaconEncodingError)
    seed_hex = info.get("genesis_seed") or info.get("groupHash")
    if not seed_hex:
        raise BeaconChainHashMismatch("the chain info has no genesis seed: its chain hash cannot be checked")
    genesis_seed = from_hex(seed_hex, None, "genesis seed", BeaconEncodingError)
    meta = info.get("metadata") if isinstance(info.get("metadata"), Mapping) else {}
    chain = ChainInfo(
        chain_hash=chain_hash,
        scheme=scheme,
        public_key=from_hex(info["public_key"], None, "public key", BeaconEncodingError),
        genesis_time=int(info["genesis_time"]),
        period=int(info["period"]),
        genesis_seed=genesis_seed,
        beacon_id=str(info.get("beacon_id") or meta.get("beaconID") or "default"),
    )
    computed = chain_info_hash(chain.period, chain.genesis_time, chain.public_key, genesis_seed, chain.beacon_id)
    if computed != chain_hash:
        raise BeaconChainHashMismatch(f"the parameters of chain {chain_hash.hex()[:16]}… hash to "
                                      f"{computed.hex()[:16]}…: they are not that network's")
    return chain


def round_time(chain: ChainInfo, round_: int) -> int:
    """Unix time (s) at which round `round_` (>= 1) is published."""
    if round_ < 1:
        raise BeaconEncodingError(tr("drand 轮次从 1 开始"))
    return chain.genesis_time + (round_ - 1) * chain.period


def round_after(chain: ChainInfo, unix_time: int) -> int:
    """The first round whose time is strictly after `unix_time`: the earliest round that can be
    declared at that moment without its value possibly being known already."""
    if unix_time < chain.genesis_time:
        return 1
    return (unix_time - chain.genesis_time) // chain.period + 2


def check_round_in_future(chain: ChainInfo, round_: int, prepared_unix: int) -> None:
    """Refuse a declared round whose time is not strictly after the prepare time."""
    t = round_time(chain, round_)
    if t <= prepared_unix:
        raise BeaconRoundInPast(
            f"round {round_} of chain {chain.chain_hash_hex[:16]}… is published at {t}, "
            f"not after the prepare time {prepared_unix}; use round {round_after(chain, prepared_unix)} or later"
        )


def round_message(chain: ChainInfo, round_: int, previous_signature: bytes | None = None) -> bytes:
    """The 32-byte message signed for a round (see the module docstring per scheme)."""
    if round_ < 1 or round_ >= 1 << 64:
        raise BeaconEncodingError(tr("轮次 %(round)s 超出范围", round=round_))
    if chain.scheme == SCHEME_CHAINED:
        if previous_signature is None:
            if round_ != 1 or chain.genesis_seed is None:
                raise BeaconEncodingError(tr("链式网络的第 %(round)s 轮需要上一轮签名", round=round_))
            previous_signature = chain.genesis_seed
        return hashlib.sha256(previous_signature + u64(round_)).digest()
    return hashlib.sha256(u64(round_)).digest()


# --- BLS12-381 point decoding and the pairing check --------------------------------


def _decode_g1(data: bytes, what: str) -> Any:
    from py_ecc.bls.g2_primitives import subgroup_check
    from py_ecc.bls.point_compression import decompress_G1
    from py_ecc.optimized_bls12_381 import is_inf

    if len(data) != 48:
        raise BeaconEncodingError(f"{what} must be a 48-byte compressed G1 point, got {len(data)} bytes")
    try:
        point = decompress_G1(int.from_bytes(data, "big"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise BeaconEncodingError(f"{what} is not a valid compressed G1 point: {exc}") from None
    if is_inf(point):
        raise BeaconEncodingError(f"{what} is the point at infinity")
    if not subgroup_check(point):
        raise BeaconEncodingError(f"{what} is not in the G1 prime-order subgroup")
    return point


def _decode_g2(data: bytes, what: str) -> Any:
    from py_ecc.bls.g2_primitives import subgroup_check
    from py_ecc.bls.point_compression import decompress_G2
    from py_ecc.optimized_bls12_381 import is_inf

    if len(data) != 96:
        raise BeaconEncodingError(f"{what} must be a 96-byte compressed G2 point, got {len(data)} bytes")
    try:
        point = decompress_G2((int.from_bytes(data[:48], "big"), int.from_bytes(data[48:], "big")))  # type: ignore[arg-type]
    except ValueError as exc:
        raise BeaconEncodingError(f"{what} is not a valid compressed G2 point: {exc}") from None
    if is_inf(point):
        raise BeaconEncodingError(f"{what} is the point at infinity")
    if not subgroup_check(point):
        raise BeaconEncodingError(f"{what} is not in the G2 prime-order subgroup")
    return point


@lru_cache(maxsize=16)
def _public_key_point(scheme: str, public_key: bytes) -> Any:
    if scheme == SCHEME_G1_RFC9380:
        return _decode_g2(public_key, "public key")
    return _decode_g1(public_key, "public key")


@lru_cache(maxsize=1024)
def _pairing_check(scheme: str, public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff e(sig, g) == e(H(m), pk) with the groups of `scheme`. Raises on bad encodings."""
    from py_ecc.bls.hash_to_curve import hash_to_G1, hash_to_G2
    from py_ecc.fields import optimized_bls12_381_FQ12 as FQ12
    from py_ecc.optimized_bls12_381 import G1, G2, final_exponentiate, neg, pairing

    pk = _public_key_point(scheme, public_key)
    if scheme == SCHEME_G1_RFC9380:
        sig = _decode_g1(signature, "signature")
        h = hash_to_G1(message, DST_G1, hashlib.sha256)
        acc = pairing(G2, sig, final_exponentiate=False) * pairing(pk, neg(h), final_exponentiate=False)
    else:
        sig = _decode_g2(signature, "signature")
        h = hash_to_G2(message, DST_G2, hashlib.sha256)
        acc = pairing(sig, G1, final_exponentiate=False) * pairing(h, neg(pk), final_exponentiate=False)
    return final_exponentiate(acc) == FQ12.one()


def verify_round(
    chain: ChainInfo,
    round_: int,
    signature: bytes,
    previous_signature: bytes | None = None,
    randomness: bytes | None = None,
) -> BeaconRound:
    """Verify one round's BLS signature; return it with randomness = SHA-256(signature).

    Raises BeaconEncodingError (bad key/signature bytes, point off the curve or outside the
    subgroup), BeaconSignatureInvalid (well formed, does not verify) or
    BeaconRandomnessMismatch (stated randomness != SHA-256(signature)). Results are cached,
    so re-checking the same round costs nothing (py_ecc needs ~0.5 s a pairing check).
    """
    message = round_message(chain, round_, previous_signature)
    if not _pairing_check(chain.scheme, chain.public_key, message, bytes(signature)):
        raise BeaconSignatureInvalid(
            f"signature of round {round_} does not verify against the public key of chain {chain.chain_hash_hex[:16]}…"
        )
    computed = hashlib.sha256(signature).digest()
    if randomness is not None and randomness != computed:
        raise BeaconRandomnessMismatch(tr("第 %(round)s 轮的 randomness 不等于 SHA-256(signature)", round=round_))
    return BeaconRound(chain_hash=chain.chain_hash, round=round_, signature=bytes(signature), randomness=computed)


def verify_round_json(chains: Mapping[str, ChainInfo], data: Mapping[str, Any]) -> BeaconRound:
    """verify_round for a JSON reveal {chain_hash, round, signature, previous_signature?, randomness?}."""
    chain = chains.get(str(data.get("chain_hash", "")).lower())
    if chain is None:
        raise BeaconChainUnknown(tr("没有 drand 网络 %(chain)s 的参数", chain=repr(data.get("chain_hash"))))
    rnd = data.get("round")
    if not isinstance(rnd, int) or isinstance(rnd, bool):
        raise BeaconEncodingError(tr("轮次须为整数"))
    prev = data.get("previous_signature")
    rand = data.get("randomness")
    return verify_round(
        chain,
        rnd,
        from_hex(data.get("signature", ""), None, "signature", BeaconEncodingError),
        from_hex(prev, None, "previous signature", BeaconEncodingError) if prev else None,
        from_hex(rand, 32, "randomness", BeaconEncodingError) if rand else None,
    )
