"""Background jobs: long reports and exports computed outside the request, under a memory limit.

Why: an annual report folds the whole log and an export of a 100,000-subject registry writes a
spreadsheet of every row; done inside a request, one such request holds a server thread for
minutes and can take as much memory as it likes. So a request whose estimated work is larger
than the per-request budget does not compute it: it queues a job (a row of the `jobs` table,
migration 0008_jobs) and answers 202 with the job's URL; work beyond the per-job budget is
refused at once with a 4xx naming both figures.

Who runs jobs, and why this way with gunicorn's several processes: every server process that
queues or reads a job starts one job-runner thread (`ensure_runner`); `drawsvc jobs run` runs the
same loop on its own. Runners share nothing but the database: a runner claims the oldest queued
job with a conditional `UPDATE … WHERE status = 'queued'`, so exactly one process wins each job,
whichever worker the request reached, and a job left queued by a worker that was replaced is
claimed by any other. The runner computes the job in a child process (`python -m
drawsvc.jobs.child`) whose address space is limited with `setrlimit(RLIMIT_AS)` to its baseline
plus the job budget: a job that outgrows its budget gets a MemoryError in that child and is
marked failed (`memory_budget`), and the server process, its other requests and the rest of the
machine never see the allocation (no OOM killer). A child that runs past the time budget is
killed and the job marked failed (`time_budget`). With one runner per process, at most
`workers` jobs run at once, so jobs take at most workers × budget of memory in all.

Times here are the runner's own wall clock (bookkeeping only: retention of finished jobs),
never a value that a report or a test reads.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Engine

from drawsvc.i18n import tr

from .schema import jobs

MIB = 1024 * 1024
REQUEST_MEMORY_ENV = "DRAWSVC_REQUEST_MEMORY_MB"
JOB_MEMORY_ENV = "DRAWSVC_JOB_MEMORY_MB"
JOB_TIMEOUT_ENV = "DRAWSVC_JOB_TIMEOUT"
DEFAULT_REQUEST_MEMORY = 64 * MIB     # work a request may do itself
DEFAULT_JOB_MEMORY = 768 * MIB        # work a job may do (hard limit of its child process)
DEFAULT_JOB_TIMEOUT = 900             # seconds a job may run
MAX_ACTIVE = 16                       # queued + running jobs of all users: beyond, 503
MAX_ACTIVE_PER_OWNER = 3              # queued + running jobs of one account (or of all anonymous users): beyond, 429
RETENTION_MS = 24 * 3600 * 1000       # finished jobs (and their results) are kept this long
STATUSES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class Budget:
    """How much a request may do itself, how much a job may do, and for how long."""

    request_bytes: int = DEFAULT_REQUEST_MEMORY
    job_bytes: int = DEFAULT_JOB_MEMORY
    timeout_s: float = DEFAULT_JOB_TIMEOUT

    @classmethod
    def from_env(cls, overrides: Mapping[str, Any] | None = None) -> Budget:
        """$DRAWSVC_REQUEST_MEMORY_MB / $DRAWSVC_JOB_MEMORY_MB / $DRAWSVC_JOB_TIMEOUT, then any
        override (the app config's JOB_REQUEST_BYTES, JOB_MEMORY_BYTES, JOB_TIMEOUT)."""
        o = overrides or {}
        req = o.get("JOB_REQUEST_BYTES") or int(float(os.environ.get(REQUEST_MEMORY_ENV, 0)) * MIB) or DEFAULT_REQUEST_MEMORY
        job = o.get("JOB_MEMORY_BYTES") or int(float(os.environ.get(JOB_MEMORY_ENV, 0)) * MIB) or DEFAULT_JOB_MEMORY
        tmo = o.get("JOB_TIMEOUT") or float(os.environ.get(JOB_TIMEOUT_ENV, 0)) or DEFAULT_JOB_TIMEOUT
        return cls(int(req), int(job), float(tmo))


class OverBudget(Exception):
    """The work asked for would need more memory than a job may take."""

    def __init__(self, estimate: int, budget: int) -> None:
        super().__init__(f"estimate {estimate} > budget {budget}")
        self.estimate, self.budget = estimate, budget


class Busy(Exception):
    """Too many jobs are queued or running (for everyone, or for this owner)."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"{scope}: {limit} active jobs")
        self.scope, self.limit = scope, limit


def _now_ms() -> int:
    return int(time.time() * 1000)


def _params_text(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def submit(engine: Engine, kind: str, params: Mapping[str, Any], owner: str | None, estimate: int,
           budget: Budget) -> tuple[str, bool]:
    """Queue a job, or return the same owner's identical job that is still useful (queued,
    running, or done); returns (job id, created). Raises OverBudget or Busy."""
    if estimate > budget.job_bytes:
        raise OverBudget(estimate, budget.job_bytes)
    text = _params_text(params)
    now = _now_ms()
    owner_cond = jobs.c.owner.is_(None) if owner is None else jobs.c.owner == owner
    with engine.begin() as conn:
        conn.execute(delete(jobs).where(jobs.c.finished_ms < now - RETENTION_MS))
        same = conn.execute(select(jobs.c.id).where(jobs.c.kind == kind, jobs.c.params == text, owner_cond,
                                                    jobs.c.status != "failed")
                            .order_by(jobs.c.created_ms.desc()).limit(1)).scalar()
        if same is not None:
            return same, False
        active = jobs.c.status.in_(("queued", "running"))
        if conn.execute(select(func.count()).select_from(jobs).where(active)).scalar_one() >= MAX_ACTIVE:
            raise Busy("all", MAX_ACTIVE)
        if conn.execute(select(func.count()).select_from(jobs).where(active, owner_cond)).scalar_one() \
                >= MAX_ACTIVE_PER_OWNER:
            raise Busy("owner", MAX_ACTIVE_PER_OWNER)
        job_id = secrets.token_hex(16)
        conn.execute(insert(jobs).values(id=job_id, kind=kind, params=text, owner=owner, status="queued", progress=0,
                                         estimate_bytes=estimate, budget_bytes=budget.job_bytes,
                                         created_ms=now))
    return job_id, True


def get(engine: Engine, job_id: str) -> dict[str, Any] | None:
    """A job's state, without its result bytes."""
    cols = [c for c in jobs.c if c.name != "result"]
    with engine.connect() as conn:
        row = conn.execute(select(*cols, func.length(jobs.c.result).label("result_bytes"))
                           .where(jobs.c.id == job_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["params"] = json.loads(out["params"])
    return out


def result(engine: Engine, job_id: str) -> tuple[bytes, str, str] | None:
    with engine.connect() as conn:
        row = conn.execute(select(jobs.c.result, jobs.c.result_mime, jobs.c.result_filename)
                           .where(jobs.c.id == job_id, jobs.c.status == "done")).first()
    return None if row is None else (bytes(row[0]), row[1], row[2])


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def requeue_orphans(engine: Engine) -> int:
    """Jobs marked running by a process of this host that no longer exists go back to the queue
    (a worker that was replaced, e.g. after a timeout or a reload)."""
    host = socket.gethostname() + ":"
    n = 0
    with engine.begin() as conn:
        rows = conn.execute(select(jobs.c.id, jobs.c.runner).where(jobs.c.status == "running")).all()
        for job_id, runner in rows:
            if runner and runner.startswith(host) and runner[len(host):].isdigit() \
                    and not _alive(int(runner[len(host):])):
                n += conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.runner == runner)
                                  .values(status="queued", runner=None, progress=0)).rowcount
    return n


