"""`drawsvc log audit`: re-read every stored byte and re-check it.

Checks: the chain (seq, prev, leaf hashes, key rules), canonical form and Ed25519
signatures of every entry; the tree, level by level, recomputed from the leaves and
compared with every stored node; every stored checkpoint (signature by the log key in
force, root at its size) and cosignature; the head row. The report names the first
broken point.

Signatures bound the rate, so the auditing process does as little per entry as it can and
leaves the rest to worker processes on every core (ledger.auditwork): it reads the leaves
through the driver's own cursor, hands out runs of 2,048 as one bytes blob, and itself
parses only the rare key entries (those the indexed `type` column names) to know the key
state each run needs. The workers check chain, form and signature of every entry and
return the leaf hashes and the complete subtrees above them; while it waits, the auditing
process reads the stored tree level by level, which it then compares as joined bytes.
Should a worker meet a key entry the column did not name (the column is not signed), the
audit starts over with the reference pass (`Auditor._run_reference`), the
simple one-entry-at-a-time form of the same checks.
"""

from __future__ import annotations

import base64
import hashlib
import multiprocessing
import os
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine, bindparam, func, or_, select
from sqlalchemy.engine import Connection

from . import sm2
from .auditwork import (
    KEY_TYPES,
    Result,
    Task,
    chain_step,
    check_form,
    check_run,
    loads,
    signing_bytes_of,
    time_order_problem,
)
from .checkpoint import Checkpoint, CheckpointError
from .entry import GENESIS_PREV, parse_time, unix_seconds
from .keyrules import KeyRuleError, KeyState
from .merkle import EMPTY_ROOT, frontier, leaf_hash, node_hash
from .note import NoteError, NoteVerifier, own_cosignature_time, parse_note, verify_cosignature, verify_note
from .schema import checkpoints, cosignatures, log_entries, log_head, merkle_nodes, witnesses

__all__ = ["AuditReport", "Auditor", "Finding", "signing_bytes_of"]

PAGE = 5000  # rows per page of the reference pass
PARALLEL_THRESHOLD = 20000
CHUNK = 2048  # leaves per worker task; a power of two, so a task also hashes its complete subtrees
IN_FLIGHT_PER_WORKER = 4  # tasks queued per worker: keeps them busy, bounds the memory
NODE_UNIT = 16384  # stored tree nodes read per step while waiting for the workers
_HASH = 32


@dataclass(frozen=True)
class Finding:
    where: str  # "entry 12", "node (3, 5)", "checkpoint 100", "head"
    seq: int | None  # the log position it concerns, for ordering; None if none
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class AuditReport:
    size: int = 0
    entries_checked: int = 0
    nodes_checked: int = 0
    checkpoints_checked: int = 0
    cosignatures_checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def first_broken(self) -> Finding | None:
        if not self.findings:
            return None
        rank = {"entry": 0, "node": 1, "checkpoint": 2}
        return min(self.findings, key=lambda f: (f.seq if f.seq is not None else 1 << 62,
                                                 rank.get(f.where.split(" ")[0], 3)))


def _check_signatures(chunk: list[tuple[int, bytes, bytes]]) -> list[tuple[int, str]]:
    """Worker of the reference pass: canonical form, shape and signature of each (seq, leaf, public key)."""
    bad: list[tuple[int, str]] = []
    for seq, leaf, public_key in chunk:
        message = check_form(seq, leaf, public_key)
        if message is not None:
            bad.append((seq, message))
    return bad


class _Pending:
    """A task handed out (or run here), or zero hashes standing in for missing entries."""

    __slots__ = ("count", "future", "pad", "result")

    def __init__(self, count: int, future: Future[Result] | None = None, result: Result | None = None,
                 pad: bytes | None = None) -> None:
        self.count, self.future, self.result, self.pad = count, future, result, pad


_second = itemgetter(1)


