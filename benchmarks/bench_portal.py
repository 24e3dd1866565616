"""Portal benchmark (issue 13): wrk against `drawsvc serve --workers 2` on the public pages.

    python -m benchmarks.bench_portal --subjects 100000 --results 10000 --duration 10

Build (cached in benchmarks/out/portal-<subjects>-<results>/): the demo county (published draws,
plans, results), plus `--subjects` subjects imported through the registry importer (one signed
batch entry) and `--results` published inspection results of them (each as the service logs
them: task.created, task.checked, result.entered, result.confirmed, result.published).

Load: Debian's `wrk` (2 threads, 16 connections, --latency) for each page in turn against one
`drawsvc serve --workers 2` on 127.0.0.1, after a warm-up; the baseline is a small static file
served by the same server in the same run. Company pages are requested both as one page (the
crowd on publication day) and rotating over 2,000 published companies (a Lua script).
Reported: requests/s, p50, p99, and the ratio to the static file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DRAWSVC_KEY_PASSPHRASE", "bench-passphrase")

from benchmarks.common import published_result  # noqa: E402 - after the path set-up above

CATS = [["no_problem"]] * 6 + [["corrected"], ["pending_followup", "not_disclosed"], ["closed"]]


def log(msg: str) -> None:
    print(f"[portal] {msg}", file=sys.stderr, flush=True)


def _subject_csv(codes: list[str]) -> bytes:
    lines = ["统一社会信用代码,名称,行政区划代码,行业代码,信用风险分类"]
    lines += [f"{c},基准企业{i},150222,C1311,{'ABCD'[i % 4]}" for i, c in enumerate(codes)]
    return ("\n".join(lines) + "\n").encode()


def _fresh_postgres(admin_url: str, name: str) -> str:
    """A new, empty PostgreSQL database for the benchmark (dropped first if it exists)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def build(home: Path, subjects: int, results: int, seed: int = 13, postgres: str | None = None) -> dict[str, Any]:
    """The demo plus bulk subjects and published results; returns codes to request."""
    from sqlalchemy import insert

    from drawsvc import creditcode
    from drawsvc.demo import create_demo
    from drawsvc.inspections import schema
    from drawsvc.registry import io as regio
    from drawsvc.registry.service import Registry

    meta = home / "built.json"
    if meta.exists():
        return json.loads(meta.read_text())
    if home.exists():
        shutil.rmtree(home)
    t0 = time.perf_counter()
    url = _fresh_postgres(postgres, f"spotcheck_portal_{subjects}_{results}") if postgres else None
    inst, _, _ = create_demo(home / "instance", origin="bench.example/log", database_url=url)
    ledger = inst.ledger()
    rng = random.Random(seed)
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < subjects:
        c = creditcode.generate(rng, region="150222", authority="9", category="1")
        if c not in seen:
            seen.add(c)
            codes.append(c)
    reg = Registry(ledger, inst.passphrase())
    admin = reg.actor_for(reg.get("account", "admin"))
    report = regio.import_file(reg, admin, "subject", _subject_csv(codes), "bench.csv")
    if not report.ok:
        raise RuntimeError(f"import failed: {report.errors[:3]}")
    log(f"imported {subjects} subjects in {time.perf_counter() - t0:.0f} s")
    signer = ledger.system
    start_day = date(2026, 1, 5)
    published = codes[:results]
    for b in range(0, results, 2000):
        with ledger.transaction() as tx:
            tasks, rows = [], []
            for i in range(b, min(results, b + 2000)):
                tid, dept, code = f"B{i:07d}", "scjg", published[i]
                check = (start_day + timedelta(days=rng.randrange(300))).isoformat()
                items = [{"code": "SCJG-001", "version": 1, "name": "抽查事项", "department": dept,
                          "legal_basis": "依据"}]
                e = tx.append("inspection.task.created", {
                    "task_id": tid, "kind": "random", "draw_id": None, "department": dept, "departments": [dept],
                    "year": 2026, "subject": code, "subject_name": f"基准企业{i}", "team": ["P001", "P002"],
                    "experts": [], "items": items, "window": {"start": "2026-01-01", "end": "2026-12-31"},
                    "notice": {}}, signer)
                tasks.append({"id": tid, "department": dept, "draw_id": None, "subject": code, "kind": "random",
                              "year": 2026, "status": "checked", "check_date": check, "window_start": "2026-01-01",
                              "window_end": "2026-12-31", "created_seq": e.seq, "created_date": check, "doc": "{}"})
                tx.append("inspection.task.checked", {"task_id": tid, "check_date": check}, signer)
                rows.append(published_result(tx, signer, rng.choice(CATS), tid=tid, dept=dept, subject=code,
                                             subject_name=f"基准企业{i}", check=check, item="SCJG-001",
                                             department_name="市场监管局"))
            tx.conn.execute(insert(schema.tasks), tasks)
            tx.conn.execute(insert(schema.results), rows)
    from drawsvc.draws.service import DrawService
    from ledger.witnessing import witness_now

    witness_now(ledger)  # the demo's 2-of-3 witnesses cosign: the results are public, as on publication day
    draws = [d["id"] for d in DrawService(ledger, reg).list() if d["status"] == "published"]
    out = {"subjects": subjects, "results": results, "log_size": ledger.size(), "seconds": time.perf_counter() - t0,
           "companies": published[:2000], "draw": draws[0]}
    meta.write_text(json.dumps(out))
    log(f"built in {out['seconds']:.0f} s, log size {out['log_size']}")
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def wrk(url: str, duration: int, script: Path | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t2", "-c16", f"-d{duration}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=duration + 60).stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    lat = {f"p{m.group(1)}_ms": float(m.group(2)) * scale[m.group(3)] for m in LATENCY.finditer(out)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, **lat, "errors": int(non2xx.group(1)) if non2xx else 0}


