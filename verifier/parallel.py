"""Ed25519 verification, and an ordered pool of worker processes for chunks of work.

Why: signature checks bound the cost of verifying a full log (~65 µs each, the "floor"), and
on a small machine every microsecond the main process spends per entry is taken from the
workers.  So the workers do everything that does not depend on earlier entries (parsing, the
canonical-form check, field validation, leaf hashes, signatures: see :mod:`verifier.log`) on
chunks of a few thousand entries, and the main process only stitches the chunks' results
together, in order.  Small jobs run inline: a pool costs more than it saves there.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError, CryptoError

from .forking import workers as fork_workers

__all__ = ["ChunkPool", "ed25519_failures", "ed25519_ok"]


def ed25519_ok(message: bytes, signature: bytes, public_key: bytes) -> bool:
    """RFC 8032 Ed25519 verification (libsodium); any malformed input is simply "invalid"."""
    if len(signature) != 64 or len(public_key) != 32:
        return False
    try:
        crypto_sign_open(signature + message, public_key)
    except (BadSignatureError, CryptoError, ValueError, TypeError):
        return False
    return True


def _sodium_open() -> Callable[[bytes, bytes], bool] | None:
    """libsodium's crypto_sign_open on a reused output buffer, or None if PyNaCl's bindings moved.

    PyNaCl's ``crypto_sign_open`` allocates and zeroes an output buffer and copies the message
    out on every call; the answer (0: valid) is the same.
    """
    try:
        from nacl._sodium import ffi, lib  # the cffi module PyNaCl itself calls

        sodium_open = lib.crypto_sign_open
        out_len = ffi.new("unsigned long long *")
    except (ImportError, AttributeError):  # pragma: no cover - other PyNaCl layouts
        return None
    buf = [ffi.new("unsigned char[]", 1 << 16), 1 << 16]

    def ok(signed: bytes, public_key: bytes) -> bool:
        if len(signed) > buf[1]:
            buf[:] = [ffi.new("unsigned char[]", len(signed)), len(signed)]
        return sodium_open(buf[0], out_len, signed, len(signed), public_key) == 0  # type: ignore[no-any-return]

    return ok


_open: Callable[[bytes, bytes], bool] | None = None


def ed25519_failures(items: Iterable[Sequence[Any]]) -> list[int]:
    """Positions of the items whose (message, signature, public key) = item[0:3] does NOT verify.

    Same test as :func:`ed25519_ok`, in one tight loop: this runs once per entry of the log.
    """
    global _open
    if _open is None:
        _open = _sodium_open() or (lambda sm, k: ed25519_ok(sm[64:], sm[:64], k))
    sodium_open = _open
    bad = []
    for i, item in enumerate(items):
        m, s, k = item[0], item[1], item[2]
        if type(m) is not bytes or type(s) is not bytes or type(k) is not bytes:
            if not ed25519_ok(m, s, k):
                bad.append(i)
        elif len(s) != 64 or len(k) != 32 or not sodium_open(s + m, k):
            bad.append(i)
    return bad


def _worker_main(factory: Callable[..., Callable[[Any], Any]], args: tuple[Any, ...], wid: int,
                 tasks: Any, results: Any) -> None:
    """A worker process: build the handler once, then answer tasks until told to stop."""
    try:
        handler = factory(*args)
    except BaseException:  # reported to the main process, which raises it
        results.put((-1, wid, False, traceback.format_exc()))
        return
    while True:
        item = tasks.get()
        if item is None:
            return
        tid, task = item
        try:
            res = handler(task, wid)
        except BaseException:
            results.put((tid, wid, False, traceback.format_exc()))
            return
        results.put((tid, wid, True, res))


class ChunkPool:
    """Runs ``handler(task, worker_id)`` on tasks and gives the results back in submission order.

    ``factory(*args)`` builds the handler once per worker process (or once inline).  Each
    worker takes the next task from one shared queue, so a worker slowed by other load on the
    machine simply takes fewer chunks; a worker always receives its tasks in submission order.
    At most ``depth`` tasks per worker are in flight, so memory stays flat on a huge job.
    """

    def __init__(self, factory: Callable[..., Callable[[Any, int], Any]], args: tuple[Any, ...] = (), *,
                 workers: int | None = None, parallel: bool = True, depth: int = 3) -> None:
        self.workers = workers or fork_workers()  # the usable cores, or SPOTCHECK_VERIFY_WORKERS
        self.parallel = parallel and self.workers > 1
        if not self.parallel:
            self.workers = 1
        self._next = 0  # next task id
        self._done = 0  # next task id to hand back
        self._ready: dict[int, Any] = {}
        self._inline_results: deque[Any] = deque()
        self._procs: list[Any] = []
        if not self.parallel:
            self._handler = factory(*args)
            return
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        self._tasks = ctx.Queue()
        self._results = ctx.Queue()
        self._limit = depth * self.workers
        for wid in range(self.workers):
            p = ctx.Process(target=_worker_main, args=(factory, args, wid, self._tasks, self._results), daemon=True)
            p.start()
            self._procs.append(p)

    def submit(self, task: Any) -> Iterator[tuple[int, Any]]:
        """Queue ``task``; yields (worker id, result) of every earlier task now due, in order."""
        tid = self._next
        self._next += 1
        if not self.parallel:
            yield 0, self._handler(task, 0)
            self._done += 1
            return
        self._tasks.put((tid, task))
        while self._next - self._done > self._limit:
            yield self._take()
        while self._done in self._ready:
            yield self._take()

    def finish(self) -> Iterator[tuple[int, Any]]:
        """Yields the results of every task still outstanding, in order."""
        while self._done < self._next:
            yield self._take()

    def _take(self) -> tuple[int, Any]:
        while self._done not in self._ready:
            try:
                tid, wid, ok, res = self._results.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in self._procs if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"a verification worker died (exit code {dead[0].exitcode})") from None
                continue
            if not ok:
                raise RuntimeError(f"a verification worker failed:\n{res}")
            self._ready[tid] = (wid, res)
        out = self._ready.pop(self._done)
        self._done += 1
        return out  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the workers (also after an error: no process is left behind)."""
        procs, self._procs = self._procs, []
        if not procs:
            return
        if self._done < self._next:  # an error upstream: results nobody will read, stop at once
            self._tasks.cancel_join_thread()
            self._results.cancel_join_thread()
            for p in procs:
                p.terminate()
        else:
            for _ in procs:
                self._tasks.put(None)
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join()
        self._tasks.close()
        self._results.close()
        if self._done == self._next:
            self._tasks.join_thread()