def claim_next(engine: Engine, runner: str) -> str | None:
    """Claim the oldest queued job for `runner`. One conditional `UPDATE … RETURNING` (a write
    from its first step, so SQLite waits for its lock instead of failing an upgrade) makes
    exactly one concurrent claimant win, across processes and hosts."""
    oldest = select(jobs.c.id).where(jobs.c.status == "queued").order_by(jobs.c.created_ms, jobs.c.id).limit(1)
    for _ in range(5):
        with engine.begin() as conn:
            if conn.execute(oldest).first() is None:
                return None
        with engine.begin() as conn:
            won = conn.execute(update(jobs).where(and_(jobs.c.id == oldest.scalar_subquery(),
                                                       jobs.c.status == "queued"))
                               .values(status="running", runner=runner).returning(jobs.c.id)).scalar()
        if won is not None:
            return str(won)
    return None


def finish(engine: Engine, job_id: str, *, ok: bool, error_code: str | None = None, message: str | None = None,
           data: bytes | None = None, mime: str | None = None, filename: str | None = None) -> None:
    values: dict[str, Any] = {"status": "done" if ok else "failed", "finished_ms": _now_ms()}
    if ok:
        values.update(progress=100, result=data, result_mime=mime, result_filename=filename)
    else:
        values.update(error_code=error_code, error_message=message)
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running").values(**values))


