"""Batched Ed25519 verification, spread over every core.

Why: signature checks bound the cost of verifying a full log (~65 µs each, the "floor").  The
main process does the cheap, order-dependent work (parsing, canonical form, chain, keys, tree)
and hands signatures to worker processes in chunks large enough that pickling stays a small
fraction of the work.  Small logs are verified inline: a pool costs more than it saves there.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError, CryptoError

__all__ = ["SignatureBatcher", "ed25519_ok", "verify_batch"]

#: (message, signature, public key)
Item = tuple[bytes, bytes, bytes]


def ed25519_ok(message: bytes, signature: bytes, public_key: bytes) -> bool:
    """RFC 8032 Ed25519 verification (libsodium); any malformed input is simply "invalid"."""
    if len(signature) != 64 or len(public_key) != 32:
        return False
    try:
        crypto_sign_open(signature + message, public_key)
    except (BadSignatureError, CryptoError, ValueError, TypeError):
        return False
    return True


def verify_batch(items: Sequence[Item]) -> list[int]:
    """Positions in ``items`` whose signature does NOT verify (runs in a worker process).

    Same test as :func:`ed25519_ok`, inlined: this loop runs once per entry of the log.
    """
    bad = []
    for i, (m, s, k) in enumerate(items):
        if len(s) != 64 or len(k) != 32:
            bad.append(i)
            continue
        try:
            crypto_sign_open(s + m, k)
        except (BadSignatureError, CryptoError, ValueError, TypeError):
            bad.append(i)
    return bad


class SignatureBatcher:
    """Collects signature checks with a tag each and reports the tags that failed.

    ``on_fail(tag)`` is called, in the main process, for every failing signature, either
    inline (small jobs) or as worker results come back.  The number of chunks in flight is
    bounded so memory stays flat on a huge log.
    """

    def __init__(self, on_fail: Callable[[object], None], *, workers: int | None = None,
                 parallel: bool = True, chunk: int = 2048) -> None:
        self.on_fail = on_fail
        self.chunk = chunk
        self.workers = workers or os.cpu_count() or 1
        self.parallel = parallel and self.workers > 1
        self._items: list[Item] = []
        self._tags: list[object] = []
        self._pool: ProcessPoolExecutor | None = None
        self._inflight: deque[tuple[Future[list[int]], list[object]]] = deque()
        self.count = 0

    def add(self, tag: object, message: bytes, signature: bytes, public_key: bytes) -> None:
        self._items.append((message, signature, public_key))
        self._tags.append(tag)
        self.count += 1
        if len(self._items) >= self.chunk:
            self._flush()

    def _flush(self) -> None:
        items, tags = self._items, self._tags
        self._items, self._tags = [], []
        if not items:
            return
        if not self.parallel:
            for i in verify_batch(items):
                self.on_fail(tags[i])
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        while len(self._inflight) >= 3 * self.workers:
            self._collect_one()
        self._inflight.append((self._pool.submit(verify_batch, items), tags))

    def _collect_one(self) -> None:
        fut, tags = self._inflight.popleft()
        for i in fut.result():
            self.on_fail(tags[i])

    def finish(self) -> None:
        """Verify whatever is pending and wait for every worker result."""
        self._flush()
        try:
            while self._inflight:
                self._collect_one()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
