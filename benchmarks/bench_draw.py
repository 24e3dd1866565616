"""Benchmark (a) of issue 4: the draw itself from a frozen pool.

    .venv/bin/python benchmarks/bench_draw.py --sizes 10000,100000,1000000 --inspectors 30,300

For each pool size N (synthetic credit-code-like ids, strata A 60% / B 25% / C 10% / D 5% with
the default ratios A 1% B 3% C 10% D 20% lifted to the 5% general-item floor) it times, median
of --runs runs:
  draw   — stratum sizes, subject tickets, per-stratum selection (heapq.nsmallest) and
           inspector matching (lazy keyed shuffle per subject, team of 2) for every selected
           subject, i.e. run_draw();
  select — the same without the matching (tickets + selection only);
  floor  — SHA-256 of the same ids alone (the least any ticket scheme can cost);
  peer   — consistent_sampler.sampler (Rivest; used by risk-limiting audits) drawing the same
           sample size from the same ids (one run: it is slow);
draw/floor is the median of the per-run ratios (draw and floor timed back to back), and the
peak Python memory of one draw (tracemalloc, pool excluded). --inspectors takes a
comma-separated list (one table per pool size of the department); the load average is printed
before and after, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drawsvc.draw.matching import Inspector, TeamRule  # noqa: E402
from drawsvc.draw.rules import stratum_sizes  # noqa: E402
from drawsvc.draw.run import run_draw  # noqa: E402
from drawsvc.draw.selection import draw_subjects  # noqa: E402

RATIOS = {"A": "0.01", "B": "0.03", "C": "0.10", "D": "0.20"}
SPLIT = (("A", 60), ("B", 25), ("C", 10), ("D", 5))
SEED = hashlib.sha256(b"benchmark seed").digest()


def make_pool(n: int) -> dict[str, list[str]]:
    strata: dict[str, list[str]] = {s: [] for s, _ in SPLIT}
    cycle = [s for s, pct in SPLIT for _ in range(pct)]
    for i in range(n):
        strata[cycle[(i * 37) % 100]].append(f"91330{i % 10}0{i:010d}X")
    return strata


def make_inspectors(n: int) -> list[Inspector]:
    return [Inspector(f"insp:{i:04d}", "market", frozenset({"food"}), "2024-01-01", "2027-12-31") for i in range(n)]


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run(sizes: list[int], n_insp: int, runs: int, peer: bool) -> None:
    rule = TeamRule(draw_date="2026-06-01", departments=("market",), team_size=2)
    inspectors = make_inspectors(n_insp)
    rows = []
    for n in sizes:
        strata = make_pool(n)
        ids = [i for v in strata.values() for i in v]
        sizes_ = stratum_sizes({s: len(v) for s, v in strata.items()}, RATIOS)
        k = sum(sizes_.values())
        sha = hashlib.sha256
        draw_t, sel_t, floor_t = [], [], []
        for _ in range(runs):  # interleaved, so a burst of load on a shared machine hits all three alike
            draw_t.append(timed(lambda: run_draw(SEED, strata, RATIOS, inspectors, rule)))  # noqa: B023
            sel_t.append(timed(lambda: draw_subjects(SEED, strata, sizes_)))  # noqa: B023
            floor_t.append(timed(lambda: [sha(i.encode()).digest() for i in ids]))  # noqa: B023
        t_draw, t_sel, t_floor = (statistics.median(x) for x in (draw_t, sel_t, floor_t))
        ratio = statistics.median(d / f for d, f in zip(draw_t, floor_t, strict=True))
        tracemalloc.start()
        run_draw(SEED, strata, RATIOS, inspectors, rule)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        t_peer = float("nan")
        if peer:
            from consistent_sampler import sampler

            t = time.perf_counter()
            got = list(sampler(ids, seed=SEED.hex(), take=k, output="id"))
            t_peer = time.perf_counter() - t
            assert len(got) == k
        rows.append((n, k, t_draw, t_sel, t_floor, t_peer, peak, ratio))
    print(f"inspector pool {n_insp}, team 2, median of {runs} runs (peer: 1 run)")
    print(f"{'N':>9} {'k':>6} {'draw s':>8} {'select s':>9} {'floor s':>8} {'peer s':>8} "
          f"{'draw/floor':>10} {'peer/draw':>9} {'peak MB':>8}")
    for n, k, td, ts, tf, tp, peak, ratio in rows:
        print(f"{n:>9} {k:>6} {td:>8.3f} {ts:>9.3f} {tf:>8.3f} {tp:>8.2f} {ratio:>10.2f} {tp / td:>9.1f} "
              f"{peak / 2**20:>8.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--inspectors", default="30", help="inspectors in the department's pool (comma-separated list)")
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for n_insp in (int(x) for x in args.inspectors.split(",")):
        run(sizes, n_insp, args.runs, not args.no_peer)
    print("load average after:  {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
