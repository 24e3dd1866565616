"""Use both cores for the draw's bulk hashing, by forking.

A million-subject draw hashes every pool record twice (the pool commitment at prepare, the
tickets at run): about a second of SHA-256 calls each on one core of this 2-core machine.
The work splits cleanly into ranges, so `run_split` runs all but the first part in forked
children and the first part here, and joins their results in order.

Why fork rather than a process pool: the inputs (a million strings) are already in this
process's memory, and a forked child shares them copy-on-write; pickling them to a pool
worker would cost as much as the hashing saved. The child runs only the given function over
data it inherited and writes bytes to a pipe, then leaves with os._exit: it touches no
database connection, lock or thread of the parent.

The result is the same as running the parts one after the other (the functions are pure):
where fork is not available, is disabled (DRAWSVC_DRAW_WORKERS=1) or the work is small, the
parts simply run here.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

_LEN = struct.Struct(">Q")
MIN_PARALLEL = 100_000  # below this many items a fork costs more than it saves


def workers() -> int:
    """How many processes a split may use (the cores, unless DRAWSVC_DRAW_WORKERS says fewer)."""
    env = os.environ.get("DRAWSVC_DRAW_WORKERS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if not hasattr(os, "fork") or sys.platform == "emscripten":
        return 1
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8))


def ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges covering 0..n in `parts` nearly equal pieces (fewer if n is small)."""
    parts = max(1, min(parts, n))
    step, extra = divmod(n, parts)
    out, lo = [], 0
    for i in range(parts):
        hi = lo + step + (1 if i < extra else 0)
        out.append((lo, hi))
        lo = hi
    return out


def _read_exact(fd: int, size: int) -> bytearray | None:
    """Exactly `size` bytes from `fd` into one buffer (None if the pipe ends first): a
    child's answer can be ~100 MB, and reading it in blocks to join them copies it twice."""
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if not n:
            return None
        got += n
    return buf


def _child(task: Callable[[], bytes], r: int, w: int) -> NoReturn:
    """In a forked child: compute, write the length-prefixed result, and leave without running
    any of the parent's cleanup (exit 1 on any failure: the parent then runs the task itself)."""
    code = 1
    try:
        os.close(r)
        data = task()
        view = memoryview(_LEN.pack(len(data)) + data)
        while view:
            view = view[os.write(w, view):]
        code = 0
    finally:
        os._exit(code)


def _answer(pid: int, r: int) -> bytes | None:
    """A child's result, or None when it is not to be trusted: it did not exit 0, or what it
    wrote is not exactly one length-prefixed answer (killed midway, say)."""
    try:
        head = _read_exact(r, _LEN.size)
        body = _read_exact(r, _LEN.unpack(head)[0]) if head is not None else None
        extra = os.read(r, 1) if body is not None else b""
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0) or body is None or extra:
        return None
    return bytes(body)  # (one copy: callers slice it into keys, which must be bytes)


def run_split(tasks: Sequence[Callable[[], bytes]]) -> list[bytes]:
    """Results of `tasks` in order: tasks[1:] in forked children, tasks[0] here.

    A child that fails (or is killed) is not trusted to have answered: its task is run again
    here, so the result is always exactly what a sequential run gives.
    """
    if len(tasks) <= 1 or workers() <= 1:
        return [t() for t in tasks]
    children: list[tuple[int, int] | None] = []
    for task in tasks[1:]:
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            children.append(None)
            continue
        if pid == 0:
            _child(task, r, w)
        os.close(w)
        children.append((pid, r))
    try:
        results = [tasks[0]()]
    except BaseException:
        for child in children:
            if child is not None:
                os.kill(child[0], 9)
                os.close(child[1])
                os.waitpid(child[0], 0)
        raise
    for task, child in zip(tasks[1:], children, strict=True):
        if child is None:
            results.append(task())
            continue
        answer = _answer(*child)
        results.append(answer if answer is not None else task())
    return results


class Pending:
    """A task running in a forked child while this process goes on (`result` waits for it).

    Why: a streamed pool (a province's 20 million subjects) is read from the database part by
    part in this process; hashing part i in a child while part i + 1 is read keeps both cores
    busy. As with run_split, a child that fails or is killed is not trusted: its task is run
    again here, so the result is always the sequential one. Without fork (or with
    DRAWSVC_DRAW_WORKERS=1) the task runs at once, here."""

    def __init__(self, task: Callable[[], bytes]) -> None:
        self.task = task
        self._done: bytes | None = None
        self._child: tuple[int, int] | None = None
        if workers() <= 1:
            self._done = task()
            return
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            self._done = task()
            return
        if pid == 0:
            _child(task, r, w)
        os.close(w)
        self._child = (pid, r)

    def result(self) -> bytes:
        if self._done is None:
            assert self._child is not None
            answer = _answer(*self._child)
            self._child = None
            self._done = answer if answer is not None else self.task()
        return self._done

    def cancel(self) -> None:
        """Stop the child (an error elsewhere: its answer is no longer wanted)."""
        if self._child is not None:
            pid, r = self._child
            self._child = None
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            os.close(r)
            os.waitpid(pid, 0)
