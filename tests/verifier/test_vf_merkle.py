"""RFC 9162 §2.1: known answers, brute-force cross-checks, property tests with mutations."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.merkle import (
    EMPTY_ROOT,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# The RFC 6962 / Certificate Transparency reference leaves and roots (sizes 1..8).
KAT_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43", bytes(range(0x50, 0x58)),
              bytes(range(0x60, 0x70))]
KAT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
H = [leaf_hash(x) for x in KAT_LEAVES]


def test_hash_prefixes():
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("n", range(1, 9))
def test_known_roots(n):
    assert root_from_leaf_hashes(H[:n]).hex() == KAT_ROOTS[n - 1]
    tb = TreeBuilder()
    for h in H[:n]:
        tb.append(h)
    assert tb.root().hex() == KAT_ROOTS[n - 1]


def test_known_proof_shapes():
    # PATH(0, D[8]) = [h1, MTH(2..4), MTH(4..8)]; PROOF(4, D[8]) = [MTH(4..8)] (m is a power of 2).
    assert inclusion_proof(H, 0) == [H[1], root_from_leaf_hashes(H[2:4]), root_from_leaf_hashes(H[4:8])]
    assert consistency_proof(H, 4) == [root_from_leaf_hashes(H[4:8])]
    # RFC 9162 §2.1.5 example tree: PROOF(3, D[7]) = [c, d, g, l] with g = MTH(D[0:2]), l = MTH(D[4:7]).
    assert consistency_proof(H[:7], 3) == [H[2], H[3], root_from_leaf_hashes(H[0:2]), root_from_leaf_hashes(H[4:7])]
    assert consistency_proof(H[:7], 4) == [root_from_leaf_hashes(H[4:7])]
    assert consistency_proof(H[:7], 6) == [root_from_leaf_hashes(H[4:6]), H[6], root_from_leaf_hashes(H[0:4])]
    # PATH(3, D[7]) = [c, g, l] per the RFC's example tree
    assert inclusion_proof(H[:7], 3) == [H[2], root_from_leaf_hashes(H[0:2]), root_from_leaf_hashes(H[4:7])]


def _hashes(n):
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_brute_force_all_small_trees():
    for n in range(1, 33):
        hs = _hashes(n)
        root = root_from_leaf_hashes(hs)
        tb = TreeBuilder()
        for h in hs:
            tb.append(h)
        assert tb.root() == root
        for m in range(n):
            assert verify_inclusion(m, n, hs[m], inclusion_proof(hs, m), root)
            assert not verify_inclusion(m, n, leaf_hash(b"x"), inclusion_proof(hs, m), root)
        for m in range(0, n + 1):
            old = root_from_leaf_hashes(hs[:m])
            assert verify_consistency(m, n, old, root, consistency_proof(hs, m))


def _mutations(proof):
    """Every single-element change of a proof: flip a bit, drop, duplicate, swap."""
    out = []
    for i in range(len(proof)):
        out.append(proof[:i] + [bytes([proof[i][0] ^ 1]) + proof[i][1:]] + proof[i + 1:])
        out.append(proof[:i] + proof[i + 1:])
        out.append(proof[:i + 1] + [proof[i]] + proof[i + 1:])
        if i + 1 < len(proof) and proof[i] != proof[i + 1]:
            out.append(proof[:i] + [proof[i + 1], proof[i]] + proof[i + 2:])
    out.append(proof + [b"\x00" * 32])
    return out


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_property(nm):
    n, m = nm
    hs = _hashes(n)
    root = root_from_leaf_hashes(hs)
    proof = inclusion_proof(hs, m)
    assert verify_inclusion(m, n, hs[m], proof, root)
    for bad in _mutations(proof):
        assert not verify_inclusion(m, n, hs[m], bad, root)
    if n > 1:
        assert not verify_inclusion((m + 1) % n, n, hs[m], proof, root) or hs[m] == hs[(m + 1) % n]
    assert not verify_inclusion(m, n, hs[m], proof, leaf_hash(b"other root"))


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1))))
def test_consistency_property(nm):
    n, m = nm
    hs = _hashes(n)
    root, old = root_from_leaf_hashes(hs), root_from_leaf_hashes(hs[:m])
    proof = consistency_proof(hs, m)
    assert verify_consistency(m, n, old, root, proof)
    for bad in _mutations(proof):
        assert not verify_consistency(m, n, old, root, bad)
    # A forked history: same old size, one old leaf changed -> no proof from the new tree works.
    forked = list(hs)
    forked[m - 1] = leaf_hash(b"forged")
    assert not verify_consistency(m, n, old, root_from_leaf_hashes(forked), consistency_proof(forked, m))
    assert not verify_consistency(m, n, root_from_leaf_hashes(forked[:m]), root, proof)
    assert not verify_consistency(n, m, root, old, proof)


def test_edge_cases():
    hs = _hashes(5)
    r = root_from_leaf_hashes(hs)
    assert verify_consistency(5, 5, r, r, [])
    assert not verify_consistency(5, 5, r, leaf_hash(b"x"), [])
    assert not verify_consistency(5, 5, r, r, [r])
    assert verify_consistency(0, 5, EMPTY_ROOT, r, [])
    assert not verify_inclusion(5, 5, hs[0], [], r)
    assert verify_inclusion(0, 1, hs[0], [], hs[0])
