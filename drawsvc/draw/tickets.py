"""Tickets and keyed shuffles: the pseudo-random numbers of a draw (docs/SPEC.md §D6-§D7).

subject ticket = SHA-256("spotcheck/draw/v1/subject-ticket" 0x00 || seed || UTF-8(subject id))
  The seed is 32 bytes and the id runs to the end. A ticket depends only on the seed and the id,
  so any subject can check its own ticket alone, and adding or removing another member never
  changes it. Tickets compare as 32-byte big-endian strings; equal tickets (never seen in
  practice) are ordered by the id's UTF-8 bytes.

inspector order = a lazy keyed Fisher-Yates shuffle of the m candidates, per subject:
  block_b = SHA-256("spotcheck/draw/v1/inspector-order" 0x00 || seed || lp(UTF-8(subject)) || u32(b)),
  b = 0, 1, 2, ...; the stream block_0 || block_1 || ... is read as consecutive big-endian u64.
  uniform(r): take the next u64 x; if x < floor(2^64 / r) * r return x mod r, else take the next.
  Position j (0, 1, ...): i = j + uniform(m - j); swap positions j and i of a virtual array that
  starts as the identity 0..m-1; the value now at position j is the j-th candidate (an index
  into the candidates sorted by id bytes). Experts: tag "spotcheck/draw/v1/expert-order".
  Positions are generated only as far as they are asked for, and always from position 0, so the
  order is the same whatever prefix is asked for first. Cost: about one SHA-256 per 4 positions,
  independent of m.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Iterator

from .codec import TAG_EXPERT_ORDER, TAG_INSPECTOR_ORDER, TAG_SUBJECT_TICKET, lp, tag_prefix
from .errors import DrawError

TWO64 = 1 << 64
_unpack4 = struct.Struct(">4Q").unpack
_pack_u32 = struct.Struct(">I").pack
_U32 = [_pack_u32(b) for b in range(64)]  # block counters of the usual walks, precomputed


def _check_seed(seed: bytes) -> None:
    if len(seed) != 32:
        raise DrawError("a seed is 32 bytes")


def subject_ticket(seed: bytes, subject_id: str) -> bytes:
    _check_seed(seed)
    return hashlib.sha256(tag_prefix(TAG_SUBJECT_TICKET) + seed + subject_id.encode("utf-8")).digest()


def subject_tickets(seed: bytes, subject_ids: Iterable[str]) -> list[bytes]:
    """Tickets of many subjects: one SHA-256 state with the fixed prefix, copied per id."""
    _check_seed(seed)
    copy = hashlib.sha256(tag_prefix(TAG_SUBJECT_TICKET) + seed).copy
    out: list[bytes] = []
    append = out.append
    for sid in subject_ids:
        h = copy()
        h.update(sid.encode("utf-8"))
        append(h.digest())
    return out


def order_base(seed: bytes, expert: bool = False) -> hashlib._Hash:
    """The hash state after tag || seed (shared by every subject of a draw): copy, add lp(subject)."""
    _check_seed(seed)
    return hashlib.sha256(tag_prefix(TAG_EXPERT_ORDER if expert else TAG_INSPECTOR_ORDER) + seed)


def order_block(seed: bytes, subject_id: str, b: int, expert: bool = False) -> bytes:
    """block_b of the subject's stream (32 bytes)."""
    h = order_base(seed, expert)
    h.update(lp(subject_id.encode("utf-8")) + struct.pack(">I", b))
    return h.digest()


