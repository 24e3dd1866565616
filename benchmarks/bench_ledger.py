"""Ledger benchmarks (issue 2, "Benchmarks"): appends, receipts, proofs at 1M, audit.

    .venv/bin/python -m benchmarks.bench_ledger            # full run (builds a 1M log once)
    .venv/bin/python -m benchmarks.bench_ledger --quick    # smoke run, a minute or two

Measures, all in one run so the ratios compare like with like:
  * the floor: Ed25519 signatures/s, SHA-256 hashes/s (300-byte inputs) and Ed25519
    verifications/s on one core, and verifications/s over every core;
  * signed durable appends/s through AppendBatcher (group commit) and unbatched
    (`Ledger.append` one at a time), on SQLite (WAL, synchronous=FULL) and PostgreSQL,
    from one process and from four processes appending to the same database;
  * append-to-receipt time under that load: submit -> a signed checkpoint covers the
    entry (ledger.store.wait_for_checkpoint) -> its inclusion proof is produced;
  * inclusion and consistency proof time at --entries (1,000,000) leaves, warm
    (the Ledger's NodeCache) and cold (a fresh Ledger), against the peer pymerkle's
    InmemoryTree building the same tree and proving the same indices;
  * the audit rate (ledger.audit.Auditor.run) in entries/s against the
    Ed25519-verification floor over both cores.

Prints a table and writes benchmarks/out/ledger.json. The big log is built once and
cached as benchmarks/out/ledger-<N>.sqlite3 (git-ignored).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import multiprocessing as mp
import os
import random
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from benchmarks.common import (
    Result,
    log,
    machine_info,
    median,
    out_path,
    peak_rss_mb,
    per_call_times,
    percentile,
    print_table,
    rate_runs,
    rss_mb,
    write_json,
)

ORIGIN = "bench.example/log"
ENTRY_TYPE = "bench.entry"
PG_ADMIN_URL = os.environ.get("SPOTCHECK_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

# Targets from issue 2.
TARGET_APPENDS = 5000.0  # durable signed appends/s with batching, 2-core machine
TARGET_RECEIPT_MEDIAN = 1.0  # seconds
TARGET_PROOF = 0.2e-3  # seconds at 1M entries, warm cache
TARGET_AUDIT_FRACTION = 0.8  # of the Ed25519 verification floor over both cores


def payload(i: int) -> dict[str, Any]:
    """A representative payload; the whole entry is ~430 bytes of canonical JSON."""
    return {"i": i, "subject": f"91310000MA1K{i:08d}", "inspector": "bench-inspector-07",
            "note": "routine spot-check record " + "x" * 120}


# --- keys and ledgers ----------------------------------------------------------------


def new_keys() -> dict[str, str]:
    """Seeds (hex) of the log, system and bench actor keys, so child processes share them."""
    return {name: os.urandom(32).hex() for name in ("log", "system", "bench")}


def _signers(keys: dict[str, str]):  # type: ignore[no-untyped-def]
    from ledger.keys import ActorSigner
    from ledger.note import NoteSigner

    log_signer = NoteSigner(ORIGIN, SigningKey(bytes.fromhex(keys["log"])))
    system = ActorSigner("system", SigningKey(bytes.fromhex(keys["system"])))
    bench = ActorSigner("bench", SigningKey(bytes.fromhex(keys["bench"])))
    return log_signer, system, bench


def setup_ledger(url: str, keys: dict[str, str]):  # type: ignore[no-untyped-def]
    """Migrate, initialise (genesis + first checkpoint) and register the bench actor."""
    from drawsvc.instance import make_engine, migrate
    from ledger.store import initialise

    log_signer, system, bench = _signers(keys)
    engine = make_engine(url)
    migrate(engine)
    ledger = initialise(engine, ORIGIN, log_signer, system, None, None)
    with ledger.transaction() as tx:
        tx.register_actor_key("bench", bench.public_key)
    ledger.checkpoint()
    return ledger


def open_ledger(url: str, keys: dict[str, str], ledger_cls: Any = None):  # type: ignore[no-untyped-def]
    from drawsvc.instance import make_engine
    from ledger.store import Ledger

    log_signer, system, _ = _signers(keys)
    return (ledger_cls or Ledger)(make_engine(url), ORIGIN, log_signer, system)


def _counting_ledger_cls():  # type: ignore[no-untyped-def]
    """A Ledger that counts its write transactions (to report the mean batch size)."""
    from ledger.store import Ledger

    class CountingLedger(Ledger):
        transactions = 0
        _in_batch = threading.local()

        @contextmanager
        def transaction(self):  # type: ignore[no-untyped-def]
            if not getattr(CountingLedger._in_batch, "on", False):
                CountingLedger.transactions += 1
            with super().transaction() as tx:
                yield tx

        @contextmanager
        def batch(self):  # type: ignore[no-untyped-def]
            # the batcher's transactions (on SQLite batch() runs inside transaction(): count once)
            CountingLedger.transactions += 1
            CountingLedger._in_batch.on = True
            try:
                with super().batch() as tx:
                    CountingLedger._in_batch.on = False
                    yield tx
            finally:
                CountingLedger._in_batch.on = False

    return CountingLedger


@contextmanager
def scratch_database(backend: str, tag: str):  # type: ignore[no-untyped-def]
    """A fresh, empty database URL for one measurement; dropped/removed afterwards."""
    if backend == "sqlite":
        path = out_path(f"scratch-{tag}-{uuid.uuid4().hex[:8]}.sqlite3")
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    name = f"spotcheck_bench_{tag}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pg_problem() -> str | None:
    try:
        from sqlalchemy import create_engine, text

        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure: no PostgreSQL to measure
        return str(exc).splitlines()[0]


# --- 1. the floor --------------------------------------------------------------------


def _verify_chunk(n: int) -> float:
    """Worker: seconds to verify n Ed25519 signatures over 300-byte messages."""
    key = SigningKey.generate()
    vk = key.verify_key
    signed = [key.sign(os.urandom(300)) for _ in range(64)]
    t0 = time.perf_counter()
    for i in range(n):
        vk.verify(signed[i & 63])
    return time.perf_counter() - t0


def measure_floor(quick: bool, runs: int) -> dict[str, list[float]]:
    key = SigningKey.generate()
    msgs = [os.urandom(300) for _ in range(64)]
    vk = key.verify_key
    signed = [key.sign(m) for m in msgs]

    def sign(n: int) -> None:
        s = key.sign
        for i in range(n):
            s(msgs[i & 63])

    def verify(n: int) -> None:
        v = vk.verify
        for i in range(n):
            v(signed[i & 63])

    def sha(n: int) -> None:
        h = hashlib.sha256
        for i in range(n):
            h(msgs[i & 63]).digest()

    n_sig = 3000 if quick else 20000
    out = {
        "ed25519_sign_per_s": rate_runs(sign, n_sig, runs),
        "ed25519_verify_per_s_per_core": rate_runs(verify, n_sig, runs),
        "sha256_300B_per_s": rate_runs(sha, n_sig * 20, runs),
    }
    # Verification over every core at once, as the audit's worker pool does it.
    workers = os.cpu_count() or 1
    all_cores = []
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        pool.map(_verify_chunk, [100] * workers)
        for _ in range(runs):
            t0 = time.perf_counter()
            pool.map(_verify_chunk, [n_sig] * workers)
            all_cores.append(n_sig * workers / (time.perf_counter() - t0))
    out["ed25519_verify_per_s_all_cores"] = all_cores
    return out


# --- 2/3. appends and receipts -------------------------------------------------------


def _append_worker(spec: dict[str, Any], barrier: Any, results: Any) -> None:
    """One process: its own Ledger (+ AppendBatcher); appends spec['entries'] entries."""
    from ledger.batcher import AppendBatcher
    from ledger.merkle import verify_inclusion
    from ledger.store import wait_for_checkpoint

    cls = _counting_ledger_cls()
    ledger = open_ledger(spec["url"], spec["keys"], cls)
    _, _, bench = _signers(spec["keys"])
    ledger.size()  # open a pooled connection before the clock starts
    batched = spec["batched"]
    batcher = AppendBatcher(ledger) if batched else None
    threads_n, window, total = spec["threads"], spec["window"], spec["entries"]
    per_thread = [total // threads_n + (1 if t < total % threads_n else 0) for t in range(threads_n)]
    errors: list[str] = []
    latencies: list[float] = []
    receipt_failures = 0
    stop = threading.Event()
    base = spec["proc"] * 10_000_000

    def load(tid: int, count: int) -> None:
        try:
            if batcher is None:
                for i in range(count):
                    ledger.append(ENTRY_TYPE, payload(base + tid * 1_000_000 + i), bench)
                return
            pending: collections.deque = collections.deque()
            for i in range(count):
                pending.append(batcher.submit(ENTRY_TYPE, payload(base + tid * 1_000_000 + i), bench))
                if len(pending) >= window:
                    pending.popleft().result()
            while pending:
                pending.popleft().result()
        except Exception as exc:  # report, don't hide
            errors.append(repr(exc))

    def receipts() -> None:
        """A client appending one entry at a time and waiting for its full receipt."""
        nonlocal receipt_failures
        assert batcher is not None
        i = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            entry = batcher.append(ENTRY_TYPE, payload(base + 9_000_000 + i), bench)
            cp = wait_for_checkpoint(ledger, entry.seq, timeout=30.0, poll=0.005)
            if cp is None:
                receipt_failures += 1
                continue
            proof = ledger.inclusion_proof(entry.seq, cp.size)
            latencies.append(time.perf_counter() - t0)
            verify_inclusion(entry.seq, cp.size, entry.leaf_hash(), proof, cp.root)
            i += 1
            stop.wait(0.02)

    workers = [threading.Thread(target=load, args=(t, c)) for t, c in enumerate(per_thread)]
    sampler = threading.Thread(target=receipts) if batched and spec["receipts"] else None
    barrier.wait()
    t_start = time.time()
    if sampler:
        sampler.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    t_end = time.time()
    stop.set()
    if sampler:
        sampler.join()
    if batcher is not None:
        batcher.close()
    results.put({"proc": spec["proc"], "entries": total, "t_start": t_start, "t_end": t_end,
                 "transactions": cls.transactions, "latencies": latencies, "errors": errors,
                 "receipt_failures": receipt_failures, "peak_rss_mb": peak_rss_mb()})


def run_appends(url: str, keys: dict[str, str], procs: int, batched: bool, entries_per_proc: int,
                threads: int, window: int, receipts: bool) -> dict[str, Any]:
    """Start `procs` processes appending at once; aggregate rate = all entries / wall time."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs)
    results = ctx.Queue()
    ps = []
    for p in range(procs):
        spec = {"url": url, "keys": keys, "proc": p, "batched": batched, "entries": entries_per_proc,
                "threads": threads, "window": window, "receipts": receipts}
        proc = ctx.Process(target=_append_worker, args=(spec, barrier, results))
        proc.start()
        ps.append(proc)
    got = [results.get(timeout=1800) for _ in ps]
    for proc in ps:
        proc.join()
        if proc.exitcode:
            raise RuntimeError(f"append worker exited with {proc.exitcode}")
    errors = [e for g in got for e in g["errors"]]
    if errors:
        raise RuntimeError(f"appends failed: {errors[:3]}")
    total = sum(g["entries"] for g in got)
    wall = max(g["t_end"] for g in got) - min(g["t_start"] for g in got)
    txs = sum(g["transactions"] for g in got)
    return {"rate": total / wall, "entries": total, "wall_s": wall, "transactions": txs,
            "latencies": [x for g in got for x in g["latencies"]],
            "receipt_failures": sum(g["receipt_failures"] for g in got),
            "peak_rss_mb": max(g["peak_rss_mb"] for g in got)}


