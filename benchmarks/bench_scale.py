"""A province-sized registry (issue 16, point 1): import, prepare, seed, draw and verify at N subjects.

    .venv/bin/python -m benchmarks.bench_scale --n 20000000 --store sqlite
    .venv/bin/python -m benchmarks.bench_scale --n 2000000 --store both --runs 3

What it does, each step in its own process (so each peak RSS is that step's own):

* **generate + import**: a registry of N subjects with realistic values — unified social credit
  codes with valid GB 32100 / GB 11714 check characters (91 企业 / 92 个体工商户 / 93 合作社 in
  proportions like a province's register), Guangdong district codes weighted by size, GB/T 4754
  industry codes weighted as a register's are (retail and wholesale first), names built from a
  city, a brand and an industry word with the suffix the subject's kind takes, credit classes
  A 55 % / B 38 % / C 5.5 % / D 1.5 %, and a small share not active or flagged (so the rules
  exclude some and raise some to D). Generated vectorised (numpy) one million at a time and
  written through the driver (SQLite executemany, PostgreSQL COPY), with progress on stderr.
  The registry is cached per store and N in benchmarks/out/ (a run that finds it skips the
  import); what is timed as *import* is generation plus writing, rows/s reported. (This is the
  bulk load of a benchmark, not the service's signed import: one signed log entry per
  subject, ~5,000/s, would take over an hour at 20 million; see docs/PERFORMANCE.md.)
* **prepare → seed → draw**: DrawService.prepare / seed / run, as an operator waits for them;
  peak RSS of that process.
* **verify**: the draw is published, its bundle written (not timed) as a bundle directory with
  the subject pool in parts (docs/SPEC.md §D12.1: `bundle.json` and `pool/subjects-NNNNNN.jsonl`,
  2^20 subjects a part; `--whole-bundle`: the one-file form, the pool as one JSON list), and the
  verifier (`verifier.draw.load_draw_source` + `verify_bundle`, reading one part at a time) timed
  in a fresh process: wall and CPU seconds (its forked children included), and its peak RSS
  (the process's or its largest child's) (`--skip-verify` leaves it out).
* **floor**: SHA-256 of the N ids on the same cores (one fork per core, each hashing its share),
  measured in the same run, right before the draw; every step is also given as a ratio to it.

Results: stdout (a table) and benchmarks/out/scale-<store>-<N>.json. Medians over `--runs`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
PG_ADMIN = "postgresql+psycopg://postgres@localhost:5432/postgres"
CHUNK = 1_000_000

# --- realistic values ---------------------------------------------------------------------

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ORG_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Guangdong districts (GB/T 2260) with rough shares of the province's market subjects
DISTRICTS = [("440106", "广州", 9), ("440104", "广州", 5), ("440113", "广州", 6), ("440111", "广州", 5),
             ("440304", "深圳", 9), ("440305", "深圳", 7), ("440306", "深圳", 10), ("440307", "深圳", 9),
             ("440604", "佛山", 5), ("440606", "佛山", 5), ("441900", "东莞", 12), ("442000", "中山", 4),
             ("441302", "惠州", 3), ("440402", "珠海", 2), ("440703", "江门", 2), ("440507", "汕头", 3),
             ("445202", "揭阳", 2), ("440802", "湛江", 2)]
# GB/T 4754 industry codes with rough shares of a register (retail and wholesale dominate)
INDUSTRIES = [("F52", "商贸", 31), ("F51", "贸易", 15), ("H62", "餐饮", 9), ("O80", "服务", 7), ("L72", "商务", 6),
              ("I65", "科技", 5), ("C13", "食品", 2), ("C18", "服装", 3), ("C38", "电器", 2), ("E48", "建筑", 3),
              ("G54", "运输", 4), ("K70", "物业", 2), ("M75", "技术", 4), ("R88", "文化", 2), ("A01", "农业", 2),
              ("P83", "教育", 1), ("Q84", "健康", 1), ("S90", "管理", 1)]
KINDS = [("1", "有限公司", 33), ("2", "商行", 65), ("3", "专业合作社", 2)]  # 91 / 92 / 93
BRAND = "华新达利丰盛源泰兴隆鑫宏鼎恒通永安福康瑞祥和嘉美佳德信诚益顺发金银海天明光辉星云龙凤"
CLASSES = [("A", 55.0), ("B", 38.0), ("C", 5.5), ("D", 1.5)]


def _weights(rows: list[tuple[Any, ...]]) -> Any:
    import numpy as np

    w = np.array([r[-1] for r in rows], dtype=float)
    return w / w.sum()


def generate(n: int, seed: int = 16) -> Any:
    """Yield parts of at most CHUNK subjects as (codes, names, region, industry, class, status, flags) columns,
    codes unique across the whole registry and every part sorted by code (the parts in code order too)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cs = np.frombuffer(CHARSET.encode(), dtype=np.uint8)
    value = np.zeros(128, dtype=np.int64)
    value[cs] = np.arange(31)
    orgv = np.zeros(128, dtype=np.int64)
    orgv[np.frombuffer(ORG_CHARS.encode(), dtype=np.uint8)] = np.arange(36)
    w17 = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
    worg = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
    dist_codes = np.array([d[0].encode() for d in DISTRICTS], dtype="S6")
    # all codes first (18 bytes each: 360 MB at 20M), so they can be made unique and sorted
    m = int(n * 1.001) + 1000
    kind = rng.choice(len(KINDS), m, p=_weights(KINDS))
    dist = rng.choice(len(DISTRICTS), m, p=_weights(DISTRICTS))
    raw = np.empty((m, 18), dtype=np.uint8)
    raw[:, 0] = ord("9")
    raw[:, 1] = np.frombuffer(b"123", dtype=np.uint8)[kind]
    raw[:, 2:8] = np.frombuffer(dist_codes.tobytes(), dtype=np.uint8).reshape(-1, 6)[dist]
    raw[:, 8:16] = cs[rng.integers(0, 31, (m, 8))]  # organisation body (GB 11714 chars that GB 32100 allows)
    c9 = 11 - (orgv[raw[:, 8:16]] * worg).sum(axis=1) % 11
    raw[:, 16] = np.where(c9 == 10, ord("X"), np.where(c9 == 11, ord("0"), ord("0") + c9 % 10))
    c18 = (31 - (value[raw[:, :17]] * w17).sum(axis=1) % 31) % 31
    raw[:, 17] = cs[c18]
    codes = np.unique(raw.view("S18").ravel())
    if len(codes) < n:
        raise RuntimeError("too many repeated codes: raise the margin")
    keep = np.sort(rng.choice(len(codes), n, replace=False))
    codes = codes[keep]
    del raw, kind, dist
    ind_p, cls_p = _weights(INDUSTRIES), _weights(CLASSES)
    city = {d[0]: d[1] for d in DISTRICTS}
    brand = list(BRAND)
    for lo in range(0, n, CHUNK):
        part = [c.decode() for c in codes[lo:lo + CHUNK].tolist()]
        k = len(part)
        ind = rng.choice(len(INDUSTRIES), k, p=ind_p)
        cls = rng.choice(4, k, p=cls_p)
        b1, b2 = rng.integers(0, len(brand), k).tolist(), rng.integers(0, len(brand), k).tolist()
        u = rng.random(k)
        status = np.where(u < 0.004, 1, np.where(u < 0.006, 2, 0))  # 注销 0.4 %, 吊销 0.2 %
        flags = rng.random(k)
        names = [f"{city[c[2:8]]}市{brand[x]}{brand[y]}{INDUSTRIES[i][1]}{KINDS[int(c[1]) - 1][1]}"
                 for c, x, y, i in zip(part, b1, b2, ind.tolist(), strict=True)]
        yield (part, names, [c[2:8] for c in part], [INDUSTRIES[i][0] for i in ind.tolist()],
               ["ABCD"[i] for i in cls.tolist()], [("存续", "注销", "吊销")[s] for s in status.tolist()],
               flags.tolist())


