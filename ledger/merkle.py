"""RFC 9162 §2.1 Merkle tree hashing and proofs, as pure functions.

The tree over leaves D[0:n] is MTH(D[n]):
    MTH({})      = SHA-256()
    MTH({d0})    = SHA-256(0x00 || d0)
    MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),  k = largest power of 2 < n

Storage model (as Go's golang.org/x/mod/sumdb/tlog): we store only the hashes of
*complete* subtrees, named (level, index): node (L, i) covers leaves
[i*2^L, (i+1)*2^L). Every hash a proof needs is MTH of a range [lo, hi) whose
start is aligned, so it folds from at most log2(n) stored nodes. Proof
generation is therefore split in three steps that keep I/O out of the math:

    plan   = inclusion_plan(index, size)        # which ranges, pure
    needed = nodes_for_ranges(plan)             # which stored nodes, pure
    hashes = reader(needed)                     # one batched read, I/O
    proof  = [range_hash(lo, hi, hashes) for lo, hi in plan]   # pure

so a proof costs O(log n) point reads and never a rebuild of the tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # [lo, hi)


class ProofError(ValueError):
    """A proof request or a proof is malformed, or does not verify."""


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf): the domain-separated hash of one leaf."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """k = the largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over a full list of leaf hashes, bottom-up (a pool commitment, tests, small trees)."""
    if not hashes:
        return EMPTY_ROOT
    sha256 = hashlib.sha256
    level = list(hashes)
    while len(level) > 1:
        # node_hash inlined over pairs (a million leaves: a million node hashes)
        nxt = [sha256(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)]
        if len(level) % 2:
            nxt.append(level[-1])  # an odd node is carried up unchanged (RFC 9162 shape)
        level = nxt
    return level[0]


# --- Which stored nodes make up a range --------------------------------------------


def range_nodes(lo: int, hi: int) -> list[NodeId]:
    """Maximal complete subtrees covering [lo, hi), left to right.

    Valid for the ranges RFC 9162 proofs use, whose lo is a multiple of a power of two
    at least hi - lo. Repeatedly take the largest aligned block starting at lo that fits.
    """
    if not 0 <= lo < hi:
        raise ProofError(f"empty or negative range [{lo}, {hi})")
    nodes: list[NodeId] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1  # largest block that fits ...
        while lo % (1 << level):  # ... and is aligned at lo
            level -= 1
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def range_hash(lo: int, hi: int, stored: Mapping[NodeId, bytes]) -> bytes:
    """MTH(D[lo:hi]) from stored complete-subtree hashes.

    The blocks of range_nodes shrink left to right, so MTH folds from the right:
    h = node_hash(block_i, h). This equals the RFC's recursive split for aligned lo.
    """
    nodes = range_nodes(lo, hi)
    try:
        acc = stored[nodes[-1]]
        for node in reversed(nodes[:-1]):
            acc = node_hash(stored[node], acc)
    except KeyError as missing:
        raise ProofError(f"stored hash {missing.args[0]} is missing") from None
    return acc


def nodes_for_ranges(ranges: Iterable[Range]) -> list[NodeId]:
    """Every stored node the given ranges need, without repeats, in a stable order."""
    seen: dict[NodeId, None] = {}
    for lo, hi in ranges:
        for node in range_nodes(lo, hi):
            seen.setdefault(node, None)
    return list(seen)


# --- Proof plans (RFC 9162 §2.1.3.1 and §2.1.4.1) ----------------------------------


def inclusion_plan(index: int, size: int) -> list[Range]:
    """The ranges whose MTH form PATH(index, D[0:size]), in proof order.

    PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])     if m < k
                  = PATH(m-k, D[k:n]) : MTH(D[0:k])   if m >= k
    The recursion goes down first, so the deepest sibling comes first in the proof.
    """
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not below tree size {size}")
    plan: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index - lo < k:
            plan.append((lo + k, hi))
            hi = lo + k
        else:
            plan.append((lo, lo + k))
            lo += k
    plan.reverse()
    return plan


def consistency_plan(old: int, new: int) -> list[Range]:
    """The ranges whose MTH form PROOF(old, D[0:new]), in proof order.

    SUBPROOF(m, D[n], b) = [] if m = n and b;  [MTH(D[n])] if m = n and not b
                         = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])       if m <= k
                         = SUBPROOF(m-k, D[k:n], false) : MTH(D[0:k]) if m > k
    """
    if not 0 <= old <= new:
        raise ProofError(f"old size {old} must be between 0 and new size {new}")
    if old == 0 or old == new:
        return []
    plan: list[Range] = []
    lo, hi, whole = 0, new, True
    while True:
        m, n = old - lo, hi - lo
        if m == n:
            if not whole:
                plan.append((lo, hi))
            break
        k = split_point(n)
        if m <= k:
            plan.append((lo + k, hi))
            hi = lo + k
        else:
            plan.append((lo, lo + k))
            lo += k
            whole = False
    plan.reverse()
    return plan


# --- Verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ---------------------------------


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof of leaf hash `leaf` at `index` in `size`."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
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
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `proof` shows leaf hash `leaf` at `index` under `root`."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Raise ProofError unless `proof` shows tree `old` is a prefix of tree `new`."""
    if not 0 <= old <= new:
        raise ProofError(f"old size {old} must be between 0 and new size {new}")
    if old == new:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("equal sizes but different roots")
        return
    if old == 0:
        if proof:
            raise ProofError("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:  # old is a power of two: its root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
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
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")


# --- Appending: which complete subtrees a new leaf completes -----------------------


def frontier(size: int) -> list[NodeId]:
    """The complete subtrees on the right edge of a tree of `size` leaves.

    They are the set bits of size, largest first: the nodes a new leaf may merge with.
    """
    nodes: list[NodeId] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def append_leaves(
    size: int, right_edge: Mapping[NodeId, bytes], new_leaf_hashes: Sequence[bytes]
) -> list[tuple[NodeId, bytes]]:
    """The stored nodes created by appending leaf hashes to a tree of `size` leaves.

    `right_edge` holds at least the frontier(size) nodes. Leaf i completes node (L, i>>L)
    for every L while bit L-1 of i is 1; each such node hashes its two children.
    Returns new nodes (level 0 included) in creation order.
    """
    known: dict[NodeId, bytes] = dict(right_edge)
    created: list[tuple[NodeId, bytes]] = []
    for offset, h in enumerate(new_leaf_hashes):
        i = size + offset
        node: NodeId = (0, i)
        known[node] = h
        created.append((node, h))
        level, idx = 0, i
        while idx & 1:
            parent = node_hash(known[(level, idx - 1)], known[(level, idx)])
            level, idx = level + 1, idx >> 1
            known[(level, idx)] = parent
            created.append(((level, idx), parent))
    return created


def root_from_frontier(size: int, stored: Mapping[NodeId, bytes]) -> bytes:
    """MTH(D[0:size]) from the frontier nodes."""
    if size == 0:
        return EMPTY_ROOT
    return range_hash(0, size, stored)
