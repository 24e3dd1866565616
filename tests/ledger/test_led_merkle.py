"""RFC 9162 hashing and proofs: known answers (the Certificate Transparency test tree)
and properties over every small tree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.merkle import ProofError

CT_LEAVES = [bytes.fromhex(h) for h in [
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
CT_INCLUSION = [  # (index, size, proof)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_CONSISTENCY = [  # (old, new, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def stored_tree(leaf_hashes: list[bytes]) -> dict[merkle.NodeId, bytes]:
    """The stored complete-subtree nodes, built by the same append path the store uses."""
    return dict(merkle.append_leaves(0, {}, leaf_hashes))


def prove_inclusion(nodes: dict, index: int, size: int) -> list[bytes]:
    return [merkle.range_hash(lo, hi, nodes) for lo, hi in merkle.inclusion_plan(index, size)]


def prove_consistency(nodes: dict, old: int, new: int) -> list[bytes]:
    return [merkle.range_hash(lo, hi, nodes) for lo, hi in merkle.consistency_plan(old, new)]


CT_HASHES = [merkle.leaf_hash(x) for x in CT_LEAVES]
CT_NODES = stored_tree(CT_HASHES)


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert merkle.root_from_leaf_hashes([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("size,root", sorted(CT_ROOTS.items()))
def test_known_roots(size: int, root: str) -> None:
    assert merkle.root_from_leaf_hashes(CT_HASHES[:size]).hex() == root
    assert merkle.root_from_frontier(size, CT_NODES).hex() == root


@pytest.mark.parametrize("index,size,proof", CT_INCLUSION)
def test_known_inclusion_proofs(index: int, size: int, proof: list[str]) -> None:
    assert [h.hex() for h in prove_inclusion(CT_NODES, index, size)] == proof
    merkle.verify_inclusion(index, size, CT_HASHES[index], [bytes.fromhex(p) for p in proof],
                            bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize("old,new,proof", CT_CONSISTENCY)
def test_known_consistency_proofs(old: int, new: int, proof: list[str]) -> None:
    assert [h.hex() for h in prove_consistency(CT_NODES, old, new)] == proof
    merkle.verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new]),
                              [bytes.fromhex(p) for p in proof])


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _mutations(proof: list[bytes]) -> list[list[bytes]]:
    """Every way we tamper with a proof: flip a bit in each element, drop, add, swap."""
    out = []
    for i in range(len(proof)):
        flipped = bytearray(proof[i])
        flipped[0] ^= 1
        out.append(proof[:i] + [bytes(flipped)] + proof[i + 1:])
        out.append(proof[:i] + proof[i + 1:])
    out.append(proof + [b"\x00" * 32])
    if len(proof) >= 2 and proof[0] != proof[1]:
        out.append([proof[1], proof[0], *proof[2:]])
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70))
def test_every_inclusion_proof_verifies_and_every_mutation_fails(size: int) -> None:
    hashes = _leaves(size)
    nodes = stored_tree(hashes)
    root = merkle.root_from_leaf_hashes(hashes)
    for index in range(size):
        proof = prove_inclusion(nodes, index, size)
        merkle.verify_inclusion(index, size, hashes[index], proof, root)
        for bad in _mutations(proof):
            with pytest.raises(ProofError):
                merkle.verify_inclusion(index, size, hashes[index], bad, root)
        wrong_leaf = merkle.leaf_hash(b"not in the tree")
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, size, wrong_leaf, proof, root)
        if size > 1:
            with pytest.raises(ProofError):
                merkle.verify_inclusion((index + 1) % size, size, hashes[index], proof, root)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=50))
def test_every_consistency_proof_verifies_and_every_mutation_fails(new: int) -> None:
    hashes = _leaves(new)
    nodes = stored_tree(hashes)
    new_root = merkle.root_from_leaf_hashes(hashes)
    for old in range(1, new + 1):
        old_root = merkle.root_from_leaf_hashes(hashes[:old])
        proof = prove_consistency(nodes, old, new)
        merkle.verify_consistency(old, new, old_root, new_root, proof)
        for bad in _mutations(proof):
            with pytest.raises(ProofError):
                merkle.verify_consistency(old, new, old_root, new_root, bad)
        if old < new:
            forked = merkle.root_from_leaf_hashes([merkle.leaf_hash(b"fork")] + hashes[1:old])
            with pytest.raises(ProofError):
                merkle.verify_consistency(old, new, forked, new_root, proof)


def test_proof_requests_out_of_range_are_refused() -> None:
    with pytest.raises(ProofError):
        merkle.inclusion_plan(5, 5)
    with pytest.raises(ProofError):
        merkle.inclusion_plan(-1, 5)
    with pytest.raises(ProofError):
        merkle.consistency_plan(6, 5)


def test_inclusion_proof_reads_only_log_many_nodes() -> None:
    size = 1_000_003
    for index in (0, 1, 500_000, size - 1):
        needed = merkle.nodes_for_ranges(merkle.inclusion_plan(index, size))
        assert len(needed) <= 2 * size.bit_length()
