"""Benchmark (a) of issue 4: the draw itself from a frozen pool.

    .venv/bin/python benchmarks/bench_draw.py --sizes 10000,100000,1000000

For each pool size N (synthetic credit-code-like ids, strata A 60% / B 25% / C 10% / D 5% with
the default ratios A 1% B 3% C 10% D 20% lifted to the 5% general-item floor) it times, median
of --runs runs:
  draw   — stratum sizes, subject tickets, per-stratum selection (heapq.nsmallest) and
           inspector matching (pair tickets, team of 2) for every selected subject;
  select — the same without the matching (tickets + selection only);
  floor  — SHA-256 of the same ids alone (the least any ticket scheme can cost);
  peer   — consistent_sampler.sampler (Rivest; used by risk-limiting audits) drawing the same
           sample size from the same ids (one run: it is slow);
and the peak Python memory of one draw (tracemalloc, pool excluded).
"""

from __future__ import annotations

import argparse
import hashlib
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


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--inspectors", type=int, default=30, help="inspectors in the department's pool")
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    rule = TeamRule(draw_date="2026-06-01", departments=("market",), team_size=2)
    inspectors = make_inspectors(args.inspectors)
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        strata = make_pool(n)
        ids = [i for v in strata.values() for i in v]
        sizes = stratum_sizes({s: len(v) for s, v in strata.items()}, RATIOS)
        k = sum(sizes.values())
        t_draw = median_time(lambda: run_draw(SEED, strata, RATIOS, inspectors, rule), args.runs)  # noqa: B023
        t_sel = median_time(lambda: draw_subjects(SEED, strata, sizes), args.runs)  # noqa: B023
        sha = hashlib.sha256
        t_floor = median_time(lambda: [sha(i.encode()).digest() for i in ids], args.runs)  # noqa: B023
        tracemalloc.start()
        run_draw(SEED, strata, RATIOS, inspectors, rule)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        t_peer = float("nan")
        if not args.no_peer:
            from consistent_sampler import sampler

            t = time.perf_counter()
            got = list(sampler(ids, seed=SEED.hex(), take=k, output="id"))
            t_peer = time.perf_counter() - t
            assert len(got) == k
        rows.append((n, k, t_draw, t_sel, t_floor, t_peer, peak))
    print(f"inspector pool {args.inspectors}, team 2, median of {args.runs} runs (peer: 1 run)")
    print(f"{'N':>9} {'k':>6} {'draw s':>8} {'select s':>9} {'floor s':>8} {'peer s':>8} "
          f"{'draw/floor':>10} {'peer/draw':>9} {'peak MB':>8}")
    for n, k, td, ts, tf, tp, peak in rows:
        print(f"{n:>9} {k:>6} {td:>8.3f} {ts:>9.3f} {tf:>8.3f} {tp:>8.2f} {td / tf:>10.2f} {tp / td:>9.1f} "
              f"{peak / 2**20:>8.1f}")


if __name__ == "__main__":
    main()
