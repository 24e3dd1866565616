"""The draw's seed: a server nonce committed in advance plus public sources revealed later.

Lifecycle: the *prepared* entry carries the recipe (nonce commitment and the declared sources,
with the witnesses' commitments); the *seeded* entry carries the reveals, in the same order.
seed = SHA-256(tag || prepared leaf hash || uint32(count) || source_1 || ... || source_n).
Because the prepared leaf hash (which fixes the pools and parameters) is inside the seed and
the server committed to its nonce before any public source existed, neither the server nor any
single other party can choose the seed. Every encoding is length-prefixed so no two different
reveal lists share bytes. See docs/SPEC.md §D3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drawsvc.i18n import tr

from .codec import TAG_CONTRIBUTION, TAG_NONCE, TAG_SEED, from_hex, lp, lp_str, tag_prefix, tagged_hash, u32, u64
from .drand import BeaconRound, ChainInfo, check_round_in_future, verify_round_json
from .errors import (
    BeaconChainUnknown,
    ContributionInvalid,
    ContributionMismatch,
    DiceDigitsInvalid,
    LotteryInvalid,
    NonceInvalid,
    NonceMismatch,
    RevealMismatch,
    SeedRecipeInvalid,
)
from .lottery import rfc3797_encode

NONCE_SIZE = 32
MIN_DICE_DIGITS = 20
MIN_CONTRIBUTION = 16
MAX_CONTRIBUTION = 1024
SOURCE_TYPES = ("server_nonce", "drand", "dice", "lottery", "witness")
PUBLIC_TYPES = ("drand", "dice", "lottery", "witness")


def nonce_commitment(nonce: bytes) -> bytes:
    """SHA-256(tag || nonce): published in the prepared entry, long before the nonce."""
    if len(nonce) != NONCE_SIZE:
        raise NonceInvalid(f"server nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
    return tagged_hash(TAG_NONCE, nonce)


def check_nonce(nonce: bytes, commitment: bytes) -> None:
    """Refuse a revealed nonce that does not match its commitment (NonceMismatch)."""
    if nonce_commitment(nonce) != commitment:
        raise NonceMismatch(tr("揭示的服务器随机数与准备条目中的承诺不符"))


def contribution_commitment(contribution: bytes) -> bytes:
    """SHA-256(tag || contribution): what a witness publishes before the reveal."""
    if not MIN_CONTRIBUTION <= len(contribution) <= MAX_CONTRIBUTION:
        raise ContributionInvalid(
            f"a witness contribution must be {MIN_CONTRIBUTION}..{MAX_CONTRIBUTION} bytes, got {len(contribution)}"
        )
    return tagged_hash(TAG_CONTRIBUTION, contribution)


def check_dice(digits: str, min_digits: int = MIN_DICE_DIGITS) -> str:
    """Return the digits if they are ASCII 0-9 and at least max(20, min_digits) of them."""
    need = max(MIN_DICE_DIGITS, min_digits)
    if not isinstance(digits, str) or not digits.isascii() or not digits.isdigit():
        raise DiceDigitsInvalid(tr("骰子数字只能是 0–9"))
    if len(digits) < need:
        raise DiceDigitsInvalid(tr("至少需要 %(need)s 位骰子数字，实际 %(got)s 位", need=need, got=len(digits)))
    return digits


# --- source encodings (spec §3.2) ----------------------------------------------------


def encode_server_nonce(nonce: bytes) -> bytes:
    return lp(b"server_nonce") + lp(nonce)


def encode_drand(beacon: BeaconRound) -> bytes:
    body = lp(beacon.chain_hash) + u64(beacon.round) + lp(beacon.randomness) + lp(beacon.signature)
    return lp(b"drand") + lp(body)


def encode_dice(digits: str) -> bytes:
    return lp(b"dice") + lp(digits.encode("ascii"))


def encode_lottery(name: str, period: str, groups: Sequence[Sequence[int]]) -> bytes:
    body = lp_str(name) + lp_str(period) + lp(rfc3797_encode(groups).encode("ascii"))
    return lp(b"lottery") + lp(body)


def encode_witness(witness: str, contribution: bytes) -> bytes:
    return lp(b"witness") + lp(lp_str(witness) + lp(contribution))


# --- recipe and reveals --------------------------------------------------------------


def check_recipe(recipe: Mapping[str, Any], chains: Mapping[str, ChainInfo] | None = None,
                 prepared_unix: int | None = None) -> None:
    """Check a seed recipe before prepare.

    It must name exactly one server_nonce source (with the 32-byte nonce commitment in
    ``nonce_commitment``) and at least one public source; a drand round must lie strictly after
    the prepare time (when chains and prepared_unix are given); witness ids must be distinct.
    """
    try:
        from_hex(recipe.get("nonce_commitment", ""), 32, "nonce commitment", SeedRecipeInvalid)
        sources = recipe["sources"]
    except (KeyError, AttributeError, TypeError):
        raise SeedRecipeInvalid("a recipe is {nonce_commitment, sources:[...]}") from None
    if not isinstance(sources, list) or not sources:
        raise SeedRecipeInvalid(tr("种子方案没有声明任何随机源"))
    types = [s.get("type") if isinstance(s, dict) else None for s in sources]
    for t in types:
        if t not in SOURCE_TYPES:
            raise SeedRecipeInvalid(tr("未知的随机源类型 %(type)s", type=repr(t)))
    if types.count("server_nonce") != 1:
        raise SeedRecipeInvalid(tr("种子方案须且只须声明一次服务器随机数"))
    if not any(t in PUBLIC_TYPES for t in types):
        raise SeedRecipeInvalid(tr("除服务器随机数外，至少需要一个公开随机源"))
    witnesses = [s.get("witness") for s in sources if s["type"] == "witness"]
    if len(set(witnesses)) != len(witnesses) or not all(isinstance(w, str) and w for w in witnesses):
        raise SeedRecipeInvalid(tr("见证人编号须非空且互不相同"))
    for s in sources:
        if s["type"] == "witness":
            from_hex(s.get("commitment", ""), 32, f"commitment of witness {s['witness']}", SeedRecipeInvalid)
        elif s["type"] == "dice":
            if not isinstance(s.get("min_digits", MIN_DICE_DIGITS), int) or s.get("min_digits", MIN_DICE_DIGITS) < MIN_DICE_DIGITS:
                raise SeedRecipeInvalid(tr("骰子位数下限须为不小于 %(n)s 的整数", n=MIN_DICE_DIGITS))
        elif s["type"] == "lottery":
            if not (isinstance(s.get("name"), str) and s["name"] and isinstance(s.get("period"), str) and s["period"]):
                raise SeedRecipeInvalid(tr("彩票随机源须写明彩种和开奖期号"))
        elif s["type"] == "drand":
            rnd = s.get("round")
            if not isinstance(rnd, int) or isinstance(rnd, bool) or rnd < 1:
                raise SeedRecipeInvalid(tr("drand 随机源须声明不小于 1 的轮次"))
            ch = str(s.get("chain_hash", "")).lower()
            from_hex(ch, 32, "drand chain hash", SeedRecipeInvalid)
            if chains is not None and prepared_unix is not None:
                if ch not in chains:
                    raise BeaconChainUnknown(tr("没有 drand 网络 %(chain)s 的参数", chain=ch))
                check_round_in_future(chains[ch], rnd, prepared_unix)


BeaconVerifier = Callable[[Mapping[str, ChainInfo], Mapping[str, Any]], BeaconRound]


@dataclass(frozen=True)
class SeedResult:
    """The seed and the encoded sources it was hashed from (for the seeded entry and vectors)."""

    seed: bytes
    encoded_sources: tuple[bytes, ...]


def encode_reveal(declared: Mapping[str, Any], reveal: Mapping[str, Any], nonce_commitment_: bytes,
                  chains: Mapping[str, ChainInfo], verify_beacon: BeaconVerifier = verify_round_json) -> bytes:
    """Check one reveal against its declaration and return its encoding (spec §3.2)."""
    kind = declared["type"]
    if not isinstance(reveal, Mapping) or reveal.get("type") != kind:
        raise RevealMismatch(tr("应揭示 %(kind)s 随机源，收到的是 %(got)s", kind=kind,
                                 got=reveal.get("type") if isinstance(reveal, Mapping) else repr(reveal)))
    if kind == "server_nonce":
        nonce = from_hex(reveal.get("nonce", ""), None, "server nonce", NonceInvalid)
        if len(nonce) != NONCE_SIZE:
            raise NonceInvalid(f"server nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
        check_nonce(nonce, nonce_commitment_)
        return encode_server_nonce(nonce)
    if kind == "drand":
        if reveal.get("round") != declared["round"] or str(reveal.get("chain_hash", "")).lower() != declared["chain_hash"].lower():
            raise RevealMismatch(tr("揭示的 drand 值不是所声明网络的第 %(round)s 轮", round=declared["round"]))
        return encode_drand(verify_beacon(chains, reveal))
    if kind == "dice":
        return encode_dice(check_dice(reveal.get("digits", ""), declared.get("min_digits", MIN_DICE_DIGITS)))
    if kind == "lottery":
        groups = reveal.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
            raise LotteryInvalid(tr("彩票号码须为若干组数字"))
        return encode_lottery(declared["name"], declared["period"], groups)
    # witness
    if reveal.get("witness") != declared["witness"]:
        raise RevealMismatch(tr("应为见证人 %(witness)s 的揭示值，收到的是 %(got)s", witness=declared["witness"], got=repr(reveal.get("witness"))))
    contribution = from_hex(reveal.get("contribution", ""), None, "contribution", ContributionInvalid)
    if contribution_commitment(contribution).hex() != declared["commitment"].lower():
        raise ContributionMismatch(tr("见证人 %(witness)s 提交的值与其承诺不符", witness=declared["witness"]))
    return encode_witness(declared["witness"], contribution)


def seed_from_encoded(prepared_leaf_hash: bytes, encoded_sources: Sequence[bytes]) -> bytes:
    """SHA-256(tag || prepared leaf hash || uint32(n) || source_1 || ... || source_n)."""
    if len(prepared_leaf_hash) != 32:
        raise SeedRecipeInvalid("the prepared entry's leaf hash must be 32 bytes")
    h = hashlib.sha256(tag_prefix(TAG_SEED) + prepared_leaf_hash + u32(len(encoded_sources)))
    for s in encoded_sources:
        h.update(s)
    return h.digest()


def derive_seed(prepared_leaf_hash: bytes, recipe: Mapping[str, Any], reveals: Sequence[Mapping[str, Any]],
                chains: Mapping[str, ChainInfo] | None = None,
                verify_beacon: BeaconVerifier = verify_round_json) -> SeedResult:
    """Check every reveal against the recipe and derive the seed.

    `reveals` must match `recipe["sources"]` one to one, in order. drand reveals are verified
    with `verify_beacon` (BLS by default) against `chains` (chain hash hex → ChainInfo).
    """
    check_recipe(recipe)
    declared = recipe["sources"]
    if len(reveals) != len(declared):
        raise RevealMismatch(f"{len(declared)} sources were declared, {len(reveals)} revealed")
    commitment = bytes.fromhex(recipe["nonce_commitment"])
    encoded = tuple(
        encode_reveal(d, r, commitment, chains or {}, verify_beacon) for d, r in zip(declared, reveals, strict=True)
    )
    return SeedResult(seed=seed_from_encoded(prepared_leaf_hash, encoded), encoded_sources=encoded)