class _SqliteReader:
    """Raw sqlite3 cursors on the audit's own connection (so inside its snapshot)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def leaf_pages(self, n: int) -> Iterator[list[tuple[int, bytes]]]:
        cur = self.raw.cursor()
        try:
            # CAST: a leaf stored as TEXT is audited as its bytes instead of stopping the audit
            cur.execute("SELECT seq, CAST(leaf AS BLOB) FROM log_entries WHERE seq > -1 ORDER BY seq")
            while rows := cur.fetchmany(n):
                yield rows
        finally:
            cur.close()

    def level(self, level: int, count: int) -> Generator[None, None, bytes | None]:
        """The stored hashes of `level`, joined in idx order, if they are exactly nodes
        0..count-1 of 32 bytes each; else None (the caller then compares node by node)."""
        cur = self.raw.cursor()
        try:
            cur.execute("SELECT idx, CASE WHEN typeof(hash) = 'blob' AND length(hash) = 32 THEN hash END "
                        "FROM merkle_nodes WHERE level = ? ORDER BY idx", (level,))
            parts: list[bytes] = []
            done = 0
            while rows := cur.fetchmany(NODE_UNIT):
                # idx is unique within a level: increasing from `done` by one per row, or not contiguous
                if rows[0][0] != done or rows[-1][0] != done + len(rows) - 1 or done + len(rows) > count:
                    return None
                try:
                    parts.append(b"".join(map(_second, rows)))
                except TypeError:  # a hash that is not 32 bytes
                    return None
                done += len(rows)
                yield
            return b"".join(parts) if done == count else None
        finally:
            cur.close()


class _PgReader:
    """Raw psycopg cursors on the audit's own connection (so inside its snapshot)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def leaf_pages(self, n: int) -> Iterator[list[tuple[int, bytes]]]:
        last = -1
        with self.raw.cursor() as cur:
            while True:
                cur.execute("SELECT seq, leaf FROM log_entries WHERE seq > %s ORDER BY seq LIMIT %s", (last, n))
                rows = cur.fetchall()
                if not rows:
                    return
                yield rows
                last = rows[-1][0]

    def level(self, level: int, count: int) -> Generator[None, None, bytes | None]:
        parts: list[bytes] = []
        with self.raw.cursor() as cur:
            for lo in range(0, count, NODE_UNIT):
                hi = min(count, lo + NODE_UNIT)
                cur.execute("SELECT string_agg(hash, ''::bytea ORDER BY idx), count(*), min(idx), max(idx), "
                            "bool_and(length(hash) = 32) FROM merkle_nodes WHERE level = %s AND idx >= %s AND idx < %s",
                            (level, lo, hi))
                blob, n, low, high, all32 = cur.fetchone()
                if n != hi - lo or low != lo or high != hi - 1 or not all32:
                    return None
                parts.append(bytes(blob))
                yield
            cur.execute("SELECT count(*) FROM merkle_nodes WHERE level = %s AND (idx < 0 OR idx >= %s)", (level, count))
            if cur.fetchone()[0]:
                return None
        return b"".join(parts)


class _StoredTree:
    """Reads the stored tree one unit at a time, whenever the auditor would otherwise wait."""

    def __init__(self, reader: _SqliteReader | _PgReader, counts: list[int]) -> None:
        self.reader = reader
        self.counts = counts
        self.levels: list[bytes | None] = []
        self._current: Generator[None, None, bytes | None] | None = None

    def step(self) -> bool:
        """Do one unit of reading; False once every level is read."""
        level = len(self.levels)
        if level >= len(self.counts):
            return False
        if self._current is None:
            self._current = self.reader.level(level, self.counts[level])
        try:
            next(self._current)
        except StopIteration as done:
            self.levels.append(done.value)
            self._current = None
        return True

    def finish(self) -> list[bytes | None]:
        while self.step():
            pass
        return self.levels


def _contiguous_runs(rows: list[tuple[int, bytes]]) -> list[list[tuple[int, bytes]]]:
    """Split rows (in seq order) where a seq is skipped."""
    runs: list[list[tuple[int, bytes]]] = []
    for row in rows:
        if runs and row[0] == runs[-1][-1][0] + 1:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def _next_level(blob: bytes) -> bytes:
    sha = hashlib.sha256
    return b"".join([sha(b"\x01" + blob[j:j + 64]).digest() for j in range(0, len(blob) - 63, 64)])


def _head_and_extent(conn: Connection, report: AuditReport) -> tuple[Any, int, int | None] | None:
    """(head row, size to audit, largest stored seq): the head's size, or more if more rows are
    stored; report.size set. None (and a finding) when there is no head row."""
    head = conn.execute(select(log_head)).one_or_none()
    stored_count = conn.execute(select(func.count()).select_from(log_entries)).scalar_one()
    max_seq = conn.execute(select(func.max(log_entries.c.seq))).scalar_one()
    if head is None:
        report.findings.append(Finding("head", None, "the log has no head row"))
        return None
    report.size = head.size
    return head, max(head.size, stored_count, (max_seq + 1) if max_seq is not None else 0), max_seq