def check_chain(url: str, keys: dict[str, str]) -> tuple[bool, int, str]:
    """After concurrent appends: audit the scratch log (no fork, no gap, no repeat)."""
    from drawsvc.instance import make_engine
    from ledger.audit import Auditor

    log_signer, _, _ = _signers(keys)
    engine = make_engine(url)
    report = Auditor(engine, log_signer.verifier).run()
    engine.dispose()
    first = report.first_broken()
    return report.ok, report.size, "" if first is None else str(first)


def measure_appends(backend: str, args: argparse.Namespace, floor_sign: float) -> tuple[list[Result], dict[str, Any]]:
    results: list[Result] = []
    raw: dict[str, Any] = {}
    keys = new_keys()
    configs = [(1, True), (4, True), (1, False), (4, False)]
    for procs, batched in configs:
        label = f"{backend} {'batched' if batched else 'unbatched'} {procs}p"
        per_proc = (args.append_entries if batched else args.unbatched_entries) // procs
        threads = args.threads if batched else 1
        rates, lats, txs, entries, rss = [], [], 0, 0, 0.0
        failures = 0
        audits: list[str] = []
        for r in range(args.runs):
            # A fresh database per run: append cost depends on the log's size, so every run
            # measures the same regime (an empty log growing to the run's entries).
            with scratch_database(backend, f"{procs}p{'b' if batched else 'u'}") as url:
                setup_ledger(url, keys).engine.dispose()
                out = run_appends(url, keys, procs, batched, per_proc, threads, args.window,
                                  receipts=batched)
                ok, size, first = check_chain(url, keys)
                if not ok:
                    raise RuntimeError(f"{label}: the log does not audit clean after concurrent appends: {first}")
                audits.append(f"{size} entries clean")
            rates.append(out["rate"])
            lats.extend(out["latencies"])
            txs += out["transactions"]
            entries += out["entries"]
            rss = max(rss, out["peak_rss_mb"])
            failures += out["receipt_failures"]
            log(f"{label}: run {r + 1}/{args.runs}: {out['rate']:.0f} appends/s, "
                f"{out['entries'] / max(1, out['transactions']):.0f} entries/transaction, audit clean")
        audit_note = f"each run on a fresh database, audited clean after it ({audits[0]})"
        rate = median(rates)
        res = Result(f"appends/s {label}", rate, "entries/s", rates, ratio=rate / floor_sign,
                     ratio_to="of Ed25519 sign/s", note=audit_note)
        if batched:
            res.target = ">= 5,000/s"
            res.met = rate >= TARGET_APPENDS
        results.append(res)
        raw[label] = {"rates": rates, "median": rate, "entries": entries, "transactions": txs,
                      "entries_per_transaction": entries / max(1, txs), "peak_rss_mb_per_process": rss,
                      "audit_ok": True, "audit": audit_note}
        if batched and lats:
            med, p95 = median(lats), percentile(lats, 95)
            results.append(Result(f"receipt median {label}", med * 1000, "ms", [], target="< 1 s median",
                                  met=med < TARGET_RECEIPT_MEDIAN, note=f"{len(lats)} receipts"))
            results.append(Result(f"receipt p95 {label}", p95 * 1000, "ms", []))
            raw[label].update({"receipt_median_s": med, "receipt_p95_s": p95, "receipts": len(lats),
                               "receipt_failures": failures})
    return results, raw


