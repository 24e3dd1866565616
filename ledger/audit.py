"""`drawsvc log audit`: re-read every stored byte and re-check it.

Checks, in order of cost: the chain (seq, prev, leaf hashes, key rules) in one pass in
this process; canonical form and Ed25519 signatures in worker processes (they bound the
rate, so they get every core); the tree, level by level, recomputed from the leaves and
compared with every stored node; every stored checkpoint (signature by the log key in
force, root at its size) and cosignature; the head row. The report names the first
broken point.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError
from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.engine import Connection

from .canonical import canonical_bytes
from .checkpoint import Checkpoint, CheckpointError
from .entry import GENESIS_PREV, Entry, EntryError
from .keyrules import KeyRuleError, KeyState
from .merkle import EMPTY_ROOT, frontier, leaf_hash, node_hash
from .note import NoteError, NoteVerifier, parse_note, verify_cosignature, verify_note
from .schema import checkpoints, cosignatures, log_entries, log_head, merkle_nodes, witnesses

PAGE = 5000


def _loads(leaf: bytes) -> Any:
    """orjson where it can (several times faster); the standard parser for what it refuses
    (integers beyond 64 bits). The workers still check canonical form with the reference rules."""
    try:
        return orjson.loads(leaf)
    except orjson.JSONDecodeError:
        return json.loads(leaf)
PARALLEL_THRESHOLD = 20000
CHUNK = 2000  # entries per worker task: big enough to amortise the pickling


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


def signing_bytes_of(leaf: bytes) -> bytes:
    """JCS(entry without "sig") cut out of a canonical leaf: drop the `,"sig":"…"` member.

    In a canonical leaf the members are sorted (actor, payload, prev, seq, sig, time, type,
    v); only time, type and v follow sig, and none can hold that byte string, so the last
    occurrence is the member itself; its base64 value holds no quote. Exact only for a leaf
    already checked canonical, which the caller does first.
    """
    i = leaf.rfind(b',"sig":"')
    j = leaf.index(b'"', i + 8)
    return leaf[:i] + leaf[j + 1 :]


def _check_signatures(chunk: list[tuple[int, bytes, bytes]]) -> list[tuple[int, str]]:
    """Worker: canonical form, shape and signature of each (seq, leaf, public key)."""
    bad: list[tuple[int, str]] = []
    for seq, leaf, public_key in chunk:
        try:
            obj = json.loads(leaf)
            if canonical_bytes(obj) != leaf:
                raise EntryError(f"entry {seq}: leaf is not in RFC 8785 canonical form")
            entry = Entry.from_json(obj)
            crypto_sign_open(base64.b64decode(entry.sig, validate=True) + signing_bytes_of(leaf), public_key)
        except (EntryError, BadSignatureError, ValueError) as exc:
            message = str(exc) if isinstance(exc, EntryError) else \
                f"entry {seq}: signature by {obj.get('actor')} does not verify"
            bad.append((seq, message))
    return bad


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

    def _run(self, conn: Connection) -> AuditReport:
        report = AuditReport()
        head = conn.execute(select(log_head)).one_or_none()
        stored_count = conn.execute(select(func.count()).select_from(log_entries)).scalar_one()
        max_seq = conn.execute(select(func.max(log_entries.c.seq))).scalar_one()
        if head is None:
            report.findings.append(Finding("head", None, "the log has no head row"))
            return report
        size = max(head.size, stored_count, (max_seq + 1) if max_seq is not None else 0)
        report.size = head.size
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
                obj = _loads(leaf)
                if obj.get("seq") != seq:
                    raise EntryError(f"stored at seq {seq} but says seq {obj.get('seq')!r}")
                if obj.get("prev") != prev:
                    raise EntryError(f"prev is {obj.get('prev')!r}, expected {prev}")
                public_key = keys.resolve(obj)
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
        if expected_seq != head.size:
            report.findings.append(Finding("head", expected_seq, f"head says size {head.size}, "
                                           f"but {expected_seq} entries are stored"))
        elif expected_seq and head.last_leaf_hash != leaf_hashes[-1]:
            report.findings.append(Finding("head", expected_seq - 1, "head's last leaf hash is not the last entry's"))

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
            stored = self._stored_level(conn, level)
            for idx, h in enumerate(level_hashes):
                got = stored.pop(idx, None)
                report.nodes_checked += 1
                if got is None:
                    report.findings.append(Finding(f"node ({level}, {idx})", (idx + 1 << level) - 1, "missing from storage"))
                elif got != h:
                    report.findings.append(Finding(f"node ({level}, {idx})", (idx + 1 << level) - 1,
                                                   f"stored hash {got.hex()} != recomputed {h.hex()}"))
                if (level, idx) in want:
                    needed[(level, idx)] = h
            for idx in stored:
                report.findings.append(Finding(f"node ({level}, {idx})", (idx + 1 << level) - 1, "stored but not in the tree"))
            level_hashes = [node_hash(level_hashes[i], level_hashes[i + 1]) for i in range(0, len(level_hashes) - 1, 2)]
            level += 1
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
        keys = {r.name: NoteVerifier.parse(r.verifier_key) for r in conn.execute(select(witnesses))}
        rows = list(conn.execute(select(cosignatures, checkpoints.c.note).join(
            checkpoints, checkpoints.c.size == cosignatures.c.checkpoint_size)))
        for row in rows:
            report.cosignatures_checked += 1
            where = f"cosignature of {row.witness} on checkpoint {row.checkpoint_size}"
            verifier = keys.get(row.witness)
            if verifier is None:
                report.findings.append(Finding(where, row.checkpoint_size, "witness is not registered"))
                continue
            try:
                text = parse_note(row.note).text
                sig = parse_note(text + "\n" + row.line).signatures[0]
                verify_cosignature(text, sig, verifier)
            except NoteError as exc:
                report.findings.append(Finding(where, row.checkpoint_size, str(exc)))