def _head_findings(head: Any, stored: int, last_leaf_hash: bytes | None) -> list[Finding]:
    """Does the head row agree with the `stored` entries and the last one's leaf hash?"""
    if stored != head.size:
        return [Finding("head", stored, f"head says size {head.size}, but {stored} entries are stored")]
    if stored and head.last_leaf_hash != last_leaf_hash:
        return [Finding("head", stored - 1, "head's last leaf hash is not the last entry's")]
    return []


class Auditor:
    def __init__(self, engine: Engine, log_verifier: NoteVerifier, workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.engine = engine
        self.log_verifier = log_verifier
        self.workers = workers or os.cpu_count() or 1
        self.progress = progress

    def run(self) -> AuditReport:
        """Audit one consistent snapshot of the database, so appends that commit while the
        audit runs (a live server, or a killed client's last commit landing late) are simply
        not part of what is audited, instead of showing up as a head/entries mismatch."""
        options = {"isolation_level": "REPEATABLE READ"} if self.engine.dialect.name == "postgresql" else {}
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            return self._run(conn)

    def _pool(self, size: int) -> ProcessPoolExecutor | None:
        if size < PARALLEL_THRESHOLD or self.workers <= 1:
            return None
        # fork: the workers start at once and share the imported modules; they never touch
        # the parent's database connection.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork") if "fork" in methods else None
        return ProcessPoolExecutor(self.workers, mp_context=context)

    def _run(self, conn: Connection) -> AuditReport:
        name = conn.dialect.name
        raw = conn.connection.driver_connection
        if name == "sqlite":
            reader: _SqliteReader | _PgReader = _SqliteReader(raw)
        elif name == "postgresql":
            reader = _PgReader(raw)
        else:
            return self._run_reference(conn)
        report = AuditReport()
        found = _head_and_extent(conn, report)
        if found is None:
            return report
        head, size, max_seq = found
        n_leaves = max(max_seq + 1, 0) if max_seq is not None else 0
        stored = _StoredTree(reader, [n_leaves >> level for level in range(n_leaves.bit_length())])

        keys = KeyState()
        snapshot: tuple[dict[str, tuple[str, bytes]], frozenset[str]] = ({}, frozenset())
        log_key_changes: list[tuple[int, NoteVerifier]] = []
        chain_findings: list[Finding] = []  # missing entries, key rules broken by a key entry
        chain_bad: list[tuple[int, str]] = []
        form_bad: list[tuple[int, str]] = []
        missed: list[int] = []
        sub_levels = CHUNK.bit_length() - 1
        level_parts: list[list[bytes]] = [[] for _ in range(sub_levels + 1)]
        aligned = True  # every task started at a multiple of CHUNK: their subtrees are the tree's
        hints = self._key_hints(conn)
        pool = self._pool(size)
        in_flight: deque[_Pending] = deque()
        done = 0

        last_dated: tuple[int, str] | None = None  # the newest dated entry collected so far

        def collect(item: _Pending) -> None:
            nonlocal done, last_dated
            if item.pad is not None:
                level_parts[0].append(item.pad)
                return
            if item.future is not None:
                while not item.future.done() and stored.step():
                    pass
                item.result = item.future.result()
            assert item.result is not None
            levels, chain, form, miss, first, last = item.result
            if first is not None and last_dated is not None and (bad := time_order_problem(last_dated, first[1])):
                chain_bad.append((first[0], bad))
            last_dated = last or last_dated
            for level, part in enumerate(levels):
                level_parts[level].append(part)
            chain_bad.extend(chain)
            form_bad.extend(form)
            missed.extend(miss)
            done += item.count
            if self.progress:
                self.progress(done, size)

        expected = 0
        prev_hex = GENESIS_PREV
        try:
            for rows in reader.leaf_pages(CHUNK):
                report.entries_checked += len(rows)
                if rows[0][0] == expected and rows[-1][0] - expected == len(rows) - 1:
                    runs = [rows]
                else:
                    runs = _contiguous_runs(rows)
                for run in runs:
                    start = run[0][0]
                    if start != expected:
                        chain_findings.append(Finding(f"entry {expected}", expected,
                                                      f"missing: the next stored entry is {start}"))
                        in_flight.append(_Pending(0, pad=b"\x00" * (_HASH * (start - expected))))
                        aligned = False  # the nodes above the zero hashes are not the workers'
                    aligned = aligned and start % CHUNK == 0
                    leaves = [r[1] for r in run]
                    blob = b"".join(leaves)
                    lengths = list(map(len, leaves))
                    timeline: list[tuple[int, dict[str, tuple[str, bytes]], frozenset[str]]] = [(start, *snapshot)]
                    key_seqs: set[int] = set()
                    lo = bisect_left(hints, start)
                    hi = bisect_left(hints, start + len(run), lo)
                    for seq in hints[lo:hi]:
                        i = seq - start
                        prev = prev_hex if i == 0 else leaf_hash(bytes(leaves[i - 1])).hex()
                        applied = self._fold_key_entry(keys, seq, bytes(leaves[i]), prev, chain_findings, log_key_changes)
                        if applied:
                            key_seqs.add(seq)
                            snapshot = (dict(keys.keys), frozenset(keys.retired))
                            timeline.append((seq + 1, *snapshot))
                    task: Task = (start, prev_hex, blob, lengths, timeline, frozenset(key_seqs),
                                  sub_levels if aligned else 0)
                    if pool is not None:
                        in_flight.append(_Pending(len(run), future=pool.submit(check_run, task)))
                    else:
                        in_flight.append(_Pending(len(run), result=check_run(task)))
                    prev_hex = leaf_hash(bytes(leaves[-1])).hex()
                    expected = run[-1][0] + 1
                    while len(in_flight) > IN_FLIGHT_PER_WORKER * self.workers:
                        collect(in_flight.popleft())
            while in_flight:
                collect(in_flight.popleft())
            stored_levels = stored.finish()
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        if missed:  # a key entry the type column did not name: the key states handed out were wrong
            return self._run_reference(conn)

        level0 = b"".join(level_parts[0])
        chain_findings += _head_findings(head, expected, level0[-_HASH:])
        chain_findings.extend(Finding(f"entry {seq}", seq, message) for seq, message in chain_bad)
        # the order of the reference pass: chain findings by position (head last), then forms
        chain_findings.sort(key=lambda f: (f.where == "head", f.seq if f.seq is not None else 0))
        report.findings.extend(chain_findings)
        report.findings.extend(Finding(f"entry {seq}", seq, message) for seq, message in form_bad)

        levels = [level0]
        if aligned:
            levels += [b"".join(parts) for parts in level_parts[1:] if parts]
        while len(levels[-1]) >= 2 * _HASH:
            levels.append(_next_level(levels[-1]))
        if len(levels[-1]) < _HASH:
            levels.pop()  # an empty log
        checkpoint_rows = self._checkpoints(conn)
        n = len(level0) // _HASH
        wanted_sizes = sorted({row.size for row in checkpoint_rows if 0 < row.size <= n})
        roots = self._compare_tree(conn, levels, stored_levels, wanted_sizes, report)
        genesis_key = keys.genesis_log_key
        if genesis_key is not None and genesis_key != self.log_verifier.encode():
            report.findings.append(Finding("entry 0", 0, "genesis names a different log key than the one trusted"))
        self._check_checkpoints(checkpoint_rows, roots, log_key_changes, n, report)
        for where, at, problem in sm2.audit_lines(conn, checkpoint_rows):  # SPEC §5.1
            report.findings.append(Finding(where, at, problem))
        for where, at, problem in sm2.audit_entries(conn):  # SPEC §3 item 11
            report.findings.append(Finding(where, at, problem))
        self._check_cosignatures(conn, report)
        if self.progress:
            self.progress(size, size)
        return report

    @staticmethod
    def _key_hints(conn: Connection) -> list[int]:
        """Seqs of the entries the `type` column calls key entries, and seq 0: the entries this
        process parses. The column is not signed, so it is only a hint: a key entry it hides is
        caught by the workers (see `missed`), and one it invents is parsed and dropped."""
        rows = conn.execute(select(log_entries.c.seq).where(log_entries.c.type.in_(sorted(KEY_TYPES)))
                            .order_by(log_entries.c.seq))
        return sorted({0, *(seq for (seq,) in rows)})

    def _fold_key_entry(self, keys: KeyState, seq: int, leaf: bytes, prev: str, findings: list[Finding],
                        log_key_changes: list[tuple[int, NoteVerifier]]) -> bool:
        """The chain pass of the reference for one possible key entry: if its chain and key
        hold (else the worker reports it), fold its key change in. True if it is a key entry so folded."""
        try:
            obj = loads(leaf)
            if obj.get("seq") != seq or obj.get("prev") != prev:
                return False
            keys.resolve(obj)
            kind = obj.get("type")
        except (ValueError, KeyRuleError, AttributeError, TypeError):
            return False
        if type(kind) is not str or kind not in KEY_TYPES:
            return False
        try:
            change = keys.apply(obj, seq)
            if change is not None:
                log_key_changes.append((seq + 1, change))
        except (ValueError, KeyRuleError, AttributeError, TypeError) as exc:
            findings.append(Finding(f"entry {seq}", seq, str(exc)))
        return True

    def _compare_tree(self, conn: Connection, levels: list[bytes], stored: list[bytes | None], sizes: list[int],
                      report: AuditReport) -> dict[int, bytes]:
        """Compare every stored node with its recomputation (joined bytes, level by level; node by
        node only where they differ); return the root at each wanted size."""
        for level, blob in enumerate(levels):
            count = len(blob) // _HASH
            got = stored[level] if level < len(stored) else None
            if got is not None and got == blob:
                report.nodes_checked += count
                continue
            hashes = [blob[i:i + _HASH] for i in range(0, len(blob), _HASH)]
            self._compare_level(conn, level, hashes, report)
        self._check_stray_levels(conn, len(levels), report)
        roots: dict[int, bytes] = {}
        for s in sizes:
            nodes = frontier(s)
            level, idx = nodes[-1]
            acc = levels[level][idx * _HASH:(idx + 1) * _HASH]
            for level, idx in reversed(nodes[:-1]):
                acc = node_hash(levels[level][idx * _HASH:(idx + 1) * _HASH], acc)
            roots[s] = acc
        return roots

    def _check_stray_levels(self, conn: Connection, levels: int, report: AuditReport) -> None:
        """Nodes stored at levels the tree does not reach."""
        for row in conn.execute(select(merkle_nodes.c.level, merkle_nodes.c.idx).where(
                or_(merkle_nodes.c.level < 0, merkle_nodes.c.level >= levels))
                .order_by(merkle_nodes.c.level, merkle_nodes.c.idx)):
            report.findings.append(Finding(f"node ({row.level}, {row.idx})", max(0, (row.idx + 1 << max(row.level, 0)) - 1),
                                           "stored but not in the tree"))

    def _compare_level(self, conn: Connection, level: int, level_hashes: list[bytes], report: AuditReport) -> None:
        stored = self._stored_level(conn, level)
        for idx, h in enumerate(level_hashes):
            got = stored.pop(idx, None)
            report.nodes_checked += 1
            if got is None:
                report.findings.append(Finding(f"node ({level}, {idx})", (idx + 1 << level) - 1, "missing from storage"))
            elif got != h:
                got_hex = got.hex() if isinstance(got, bytes) else repr(got)
                report.findings.append(Finding(f"node ({level}, {idx})", (idx + 1 << level) - 1,
                                               f"stored hash {got_hex} != recomputed {h.hex()}"))
        for idx in stored:
            report.findings.append(Finding(f"node ({level}, {idx})", (idx + 1 << level) - 1, "stored but not in the tree"))

    # --- the reference pass ------------------------------------------------------------

    def _run_reference(self, conn: Connection) -> AuditReport:
        """The same checks, one entry at a time: the chain in this process, the forms in a
        pool. Exact for any log; the fast pass falls back to it (see the module docstring)."""
        report = AuditReport()
        found = _head_and_extent(conn, report)
        if found is None:
            return report
        head, size, _ = found
        keys = KeyState()
        leaf_hashes: list[bytes] = []
        sig_jobs: list[tuple[int, bytes, bytes]] = []
        # Signatures bound the rate, so they go to every core *while* the chain pass runs.
        pool = ProcessPoolExecutor(self.workers) if size >= PARALLEL_THRESHOLD and self.workers > 1 else None
        pending: list[Future[list[tuple[int, str]]]] = []
        sig_findings: list[tuple[int, str]] = []
        log_key_changes: list[tuple[int, NoteVerifier]] = []
        expected_seq = 0
        prev = GENESIS_PREV
        dated: tuple[int, str] | None = None
        for seq, leaf in self._leaves(conn):
            report.entries_checked += 1
            if seq != expected_seq:
                report.findings.append(Finding(f"entry {expected_seq}", expected_seq,
                                               f"missing: the next stored entry is {seq}"))
                leaf_hashes.extend([b"\x00" * 32] * (seq - expected_seq))
                expected_seq = seq
            lh = leaf_hash(leaf)
            leaf_hashes.append(lh)
            try:
                obj = loads(leaf)
                public_key = chain_step(obj, seq, prev, keys)
                t = obj.get("time")
                if type(t) is str:
                    if dated is not None and (bad := time_order_problem(dated, t)):
                        report.findings.append(Finding(f"entry {seq}", seq, bad))
                    dated = (seq, t)
                sig_jobs.append((seq, leaf, public_key))
                if len(sig_jobs) >= CHUNK:
                    if pool is not None:
                        pending.append(pool.submit(_check_signatures, sig_jobs))
                    else:
                        sig_findings.extend(_check_signatures(sig_jobs))
                    sig_jobs = []
                change = keys.apply(obj, seq)
                if change is not None:
                    log_key_changes.append((seq + 1, change))
            except (ValueError, KeyRuleError, AttributeError, TypeError) as exc:
                report.findings.append(Finding(f"entry {seq}", seq, str(exc)))
            prev = lh.hex()
            expected_seq = seq + 1
            if self.progress and report.entries_checked % PAGE == 0:
                self.progress(report.entries_checked, size)
        report.findings += _head_findings(head, expected_seq, leaf_hashes[-1] if leaf_hashes else None)

        if pool is not None:
            if sig_jobs:
                pending.append(pool.submit(_check_signatures, sig_jobs))
            for fut in pending:
                sig_findings.extend(fut.result())
            pool.shutdown()
        else:
            sig_findings.extend(_check_signatures(sig_jobs))
        for seq, message in sig_findings:
            report.findings.append(Finding(f"entry {seq}", seq, message))

        checkpoint_rows = self._checkpoints(conn)
        wanted_sizes = sorted({row.size for row in checkpoint_rows if 0 < row.size <= len(leaf_hashes)})
        roots = self._check_tree(conn, leaf_hashes, wanted_sizes, report)
        genesis_key = keys.genesis_log_key
        if genesis_key is not None and genesis_key != self.log_verifier.encode():
            report.findings.append(Finding("entry 0", 0, "genesis names a different log key than the one trusted"))
        self._check_checkpoints(checkpoint_rows, roots, log_key_changes, len(leaf_hashes), report)
        for where, at, problem in sm2.audit_lines(conn, checkpoint_rows):  # SPEC §5.1
            report.findings.append(Finding(where, at, problem))
        for where, at, problem in sm2.audit_entries(conn):  # SPEC §3 item 11
            report.findings.append(Finding(where, at, problem))
        self._check_cosignatures(conn, report)
        if self.progress:
            self.progress(size, size)
        return report


    def _leaves(self, conn: Connection) -> Iterable[tuple[int, bytes]]:
        """Every stored leaf in seq order, paged through the driver's cursor (no ORM rows)."""
        query = select(log_entries.c.seq, log_entries.c.leaf).where(log_entries.c.seq > bindparam("last")) \
            .order_by(log_entries.c.seq).limit(PAGE)
        last = -1
        while True:
            rows = conn.execute(query, {"last": last}).fetchall()
            if not rows:
                return
            for seq, leaf in rows:
                yield seq, bytes(leaf)
            last = rows[-1][0]

    def _check_tree(self, conn: Connection, leaf_hashes: list[bytes], sizes: list[int], report: AuditReport) -> dict[int, bytes]:
        """Compare every stored node with its recomputation; return the root at each wanted size."""
        needed: dict[tuple[int, int], bytes] = {}
        frontier_of = {s: frontier(s) for s in sizes}
        want = {node for nodes in frontier_of.values() for node in nodes}
        level_hashes = leaf_hashes
        level = 0
        while level_hashes:
            self._compare_level(conn, level, level_hashes, report)
            for node_level, idx in want:
                if node_level == level and idx < len(level_hashes):
                    needed[(level, idx)] = level_hashes[idx]
            level_hashes = [node_hash(level_hashes[i], level_hashes[i + 1]) for i in range(0, len(level_hashes) - 1, 2)]
            level += 1
        self._check_stray_levels(conn, level, report)
        roots: dict[int, bytes] = {}
        for s, nodes in frontier_of.items():
            acc = needed[nodes[-1]]
            for node in reversed(nodes[:-1]):
                acc = node_hash(needed[node], acc)
            roots[s] = acc
        return roots

    def _stored_level(self, conn: Connection, level: int) -> dict[int, bytes]:
        rows = conn.execute(select(merkle_nodes.c.idx, merkle_nodes.c.hash).where(merkle_nodes.c.level == level))
        return {r.idx: r.hash for r in rows}

    def _checkpoints(self, conn: Connection) -> list:
        return list(conn.execute(select(checkpoints).order_by(checkpoints.c.size)))

    def _check_checkpoints(self, rows: list, roots: dict[int, bytes], key_changes: list[tuple[int, NoteVerifier]],
                           size: int, report: AuditReport) -> None:
        for row in rows:
            report.checkpoints_checked += 1
            where = f"checkpoint {row.size}"
            verifier = self.log_verifier
            for effective_from, new_key in key_changes:
                if row.size >= effective_from:
                    verifier = new_key
            try:
                note = verify_note(row.note, verifier)
                cp = Checkpoint.parse(note.text)
            except (NoteError, CheckpointError) as exc:
                report.findings.append(Finding(where, row.size, str(exc)))
                continue
            if cp.size != row.size or cp.root != row.root:
                report.findings.append(Finding(where, row.size, "stored size/root columns differ from the signed note"))
            try:
                signed_time = own_cosignature_time(note, verifier)
            except NoteError as exc:
                report.findings.append(Finding(where, row.size, f"the log's timestamped cosignature: {exc}"))
            else:
                if signed_time is not None and signed_time != unix_seconds(parse_time(row.signed_at)):
                    report.findings.append(Finding(where, row.size, f"stored signed_at {row.signed_at} is not the "
                                                   f"signed cosignature time {signed_time}"))
            if cp.origin != verifier.name:
                report.findings.append(Finding(where, row.size, f"origin {cp.origin!r} is not {verifier.name!r}"))
            if cp.size > size:
                report.findings.append(Finding(where, row.size, f"signed size {cp.size} is beyond the log ({size})"))
                continue
            expected = EMPTY_ROOT if cp.size == 0 else roots.get(cp.size)
            if expected is not None and cp.root != expected:
                report.findings.append(Finding(where, row.size, f"root {base64.b64encode(cp.root).decode()} is not "
                                               f"the tree's {base64.b64encode(expected).decode()}"))

    def _check_cosignatures(self, conn: Connection, report: AuditReport) -> None:
        from .rotation import key_state  # the witness keys the log itself names (SPEC §3 item 9)

        keys = {r.name: NoteVerifier.parse(r.verifier_key) for r in conn.execute(select(witnesses))}
        try:
            history = key_state(conn).witness_keys
        except (ValueError, KeyRuleError, AttributeError, TypeError):
            history = {}  # a broken key entry is the chain pass's finding, not this one's
        rows = list(conn.execute(select(cosignatures, checkpoints.c.note).join(
            checkpoints, checkpoints.c.size == cosignatures.c.checkpoint_size)))
        for row in rows:
            report.cosignatures_checked += 1
            where = f"cosignature of {row.witness} on checkpoint {row.checkpoint_size}"
            # the key in force at that size per the log (a later rotation or revocation does not
            # undo a cosignature stored before it); else the registered row (witnesses added before
            # witness keys were logged)
            logged = [NoteVerifier.parse(k) for k, (name, _, last) in history.items()
                      if name == row.witness and (last is None or row.checkpoint_size <= last)]
            candidates = logged or ([keys[row.witness]] if row.witness in keys else [])
            if not candidates:
                report.findings.append(Finding(where, row.checkpoint_size, "witness is not registered"))
                continue
            error = None
            for verifier in candidates:
                try:
                    text = parse_note(row.note).text
                    sig = parse_note(text + "\n" + row.line).signatures[0]
                    verify_cosignature(text, sig, verifier)
                    error = None
                    break
                except NoteError as exc:
                    error = error or str(exc)
            if error is not None:
                report.findings.append(Finding(where, row.checkpoint_size, error))
