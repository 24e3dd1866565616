"""The independent verifier's speed (issue 5):

- draw: a real draw over N subjects is prepared, seeded, drawn and published by the service
  (its `run` step timed), its evidence bundle written, and `verifier.draw.verify_bundle`
  timed on it — target: within 1.5x of the service's draw time;
- log: `verifier.log.verify_log` over a log of M entries, against the Ed25519-verification
  floor over both cores measured in the same run — target: >= 80% of it.  ``--log-runs R``
  interleaves R floor and verify runs (median ratio); ``--log-prefix N`` verifies only the
  first N entries of the cached M-entry log.

    .venv/bin/python -m benchmarks.bench_verifier --draw-sizes 10000,100000,1000000 --log-entries 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def make_draw_bundle(n: int, inspectors: int, path: Path) -> dict:
    """Service side: a published draw over n subjects; returns its timings, writes the bundle."""
    from argon2 import PasswordHasher

    from benchmarks.bench_lifecycle import _fill_registry
    from drawsvc.draws.bundle import build_bundle
    from drawsvc.draws.service import DrawService
    from drawsvc.instance import make_engine, migrate
    from drawsvc.registry.authz import Actor
    from drawsvc.registry.service import Registry
    from ledger.keys import ActorSigner, generate_actor_key
    from ledger.note import NoteSigner
    from ledger.store import initialise

    tmp = Path(tempfile.mkdtemp())
    engine = make_engine(f"sqlite:///{tmp / 'bench.sqlite3'}")
    migrate(engine)
    system = ActorSigner("system", generate_actor_key())
    log_signer = NoteSigner("bench/log", generate_actor_key())
    led = initialise(engine, "bench/log", log_signer, system, None, None,
                     clock=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    plan = _fill_registry(led, n, inspectors)
    svc = DrawService(led, Registry(led, b"bench", hasher=PasswordHasher(time_cost=1, memory_cost=1024,
                                                                          parallelism=1)))
    actor = Actor("system", "system", signer=system)
    t_prepare = time.perf_counter()
    d = svc.prepare(actor, plan, "scj", [{"type": "dice", "min_digits": 20}])
    svc.seed(actor, d["id"], [{"type": "dice", "digits": "31415926535897932384"}])
    t0 = time.perf_counter()
    svc.run(actor, d["id"])
    run_s = time.perf_counter() - t0
    end_to_end_s = time.perf_counter() - t_prepare
    svc.publish(actor, d["id"])
    bundle = build_bundle(led, d["id"], privileged=False, log_verifier_key=log_signer.verifier.encode())
    path.write_text(json.dumps(bundle, ensure_ascii=False))
    return {"n": n, "service_run_s": round(run_s, 3), "service_prepare_to_drawn_s": round(end_to_end_s, 3),
            "bundle_mib": round(path.stat().st_size / 2**20, 1)}


def verify_draw_file(path: Path) -> dict:
    from verifier.draw import verify_bundle

    bundle = json.loads(path.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    report, _ = verify_bundle(bundle)
    return {"verify_s": round(time.perf_counter() - t0, 3), "ok": report.ok}


def _sigs(count: int) -> list[tuple[bytes, bytes, bytes]]:
    from nacl.signing import SigningKey

    key = SigningKey.generate()
    msgs = [os.urandom(300) for _ in range(64)]
    return [(bytes(key.verify_key), m, key.sign(m).signature) for m in msgs] * (count // 64)


def _verify_chunk(items: list[tuple[bytes, bytes, bytes]]) -> int:
    from nacl.signing import VerifyKey

    for pk, m, s in items:
        VerifyKey(pk).verify(m, s)
    return len(items)


def ed25519_floor(cores: int, count: int = 40000) -> float:
    """Ed25519 verifications per second over `cores` processes (PyNaCl, nothing else)."""
    return ed25519_floor_cpu(cores, count)[0]


def ed25519_floor_cpu(cores: int, count: int = 40000) -> tuple[float, float]:
    """(verifications per second over `cores` processes, CPU µs per verification) (PyNaCl, nothing else)."""
    items = _sigs(count)
    chunks = [items[i::cores] for i in range(cores)]
    t = os.times()
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(_verify_chunk, [c[:100] for c in chunks]))  # warm the workers
        t0 = time.perf_counter()
        done = sum(pool.map(_verify_chunk, chunks))
        rate = done / (time.perf_counter() - t0)
    t2 = os.times()
    cpu = (t2.children_user + t2.children_system - t.children_user - t.children_system) / (done + 100 * cores)
    return rate, cpu * 1e6


def load_log(entries: int, prefix: int | None = None) -> tuple[list[bytes], list[str], str] | str:
    """(leaves, [latest checkpoint note within them], log key) of the cached M-entry log, or why not.

    ``prefix``: only the first N leaves and the largest checkpoint of size <= N (quick iteration
    on the 1M-entry log without building a smaller one).
    """
    import sqlite3

    db = OUT / f"ledger-{entries}.sqlite3"
    if not db.exists():
        return f"{db} not found: build it with `python -m benchmarks.bench_ledger --entries {entries}`"
    conn = sqlite3.connect(db)
    limit = prefix or entries
    leaves = [r[0] for r in conn.execute("select leaf from log_entries where seq < ? order by seq", (limit,))]
    notes = [r[0] for r in conn.execute("select note from checkpoints where size <= ? order by size desc limit 1",
                                        (limit,))]
    log_key = json.loads(leaves[0])["payload"]["log_key"]
    conn.close()
    return leaves, notes, log_key


def log_rate(loaded: tuple[list[bytes], list[str], str]) -> dict:
    """verify_log over the loaded log; also the main process's own CPU time per entry."""
    from verifier.log import LogOptions, verify_log

    leaves, notes, log_key = loaded
    c0 = os.times()
    t0 = time.perf_counter()
    report = verify_log(leaves, notes, total=len(leaves), options=LogOptions(log_key=log_key))
    seconds = time.perf_counter() - t0
    c1 = os.times()
    parent_cpu = c1.user + c1.system - c0.user - c0.system
    worker_cpu = c1.children_user + c1.children_system - c0.children_user - c0.children_system
    return {"entries": len(leaves), "seconds": round(seconds, 2), "rate": round(len(leaves) / seconds),
            "parent_us_per_entry": round(parent_cpu / len(leaves) * 1e6, 2),
            "workers_us_per_entry": round(worker_cpu / len(leaves) * 1e6, 2), "ok": report.ok}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--draw-sizes", default="10000,100000")
    ap.add_argument("--inspectors", type=int, default=300)
    ap.add_argument("--log-entries", type=int, default=0, help="0: skip the full-log run")
    ap.add_argument("--log-prefix", type=int, default=0,
                    help="verify only the first N entries of the --log-entries log (quick iteration)")
    ap.add_argument("--log-runs", type=int, default=1,
                    help="floor and verify runs, interleaved; the ratio reported is the median of the runs' ratios")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--make-bundle", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--verify-file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.make_bundle:
        print(json.dumps(make_draw_bundle(int(args.make_bundle[0]), args.inspectors, Path(args.make_bundle[1]))))
        return
    if args.verify_file:
        print(json.dumps(verify_draw_file(Path(args.verify_file))))
        return
    OUT.mkdir(exist_ok=True)
    results: dict = {"draws": [], "log": None}
    sizes = [10000] if args.quick else [int(s) for s in args.draw_sizes.split(",") if s]
    for n in sizes:
        path = OUT / f"bundle-{n}.json"
        made = json.loads(subprocess.run([sys.executable, "-m", "benchmarks.bench_verifier", "--make-bundle", str(n),
                                          str(path), "--inspectors", str(args.inspectors)],
                                         capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        runs = [json.loads(subprocess.run([sys.executable, "-m", "benchmarks.bench_verifier", "--verify-file", str(path)],
                                          capture_output=True, text=True, check=True).stdout.splitlines()[-1])
                for _ in range(3)]
        verify_s = statistics.median(r["verify_s"] for r in runs)
        row = {**made, "verify_s": verify_s, "verify_runs_s": [r["verify_s"] for r in runs],
               "ratio_to_run": round(verify_s / made["service_run_s"], 2),
               "ratio": round(verify_s / made["service_prepare_to_drawn_s"], 2), "ok": all(r["ok"] for r in runs),
               "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}
        results["draws"].append(row)
        print(f"draw N={n:>9,}: service prepare-to-drawn {row['service_prepare_to_drawn_s']:.2f}s "
              f"(run step alone {row['service_run_s']:.2f}s), verify (median of 3) {verify_s:.2f}s "
              f"(runs {row['verify_runs_s']}), ratio {row['ratio']} (target <= 1.5; to the run step alone "
              f"{row['ratio_to_run']}), bundle {row['bundle_mib']} MiB, verified clean: {row['ok']}, "
              f"load average {row['load_avg_1_5_15']} on {os.cpu_count()} cores", flush=True)
    if args.log_entries:
        loaded = load_log(args.log_entries, args.log_prefix or None)
        if isinstance(loaded, str):
            print(loaded)
        else:
            runs = []
            for i in range(max(1, args.log_runs)):
                # The floor just before and just after the run, averaged: on a shared machine the load
                # changes during a long run, and a single short floor measurement can be far off it.
                before, cpu_before = ed25519_floor_cpu(2)
                lr = log_rate(loaded)
                after, cpu_after = ed25519_floor_cpu(2)
                floor, floor_cpu = (before + after) / 2, (cpu_before + cpu_after) / 2
                cpu = lr["parent_us_per_entry"] + lr["workers_us_per_entry"]
                runs.append({**lr, "floor_2_cores": round(floor), "floor_before_after": [round(before), round(after)],
                             "ratio": round(lr["rate"] / floor, 3),
                             "floor_cpu_us_per_verification": round(floor_cpu, 2),
                             "cpu_ratio": round(floor_cpu / cpu, 3)})
                print(f"log run {i + 1}: {lr['entries']:,} entries in {lr['seconds']}s = {lr['rate']:,}/s; Ed25519 "
                      f"floor over 2 cores {floor:,.0f}/s (before {before:,.0f}, after {after:,.0f}); ratio {lr['rate'] / floor:.2f}; CPU per entry: main "
                      f"process {lr['parent_us_per_entry']} us + workers {lr['workers_us_per_entry']} us vs "
                      f"{floor_cpu:.1f} us per floor verification (CPU ratio {floor_cpu / cpu:.2f}); "
                      f"clean: {lr['ok']}; load {os.getloadavg()[0]:.2f}", flush=True)
            ratio = statistics.median(r["ratio"] for r in runs)
            results["log"] = {**runs[len(runs) // 2], "runs": runs, "median_ratio": ratio}
            print(f"log: median ratio {ratio:.2f} over {len(runs)} run(s) (target >= 0.80); "
                  f"clean: {all(r['ok'] for r in runs)}")
    (OUT / "verifier.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