# --- 4. the big log and proofs -------------------------------------------------------


def big_log(n: int, rebuild: bool = False) -> tuple[str, dict[str, str], float | None]:
    """The cached n-entry SQLite log (built once). Returns url, keys, build seconds (None if cached)."""
    db = out_path(f"ledger-{n}.sqlite3")
    meta = out_path(f"ledger-{n}.json")
    if not rebuild and db.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if info.get("size") == n:
            return f"sqlite:///{db}", info["keys"], None
    tmp = out_path(f"ledger-{n}.building.sqlite3")
    for p in (db, meta, tmp):
        for suffix in ("", "-wal", "-shm"):
            Path(str(p) + suffix).unlink(missing_ok=True)
    keys = new_keys()
    url = f"sqlite:///{tmp}"
    t0 = time.perf_counter()
    ledger = setup_ledger(url, keys)
    _, _, bench = _signers(keys)
    step = 20000
    checkpoint_every = max(step, n // 10)
    size = ledger.size()
    while size < n:
        with ledger.transaction() as tx:
            for _ in range(min(step, n - size)):
                tx.append(ENTRY_TYPE, payload(tx.size), bench)
            size = tx.size
        if size % checkpoint_every < step or size == n:
            ledger.checkpoint()
        log(f"building {n}-entry log: {size} entries, {size / (time.perf_counter() - t0):.0f}/s")
    ledger.checkpoint()
    with ledger.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    ledger.engine.dispose()
    built = time.perf_counter() - t0
    tmp.rename(db)
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    meta.write_text(json.dumps({"size": n, "keys": keys, "build_s": built,
                                "note": "benchmark keys, generated for this file only"}, indent=2))
    return f"sqlite:///{db}", keys, built


def measure_proofs(url: str, keys: dict[str, str], n: int, args: argparse.Namespace) -> tuple[list[Result], dict[str, Any]]:
    from pymerkle import InmemoryTree

    from ledger.merkle import verify_consistency, verify_inclusion

    ledger = open_ledger(url, keys)
    assert ledger.size() == n, f"log has {ledger.size()} entries, expected {n}"
    rng = random.Random(20260)
    indices = [rng.randrange(n) for _ in range(args.proof_samples)]
    olds = [rng.randrange(1, n) for _ in range(args.proof_samples)]
    root = ledger.root(n)

    # The peer: pymerkle's in-memory tree over the same leaves.
    log(f"pymerkle: building an InmemoryTree of {n} leaves")
    rss0 = rss_mb()
    t0 = time.perf_counter()
    tree = InmemoryTree(algorithm="sha256")
    for start in range(0, n, 20000):
        for leaf in ledger.leaves(start, min(n, start + 20000)):
            tree.append_entry(leaf)
    pm_build = time.perf_counter() - t0
    pm_rss = rss_mb() - rss0
    if tree.get_root(n) != root:
        raise RuntimeError("pymerkle's root differs from the ledger's: not the same tree")

    # Correctness first: both produce the same proofs, and ours verify.
    for i, old in zip(indices[:20], olds[:20], strict=True):
        ours = ledger.inclusion_proof(i, n)
        theirs = [bytes.fromhex(h) for h in tree.prove_inclusion(i + 1, n).serialize()["path"]]
        if theirs[1:] != ours:
            raise RuntimeError(f"inclusion proof for {i} differs from pymerkle's")
        verify_inclusion(i, n, hashlib.sha256(b"\x00" + ledger.leaves(i, i + 1)[0]).digest(), ours, root)
        verify_consistency(old, n, ledger.root(old), root, ledger.consistency_proof(old, n))

    def timed(fn, items) -> list[float]:  # type: ignore[no-untyped-def]
        out = []
        for it in items:
            t = time.perf_counter()
            fn(it)
            out.append(time.perf_counter() - t)
        return out

    data: dict[str, Any] = {"n": n, "samples": len(indices), "pymerkle_build_s": pm_build,
                            "pymerkle_build_rss_mb": pm_rss}
    # pymerkle's first proofs fill its subroot cache: that is its "cold".
    data["pymerkle_inclusion_first_s"] = timed(lambda i: tree.prove_inclusion(i + 1, n), indices)
    data["pymerkle_consistency_first_s"] = timed(lambda o: tree.prove_consistency(o, n), olds)

    from ledger.store import Ledger

    def cold(kind: str, items: list[int], share_engine: bool) -> list[float]:
        """Each proof by a fresh Ledger (empty NodeCache); with or without a fresh engine."""
        out = []
        for it in items:
            if share_engine:
                fresh = Ledger(ledger.engine, ORIGIN, ledger.log_signer, ledger.system)
            else:
                fresh = open_ledger(url, keys)  # new engine: new connection, PRAGMAs, cold SQLite page cache
            fn = fresh.inclusion_proof if kind == "inclusion" else fresh.consistency_proof
            t = time.perf_counter()
            fn(it, n)
            out.append(time.perf_counter() - t)
            if not share_engine:
                fresh.engine.dispose()
        return out

    for kind, items in (("inclusion", indices[:args.cold_samples]), ("consistency", olds[:args.cold_samples])):
        data[f"ours_{kind}_cold_s"] = cold(kind, items, share_engine=True)
        data[f"ours_{kind}_cold_new_engine_s"] = cold(kind, items, share_engine=False)

    # Warm: the same Ledger object has proved these indices once already.
    for i, o in zip(indices, olds, strict=True):
        ledger.inclusion_proof(i, n)
        ledger.consistency_proof(o, n)
    runs = {"ours_inclusion_warm_s": [], "ours_consistency_warm_s": [],
            "pymerkle_inclusion_warm_s": [], "pymerkle_consistency_warm_s": []}
    for _ in range(args.runs):  # interleaved, so noise hits both alike
        runs["ours_inclusion_warm_s"].append(median(timed(lambda i: ledger.inclusion_proof(i, n), indices)))
        runs["pymerkle_inclusion_warm_s"].append(median(timed(lambda i: tree.prove_inclusion(i + 1, n), indices)))
        runs["ours_consistency_warm_s"].append(median(timed(lambda o: ledger.consistency_proof(o, n), olds)))
        runs["pymerkle_consistency_warm_s"].append(median(timed(lambda o: tree.prove_consistency(o, n), olds)))
    data.update(runs)
    # Where a warm proof's time goes: the pure plan + fold, without the database.
    from ledger.merkle import inclusion_plan, nodes_for_ranges, range_hash

    def pure(i: int) -> None:
        plan = inclusion_plan(i, n)
        found, _ = ledger.cache.get_many(nodes_for_ranges(plan))
        [range_hash(lo, hi, found) for lo, hi in plan]

    data["ours_inclusion_pure_s"] = median(timed(pure, indices * 3))
    data["ours_size_query_s"] = median(per_call_times(ledger.size, 300))
    # What every append batch reads first: the right edge (frontier) of the tree, uncached.
    from ledger.merkle import frontier

    def frontier_read() -> None:
        with ledger.engine.connect() as conn:
            ledger._read_nodes(conn, frontier(n), use_cache=False)

    data["frontier_read_uncached_s"] = median(per_call_times(frontier_read, 5))
    ledger.engine.dispose()

    label = f"at {n:,}"
    res: list[Result] = []
    for kind in ("inclusion", "consistency"):
        warm = median(runs[f"ours_{kind}_warm_s"])
        pm_warm = median(runs[f"pymerkle_{kind}_warm_s"])
        r = Result(f"{kind} proof warm {label}", warm * 1000, "ms", [x * 1000 for x in runs[f"ours_{kind}_warm_s"]],
                   ratio=warm / pm_warm, ratio_to="of pymerkle warm")
        r.target = "<= 0.2 ms (warm)"
        r.met = warm <= TARGET_PROOF
        res.append(r)
        cold = data[f"ours_{kind}_cold_s"]
        res.append(Result(f"{kind} proof cold {label}", median(cold) * 1000, "ms", [],
                          ratio=median(cold) / pm_warm, ratio_to="of pymerkle warm",
                          note=f"p95 {percentile(cold, 95) * 1000:.3f} ms; fresh Ledger (empty NodeCache) per proof"))
        cold2 = data[f"ours_{kind}_cold_new_engine_s"]
        res.append(Result(f"{kind} proof cold+new engine {label}", median(cold2) * 1000, "ms", [],
                          ratio=median(cold2) / pm_warm, ratio_to="of pymerkle warm",
                          note=f"p95 {percentile(cold2, 95) * 1000:.3f} ms; fresh Ledger and engine per proof"))
        res.append(Result(f"pymerkle {kind} warm {label}", pm_warm * 1000, "ms",
                          [x * 1000 for x in runs[f"pymerkle_{kind}_warm_s"]],
                          note=f"first call (fills its cache) median {median(data[f'pymerkle_{kind}_first_s']) * 1000:.3f} ms"))
    res.append(Result(f"pymerkle build {label}", pm_build, "s", [], note=f"+{pm_rss:.0f} MiB RSS"))
    res.append(Result("inclusion proof, pure (plan+fold, cache hit)", data["ours_inclusion_pure_s"] * 1000, "ms", []))
    res.append(Result("Ledger.size() query (SELECT on log_head)", data["ours_size_query_s"] * 1000, "ms", []))
    res.append(Result(f"uncached frontier read {label} (each append batch)", data["frontier_read_uncached_s"] * 1000,
                      "ms", [], note="Ledger._read_nodes(frontier(n), use_cache=False), as LogTransaction.flush"))
    return res, data


def measure_big_log_appends(url: str, keys: dict[str, str], n: int, args: argparse.Namespace) -> tuple[list[Result], dict[str, Any]]:
    """Batched appends (SQLite, one process) onto a copy of the big log, against a fresh log."""
    import shutil

    src = Path(url.removeprefix("sqlite:///"))
    dst = out_path(f"scratch-big-{uuid.uuid4().hex[:8]}.sqlite3")
    shutil.copyfile(src, dst)
    try:
        big_url = f"sqlite:///{dst}"
        rates = []
        for r in range(args.runs):
            out = run_appends(big_url, keys, 1, True, args.big_append_entries, args.threads, args.window, receipts=False)
            rates.append(out["rate"])
            log(f"batched appends onto the {n}-entry log, run {r + 1}/{args.runs}: {out['rate']:.0f}/s, "
                f"{out['entries'] / max(1, out['transactions']):.0f} entries/transaction")
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(dst) + suffix).unlink(missing_ok=True)
    rate = median(rates)
    res = Result(f"appends/s sqlite batched 1p onto {n:,}-entry log", rate, "entries/s", rates,
                 target=">= 5,000/s", met=rate >= TARGET_APPENDS)
    return [res], {"rates": rates, "median": rate, "entries_per_run": args.big_append_entries}


