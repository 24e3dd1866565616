"""Split bulk, pure work of a draw check over the cores by forking (pools, tickets, matching).

Why fork: a million-subject bundle is already parsed in this process; a forked child shares
those objects copy-on-write, while sending them to a pool worker would cost as much as the
hashing it saves.  A child runs one given pure function over data it inherited, writes the
bytes it returns to a pipe and leaves with ``os._exit``: it touches nothing of the parent's
(files, threads, the report).

Why this is safe for a verifier: the result is exactly what running the parts one after the
other gives.  A child that fails, is killed or answers short is not trusted: its part is run
again here (so a real error is raised here, with its traceback).  Where fork is missing, is
disabled (``SPOTCHECK_VERIFY_WORKERS=1``) or the job is small, every part simply runs here.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import struct
import sys
import time
from collections.abc import Callable, Sequence

__all__ = ["GRACE", "MIN_PARALLEL", "parts_for", "ranges", "run_split", "workers"]

_LEN = struct.Struct(">Q")

#: Below this many items a fork costs more than it saves (tests lower it to force the split).
MIN_PARALLEL = 100_000


def workers() -> int:
    """Processes a split may use: the usable cores (at most 8), unless SPOTCHECK_VERIFY_WORKERS says."""
    env = os.environ.get("SPOTCHECK_VERIFY_WORKERS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if not hasattr(os, "fork") or sys.platform in ("emscripten", "wasi"):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 8))


def parts_for(n: int) -> int:
    """How many parts to split ``n`` items into (1: do not fork)."""
    return workers() if n >= MIN_PARALLEL else 1


def ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges covering 0..n in ``parts`` nearly equal pieces (fewer if n is small)."""
    parts = max(1, min(parts, n))
    step, extra = divmod(n, parts)
    out, lo = [], 0
    for i in range(parts):
        hi = lo + step + (1 if i < extra else 0)
        out.append((lo, hi))
        lo = hi
    return out


#: A child gets at least this long (seconds), or 20x what the same-sized part took here, to answer;
#: past that it is taken as hung (say, a lock some other thread held at the fork), killed, and its
#: part run here.
GRACE = 120.0


def _read_all(fd: int, deadline: float) -> bytes | None:
    """Everything the child writes until it closes the pipe, or None if it is still silent at the deadline."""
    chunks = []
    while True:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            return None
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _stop(children: list[tuple[int, int] | None]) -> None:
    """Kill and reap the children still running (an error here: their answers will not be read)."""
    for child in children:
        if child is not None:
            with contextlib.suppress(OSError):
                os.kill(child[0], 9)
            os.close(child[1])
            os.waitpid(child[0], 0)


def run_split(tasks: Sequence[Callable[[], bytes]]) -> list[bytes]:
    """Results of ``tasks`` in order: tasks[1:] in forked children, tasks[0] here, at the same time."""
    if len(tasks) <= 1 or workers() <= 1:
        return [t() for t in tasks]
    children: list[tuple[int, int] | None] = []
    for task in tasks[1:]:
        try:
            r, w = os.pipe()
        except OSError:
            children.append(None)
            continue
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            children.append(None)
            continue
        if pid == 0:  # pragma: no cover - the child (coverage cannot see it): compute, write, leave
            code = 1
            try:
                gc.disable()  # a collection would touch (and so copy) every page of the parent's heap
                os.close(r)
                data = task()
                view = memoryview(_LEN.pack(len(data)) + data)
                while view:
                    view = view[os.write(w, view):]
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        children.append((pid, r))
    t0 = time.monotonic()
    try:
        results = [tasks[0]()]
    except BaseException:
        _stop(children)
        raise
    deadline = time.monotonic() + max(GRACE, 20 * (time.monotonic() - t0))
    pending: list[int] = []
    for i, child in enumerate(children, start=1):
        if child is None:
            pending.append(i)
            results.append(b"")
            continue
        pid, r = child
        try:
            raw = _read_all(r, deadline)
        except BaseException:  # e.g. KeyboardInterrupt: leave no child behind
            _stop(children[i - 1:])
            raise
        os.close(r)
        children[i - 1] = None
        if raw is None:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
            raw = b""
        _, status = os.waitpid(pid, 0)
        ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and len(raw) >= _LEN.size
        if ok:
            (size,) = _LEN.unpack_from(raw)
            ok = len(raw) == _LEN.size + size
        if ok:
            results.append(raw[_LEN.size:])
        else:
            pending.append(i)
            results.append(b"")
    for i in pending:  # a child that could not start or did not answer: its part, here
        results[i] = tasks[i]()
    return results