def run(home: Path, built: dict[str, Any], duration: int, workers: int, public_ttl: float = 1.0) -> list[dict[str, Any]]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-c", "from drawsvc.cli import main; main()", "--home",
                               str(home / "instance"), "serve", "--port", str(port), "--workers", str(workers),
                               "--access-log", "/dev/null", "--public-ttl", str(public_ttl)],
                              env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    script = home / "companies.lua"
    paths = ", ".join(f'"/public/companies/{c}"' for c in built["companies"])
    script.write_text("local paths = {" + paths + "}\nrequest = function()\n"
                      "  return wrk.format(\"GET\", paths[math.random(#paths)])\nend\n")
    company = built["companies"][len(built["companies"]) // 2]
    pages = [
        ("static file /static/css/site.css", "/static/css/site.css", None),
        ("home /", "/", None),
        ("search /public/search?q=<code>", f"/public/search?q={company}", None),
        ("company page (one)", f"/public/companies/{company}", None),
        ("company pages (2,000 rotating)", "/", script),
        ("published draw page", f"/public/draws/{built['draw']}", None),
        ("/checkpoint", "/checkpoint", None),
        ("tile /tile/0/000", "/tile/0/000", None),
        ("draw bundle", f"/api/v1/draws/{built['draw']}/bundle", None),
    ]
    rows = []
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(2)
        for name, path, lua in pages:
            wrk(base + path, 2, lua)  # warm-up (workers import, caches fill)
            r = wrk(base + path, duration, lua)
            rows.append({"page": name, "path": path if lua is None else "(lua: random company)", **r})
            log(f"{name}: {r}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    static = rows[0]["rps"]
    for r in rows:
        r["vs_static"] = round(r["rps"] / static, 2) if static else None
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--results", type=int, default=10_000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--public-ttl", type=float, default=1.0,
                    help="serve --public-ttl: seconds a worker reuses the public version (0 = read it per request)")
    ap.add_argument("--postgres", metavar="ADMIN_URL", nargs="?", const="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                    help="build on PostgreSQL (a fresh database created through this admin URL) instead of SQLite")
    a = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    home = ROOT / "benchmarks" / "out" / f"portal-{'pg-' if a.postgres else ''}{a.subjects}-{a.results}"
    built = build(home, a.subjects, a.results, postgres=a.postgres)
    rows = run(home, built, a.duration, a.workers, a.public_ttl)
    out = {"database": "postgresql" if a.postgres else "sqlite", "subjects": a.subjects, "results": a.results,
           "workers": a.workers, "duration_s": a.duration, "public_ttl": a.public_ttl,
           "log_size": built["log_size"], "rows": rows}
    (home / f"results-ttl{a.public_ttl:g}.json").write_text(json.dumps(out, indent=1, ensure_ascii=False))
    print("| page | req/s | p50 ms | p99 ms | x static | non-2xx |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['page']} | {r['rps']:.0f} | {r.get('p50_ms', 0):.1f} | {r.get('p99_ms', 0):.1f} | "
              f"{r['vs_static']} | {r['errors']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
