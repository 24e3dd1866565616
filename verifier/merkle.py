"""RFC 9162 §2.1 Merkle tree hashing, proofs and proof verification.

Written from the RFC text alone (not from the server's code), so that the verifier and the
server can only agree if both follow the RFC.  Hashes are raw 32-byte SHA-256 digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "TreeBuilder",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_by_levels",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

#: MTH({}) = SHA-256() — the hash of an empty tree (§2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """MTH({d0}) = SHA-256(0x00 || d0): the 0x00 prefix separates leaves from nodes."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right) for an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """k = the largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) computed from leaf hashes with the recursive definition of §2.1.1."""
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(root_from_leaf_hashes(hashes[:k]), root_from_leaf_hashes(hashes[k:]))


def root_by_levels(hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from leaf hashes, one level at a time (the same root as the recursion).

    Why the same: pairing a level left to right and carrying an odd last node up unchanged
    builds, at every level, the complete subtrees of 2^L leaves from the left and one subtree
    of the remainder; the §2.1.1 split at the largest power of two k < n is such a boundary
    (k is a multiple of every 2^L <= k), so both definitions nest the same subtrees.  Why:
    one list comprehension per level instead of a Python call per node (a million-leaf pool).
    The tests compare it with :func:`root_from_leaf_hashes` for every n up to a few hundred.
    """
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    sha256 = hashlib.sha256
    while len(level) > 1:
        nxt = [sha256(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class TreeBuilder:
    """Streaming MTH: keeps only the O(log n) perfect-subtree roots (a "compact range").

    Why: a full log of a million entries is verified in one pass without keeping every leaf
    hash; folding the peaks right-to-left gives exactly the §2.1.1 split at the largest power
    of two, so the root at any size can be read off while streaming.
    """

    __slots__ = ("_peaks", "size")

    def __init__(self) -> None:
        self._peaks: list[tuple[int, bytes]] = []
        self.size = 0

    def append(self, lh: bytes) -> None:
        """Add one leaf hash (already 0x00-prefixed and hashed)."""
        peaks = self._peaks
        height = 0
        h = lh
        while peaks and peaks[-1][0] == height:
            h = node_hash(peaks.pop()[1], h)
            height += 1
        peaks.append((height, h))
        self.size += 1

    def root(self) -> bytes:
        """Root of the tree over every leaf appended so far."""
        if not self._peaks:
            return EMPTY_ROOT
        r = self._peaks[-1][1]
        for _, h in reversed(self._peaks[:-1]):
            r = node_hash(h, r)
        return r


def inclusion_proof(hashes: Sequence[bytes], m: int) -> list[bytes]:
    """PATH(m, D[n]) of §2.1.3.1, from leaf hashes (used by tests and small bundles)."""
    n = len(hashes)
    if not 0 <= m < n:
        raise ValueError("leaf index out of range")
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return inclusion_proof(hashes[:k], m) + [root_from_leaf_hashes(hashes[k:])]
    return inclusion_proof(hashes[k:], m - k) + [root_from_leaf_hashes(hashes[:k])]


def _subproof(m: int, hashes: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if b else [root_from_leaf_hashes(hashes)]
    k = _split(n)
    if m <= k:
        return _subproof(m, hashes[:k], b) + [root_from_leaf_hashes(hashes[k:])]
    return _subproof(m - k, hashes[k:], False) + [root_from_leaf_hashes(hashes[:k])]


def consistency_proof(hashes: Sequence[bytes], m: int) -> list[bytes]:
    """PROOF(m, D[n]) of §2.1.4.1 (empty when m == n or m == 0)."""
    n = len(hashes)
    if not 0 <= m <= n:
        raise ValueError("old size out of range")
    if m in (0, n):
        return []
    return _subproof(m, hashes, True)


def verify_inclusion(index: int, size: int, lh: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """§2.1.3.2: does ``proof`` show leaf hash ``lh`` at ``index`` in the tree of ``size`` with ``root``?"""
    if index < 0 or index >= size:
        return False
    fn, sn = index, size - 1
    r = lh
    for p in proof:
        if len(p) != 32:
            return False
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes, proof: Sequence[bytes]) -> bool:
    """§2.1.4.2: is the tree (``second``, ``second_hash``) an append-only extension of (``first``, ``first_hash``)?

    The RFC covers 0 < first < second; the edge cases follow from the definitions: a tree is
    consistent with itself only with the same root and an empty proof, every tree extends the
    empty tree (empty proof), and a tree never extends a bigger one.
    """
    if first < 0 or second < first:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    if first == 0:
        return not proof
    if not proof or any(len(p) != 32 for p in proof):
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0