# --- 5. audit ------------------------------------------------------------------------


def _audit_child(url: str, keys: dict[str, str], results: Any) -> None:
    import resource

    from drawsvc.instance import make_engine
    from ledger.audit import Auditor

    log_signer, _, _ = _signers(keys)
    engine = make_engine(url)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    report = Auditor(engine, log_signer.verifier).run()
    cpu = time.process_time() - cpu0
    elapsed = time.perf_counter() - t0
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    first = report.first_broken()
    results.put({"elapsed": elapsed, "ok": report.ok, "entries": report.entries_checked,
                 "nodes": report.nodes_checked, "checkpoints": report.checkpoints_checked,
                 "first": None if first is None else str(first),
                 # CPU of the auditing process itself, and of its (reaped) worker processes
                 "parent_cpu_s": cpu, "workers_cpu_s": workers.ru_utime + workers.ru_stime,
                 "peak_rss_mb": peak_rss_mb(), "peak_rss_children_mb": peak_rss_mb(children=True)})


def measure_audit(url: str, keys: dict[str, str], runs: int) -> list[dict[str, Any]]:
    """Each audit in a fresh process, so its memory is its own; each right after a measure of
    the Ed25519-verification floor over both cores (benchmarks.bench_verifier.ed25519_floor),
    so that every run has a same-moment ratio on this shared machine."""
    import resource

    from benchmarks.bench_verifier import ed25519_floor

    ctx = mp.get_context("spawn")
    out = []

    def children_cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    for r in range(runs):
        cpu0 = children_cpu()
        floor = ed25519_floor(2)
        # CPU per verification in the floor's (reaped) processes: 40,000 timed + 200 warm-up
        floor_cpu_us = (children_cpu() - cpu0) / 40200 * 1e6
        load = os.getloadavg()[0]
        q = ctx.Queue()
        p = ctx.Process(target=_audit_child, args=(url, keys, q))
        p.start()
        res = q.get(timeout=7200)
        p.join()
        rate = res["entries"] / res["elapsed"]
        audit_cpu_us = (res["parent_cpu_s"] + res["workers_cpu_s"]) / res["entries"] * 1e6
        # on a shared machine the CPU ratio (verify CPU per op / audit CPU per entry) moves less
        res.update(floor_2_cores=floor, ratio=rate / floor, load_before=load, load_after=os.getloadavg()[0],
                   floor_cpu_us_per_verify=floor_cpu_us, audit_cpu_us_per_entry=audit_cpu_us,
                   cpu_ratio=floor_cpu_us / audit_cpu_us)
        log(f"audit run {r + 1}/{runs}: {rate:.0f} entries/s, floor {floor:.0f}/s, ratio {rate / floor:.2f} "
            f"(CPU ratio {floor_cpu_us / audit_cpu_us:.2f}), "
            f"auditing process {res['parent_cpu_s'] / res['entries'] * 1e6:.1f} us/entry, "
            f"workers {res['workers_cpu_s'] / res['entries'] * 1e6:.1f} us/entry, load {load:.2f}, ok={res['ok']}")
        out.append(res)
    return out