def _setup(led: Any, inspectors: int) -> None:
    """Department, item, inspectors and the approved plan (as bench_lifecycle does)."""
    from sqlalchemy import insert

    from drawsvc.registry import schema as reg

    with led.engine.begin() as conn:
        dept = {"code": "gdscj", "name": "广东省市场监督管理局", "parent": None, "joint_group": None}
        conn.execute(insert(reg.departments).values(**dept, doc=json.dumps(dept), seq=0))
        item = {"code": "I1", "version": 1, "department": "gdscj", "kind": "general", "status": "active",
                "ratio_min_bp": 500}
        conn.execute(insert(reg.items).values(code="I1", version=1, department="gdscj", kind="general",
                                              status="active", doc=json.dumps(item), seq=0))
        conn.execute(insert(reg.inspectors), [
            {"id": f"P{i:05d}", "cert_no": f"C{i:05d}", "name": f"检查员{i}", "department": "gdscj", "status": "在岗",
             "cert_valid_from": "2020-01-01", "cert_valid_to": "2030-12-31", "seq": 0,
             "doc": json.dumps({"id": f"P{i:05d}", "department": "gdscj", "status": "在岗", "qualifications": [],
                                "cert_valid_from": "2020-01-01", "cert_valid_to": "2030-12-31"})}
            for i in range(inspectors)])
    plan = {"code": "P1", "year": 2026, "departments": ["gdscj"], "items": ["I1"], "sublibraries": [],
            "filter": {}, "ratios_bp": {"A": 100, "B": 300, "C": 1000, "D": 2000}, "frequency_cap": 2,
            "exemptions": [], "team_size": 2, "joint": False, "status": "approved"}
    draft = {**plan, "status": "draft"}
    led.append("registry.plan.added", {"id": "P1", "state": draft, "changed": sorted(draft)}, led.system)
    entry = led.append("registry.plan.approved", {"id": "P1", "state": plan, "changed": ["status"]}, led.system)
    with led.engine.begin() as conn:
        conn.execute(insert(reg.plans).values(code="P1", year=2026, status="approved", doc=json.dumps(plan),
                                              seq=entry.seq))


