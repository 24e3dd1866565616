"""Seed: commitments, reveals, and every refusal of the seed step."""

from __future__ import annotations

import copy

import pytest
from _draw_support import load_vector

from drawsvc.draw import seed as S
from drawsvc.draw.drand import chain_from_json
from drawsvc.draw.errors import (
    BeaconRoundInPast,
    BeaconSignatureInvalid,
    ContributionInvalid,
    ContributionMismatch,
    DiceDigitsInvalid,
    LotteryInvalid,
    NonceInvalid,
    NonceMismatch,
    RevealMismatch,
    SeedRecipeInvalid,
)
from drawsvc.draw.lottery import rfc3797_encode


@pytest.fixture
def vec():
    return copy.deepcopy(load_vector("draw-seed.json")["inputs"])


@pytest.fixture
def chains(drand_data):
    return {c["chain_hash"]: chain_from_json(c) for c in drand_data["chains"].values()}


def derive(vec, chains):
    return S.derive_seed(bytes.fromhex(vec["prepared_leaf_hash"]), vec["recipe"], vec["reveals"], chains)


def test_nonce_mismatch(vec, chains):
    vec["reveals"][0]["nonce"] = "00" * 32
    with pytest.raises(NonceMismatch):
        derive(vec, chains)


def test_nonce_wrong_length(vec, chains):
    vec["reveals"][0]["nonce"] = "00" * 31
    with pytest.raises(NonceInvalid):
        derive(vec, chains)


@pytest.mark.parametrize("digits", ["1234567890123456789", "1234567890123456789a", "１２３４５６７８９０１２３４５６７８９０１", ""])
def test_dice_digits_invalid(vec, chains, digits):
    vec["reveals"][2]["digits"] = digits
    with pytest.raises(DiceDigitsInvalid):
        derive(vec, chains)


def test_dice_min_digits_from_recipe(vec, chains):
    vec["recipe"]["sources"][2]["min_digits"] = 30
    with pytest.raises(DiceDigitsInvalid):
        derive(vec, chains)


def test_contribution_mismatch(vec, chains):
    c = bytearray(bytes.fromhex(vec["reveals"][4]["contribution"]))
    c[0] ^= 1
    vec["reveals"][4]["contribution"] = c.hex()
    with pytest.raises(ContributionMismatch):
        derive(vec, chains)


def test_contribution_too_short():
    with pytest.raises(ContributionInvalid):
        S.contribution_commitment(b"short")


def test_reveals_out_of_order(vec, chains):
    vec["reveals"][2], vec["reveals"][3] = vec["reveals"][3], vec["reveals"][2]
    with pytest.raises(RevealMismatch):
        derive(vec, chains)


def test_missing_reveal(vec, chains):
    vec["reveals"].pop()
    with pytest.raises(RevealMismatch):
        derive(vec, chains)


def test_drand_reveal_of_other_round(vec, chains, drand_data):
    q = drand_data["chains"]["quicknet"]
    vec["reveals"][1]["round"] = 3
    vec["reveals"][1]["signature"] = q["rounds"][2]["signature"]
    vec["reveals"][1].pop("randomness")
    with pytest.raises(RevealMismatch):
        derive(vec, chains)


def test_drand_wrong_signature_in_reveal(vec, chains, drand_data):
    q = drand_data["chains"]["quicknet"]
    vec["reveals"][1]["signature"] = q["rounds"][2]["signature"]  # round 3's signature for round 123
    vec["reveals"][1].pop("randomness")
    with pytest.raises(BeaconSignatureInvalid):
        derive(vec, chains)


def test_lottery_invalid(vec, chains):
    vec["reveals"][3]["groups"] = [[1, -2]]
    with pytest.raises(LotteryInvalid):
        derive(vec, chains)


def test_rfc3797_encoding():
    assert rfc3797_encode([[31, 3, 18, 9, 25, 12], [7]]) == "3.9.12.18.25.31./7./"
    assert rfc3797_encode([[0, 10, 2, 2]]) == "0.2.2.10./"
    with pytest.raises(LotteryInvalid):
        rfc3797_encode([])


def test_recipe_rules(vec, chains):
    r = vec["recipe"]
    with pytest.raises(SeedRecipeInvalid):
        S.check_recipe({"nonce_commitment": r["nonce_commitment"], "sources": [{"type": "server_nonce"}]})
    with pytest.raises(SeedRecipeInvalid):
        S.check_recipe({"nonce_commitment": r["nonce_commitment"], "sources": [{"type": "dice"}]})
    with pytest.raises(SeedRecipeInvalid):
        S.check_recipe({"nonce_commitment": r["nonce_commitment"], "sources": [{"type": "server_nonce"}, {"type": "coin"}]})
    with pytest.raises(SeedRecipeInvalid):
        S.check_recipe({"nonce_commitment": "ab", "sources": r["sources"]})
    two = copy.deepcopy(r)
    two["sources"].append(dict(two["sources"][-1]))
    with pytest.raises(SeedRecipeInvalid):
        S.check_recipe(two)


def test_beacon_round_in_past_at_prepare(vec, chains):
    S.check_recipe(vec["recipe"], chains, vec["prepared_unix"])
    with pytest.raises(BeaconRoundInPast):
        S.check_recipe(vec["recipe"], chains, vec["prepared_unix"] + 10)


def test_every_source_changes_the_seed(vec, chains):
    base = derive(vec, chains).seed
    leaf = bytearray(bytes.fromhex(vec["prepared_leaf_hash"]))
    leaf[0] ^= 1
    assert S.derive_seed(bytes(leaf), vec["recipe"], vec["reveals"], chains).seed != base
    v2 = copy.deepcopy(vec)
    v2["reveals"][2]["digits"] = "31415926535897932384627"
    assert derive(v2, chains).seed != base
    v3 = copy.deepcopy(vec)
    v3["reveals"][3]["groups"] = [[3, 9, 12, 18, 25, 31], [8]]
    assert derive(v3, chains).seed != base


def test_local_sources_alone_give_a_seed(vec):
    local = {"nonce_commitment": vec["recipe"]["nonce_commitment"],
             "sources": [s for s in vec["recipe"]["sources"] if s["type"] != "drand"]}
    reveals = [r for r in vec["reveals"] if r["type"] != "drand"]
    out = S.derive_seed(bytes.fromhex(vec["prepared_leaf_hash"]), local, reveals)
    assert out.seed.hex() == load_vector("draw-seed.json")["outputs"]["seed_without_drand"]