def uniform(r: int, next_u64: Callable[[], int]) -> int:
    """An unbiased integer in [0, r) from a stream of u64 values, by rejection sampling."""
    if r < 1:
        raise DrawError("uniform(r) needs r >= 1")
    limit = (TWO64 // r) * r
    while True:
        x = next_u64()
        if x < limit:
            return x % r


class KeyedShuffle:
    """The lazy keyed Fisher-Yates permutation of range(m) for one subject (a read-only sequence).

    `order[j]` is the index (into the candidates sorted by id) at position j; positions are
    generated on demand up to j. `len(order) == m`; iterating generates the whole permutation.
    """

    __slots__ = ("m", "_state", "_block", "_vals", "_next", "_swapped", "_out")

    def __init__(self, seed: bytes, subject_id: str, m: int, expert: bool = False,
                 base: hashlib._Hash | None = None) -> None:
        if m < 0:
            raise DrawError("a shuffle needs m >= 0")
        state = (base if base is not None else order_base(seed, expert)).copy()
        raw = subject_id.encode("utf-8")
        state.update(_pack_u32(len(raw)) + raw)
        self.m = m
        self._state = state  # tag || seed || lp(subject): copied once per block
        self._block = 0
        self._vals: tuple[int, ...] = ()
        self._next = 0
        self._swapped: dict[int, int] = {}  # position -> value, only where it differs from the identity
        self._out: list[int] = []

    def ensure(self, n: int) -> list[int]:
        """Generate positions up to min(n, m) - 1; return the list of generated positions (do not modify)."""
        out = self._out
        j = len(out)
        if n > self.m:
            n = self.m
        if j >= n:
            return out
        sw, m, vals, k = self._swapped, self.m, self._vals, self._next
        while j < n:
            r = m - j
            limit = (TWO64 // r) * r
            while True:
                if k == len(vals):
                    h = self._state.copy()
                    b = self._block
                    h.update(_U32[b] if b < 64 else _pack_u32(b))
                    self._block = b + 1
                    vals = _unpack4(h.digest())
                    k = 0
                x = vals[k]
                k += 1
                if x < limit:
                    break
            i = j + x % r
            vi = sw.get(i, i)
            if i != j:
                sw[i] = sw.pop(j, j)  # swap: position i takes position j's value
            elif j in sw:
                del sw[j]  # position j is final: it is never read again
            out.append(vi)
            j += 1
        self._vals, self._next = vals, k
        return out

    def __len__(self) -> int:
        return self.m

    def __getitem__(self, j: int) -> int:  # type: ignore[override]
        if not isinstance(j, int):
            raise TypeError("positions are integers")
        if j < 0:
            j += self.m
        if not 0 <= j < self.m:
            raise IndexError(j)
        return self.ensure(j + 1)[j]

    def prefix(self, n: int) -> list[int]:
        """The first min(n, m) positions (a copy)."""
        return self.ensure(n)[:max(0, min(n, self.m))]

    @property
    def blocks_used(self) -> int:
        """How many blocks of the stream have been hashed so far."""
        return self._block

    @property
    def generated(self) -> int:
        """How many positions have been generated so far."""
        return len(self._out)

    def __iter__(self) -> Iterator[int]:
        for j in range(self.m):
            yield self[j]


def first_positions(base: hashlib._Hash, subject_id: str, m: int, n: int) -> list[int]:
    """KeyedShuffle(seed, subject_id, m, base=base).prefix(n), without the object.

    The matching of a subject that can skip nobody needs only its first team-size positions;
    this is the same walk as KeyedShuffle.ensure (same blocks, same rejection, same swaps),
    written flat because it runs once per drawn subject (85,000 at a million-subject pool).
    A test compares the two over many subjects, pool sizes and lengths."""
    raw = subject_id.encode("utf-8")
    state = base.copy()
    state.update(_pack_u32(len(raw)) + raw)
    n = min(n, m)
    out: list[int] = []
    swapped: dict[int, int] = {}
    vals: tuple[int, ...] = ()
    k = block = 0
    for j in range(n):
        r = m - j
        limit = (TWO64 // r) * r
        while True:
            if k == len(vals):
                h = state.copy()
                h.update(_U32[block] if block < 64 else _pack_u32(block))
                block += 1
                vals = _unpack4(h.digest())
                k = 0
            x = vals[k]
            k += 1
            if x < limit:
                break
        i = j + x % r
        out.append(swapped.get(i, i))
        if i != j:
            swapped[i] = swapped.pop(j, j)
        else:
            swapped.pop(j, None)
    return out

