"""Where the verifier's memory goes on one bundle (docs/PERFORMANCE.md, "The verifier on the split bundle").

    .venv/bin/python -m benchmarks.verify_memory DIR_OR_FILE

Prints the verifying process's RSS at start, with ``bundle.json`` parsed and after the checks,
its peak, and the largest forked child's peak. (bench_scale deletes its bundle after a run; keep
one with `python -m benchmarks.bench_scale --child draw --url URL --keys KEYS --bundle DIR`.)
"""

from __future__ import annotations

import resource
import sys
import time

from verifier.draw import DrawOptions, load_draw_source, verify_bundle


def _rss() -> float:
    """Current resident set (MiB), from /proc (Linux)."""
    with open("/proc/self/status", encoding="ascii") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) / 1024


def _peak(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main(path: str) -> None:
    print(f"start: rss {_rss():.0f} MiB", flush=True)
    bundle, reader = load_draw_source(path)
    print(f"bundle.json parsed: rss {_rss():.0f}, peak {_peak():.0f} MiB", flush=True)
    t = time.perf_counter()
    report, _ = verify_bundle(bundle, DrawOptions(pool_part=reader))
    print(f"{report.verdict} in {time.perf_counter() - t:.1f} s: rss {_rss():.0f}, peak {_peak():.0f} MiB; "
          f"largest child's peak {_peak(resource.RUSAGE_CHILDREN):.0f} MiB", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
