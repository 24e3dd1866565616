"""One job, computed in its own process under a memory limit: `python -m drawsvc.jobs.child HOME ID BYTES`.

Why a process: `setrlimit(RLIMIT_AS)` limits a whole process, so the job gets a process of its
own, limited to the address space it had after importing everything it may use plus the job
budget. A job that needs more gets a MemoryError here — recorded as `memory_budget` — instead of
growing the server until the kernel's OOM killer picks a victim.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

from drawsvc.i18n import tr


def _vm_size() -> int:
    """This process's current address-space size in bytes (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _is_memory_error(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def main(argv: list[str]) -> int:
    home, job_id, budget = Path(argv[0]), argv[1], int(argv[2])
    import drawsvc.jobs as jobs
    from drawsvc.instance import load
    from web.jobs import compute, preload

    preload()  # everything a job may import, before the limit: imports are not the job's work
    instance = load(home)
    engine = instance.engine()
    state = jobs.get(engine, job_id)
    if state is None or state["status"] != "running":
        return 0
    last = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5:
            last[0] = now
            jobs.set_progress(engine, job_id, int(fraction * 100))

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + budget, hard))
    try:
        data, mime, filename = compute(instance, state["kind"], state["params"], progress)
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded on the job
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))  # room to record the failure
        if _is_memory_error(exc):
            mb = budget // (1024 * 1024)
            jobs.finish(engine, job_id, ok=False, error_code="memory_budget",
                        message=tr("任务所需内存超过 %(mb)s MiB 的限制，已停止；请缩小范围（如按部门或月份）", mb=mb))
            return 3
        code = getattr(exc, "code", None)
        jobs.finish(engine, job_id, ok=False, error_code=code if isinstance(code, str) else "job_failed",
                    message=str(exc)[:1000] or type(exc).__name__)
        return 1
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))  # storing the result may copy it
    jobs.finish(engine, job_id, ok=True, data=data, mime=mime, filename=filename)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
