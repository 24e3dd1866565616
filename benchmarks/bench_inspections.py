"""Inspections benchmark: the annual report over N inspections computed from the log, and the
public result search by credit code under load (gunicorn + a load generator in a second process).

    python -m benchmarks.bench_inspections --inspections 100000 --requests 20000 --concurrency 16

Build: N inspections, each as the service logs them (task.created, task.checked,
result.entered, result.confirmed, result.published: 5 signed entries), plus the result rows
the public search reads; written in large transactions by the system key (cached in
benchmarks/out/ins-<N>/ for re-runs). Report: median of 3 runs of fold_ledger + build("annual").
Load: gunicorn on 127.0.0.1 only, a separate process with threads sending
GET /api/v1/public/results?q=<credit code> for random published codes, bounded by --requests
and --duration; requests/s and p50/p99 latency.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DRAWSVC_KEY_PASSPHRASE", "bench-passphrase")

from benchmarks.common import published_result  # noqa: E402 - after the path set-up above

CATS = [["no_problem"]] * 6 + [["corrected"], ["pending_followup", "not_disclosed"], ["no_activity"],
                               ["uncooperative"], ["closed"]]


def log(msg: str) -> None:
    print(f"[bench_inspections] {msg}", flush=True)


def build(home: Path, n: int, seed: int = 6) -> tuple[Any, float]:
    from sqlalchemy import insert

    from drawsvc import creditcode
    from drawsvc.inspections import schema
    from drawsvc.instance import init_instance, load

    if (home / "built.json").exists():
        return load(home), 0.0
    if home.exists():
        import shutil

        shutil.rmtree(home)
    t0 = time.perf_counter()
    inst, _ = init_instance(home, origin="bench.example/log")
    ledger = inst.ledger()
    signer = ledger.system
    rng = random.Random(seed)
    codes = []
    seen: set[str] = set()
    while len(codes) < n:
        c = creditcode.generate(rng, region="150222", authority="9", category="1")
        if c not in seen:
            seen.add(c)
            codes.append(c)
    batch = 2000
    start_day = date(2026, 1, 5)
    for b in range(0, n, batch):
        with ledger.transaction() as tx:
            tasks, results = [], []
            for i in range(b, min(n, b + batch)):
                tid = f"T{i:07d}"
                dept = "scjg" if i % 3 else "scjg-sp"
                check = (start_day + timedelta(days=rng.randrange(330))).isoformat()
                items = [{"code": "SCJG-001" if dept == "scjg" else "SCJG-002", "version": 1, "name": "抽查事项",
                          "department": dept, "legal_basis": "依据"}]
                e = tx.append("inspection.task.created", {
                    "task_id": tid, "kind": "random", "draw_id": f"D{i // 50:05d}", "department": dept,
                    "departments": [dept], "year": 2026, "subject": codes[i], "subject_name": f"企业{i}",
                    "team": ["P001", "P002"], "experts": [], "items": items,
                    "window": {"start": "2026-01-01", "end": "2026-12-31"}, "notice": {}}, signer)
                tasks.append({"id": tid, "department": dept, "draw_id": f"D{i // 50:05d}", "subject": codes[i],
                              "kind": "random", "year": 2026, "status": "checked", "check_date": check,
                              "window_start": "2026-01-01", "window_end": "2026-12-31", "created_seq": e.seq,
                              "created_date": check, "doc": "{}"})
                tx.append("inspection.task.checked", {"task_id": tid, "check_date": check}, signer)
                results.append(published_result(tx, signer, rng.choice(CATS), tid=tid, dept=dept, subject=codes[i],
                                                subject_name=f"企业{i}", check=check, item=items[0]["code"],
                                                department_name=dept))
            tx.conn.execute(insert(schema.tasks), tasks)
            tx.conn.execute(insert(schema.results), results)
        if (b // batch) % 10 == 0:
            log(f"built {min(n, b + batch)}/{n} inspections, log size {ledger.size()}")
    built = time.perf_counter() - t0
    (home / "built.json").write_text(json.dumps({"inspections": n, "log_size": ledger.size(), "seconds": built,
                                                 "codes_sample": codes[:: max(1, n // 2000)]}))
    return inst, built


def bench_report(inst: Any, runs: int = 3) -> dict[str, Any]:
    from drawsvc.inspections import reports

    times = []
    rep = None
    for _ in range(runs):
        t = time.perf_counter()
        f = reports.fold_ledger(inst.ledger())
        rep = reports.build(f, "annual", 2026)
        times.append(time.perf_counter() - t)
    assert rep is not None
    return {"runs_s": [round(x, 2) for x in times], "median_s": round(statistics.median(times), 2),
            "log_size": rep["verification"]["log_size"], "checks": rep["summary"]["checks"],
            "published": rep["summary"]["published"], "broken": len(rep["verification"]["broken"])}


def wsgi_app() -> Any:
    """gunicorn entry point: `benchmarks.bench_inspections:wsgi_app()` with DRAWSVC_HOME set."""
    from drawsvc.instance import load
    from web import create_app

    return create_app(load(Path(os.environ["DRAWSVC_HOME"])))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_worker(port: int, codes: list[str], requests: int, duration: float, concurrency: int) -> dict[str, Any]:
    """Runs in the second process: threads with keep-alive connections, bounded in count and time."""
    import http.client

    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = [0]
    deadline = time.perf_counter() + duration

    def run(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.perf_counter() < deadline:
            with lock:
                if counter[0] >= requests:
                    break
                counter[0] += 1
            t = time.perf_counter()
            try:
                conn.request("GET", f"/api/v1/public/results?q={rng.choice(codes)}")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or b'"results":[{' not in body:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            mine.append(time.perf_counter() - t)
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    lat.sort()
    pct = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 2)) if lat else (lambda q: None)
    return {"requests": len(lat), "errors": errors[0], "seconds": round(wall, 2),
            "requests_per_s": round(len(lat) / wall, 1) if wall else None, "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "max_ms": round(lat[-1] * 1000, 2) if lat else None}


def bench_load(home: Path, codes: list[str], workers: int, requests: int, duration: float,
               concurrency: int) -> dict[str, Any]:
    port = _free_port()
    env = {**os.environ, "DRAWSVC_HOME": str(home), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                               "--log-level", "warning", "benchmarks.bench_inspections:wsgi_app()"], env=env, cwd=ROOT)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        loader = subprocess.run([sys.executable, "-c",
                                 "import json,sys; from benchmarks.bench_inspections import load_worker; "
                                 "a=json.load(sys.stdin); print(json.dumps(load_worker(**a)))"],
                                input=json.dumps({"port": port, "codes": codes, "requests": requests,
                                                  "duration": duration, "concurrency": concurrency}),
                                capture_output=True, text=True, env=env, cwd=ROOT, timeout=duration + 120)
        if loader.returncode != 0:
            raise RuntimeError(loader.stderr)
        return {"workers": workers, "concurrency": concurrency, **json.loads(loader.stdout.strip().splitlines()[-1])}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inspections", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=20_000, help="load: at most this many requests")
    ap.add_argument("--duration", type=float, default=30.0, help="load: at most this many seconds")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=max(2, min(8, (os.cpu_count() or 2))))
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--skip-load", action="store_true")
    args = ap.parse_args(argv)
    home = args.home or ROOT / "benchmarks" / "out" / f"ins-{args.inspections}"
    inst, built = build(home, args.inspections)
    info = json.loads((home / "built.json").read_text())
    log(f"{info['inspections']} inspections, log size {info['log_size']}" + (f", built in {built:.0f} s" if built else
                                                                              " (cached)"))
    out: dict[str, Any] = {"command": "python -m benchmarks.bench_inspections " + " ".join(argv or sys.argv[1:]),
                           "inspections": info["inspections"], "log_size": info["log_size"],
                           "nproc": os.cpu_count()}
    out["annual_report"] = bench_report(inst)
    log(f"annual report: median {out['annual_report']['median_s']} s (target <= 10 s) {out['annual_report']}")
    if not args.skip_load:
        out["public_search"] = bench_load(home, info["codes_sample"], args.workers, args.requests, args.duration,
                                          args.concurrency)
        log(f"public search by credit code: {out['public_search']}")
    path = ROOT / "benchmarks" / "out" / "bench_inspections.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2))
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0 if out["annual_report"]["median_s"] <= 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
