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


REAL_CHAIN_HASHES = {"default": "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce",
                     "quicknet": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"}


@pytest.mark.parametrize("network", ["default", "quicknet"])
def test_chain_hash_reproduces_drands(drand_data, network):
    """SHA-256(u32 period || i64 genesis_time || public key || genesis seed [|| beacon id]) is the real
    chain hash of each League of Entropy network (drand's ChainInfo.Hash)."""
    from drawsvc.draw.drand import chain_info_hash

    c = drand_data["chains"][network]
    got = chain_info_hash(c["period"], c["genesis_time"], bytes.fromhex(c["public_key"]),
                          bytes.fromhex(c["genesis_seed"]), c["beacon_id"])
    assert got.hex() == REAL_CHAIN_HASHES[network] == c["chain_hash"]
    assert chain_from_json(c).to_json() == {k: c[k] for k in ("beacon_id", "scheme", "chain_hash", "public_key",
                                                               "genesis_time", "period", "genesis_seed")}


@pytest.mark.parametrize("change", [
    {"public_key": "a0b862a7527fee3a731bcb59280ab6abd62d5c0b6ea03dc4ddf6612fdfc9d01f01c31542541771903475eb1ec6615f8d"
                   "0df0b8b6dce385811d6dcf8cbefb8759e5e616a3dfd054c928940766d9a5b9db91e3b697e5d70a975181e007f87fca5e"},
    {"genesis_seed": "00" * 32},
    {"period": 6, "genesis_time": 1692803367 - 3 * 122},  # round 123's time unchanged
    {"beacon_id": "default"},
])
def test_chain_info_not_hashing_to_its_chain_hash_is_refused(drand_data, change):
    """The service refuses parameters filed under quicknet's hash that are not quicknet's."""
    from drawsvc.draw.errors import BeaconChainHashMismatch

    with pytest.raises(BeaconChainHashMismatch):
        chain_from_json({**drand_data["chains"]["quicknet"], **change})


def test_chain_info_without_genesis_seed_is_refused(drand_data):
    from drawsvc.draw.errors import BeaconChainHashMismatch

    c = {k: v for k, v in drand_data["chains"]["quicknet"].items() if k != "genesis_seed"}
    with pytest.raises(BeaconChainHashMismatch):
        chain_from_json(c)


def test_vector_rounds_are_the_services_networks():
    """docs/vectors/drand-rounds.json (what the vectors cite) is the file the service loads."""
    from _draw_support import DRAND_FILE

    from drawsvc.draws.service import NETWORKS_FILE

    assert DRAND_FILE.read_bytes() == NETWORKS_FILE.read_bytes()
