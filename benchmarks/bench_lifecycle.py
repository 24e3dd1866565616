"""Prepare-to-drawn end to end (issue 4 benchmark (b)): read the registry, apply the
exclusion rules, commit the pools, log prepared/seeded/drawn — for pools of N subjects.

Each size runs in a fresh subprocess so its peak RSS is its own. The registry is filled
directly (setup is not measured); the measured part is exactly what an operator waits for:
DrawService.prepare + seed + run.

    .venv/bin/python -m benchmarks.bench_lifecycle --sizes 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def _fill_registry(led, n: int, inspectors: int) -> str:  # type: ignore[no-untyped-def]
    """Departments, one item, N subjects, inspectors and an approved plan, written directly."""
    from sqlalchemy import insert

    from drawsvc.creditcode import generate
    from drawsvc.registry import schema as reg

    rng = random.Random(n)
    with led.engine.begin() as conn:
        dept = {"code": "scj", "name": "市场监管局", "parent": None, "joint_group": None}
        conn.execute(insert(reg.departments).values(**dept, doc=json.dumps(dept), seq=0))
        item = {"code": "I1", "version": 1, "department": "scj", "kind": "general", "status": "active",
                "ratio_min_bp": 500}
        conn.execute(insert(reg.items).values(code="I1", version=1, department="scj", kind="general",
                                              status="active", doc=json.dumps(item), seq=0))
        rows = []
        for i in range(n):
            code = generate(rng, region="150222") if i < 1000 else _fast_code(i)
            doc = {"code": code, "name": f"企业{i}", "region": "150222", "industry": "F52", "status": "存续",
                   "credit_class": "ABCD"[rng.randrange(4)], "abnormal": False, "serious_dishonest": False,
                   "penalized_on": None, "complaints": 0, "licences": [], "tags": []}
            rows.append({"code": code, "name": doc["name"], "region": "150222", "industry": "F52", "status": "存续",
                         "credit_class": doc["credit_class"], "abnormal": False, "serious_dishonest": False,
                         "penalized_on": None, "complaints": 0, "doc": json.dumps(doc, ensure_ascii=False), "seq": 0})
            if len(rows) == 20000:
                conn.execute(insert(reg.subjects), rows)
                rows = []
        if rows:
            conn.execute(insert(reg.subjects), rows)
        conn.execute(insert(reg.inspectors), [
            {"id": f"P{i:05d}", "cert_no": f"C{i:05d}", "name": f"检查员{i}", "department": "scj", "status": "在岗",
             "cert_valid_from": "2020-01-01", "cert_valid_to": "2030-12-31", "seq": 0,
             "doc": json.dumps({"id": f"P{i:05d}", "department": "scj", "status": "在岗", "qualifications": [],
                                "cert_valid_from": "2020-01-01", "cert_valid_to": "2030-12-31"})}
            for i in range(inspectors)])
        plan = {"code": "P1", "year": 2026, "departments": ["scj"], "items": ["I1"], "sublibraries": [],
                "filter": {}, "ratios_bp": {"A": 100, "B": 300, "C": 1000, "D": 2000}, "frequency_cap": 2,
                "exemptions": [], "team_size": 2, "joint": False, "status": "approved"}
    # the plan goes through the log as a real one does, so a verifier can check the draw's parameters
    draft = {**plan, "status": "draft"}
    led.append("registry.plan.added", {"id": "P1", "state": draft, "changed": sorted(draft)}, led.system)
    entry = led.append("registry.plan.approved", {"id": "P1", "state": plan, "changed": ["status"]}, led.system)
    with led.engine.begin() as conn:
        conn.execute(insert(reg.plans).values(code="P1", year=2026, status="approved", doc=json.dumps(plan),
                                              seq=entry.seq))
    return "P1"


def _fast_code(i: int) -> str:
    """A unique 18-character id for filler subjects (checked codes are not needed to time a draw)."""
    return f"91150222{i:010d}"


def child(n: int, inspectors: int) -> dict:
    from argon2 import PasswordHasher

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
    led = initialise(engine, "bench/log", NoteSigner("bench/log", generate_actor_key()), system, None, None,
                     clock=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    plan = _fill_registry(led, n, inspectors)
    reg = Registry(led, b"bench", hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    svc = DrawService(led, reg)
    actor = Actor("system", "system", signer=system)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    d = svc.prepare(actor, plan, "scj", [{"type": "dice", "min_digits": 20}])
    t1 = time.perf_counter()
    svc.seed(actor, d["id"], [{"type": "dice", "digits": "31415926535897932384"}])
    t2 = time.perf_counter()
    svc.run(actor, d["id"])
    t3 = time.perf_counter()
    return {"n": n, "inspectors": inspectors, "selected": sum(d["expected_sizes"].values()),
            "prepare_s": round(t1 - t0, 3), "seed_s": round(t2 - t1, 3), "run_s": round(t3 - t2, 3),
            "total_s": round(t3 - t0, 3), "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_before_mib": round(rss0 / 1024, 1)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--inspectors", type=int, default=300)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="10,000 subjects only")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.inspectors)))
        return
    sizes = [10000] if args.quick else [int(s) for s in args.sizes.split(",")]
    results = []
    for n in sizes:
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_lifecycle", "--child", str(n),
                              "--inspectors", str(args.inspectors)], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"N={r['n']:>9,}  selected={r['selected']:>6}  prepare {r['prepare_s']:7.2f}s  seed {r['seed_s']:6.2f}s  "
              f"run {r['run_s']:6.2f}s  total {r['total_s']:7.2f}s  peak RSS {r['peak_rss_mib']:7.1f} MiB", flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "lifecycle.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