# --- main ----------------------------------------------------------------------------


def code_version() -> str:
    """The commit measured, and whether ledger/ had uncommitted changes (others edit concurrently)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "ledger"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    changed = [d for d in dirty if d.startswith("ledger/")]
    return head + (f" + uncommitted {', '.join(changed)}" if changed else "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_ledger", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a small smoke run (20,000-entry log, few appends)")
    p.add_argument("--entries", type=int, default=None, help="size of the proof/audit log (default 1,000,000; --quick 20,000)")
    p.add_argument("--pg", dest="pg", action="store_true", default=True, help="also measure PostgreSQL (default)")
    p.add_argument("--no-pg", dest="pg", action="store_false", help="skip PostgreSQL")
    p.add_argument("--runs", type=int, default=None, help="runs per figure (default 5; --quick 3)")
    p.add_argument("--append-entries", type=int, default=None, help="batched entries per run, over all processes")
    p.add_argument("--unbatched-entries", type=int, default=None, help="unbatched entries per run, over all processes")
    p.add_argument("--big-append-entries", type=int, default=None,
                   help="batched entries per run appended onto a copy of the big log (default 5,000; --quick 1,000)")
    p.add_argument("--threads", type=int, default=4, help="submitting threads per process (batched)")
    p.add_argument("--window", type=int, default=64, help="in-flight submissions per thread (batched)")
    p.add_argument("--proof-samples", type=int, default=None, help="random indices proved (default 1000; --quick 200)")
    p.add_argument("--cold-samples", type=int, default=None, help="of those, proved cold (default 50; --quick 20)")
    p.add_argument("--audit-runs", type=int, default=None, help="audits of the big log (default 3; --quick 1)")
    p.add_argument("--skip", action="append", default=[], choices=["appends", "proofs", "bigappends", "audit"],
                   help="leave a part out (repeatable)")
    p.add_argument("--build-only", action="store_true", help="only build (or find) the cached big log")
    p.add_argument("--rebuild", action="store_true", help="rebuild the cached big log")
    p.add_argument("--output", type=Path, default=None, help="JSON output (default benchmarks/out/ledger.json)")
    a = p.parse_args(argv)
    q = a.quick
    a.entries = a.entries or (20_000 if q else 1_000_000)
    a.runs = a.runs or (3 if q else 5)
    a.append_entries = a.append_entries or (2_000 if q else 20_000)
    a.unbatched_entries = a.unbatched_entries or (200 if q else 1_000)
    a.big_append_entries = a.big_append_entries or (1_000 if q else 5_000)
    a.proof_samples = a.proof_samples or (200 if q else 1000)
    a.cold_samples = a.cold_samples or (20 if q else 50)
    a.audit_runs = a.audit_runs or (1 if q else 3)
    a.output = a.output or out_path("ledger-quick.json" if q else "ledger.json")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    if args.build_only:
        url, _, built = big_log(args.entries, args.rebuild)
        log(f"{url}: " + (f"built in {built:.0f} s" if built else "cached"))
        return 0
    machine = machine_info()
    machine["code"] = code_version()
    log(f"code: {machine['code']}")
    log(f"machine: {machine['nproc']} x {machine['cpu_model']}, Python {machine['python']}")
    results: list[Result] = []
    data: dict[str, Any] = {"command": "python -m benchmarks.bench_ledger " + " ".join(argv or sys.argv[1:]),
                            "machine": machine, "args": {k: str(v) for k, v in vars(args).items()}}

    log("floor: Ed25519 sign/verify, SHA-256")
    floor = measure_floor(args.quick, args.runs)
    data["floor"] = floor
    sign = median(floor["ed25519_sign_per_s"])
    verify1 = median(floor["ed25519_verify_per_s_per_core"])
    verify_all = median(floor["ed25519_verify_per_s_all_cores"])
    results += [
        Result("Ed25519 signatures/s (1 core)", sign, "ops/s", floor["ed25519_sign_per_s"]),
        Result("Ed25519 verifications/s (1 core)", verify1, "ops/s", floor["ed25519_verify_per_s_per_core"]),
        Result(f"Ed25519 verifications/s ({os.cpu_count()} procs)", verify_all, "ops/s",
               floor["ed25519_verify_per_s_all_cores"], ratio=verify_all / verify1, ratio_to="of 1 core"),
        Result("SHA-256 (300 B)/s (1 core)", median(floor["sha256_300B_per_s"]), "ops/s", floor["sha256_300B_per_s"]),
    ]

    if "appends" not in args.skip:
        backends = ["sqlite"]
        if args.pg:
            problem = pg_problem()
            if problem:
                log(f"PostgreSQL skipped: not reachable ({problem}); start it or pass --no-pg")
                data["pg_skipped"] = problem
            else:
                backends.append("postgresql")
        data["appends"] = {}
        for backend in backends:
            res, raw = measure_appends(backend, args, sign)
            results += res
            data["appends"].update(raw)

    if {"proofs", "audit", "bigappends"} - set(args.skip):
        url, keys, built = big_log(args.entries, args.rebuild)
        data["big_log"] = {"url": url, "entries": args.entries, "build_s_this_run": built}
        if "proofs" not in args.skip:
            res, raw = measure_proofs(url, keys, args.entries, args)
            results += res
            data["proofs"] = raw
        if "bigappends" not in args.skip:
            res, raw = measure_big_log_appends(url, keys, args.entries, args)
            results += res
            data["big_log_appends"] = raw
        if "audit" not in args.skip:
            audits = measure_audit(url, keys, args.audit_runs)
            if not all(a["ok"] for a in audits):
                raise RuntimeError(f"the benchmark log does not audit clean: {audits[0]['first']}")
            rates = [a["entries"] / a["elapsed"] for a in audits]
            rate = median(rates)
            ratios = [a["ratio"] for a in audits]
            ratio = median(ratios)  # each run against the 2-core floor measured just before it
            floor2 = verify1 * 2
            parent_us = median([a["parent_cpu_s"] / a["entries"] * 1e6 for a in audits])
            cpu_ratio = median([a["cpu_ratio"] for a in audits])
            results.append(Result(f"audit entries/s at {args.entries:,}", rate, "entries/s", rates,
                                  ratio=ratio, ratio_to="of the 2-core verify floor (same-run, median)",
                                  target=">= 80% of 2-core verify floor", met=ratio >= TARGET_AUDIT_FRACTION,
                                  note=f"CPU ratio {cpu_ratio:.2f}; {rate / floor2:.2f}x of 2x per-core verify; auditing process "
                                       f"{parent_us:.1f} us/entry of CPU; "
                                       f"peak RSS {max(a['peak_rss_mb'] for a in audits):.0f} MiB"))
            data["audit"] = {"runs": audits, "rates": rates, "median": rate, "ratios": ratios, "median_ratio": ratio,
                             "parent_cpu_us_per_entry": parent_us, "median_cpu_ratio": cpu_ratio, "floor_2x_per_core": floor2,
                             "floor_all_cores_measured": verify_all}

    # The machine is shared: measure the floor again at the end, to show how much it drifted.
    data["floor_end"] = measure_floor(args.quick, 3)
    drift = median(data["floor_end"]["ed25519_sign_per_s"]) / sign
    results.append(Result("Ed25519 signatures/s at the end (drift check)", median(data["floor_end"]["ed25519_sign_per_s"]),
                          "ops/s", data["floor_end"]["ed25519_sign_per_s"], ratio=drift, ratio_to="of the start"))
    data["results"] = results
    data["elapsed_s"] = time.time() - started
    print_table(results, f"ledger benchmarks ({'quick' if args.quick else 'full'}), "
                         f"{machine['nproc']} x {machine['cpu_model']}, Python {machine['python']}")
    write_json(args.output, data)
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