def set_progress(engine: Engine, job_id: str, percent: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running")
                     .values(progress=max(0, min(99, int(percent)))))


def run_claimed(engine: Engine, home: Path, job_id: str, budget: Budget) -> None:
    """Compute a claimed job in a child process limited to the memory budget the job was
    admitted under, and make sure the job ends done or failed whatever happens to the child."""
    state = get(engine, job_id)
    limit = int(state["budget_bytes"]) if state is not None else budget.job_bytes
    cmd = [sys.executable, "-m", "drawsvc.jobs.child", str(home), job_id, str(limit)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=budget.timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        finish(engine, job_id, ok=False, error_code="time_budget",
               message=tr("任务超过 %(seconds)s 秒的时间限制，已停止", seconds=f"{budget.timeout_s:.0f}"))
        return
    state = get(engine, job_id)
    if state is not None and state["status"] == "running":  # the child ended without recording an outcome
        tail = (err or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        finish(engine, job_id, ok=False, error_code="job_failed",
               message=tr("任务进程意外结束（退出码 %(returncode)s）：%(value)s", returncode=proc.returncode, value=tail[0][:300]))


class Runner:
    """One job-runner thread per process: claims queued jobs one at a time and runs each in a
    memory-limited child process."""

    def __init__(self, engine: Engine, home: Path, budget: Budget, poll_s: float = 2.0) -> None:
        self.engine, self.home, self.budget, self.poll_s = engine, home, budget, poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="drawsvc-jobs", daemon=True)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run_pending(self) -> int:
        """Run every queued job now (the CLI's `--once`); returns how many ran."""
        n = 0
        requeue_orphans(self.engine)
        while (job_id := claim_next(self.engine, runner_name())) is not None:
            run_claimed(self.engine, self.home, job_id, self.budget)
            n += 1
        return n

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:  # a database hiccup must not end the runner; try again next round
                import logging

                logging.getLogger("drawsvc.jobs").exception("job runner round failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()


_runners: dict[tuple[int, str], Runner] = {}
_runners_lock = threading.Lock()


def ensure_runner(engine: Engine, home: Path, budget: Budget) -> Runner:
    """This process's runner for this database (started on first use, after any fork)."""
    key = (os.getpid(), str(engine.url))
    with _runners_lock:
        runner = _runners.get(key)
        if runner is None:
            runner = _runners[key] = Runner(engine, home, budget)
            runner.thread.start()
    runner.wake()
    return runner


def stop_runners(timeout: float = 30) -> None:
    """Stop this process's runner threads (tests; a runner in a job's middle finishes that job)."""
    with _runners_lock:
        runners = list(_runners.values())
        _runners.clear()
    for runner in runners:
        runner.stop()
    for runner in runners:
        runner.thread.join(timeout)


Progress = Callable[[float], None]