def _rows(part: tuple[list[Any], ...]) -> Any:
    import orjson

    for code, name, region, industry, klass, status, f in zip(*part, strict=True):
        abnormal, penalized = f < 0.01, "2026-01-15" if 0.01 <= f < 0.013 else None
        complaints = 1 if 0.013 <= f < 0.02 else (3 if 0.02 <= f < 0.022 else 0)
        doc = {"code": code, "name": name, "region": region, "industry": industry, "status": status,
               "credit_class": klass, "abnormal": abnormal, "serious_dishonest": False, "penalized_on": penalized,
               "complaints": complaints, "licences": [], "tags": []}
        yield (code, name, region, industry, status, klass, abnormal, False, penalized, complaints,
               orjson.dumps(doc).decode(), 0)


COLS = ("code", "name", "region", "industry", "status", "credit_class", "abnormal", "serious_dishonest",
        "penalized_on", "complaints", "doc", "seq")


def child_import(url: str, n: int, inspectors: int, keys: Path) -> dict[str, Any]:
    from drawsvc.instance import make_engine, migrate
    from ledger.keys import ActorSigner, generate_actor_key
    from ledger.note import NoteSigner
    from ledger.store import initialise

    engine = make_engine(url)
    migrate(engine)
    system_key, log_key = generate_actor_key(), generate_actor_key()
    keys.write_text(json.dumps({"system": bytes(system_key).hex(), "log": bytes(log_key).hex()}))
    led = initialise(engine, "bench/log", NoteSigner("bench/log", log_key), ActorSigner("system", system_key),
                     None, None, clock=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    _setup(led, inspectors)
    t0 = time.perf_counter()
    done = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("PRAGMA cache_size = -2000000")  # 2 GB of page cache for the bulk load
            cur.execute("PRAGMA synchronous = NORMAL")
        # secondary indexes are dropped for the bulk load and built once at the end (sorting once
        # beats 20 million random inserts into each); the primary key stays
        if engine.dialect.name == "sqlite":
            cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'reg_subjects' "
                        "AND sql IS NOT NULL")
        else:
            cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'reg_subjects' "
                        "AND indexname <> 'reg_subjects_pkey'")
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
        raw.commit()
        for part in generate(n):
            if engine.dialect.name == "sqlite":
                marks = ", ".join("?" * len(COLS))
                cur.execute("BEGIN")  # the engine's connections leave transactions to the caller
                cur.executemany(f"INSERT INTO reg_subjects ({', '.join(COLS)}) VALUES ({marks})", _rows(part))
            else:
                with cur.copy(f"COPY reg_subjects ({', '.join(COLS)}) FROM STDIN") as copy:
                    for r in _rows(part):
                        copy.write_row(r)
            raw.commit()
            done += len(part[0])
            el = time.perf_counter() - t0
            print(f"[import] {done:,} / {n:,} subjects, {el:.0f} s, {done / el:,.0f}/s", file=sys.stderr, flush=True)
        t1 = time.perf_counter()
        for name, ddl in indexes:
            cur.execute(ddl)
            print(f"[import] index {name}: {time.perf_counter() - t1:.0f} s", file=sys.stderr, flush=True)
        raw.commit()
        if engine.dialect.name == "postgresql":
            raw.commit()
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute("VACUUM ANALYZE reg_subjects")
    finally:
        raw.close()
    el = time.perf_counter() - t0
    return {"step": "import", "n": n, "s": round(el, 2), "rows_per_s": round(n / el), "peak_rss_mib": _peak()}


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the forked hashing): on a shared
    machine a step's CPU time says more than its wall time about what the code costs."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _peak() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _ledger(url: str, keys: Path) -> Any:
    from nacl.signing import SigningKey

    from drawsvc.instance import make_engine
    from ledger.keys import ActorSigner
    from ledger.note import NoteSigner
    from ledger.store import Ledger

    k = json.loads(keys.read_text())
    return Ledger(make_engine(url), "bench/log", NoteSigner("bench/log", SigningKey(bytes.fromhex(k["log"]))),
                  ActorSigner("system", SigningKey(bytes.fromhex(k["system"]))),
                  clock=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def _clean(led: Any) -> None:
    """Forget earlier benchmark draws (their checks would change the next one's exclusions)."""
    from drawsvc.draws import schema

    with led.engine.begin() as conn:
        for t in (schema.checks, schema.draw_pool_chunks, schema.draw_pools, schema.draws):
            conn.execute(t.delete())


def _peak_children() -> float:
    """The largest peak RSS of any reaped child (the verifier's forked part readers)."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def _write_bundle(led: Any, draw_id: str, bundle: Path, split: bool) -> None:
    """The bundle as the verifier gets it: a directory with the pool in parts, or one file."""
    import orjson

    from drawsvc.draws.bundle import build_bundle
    from drawsvc.draws.pool_parts import PART_SIZE, part_file

    key = led.log_signer.verifier.encode()
    shutil.rmtree(bundle, ignore_errors=True)
    if not split:
        bundle.write_bytes(orjson.dumps(build_bundle(led, draw_id, privileged=False, log_verifier_key=key)))
        return
    (bundle / "pool").mkdir(parents=True)
    b = build_bundle(led, draw_id, privileged=False, log_verifier_key=key, part_size=PART_SIZE,
                     part_sink=lambda n, data: (bundle / part_file(n)).write_bytes(data))
    (bundle / "bundle.json").write_bytes(orjson.dumps(b))


def _size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size


def child_draw(url: str, keys: Path, bundle: Path | None, split: bool = True) -> dict[str, Any]:
    from argon2 import PasswordHasher

    from drawsvc.draws.service import DrawService
    from drawsvc.instance import migrate
    from drawsvc.registry.authz import Actor
    from drawsvc.registry.service import Registry

    led = _ledger(url, keys)
    migrate(led.engine)  # a registry cached by older code gets this code's schema (not timed)
    _clean(led)
    svc = DrawService(led, Registry(led, b"bench", hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)))
    actor = Actor("system", "system", signer=led.system)
    rss0 = _peak()
    c0, t0 = _cpu(), time.perf_counter()
    d = svc.prepare(actor, "P1", "gdscj", [{"type": "dice", "min_digits": 20}])
    c1, t1 = _cpu(), time.perf_counter()
    svc.seed(actor, d["id"], [{"type": "dice", "digits": "31415926535897932384"}])
    t2 = time.perf_counter()
    c2 = _cpu()
    svc.run(actor, d["id"])
    c3, t3 = _cpu(), time.perf_counter()
    out = {"step": "draw", "pool": d["pools"]["subjects"]["size"], "excluded": d["pools"]["excluded"]["size"],
           "selected": sum(d["expected_sizes"].values()), "prepare_s": round(t1 - t0, 2), "seed_s": round(t2 - t1, 3),
           "run_s": round(t3 - t2, 2), "total_s": round(t3 - t0, 2), "prepare_cpu_s": round(c1 - c0, 2),
           "run_cpu_s": round(c3 - c2, 2), "peak_rss_mib": _peak(),
           "rss_before_mib": rss0}
    if bundle is not None:
        svc.publish(actor, d["id"])
        t4 = time.perf_counter()
        _write_bundle(led, d["id"], bundle, split)
        out["bundle_s"] = round(time.perf_counter() - t4, 2)
        out["bundle_mib"] = round(_size(bundle) / 2**20, 1)
        out["peak_rss_with_bundle_mib"] = _peak()
    return out


def child_verify(bundle: Path) -> dict[str, Any]:
    """The whole check of the bundle (file or directory), reading it included: wall, CPU, peak RSS."""
    from verifier.draw import DrawOptions, load_draw_source, verify_bundle

    c0, t0 = _cpu(), time.perf_counter()
    data, reader = load_draw_source(bundle)
    t1 = time.perf_counter()
    report, _ = verify_bundle(data, DrawOptions(pool_part=reader))
    t2 = time.perf_counter()
    return {"step": "verify", "load_s": round(t1 - t0, 2), "verify_s": round(t2 - t0, 2),
            "verify_cpu_s": round(_cpu() - c0, 2), "ok": report.ok, "verdict": report.verdict,
            "failed": [c.name for c in report.checks.values() if c.status == "failed"] if not report.ok else [],
            "peak_rss_mib": _peak(), "children_peak_rss_mib": _peak_children()}


def _hash_part(ids: list[bytes]) -> bytes:
    h = hashlib.sha256
    for i in ids:
        h(i).digest()
    return b""


def child_floor(url: str) -> dict[str, Any]:
    """SHA-256 of every id on every core (the ids read first, not timed)."""
    from drawsvc.draw.parallel import ranges, run_split, workers
    from drawsvc.instance import make_engine

    with make_engine(url).connect() as conn:
        ids = [r[0].encode() for r in conn.exec_driver_sql("SELECT code FROM reg_subjects")]
    c0, t0 = _cpu(), time.perf_counter()
    run_split([lambda lo=lo, hi=hi: _hash_part(ids[lo:hi]) for lo, hi in ranges(len(ids), workers())])
    return {"step": "floor", "n": len(ids), "cores": workers(), "s": round(time.perf_counter() - t0, 3),
            "cpu_s": round(_cpu() - c0, 3)}


def _run(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_scale", *args], stdout=subprocess.PIPE, text=True)
    if out.returncode:
        raise SystemExit(f"step {args} failed ({out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _store_url(store: str, n: int, fresh: bool, pg_db: str | None = None) -> tuple[str, Path]:
    OUT.mkdir(exist_ok=True)
    keys = OUT / f"scale-{store}-{n}{'-' + pg_db if pg_db and store == 'postgresql' else ''}.keys.json"
    if store == "sqlite":
        path = OUT / f"scale-{n}.sqlite3"
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}", keys
    from sqlalchemy import create_engine, text

    # --pg-db, or SPOTCHECK_BENCH_PG_SUFFIX: a database of one's own when several checkouts benchmark at once
    name = pg_db or f"spotcheck_scale_{n}" + os.environ.get("SPOTCHECK_BENCH_PG_SUFFIX", "")
    admin = create_engine(PG_ADMIN.replace("+psycopg", "+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists and fresh:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            keys.unlink(missing_ok=True)
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", keys


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="sqlite")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--inspectors", type=int, default=3000)
    ap.add_argument("--fresh", action="store_true", help="re-import even if a cached registry exists")
    ap.add_argument("--skip-verify", action="store_true")
    ap.add_argument("--whole-bundle", action="store_true",
                    help="verify the one-file bundle (the pool as one JSON list) instead of the split one")
    ap.add_argument("--quick", action="store_true", help="100,000 subjects, SQLite, one run")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--pg-db", help="the PostgreSQL database's name (default spotcheck_scale_<N>, which every "
                                    "checkout on the same server shares)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--keys", help=argparse.SUPPRESS)
    ap.add_argument("--bundle", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        res = {"import": lambda: child_import(a.url, a.n, a.inspectors, Path(a.keys)),
               "draw": lambda: child_draw(a.url, Path(a.keys), Path(a.bundle) if a.bundle else None,
                                          not a.whole_bundle),
               "verify": lambda: child_verify(Path(a.bundle)),
               "floor": lambda: child_floor(a.url)}[a.child]()
        print(json.dumps(res))
        return
    if a.quick:
        a.n, a.store, a.runs = 100_000, "sqlite", 1
    stores = ["sqlite", "postgresql"] if a.store == "both" else [a.store]
    if a.no_pg:
        stores = [s for s in stores if s != "postgresql"]
    for store in stores:
        url, keys = _store_url(store, a.n, a.fresh, a.pg_db)
        load = os.getloadavg()
        result: dict[str, Any] = {"store": store, "n": a.n, "nproc": os.cpu_count(), "loadavg_start": load,
                                  "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "runs": []}
        if not keys.exists():
            result["import"] = _run(["--child", "import", "--url", url, "--n", str(a.n), "--keys", str(keys),
                                     "--inspectors", str(a.inspectors)])
            print(f"[{store}] import {a.n:,}: {result['import']['s']} s ({result['import']['rows_per_s']:,}/s), "
                  f"peak RSS {result['import']['peak_rss_mib']} MiB", file=sys.stderr, flush=True)
        for r in range(a.runs):
            floor = _run(["--child", "floor", "--url", url])
            bundle = None if a.skip_verify else OUT / (f"scale-{store}-{a.n}.bundle" +
                                                        (".json" if a.whole_bundle else ""))
            draw = _run(["--child", "draw", "--url", url, "--keys", str(keys)] +
                        (["--bundle", str(bundle)] if bundle else []) + (["--whole-bundle"] if a.whole_bundle else []))
            run = {"floor_s": floor["s"], "floor_cpu_s": floor["cpu_s"], **draw, "loadavg": os.getloadavg()}
            if bundle is not None:
                ver = _run(["--child", "verify", "--bundle", str(bundle)])
                run.update({"verify_s": ver["verify_s"], "verify_cpu_s": ver["verify_cpu_s"],
                            "verify_load_s": ver["load_s"], "verify_ok": ver["ok"], "verify_verdict": ver["verdict"],
                            "verify_failed": ver["failed"], "verify_peak_rss_mib": ver["peak_rss_mib"],
                            "verify_children_peak_rss_mib": ver["children_peak_rss_mib"],
                            "verify_to_draw": round(ver["verify_s"] / draw["total_s"], 2),
                            "verify_cpu_to_draw_cpu": round(ver["verify_cpu_s"] /
                                                            (draw["prepare_cpu_s"] + draw["run_cpu_s"]), 2)})
                if bundle.is_dir():
                    shutil.rmtree(bundle)
                else:
                    bundle.unlink(missing_ok=True)
            for k in ("prepare_s", "run_s", "total_s", "verify_s"):
                if k in run:
                    run[f"{k[:-2]}_to_floor"] = round(run[k] / floor["s"], 2)
            run["cpu_to_floor_cpu"] = round((run["prepare_cpu_s"] + run["run_cpu_s"]) / floor["cpu_s"], 2)
            result["runs"].append(run)
            print(f"[{store}] run {r + 1}: " + json.dumps(run), file=sys.stderr, flush=True)
        runs = result["runs"]
        result["median"] = {k: statistics.median(x[k] for x in runs) for k in runs[0]
                            if isinstance(runs[0][k], (int, float)) and not isinstance(runs[0][k], bool)}
        result["loadavg_end"] = os.getloadavg()
        (OUT / f"scale-{store}-{a.n}.json").write_text(json.dumps(result, indent=2))
        m = result["median"]
        print(f"{store:10} N={a.n:>11,} pool={m['pool']:,.0f} selected={m['selected']:,.0f} floor {m['floor_s']:.2f}s  "
              f"prepare {m['prepare_s']:.2f}s  seed {m['seed_s']:.2f}s  draw {m['run_s']:.2f}s  "
              f"total {m['total_s']:.2f}s ({m['total_to_floor']:.1f}x floor)  peak RSS {m['peak_rss_mib']:.0f} MiB"
              + (f"  verify {m['verify_s']:.2f}s / {m['verify_cpu_s']:.2f} CPU s ({m['verify_to_draw']:.2f}x the draw, "
                 f"CPU {m['verify_cpu_to_draw_cpu']:.2f}x)  verifier peak RSS {m['verify_peak_rss_mib']:.0f} MiB "
                 f"(children {m['verify_children_peak_rss_mib']:.0f})" if "verify_s" in m else ""),
              flush=True)
    shutil.rmtree(OUT / "tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
