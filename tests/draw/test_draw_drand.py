"""drand: every real round of both networks verifies; forgeries are refused with the right error."""

from __future__ import annotations

import hashlib

import pytest

from drawsvc.draw.drand import (
    ChainInfo,
    chain_from_json,
    check_round_in_future,
    round_after,
    round_message,
    round_time,
    verify_round,
    verify_round_json,
)
from drawsvc.draw.errors import (
    BeaconChainUnknown,
    BeaconEncodingError,
    BeaconError,
    BeaconRandomnessMismatch,
    BeaconRoundInPast,
    BeaconSignatureInvalid,
)


def all_rounds(drand_data):
    for name, c in drand_data["chains"].items():
        for r in c["rounds"]:
            yield name, c, r


def prev_of(r):
    return bytes.fromhex(r["previous_signature"]) if r.get("previous_signature") else None


def test_every_real_round_verifies(drand_data):
    seen = 0
    for _, c, r in all_rounds(drand_data):
        chain = chain_from_json(c)
        b = verify_round(chain, r["round"], bytes.fromhex(r["signature"]), prev_of(r), bytes.fromhex(r["randomness"]))
        assert b.randomness.hex() == r["randomness"]
        assert round_time(chain, r["round"]) == r["round_time_unix"]
        seen += 1
    assert seen == sum(len(c["rounds"]) for c in drand_data["chains"].values()) >= 8


def test_chained_round_one_uses_genesis_seed(drand_data):
    c = drand_data["chains"]["default"]
    chain = chain_from_json(c)
    r1 = c["rounds"][0]
    assert round_message(chain, 1) == round_message(chain, 1, bytes.fromhex(c["genesis_seed"]))
    verify_round(chain, 1, bytes.fromhex(r1["signature"]))


@pytest.mark.parametrize("network", ["default", "quicknet"])
def test_signature_of_another_round_is_refused(drand_data, network):
    c = drand_data["chains"][network]
    chain = chain_from_json(c)
    r2, r3 = c["rounds"][1], c["rounds"][2]
    with pytest.raises(BeaconSignatureInvalid):
        verify_round(chain, r3["round"], bytes.fromhex(r2["signature"]), prev_of(r3))


def test_chained_wrong_previous_signature_is_refused(drand_data):
    c = drand_data["chains"]["default"]
    chain = chain_from_json(c)
    r3 = c["rounds"][2]
    with pytest.raises(BeaconSignatureInvalid):
        verify_round(chain, 3, bytes.fromhex(r3["signature"]), bytes.fromhex(c["rounds"][0]["signature"]))


@pytest.mark.parametrize("network", ["default", "quicknet"])
def test_bit_flips_are_refused(drand_data, network):
    c = drand_data["chains"][network]
    chain = chain_from_json(c)
    r = c["rounds"][1]
    sig = bytearray(bytes.fromhex(r["signature"]))
    for pos in (len(sig) - 1, 20):  # a low bit of x, a middle byte
        forged = bytearray(sig)
        forged[pos] ^= 0x01
        with pytest.raises(BeaconError) as info:
            verify_round(chain, r["round"], bytes(forged), prev_of(r))
        assert isinstance(info.value, BeaconEncodingError | BeaconSignatureInvalid)
    compressed_flag_off = bytearray(sig)
    compressed_flag_off[0] &= 0x7F
    with pytest.raises(BeaconEncodingError):
        verify_round(chain, r["round"], bytes(compressed_flag_off), prev_of(r))


def test_signature_from_the_other_network_is_refused(drand_data):
    d, q = drand_data["chains"]["default"], drand_data["chains"]["quicknet"]
    with pytest.raises(BeaconEncodingError):  # a 48-byte G1 signature where a G2 one is expected
        verify_round(chain_from_json(d), 2, bytes.fromhex(q["rounds"][1]["signature"]), bytes.fromhex(d["rounds"][1]["previous_signature"]))
    with pytest.raises(BeaconEncodingError):
        verify_round(chain_from_json(q), 2, bytes.fromhex(d["rounds"][1]["signature"]))


def test_public_key_swapped_between_networks_is_refused(drand_data):
    d, q = drand_data["chains"]["default"], drand_data["chains"]["quicknet"]
    chain = chain_from_json(q)
    wrong = ChainInfo(chain.chain_hash, chain.scheme, bytes.fromhex(d["public_key"]), chain.genesis_time, chain.period)
    with pytest.raises(BeaconEncodingError):
        verify_round(wrong, 2, bytes.fromhex(q["rounds"][1]["signature"]))


def test_point_not_on_curve_is_an_encoding_error(drand_data):
    q = drand_data["chains"]["quicknet"]
    chain = chain_from_json(q)
    # x = 0 with the compression flag: 0^3 + 4 = 4 is a square, so try x = 1 .. until off-curve
    for x in range(1, 20):
        raw = bytes([0x80]) + x.to_bytes(47, "big")
        try:
            verify_round(chain, 2, raw)
        except BeaconEncodingError:
            return
        except BeaconSignatureInvalid:
            continue
    pytest.fail("no off-curve or off-subgroup x found")


def test_randomness_mismatch_is_refused(drand_data):
    q = drand_data["chains"]["quicknet"]
    r = q["rounds"][0]
    with pytest.raises(BeaconRandomnessMismatch):
        verify_round(chain_from_json(q), 1, bytes.fromhex(r["signature"]), None, hashlib.sha256(b"x").digest())


def test_json_reveal_and_unknown_chain(drand_data):
    q = drand_data["chains"]["quicknet"]
    chains = {q["chain_hash"]: chain_from_json(q)}
    r = q["rounds"][3]
    out = verify_round_json(chains, {"chain_hash": q["chain_hash"], "round": r["round"], "signature": r["signature"]})
    assert out.randomness.hex() == r["randomness"]
    with pytest.raises(BeaconChainUnknown):
        verify_round_json(chains, {"chain_hash": "00" * 32, "round": 1, "signature": r["signature"]})


def test_round_times(drand_data):
    q = chain_from_json(drand_data["chains"]["quicknet"])
    t1 = round_time(q, 1)
    assert round_after(q, t1 - 1) == 1
    assert round_after(q, t1) == 2
    assert round_after(q, t1 + 2) == 2
    assert round_after(q, t1 + 3) == 3
    for t in range(t1 - 5, t1 + 40):
        r = round_after(q, t)
        assert round_time(q, r) > t and (r == 1 or round_time(q, r - 1) <= t)
    check_round_in_future(q, 123, round_time(q, 123) - 1)
    with pytest.raises(BeaconRoundInPast):
        check_round_in_future(q, 123, round_time(q, 123))
