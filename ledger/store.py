"""The append-only log on a relational database: appends, checkpoints, proofs, reads.

Writers serialise on one row (`log_head`): PostgreSQL takes it FOR UPDATE, SQLite opens
the transaction with BEGIN IMMEDIATE. Inside that lock the next seq and `prev` are
known, so entries are signed there; entries, new tree nodes and the new head are written
in the same transaction, so a crash leaves an entry wholly in or wholly out. Domain code
writes its own rows through the same transaction (`tx.conn`), so a state change and its
log entry commit together or not at all.

The group-commit batcher writes through `Ledger.batch()`: on PostgreSQL a connection of
its own and two round trips inside the lock (lock and read the right edge; then one
pipeline of the entries, sent while they are signed, the nodes, the head, when due a
checkpoint, and COMMIT) — see `PgBatch`.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time as _time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, event, insert, or_, select, update
from sqlalchemy.engine import Connection

from .checkpoint import Checkpoint
from .entry import GENESIS_PREV, Entry, format_time, key_id_for, make_entry, parse_time, unix_seconds
from .keys import ActorSigner
from .merkle import (
    NodeId,
    ProofError,
    append_leaves,
    consistency_plan,
    frontier,
    inclusion_plan,
    nodes_for_ranges,
    range_hash,
    root_from_frontier,
)
from .note import NoteSigner, cosign, sign_note
from .prepared import PreparedEntry
from .schema import actor_keys, checkpoints, cosignatures, log_entries, log_head, merkle_nodes

Clock = Callable[[], datetime]
MAX_PAGE = 1000


class LedgerError(Exception):
    """Base of the ledger's own errors."""


class NotFound(LedgerError):
    pass


class BadRequest(LedgerError):
    pass


class KeyRevoked(LedgerError):
    """The signer's key was revoked on the log (SPEC §3 item 7): the service signs nothing with it."""

    def __init__(self, key_id: str, seq: int) -> None:
        super().__init__(f"密钥 {key_id} 已于条目 {seq} 吊销，不能再签名 / key {key_id} was revoked at seq {seq}; "
                         "it signs nothing more")
        self.key_id, self.seq = key_id, seq


#: How long a process trusts its list of revoked keys on the batched (hot) path, in seconds.
#: A plain transaction always reads the list under the append lock.
REVOKED_TTL = 1.0


def read_revoked(conn: Connection) -> dict[str, int]:
    """key_id -> seq of its `actor.key.revoked` entry, read from the log (the type column is indexed)."""
    out: dict[str, int] = {}
    for seq, leaf in conn.execute(select(log_entries.c.seq, log_entries.c.leaf)
                                  .where(log_entries.c.type == "actor.key.revoked")):
        key_id = json.loads(bytes(leaf)).get("payload", {}).get("key_id")
        if type(key_id) is str:
            out[key_id] = seq
    return out


class Sm2SignatureRequired(KeyRevoked):
    """The signer's actor holds an SM2 key on the log (SPEC §3 item 11) and the signer cannot
    make that key's signature: the service appends no entry by that actor with Ed25519 alone."""

    def __init__(self, actor_id: str, seq: int) -> None:
        LedgerError.__init__(self, f"{actor_id} 的条目须同时带 SM2 签名（SM2 公钥登记于条目 {seq}），签名者没有该私钥 / "
                             f"entries by {actor_id} need its SM2 signature too (SM2 key registered at seq {seq}); "
                             "the signer lacks that private key")
        self.key_id, self.seq, self.actor_id = "", seq, actor_id


SM2_ACTOR_ENTRY = "actor.sm2_key.registered"


def read_sm2_actors(conn: Connection) -> dict[str, tuple[int, bytes]]:
    """actor id -> (seq of its newest `actor.sm2_key.registered`, SM2 public point 0x04 || X || Y).

    The service wrote these entries itself after checking them (ledger/sm2.py); the audit and
    the verifiers re-check their proof of possession."""
    out: dict[str, tuple[int, bytes]] = {}
    for seq, leaf in conn.execute(select(log_entries.c.seq, log_entries.c.leaf)
                                  .where(log_entries.c.type == SM2_ACTOR_ENTRY).order_by(log_entries.c.seq)):
        p = json.loads(bytes(leaf)).get("payload", {})
        try:
            point = base64.b64decode(str(p.get("sm2_public_key")), validate=True)
        except ValueError:
            continue
        if type(p.get("actor_id")) is str and len(point) == 65:
            out[p["actor_id"]] = (seq, point)
    return out


def utcnow() -> datetime:
    return datetime.now(UTC)


def configure_engine(engine: Engine) -> Engine:
    """SQLite: WAL, durable commits, a busy timeout, and BEGIN IMMEDIATE for writers.

    pysqlite's own transaction handling is switched off so the `begin` event decides:
    connections opened with execution option `ledger_write=True` start BEGIN IMMEDIATE,
    taking the database write lock before the head is read.
    """
    if engine.dialect.name != "sqlite":
        return engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        # 64 MiB of page cache (default 2 MiB): the indexes' and tree's right edges and
        # the upper B-tree levels of a large log stay in memory between batches.
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get("ledger_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    signed_at: str


class NodeCache:
    """A bounded LRU of immutable tree-node hashes; a warm cache makes proofs memory-only."""

    def __init__(self, capacity: int = 1 << 20) -> None:
        self.capacity = capacity
        self._data: OrderedDict[NodeId, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, nodes: Sequence[NodeId]) -> tuple[dict[NodeId, bytes], list[NodeId]]:
        found: dict[NodeId, bytes] = {}
        missing: list[NodeId] = []
        with self._lock:
            for n in nodes:
                h = self._data.get(n)
                if h is None:
                    missing.append(n)
                else:
                    found[n] = h
        return found, missing

    def put_many(self, items: Mapping[NodeId, bytes]) -> None:
        with self._lock:
            self._data.update(items)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)


class _Appender:
    """What both writers (LogTransaction, PgBatch) share: signing the next entry inside the lock.

    Entry times never run backwards (docs/SPEC.md §2): an entry is dated no earlier than the
    head entry, read with the head under the lock. A clock that steps back (NTP, a VM restore,
    a test that travels in time) therefore dates entries at the head's time until it catches
    up, instead of writing a log in which a later seq claims an earlier moment."""

    ledger: Ledger
    size: int
    last_leaf_hash: bytes
    last_time: str | None  # the head entry's time; None for an empty log

    def _prev(self) -> str:
        return GENESIS_PREV if self.size == 0 else self.last_leaf_hash.hex()

    def append(self, entry_type: str, payload: dict[str, Any], signer: ActorSigner,
               moment: datetime | None = None, payload_json: str | None = None) -> Entry:
        """Sign and buffer an entry at the next seq. Raises EntryError (nothing buffered) on bad input.

        `payload_json` (from `entry.encode_payload`, computed before the lock) saves work inside it."""
        sm2_key = None
        if signer.actor_id != "system":  # the system key is rotated, never revoked (SPEC §3 item 7)
            self._check_signer(signer.key_id)
            sm2_key = self._check_sm2(signer)
        moment = not_before(moment or self.ledger.clock(), self.last_time)
        return self._put(make_entry(seq=self.size, moment=moment, entry_type=entry_type,
                                    actor_id=signer.actor_id, signing_key=signer.signing_key, payload=payload,
                                    prev=self._prev(), payload_json=payload_json, sm2_key=sm2_key))

    def append_prepared(self, prepared: PreparedEntry, time: str) -> Entry:
        """Sign and buffer a prepared entry (see ledger.prepared) at the next seq."""
        if prepared.actor_id != "system":
            self._check_signer(prepared.key_id)
            registered = self._sm2_actors().get(prepared.actor_id)
            if registered is not None:  # prepared entries carry Ed25519 only (prepare() makes none for SM2 signers)
                raise Sm2SignatureRequired(prepared.actor_id, registered[0])
        if self.last_time is not None and time < self.last_time:  # same fixed-width form: text order is time order
            time = self.last_time
        return self._put(prepared.sign(self.size, self._prev(), time))

    def _put(self, entry: Entry) -> Entry:
        raise NotImplementedError

    def _revoked(self) -> dict[str, int]:
        return self.ledger.revoked_keys()

    def _sm2_actors(self) -> dict[str, tuple[int, bytes]]:
        return self.ledger.sm2_actors()

    def _check_sm2(self, signer: ActorSigner) -> bytes | None:
        """The SM2 private key to sign with as well, if the actor holds an SM2 key on the log
        (SPEC §3 item 11); refuse (Sm2SignatureRequired) a signer without that very key. A signer
        with an SM2 key the log does not name for it signs with Ed25519 alone (the key is not
        registered yet, or was replaced): an `sm2_sig` the log does not require is invalid."""
        registered = self._sm2_actors().get(signer.actor_id)
        if registered is None:
            return None
        if signer.sm2_public != registered[1]:
            raise Sm2SignatureRequired(signer.actor_id, registered[0])
        return signer.sm2_private

    def _check_signer(self, key_id: str) -> None:
        """Refuse (raise KeyRevoked, nothing buffered) to sign with a key revoked on the log."""
        seq = self._revoked().get(key_id)
        if seq is not None:
            raise KeyRevoked(key_id, seq)

    def _advance(self, entry: Entry) -> bytes:
        """The entry is now the head: size, leaf hash and time move on; its leaf hash."""
        lh = entry.leaf_hash()
        self.size += 1
        self.last_leaf_hash = lh
        self.last_time = entry.time
        return lh


def not_before(moment: datetime, last_time: str | None) -> datetime:
    """`moment`, or the head entry's time if that is later (entry times are non-decreasing)."""
    if last_time is not None and format_time(moment) < last_time:
        return parse_time(last_time)
    return moment


class LogTransaction(_Appender):
    """One database transaction holding the append lock. Entries buffer until flush."""

    def __init__(self, ledger: Ledger, conn: Connection, size: int, last_leaf_hash: bytes,
                 last_time: str | None) -> None:
        self.ledger = ledger
        self.conn = conn
        self.start_size = size
        self.size = size
        self.last_leaf_hash = last_leaf_hash
        self.last_time = last_time
        self._pending: list[Entry] = []
        self._pending_hashes: list[bytes] = []
        self.created: dict[NodeId, bytes] = {}  # tree nodes written by flush (cached after commit)
        self.want_checkpoint = False  # flush also signs a checkpoint of the new size
        self.checkpoint: StoredCheckpoint | None = None  # the one it signed
        self._revoked_now: dict[str, int] | None = None
        self._sm2_now: dict[str, tuple[int, bytes]] | None = None
        self._edge: dict[NodeId, bytes] | None = None  # the right edge after this transaction's last flush

    def _sm2_actors(self) -> dict[str, tuple[int, bytes]]:
        """Read under the append lock, once per transaction (a registration in it updates it)."""
        if self._sm2_now is None:
            self._sm2_now = read_sm2_actors(self.conn)
            self.ledger._sm2_cache = (_time.monotonic(), self._sm2_now)
        return self._sm2_now

    def sm2_registered(self, actor_id: str, seq: int, point: bytes) -> None:
        """An `actor.sm2_key.registered` was appended in this transaction: from the next entry on
        the actor's entries need the SM2 signature."""
        self._sm2_now = {**self._sm2_actors(), actor_id: (seq, point)}
        self.ledger._sm2_cache = (_time.monotonic(), self._sm2_now)

    def _revoked(self) -> dict[str, int]:
        """Read under the append lock, once per transaction: exact, whoever revoked."""
        if self._revoked_now is None:
            self._revoked_now = read_revoked(self.conn)
            self.ledger._revoked_cache = (_time.monotonic(), self._revoked_now)
        return self._revoked_now

    def _put(self, entry: Entry) -> Entry:
        """Hold a signed entry until flush; it is now the head."""
        self._pending.append(entry)
        self._pending_hashes.append(self._advance(entry))
        return entry

    def register_actor_key(self, actor_id: str, public_key: bytes,
                           encrypted_private_key: bytes | None = None) -> Entry:
        """Log `actor.key.registered` (signed by system) and store the key."""
        key_id = key_id_for(public_key)
        entry = self.append("actor.key.registered",
                            {"actor_id": actor_id, "key_id": key_id,
                             "public_key": base64.b64encode(public_key).decode()},
                            self.ledger.system)
        self.conn.execute(insert(actor_keys).values(
            key_id=key_id, actor_id=actor_id, public_key=public_key,
            encrypted_private_key=encrypted_private_key, active=True, registered_seq=entry.seq))
        return entry

    def _edge_for(self, base: int) -> dict[NodeId, bytes]:
        """The frontier(base) nodes: from this transaction's previous flush when it wrote them
        (uncommitted: never through the shared cache), else committed ones via the cache."""
        needed = frontier(base)
        if self._edge is not None and all(n in self._edge for n in needed):
            return {n: self._edge[n] for n in needed}
        if self._edge is not None:  # not expected (the edge covers the next frontier): read, uncached
            return self.ledger._read_nodes(self.conn, needed, use_cache=False)
        return self.ledger._read_nodes(self.conn, needed)

    def flush(self) -> None:
        """Write buffered entries, the tree nodes they complete, and the new head."""
        if not self._pending:
            return
        base = self.size - len(self._pending)
        # Nodes are immutable once committed, and the cache only ever holds committed ones
        # (read from storage, or put there after this transaction commits), so the right
        # edge a previous batch of this process wrote needs no read. A later flush of this
        # same transaction takes the edge its previous flush left (kept here): read through
        # the cache, those uncommitted nodes would be cached, and stay there, wrong, if the
        # transaction then rolled back.
        edge = self._edge_for(base)
        created = append_leaves(base, edge, self._pending_hashes)
        self.created = dict(created)
        known = {**edge, **self.created}
        self._edge = {n: known[n] for n in frontier(self.size) if n in known}
        rows = [(e.seq, e.leaf(), e.type, e.actor_id, e.time) for e in self._pending]
        nodes = [(lv, ix, h) for (lv, ix), h in created]
        if self.ledger._is_pg:
            # Binary COPY, one per table, in this transaction: psycopg's executemany sends one
            # INSERT per row (pipelined, but each bound and executed alone), which made the
            # inserts most of a batch's time inside the lock.
            with self.conn.connection.driver_connection.cursor() as cur:
                with cur.copy("COPY log_entries (seq, leaf, type, actor_id, time) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(["int8", "bytea", "text", "text", "text"])
                    for row in rows:
                        cp.write_row(row)
                if nodes:
                    with cur.copy("COPY merkle_nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)") as cp:
                        cp.set_types(["int4", "int8", "bytea"])
                        for node in nodes:
                            cp.write_row(node)
        else:
            # The driver's own executemany: no per-row parameter processing in SQLAlchemy.
            self.conn.exec_driver_sql(
                "INSERT INTO log_entries (seq, leaf, type, actor_id, time) VALUES (?, ?, ?, ?, ?)", rows)
            if nodes:
                self.conn.exec_driver_sql("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
        self.conn.execute(update(log_head).where(log_head.c.id == 1).values(
            size=self.size, last_leaf_hash=self.last_leaf_hash))
        if self.want_checkpoint:
            self.checkpoint = self.ledger._sign_checkpoint(self.size, {**edge, **self.created}, self.last_time)
            cp = self.checkpoint
            self.conn.execute(insert(checkpoints).values(size=cp.size, root=cp.root, note=cp.note,
                                                         signed_at=cp.signed_at))
        self._pending.clear()
        self._pending_hashes.clear()


# The head is locked by the second statement; the third, with a snapshot taken after the
# lock was granted, reads the head again and the stored right edge of the tree (the
# frontier: a node at each level L where bit L of size is set, idx = (size >> L) - 1).
# (In one statement the joined nodes would come from a snapshot older than the lock
# whenever it had to wait, missing those the previous holder committed.)
_PG_LOCK = (
    "BEGIN ISOLATION LEVEL READ COMMITTED; "
    "SELECT size FROM log_head WHERE id = 1 FOR UPDATE; "
    "SELECT h.size, h.last_leaf_hash, (SELECT e.time FROM log_entries AS e WHERE e.seq = h.size - 1), "
    "n.level, n.idx, n.hash FROM log_head AS h "
    "LEFT JOIN LATERAL (SELECT m.level, m.idx, m.hash FROM generate_series(0, 62) AS b(lv) "
    "JOIN merkle_nodes AS m ON m.level = b.lv AND m.idx = (h.size >> b.lv) - 1 "
    "WHERE (h.size >> b.lv) & 1 = 1) AS n ON true WHERE h.id = 1"
)
_PG_INSERT_ENTRIES = ("INSERT INTO log_entries (seq, leaf, type, actor_id, time) "
                      "SELECT * FROM unnest(%b::int8[], %b::bytea[], %b::text[], %b::text[], %b::text[])")
_PG_INSERT_NODES = ("INSERT INTO merkle_nodes (level, idx, hash) "
                    "SELECT * FROM unnest(%b::int4[], %b::int8[], %b::bytea[])")
_PG_UPDATE_HEAD = "UPDATE log_head SET size = %b, last_leaf_hash = %b WHERE id = 1"
_PG_INSERT_CHECKPOINT = "INSERT INTO checkpoints (size, root, note, signed_at) VALUES (%b, %b, %b, %b)"
_PG_CHUNK = 64  # entries per INSERT sent while the batch is still being signed


class PgBatch(_Appender):
    """One batch of appends on PostgreSQL, on the ledger's own psycopg connection.

    Two round trips inside the lock. (1) BEGIN, lock the head, read it and the tree's right
    edge: one simple-protocol query. (2) A pipeline: every `_PG_CHUNK` signed entries go to
    the server as one INSERT at once, so it inserts them while the next ones are signed;
    then the new tree nodes, the head, a checkpoint when one is wanted, and COMMIT. Only
    then does the client wait, for all the answers, the last of which comes after the commit
    is durable (synchronous_commit as the server has it). Any failure rolls the whole
    transaction back: an entry is wholly in or wholly out.
    """

    def __init__(self, ledger: Ledger, conn: Any) -> None:
        self.ledger = ledger
        self._conn = conn
        self._cur = conn.cursor()
        self._cur.execute(_PG_LOCK)
        self._cur.nextset()
        self._cur.nextset()
        rows = self._cur.fetchall()
        if not rows:
            raise LedgerError("the log is not initialised (run `drawsvc init`)")
        size, last = rows[0][0], bytes(rows[0][1])
        self.last_time = rows[0][2]
        self._edge = {(r[3], r[4]): bytes(r[5]) for r in rows if r[3] is not None}
        if len(self._edge) != size.bit_count():
            raise LedgerError(f"tree nodes missing from storage on the right edge of size {size}")
        self.start_size = self.size = size
        self.last_leaf_hash = last
        self._hashes: list[bytes] = []
        self._rows: list[Entry] = []  # signed, not yet sent
        self._pipeline: Any = None
        self.created: dict[NodeId, bytes] = {}
        self.want_checkpoint = False
        self.checkpoint: StoredCheckpoint | None = None

    def _revoked(self) -> dict[str, int]:
        """The list refreshed just before the lock (Ledger.batch): no query inside the hot path."""
        cached = self.ledger._revoked_cache
        return cached[1] if cached is not None else self.ledger.revoked_keys()

    def _sm2_actors(self) -> dict[str, tuple[int, bytes]]:
        cached = self.ledger._sm2_cache
        return cached[1] if cached is not None else self.ledger.sm2_actors()

    def _put(self, entry: Entry) -> Entry:
        self._rows.append(entry)
        self._hashes.append(self._advance(entry))
        if len(self._rows) >= _PG_CHUNK:
            self._send_rows()
        return entry

    def _send_rows(self) -> None:
        if self._pipeline is None:
            self._pipeline = self._conn.pipeline()
            self._pipeline.__enter__()
        rows, self._rows = self._rows, []
        self._cur.execute(_PG_INSERT_ENTRIES, ([e.seq for e in rows], [e.leaf() for e in rows],
                                               [e.type for e in rows], [e.actor_id for e in rows],
                                               [e.time for e in rows]))

    def finish(self) -> None:
        """Send the rest, the nodes, the head and the checkpoint, COMMIT, and wait."""
        if not self._hashes:  # nothing was appended
            self._cur.execute("ROLLBACK")
            return
        if self._rows:
            self._send_rows()
        created = append_leaves(self.start_size, self._edge, self._hashes)
        nodes = dict(created)
        if self.want_checkpoint:
            self.checkpoint = self.ledger._sign_checkpoint(self.size, {**self._edge, **nodes}, self.last_time)
        cur = self._cur
        cur.execute(_PG_INSERT_NODES, ([lv for (lv, _), _ in created], [ix for (_, ix), _ in created],
                                       [h for _, h in created]))
        cur.execute(_PG_UPDATE_HEAD, (self.size, self.last_leaf_hash))
        if self.checkpoint is not None:
            cp = self.checkpoint
            cur.execute(_PG_INSERT_CHECKPOINT, (cp.size, cp.root, cp.note, cp.signed_at))
        cur.execute("COMMIT")
        pipeline, self._pipeline = self._pipeline, None
        pipeline.__exit__(None, None, None)  # sync: raises the first error, if any
        self.created = nodes

    def abort(self) -> bool:
        """Roll back after a failure; False when the connection is not fit to use again."""
        try:
            if self._pipeline is not None:
                pipeline, self._pipeline = self._pipeline, None
                with suppress(Exception):  # the pipeline's own errors: the one raised already counts
                    pipeline.__exit__(LedgerError, LedgerError("batch aborted"), None)
            self._cur.execute("ROLLBACK")
            return True
        except Exception:
            return False


class Ledger:
    """The log. Thread-safe; several processes may share one database."""

    def __init__(self, engine: Engine, origin: str, log_signer: NoteSigner, system: ActorSigner,
                 clock: Clock = utcnow) -> None:
        self.engine = engine
        self.origin = origin
        self.log_signer = log_signer
        # Further signature lines on every checkpoint after the Ed25519 one (the SM2 line, ledger/sm2.py).
        self.note_signers: list[Any] = []
        self.system = system
        self.clock = clock
        self.cache = NodeCache()
        self._known_size = 0  # the largest tree size seen to exist (it never shrinks)
        self._is_pg = engine.dialect.name == "postgresql"
        # The batcher's own connection (PostgreSQL with psycopg), opened on first use.
        self._pg_batch = self._is_pg and engine.dialect.driver == "psycopg"
        self._writer: Any = None  # the detached pool connection (closing it closes the socket)
        self._writer_conn: Any = None  # its psycopg connection
        self._writer_pid = 0
        self._writer_lock = threading.Lock()
        self._revoked_cache: tuple[float, dict[str, int]] | None = None
        self._sm2_cache: tuple[float, dict[str, tuple[int, bytes]]] | None = None
        # Called with each checkpoint this process signs, after it is committed (the demo pushes
        # it to its in-process witnesses at once; `serve` has a background pusher instead).
        self.on_checkpoint: list[Callable[[StoredCheckpoint], None]] = []

    def revoked_keys(self) -> dict[str, int]:
        """key_id -> seq of its revocation; re-read from the log at most every REVOKED_TTL seconds
        (the batched path's view; another process's revocation reaches it within that time)."""
        now = _time.monotonic()
        cached = self._revoked_cache
        if cached is None or now - cached[0] > REVOKED_TTL:
            with self.engine.connect() as conn:
                cached = (now, read_revoked(conn))
            self._revoked_cache = cached
        return cached[1]

    def sm2_actors(self) -> dict[str, tuple[int, bytes]]:
        """actor id -> (seq, SM2 point) of the actors whose entries carry an SM2 signature too
        (SPEC §3 item 11); cached like `revoked_keys`."""
        now = _time.monotonic()
        cached = self._sm2_cache
        if cached is None or now - cached[0] > REVOKED_TTL:
            with self.engine.connect() as conn:
                cached = (now, read_sm2_actors(conn))
            self._sm2_cache = cached
        return cached[1]

    def forget_revoked(self, key_id: str, seq: int) -> None:
        """This process just revoked `key_id`: stop signing with it now, not after the TTL."""
        cached = self._revoked_cache[1] if self._revoked_cache else {}
        self._revoked_cache = (_time.monotonic(), {**cached, key_id: seq})

    def _signed(self, cp: StoredCheckpoint | None) -> None:
        for fn in self.on_checkpoint if cp is not None else ():
            try:
                fn(cp)
            except Exception:  # the checkpoint is committed; a hook's failure must not undo the caller
                import logging

                logging.getLogger(__name__).exception("checkpoint hook failed")

    # --- writing --------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[LogTransaction]:
        """Lock the head, yield a LogTransaction, flush and commit; roll back on error."""
        with self.engine.connect().execution_options(ledger_write=True) as conn, conn.begin():
            stmt = select(log_head.c.size, log_head.c.last_leaf_hash).where(log_head.c.id == 1)
            if self._is_pg:
                stmt = stmt.with_for_update()
            row = conn.execute(stmt).one_or_none()
            if row is None:
                raise LedgerError("the log is not initialised (run `drawsvc init`)")
            last_time = None if row.size == 0 else conn.execute(
                select(log_entries.c.time).where(log_entries.c.seq == row.size - 1)).scalar_one()
            tx = LogTransaction(self, conn, row.size, row.last_leaf_hash, last_time)
            yield tx
            tx.flush()
        if tx.created:  # committed: now they may serve later reads (the next batch's right edge)
            self.cache.put_many(tx.created)
        self._signed(tx.checkpoint)

    def append(self, entry_type: str, payload: dict[str, Any], signer: ActorSigner) -> Entry:
        with self.transaction() as tx:
            return tx.append(entry_type, payload, signer)

    @contextmanager
    def batch(self) -> Iterator[LogTransaction | PgBatch]:
        """The group-commit batcher's transaction: lock the head, yield a writer with
        `append_prepared`, `append` and `want_checkpoint`, write and commit on exit, roll back
        on error. On PostgreSQL (psycopg) a `PgBatch` on the ledger's own connection; else a
        LogTransaction."""
        if not self._pg_batch:
            with self.transaction() as tx:
                yield tx
            return
        self.revoked_keys()  # refreshed (if stale) before the lock: the batch reads the cached list
        self.sm2_actors()
        with self._writer_lock:
            b = self._begin_pg_batch()
            try:
                yield b
                b.finish()
            except BaseException:
                if not b.abort():  # the connection is unusable: open a new one next time
                    self._drop_writer()
                raise
        if b.created:  # committed: they may serve later reads
            self.cache.put_many(b.created)

    def _begin_pg_batch(self) -> PgBatch:
        import psycopg

        for attempt in (1, 2):
            conn = self._writer_connection()
            try:
                return PgBatch(self, conn)
            except psycopg.OperationalError:
                # nothing was written; a connection the server dropped while idle gets one retry
                self._drop_writer()
                if attempt == 2:
                    raise
            except BaseException:
                try:  # BEGIN may have gone through: leave no transaction open on the connection
                    conn.execute("ROLLBACK")
                except Exception:
                    self._drop_writer()
                raise
        raise AssertionError("unreachable")

    def _writer_connection(self) -> Any:
        if self._writer is not None and self._writer_pid != os.getpid():
            self._writer = self._writer_conn = None  # inherited over fork: the parent's session, not ours
        if self._writer is None:
            raw = self.engine.raw_connection()  # the engine's connect arguments and pre-ping
            conn = raw.driver_connection
            raw.detach()  # out of the pool: closing `raw` now closes the connection
            conn.autocommit = True  # BEGIN and COMMIT are sent explicitly, each within a round trip
            self._writer, self._writer_conn, self._writer_pid = raw, conn, os.getpid()
        return self._writer_conn

    def _drop_writer(self) -> None:
        raw, self._writer, self._writer_conn = self._writer, None, None
        if raw is not None and self._writer_pid == os.getpid():
            with suppress(Exception):  # already broken: nothing to release
                raw.close()

    def close(self) -> None:
        """Close the batcher's connection (a later batch opens another)."""
        with self._writer_lock:
            self._drop_writer()

    def _sign_checkpoint(self, size: int, nodes: Mapping[NodeId, bytes], last_time: str | None) -> StoredCheckpoint:
        """A signed checkpoint of the tree of `size` leaves; `nodes` holds its frontier.

        Beside the log's signature the note carries the log's own timestamped cosignature
        (C2SP tlog-cosignature/v1, the log key under algorithm 0x04): its time is signed, so a
        checkpoint's time can no longer be moved afterwards, as a bare `signed_at` could. It is
        never earlier than the newest entry it covers (docs/SPEC.md §5)."""
        root = root_from_frontier(size, nodes)
        moment = not_before(self.clock(), last_time)
        body = Checkpoint(self.origin, size, root).body()
        signer = self.log_signer
        note = sign_note(body, [signer, *self.note_signers]) + cosign(body, signer.name, signer.signing_key,
                                                                      unix_seconds(moment))
        return StoredCheckpoint(size, root, note, format_time(moment))

    def checkpoint(self) -> StoredCheckpoint:
        """Sign a checkpoint of the current tree unless the newest one already covers it."""
        # Without the lock first: a checkpoint at the head's size settles it (sizes only grow,
        # so one that exists stays correct), and costs no lock and no commit.
        head_size = select(log_head.c.size).where(log_head.c.id == 1).scalar_subquery()
        with self.engine.connect() as conn:
            row = conn.execute(select(checkpoints).where(checkpoints.c.size == head_size)).one_or_none()
        if row is not None:
            return StoredCheckpoint(row.size, row.root, row.note, row.signed_at)
        with self.transaction() as tx:
            latest = tx.conn.execute(select(checkpoints).order_by(checkpoints.c.size.desc()).limit(1)).one_or_none()
            if latest is not None and latest.size == tx.size:
                return StoredCheckpoint(latest.size, latest.root, latest.note, latest.signed_at)
            cp = self._sign_checkpoint(tx.size, self._read_nodes(tx.conn, frontier(tx.size)), tx.last_time)
            tx.conn.execute(insert(checkpoints).values(size=cp.size, root=cp.root, note=cp.note,
                                                       signed_at=cp.signed_at))
        self._signed(cp)
        return cp

    # --- reading --------------------------------------------------------------------

    def size(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(log_head.c.size).where(log_head.c.id == 1)).scalar_one()

    def entry(self, seq: int) -> Entry:
        with self.engine.connect() as conn:
            leaf = conn.execute(select(log_entries.c.leaf).where(log_entries.c.seq == seq)).scalar_one_or_none()
        if leaf is None:
            raise NotFound(f"no entry with seq {seq}")
        return Entry.from_leaf(leaf)

    def leaves(self, start: int, end: int) -> list[bytes]:
        if start < 0 or end < start:
            raise BadRequest(f"range [{start}, {end}) is invalid")
        with self.engine.connect() as conn:
            rows = conn.execute(select(log_entries.c.leaf).where(
                log_entries.c.seq >= start, log_entries.c.seq < end).order_by(log_entries.c.seq)).scalars().all()
        return list(rows)

    def entries(self, start: int, end: int) -> list[Entry]:
        return [Entry.from_leaf(leaf) for leaf in self.leaves(start, end)]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(checkpoints).order_by(checkpoints.c.size.desc()).limit(1)).one_or_none()
        return None if row is None else StoredCheckpoint(row.size, row.root, row.note, row.signed_at)

    def checkpoint_at(self, size: int) -> StoredCheckpoint:
        with self.engine.connect() as conn:
            row = conn.execute(select(checkpoints).where(checkpoints.c.size == size)).one_or_none()
        if row is None:
            raise NotFound(f"no checkpoint of size {size}")
        return StoredCheckpoint(row.size, row.root, row.note, row.signed_at)

    def checkpoint_covering(self, seq: int) -> StoredCheckpoint | None:
        """The smallest stored checkpoint whose tree includes entry `seq`."""
        with self.engine.connect() as conn:
            row = conn.execute(select(checkpoints).where(checkpoints.c.size > seq)
                               .order_by(checkpoints.c.size).limit(1)).one_or_none()
        return None if row is None else StoredCheckpoint(row.size, row.root, row.note, row.signed_at)

    def list_checkpoints(self, after: int = -1, limit: int = MAX_PAGE) -> list[StoredCheckpoint]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(checkpoints).where(checkpoints.c.size > after)
                                .order_by(checkpoints.c.size).limit(limit)).all()
        return [StoredCheckpoint(r.size, r.root, r.note, r.signed_at) for r in rows]

    def cosignature_lines(self, size: int) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(cosignatures.c.line).where(cosignatures.c.checkpoint_size == size)
                                     .order_by(cosignatures.c.id)).scalars())

    # --- proofs ---------------------------------------------------------------------

    def _check_size(self, size: int) -> None:
        """Sizes only grow, so a size at or below one already seen needs no database read."""
        if size <= self._known_size:
            return
        current = self.size()
        self._known_size = max(self._known_size, current)
        if size > current:
            raise BadRequest(f"tree size {size} is beyond the log's size {current}")

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) in RFC 9162 order: O(log n) node reads, no rebuild."""
        try:
            plan = inclusion_plan(index, size)
        except ProofError as exc:
            raise BadRequest(str(exc)) from None
        self._check_size(size)
        return self._hash_ranges(plan)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        try:
            plan = consistency_plan(old, new)
        except ProofError as exc:
            raise BadRequest(str(exc)) from None
        self._check_size(new)
        return self._hash_ranges(plan)

    def root(self, size: int) -> bytes:
        self._check_size(size)
        with self.engine.connect() as conn:
            return self._root(conn, size)

    def _root(self, conn: Connection, size: int) -> bytes:
        stored = self._read_nodes(conn, nodes_for_ranges([(0, size)]) if size else [])
        return root_from_frontier(size, stored)

    def _hash_ranges(self, plan: list[tuple[int, int]]) -> list[bytes]:
        if not plan:
            return []
        needed = nodes_for_ranges(plan)
        stored, missing = self.cache.get_many(needed)
        if missing:  # only then a connection: a warm proof is memory-only
            with self.engine.connect() as conn:
                stored.update(self._read_nodes(conn, missing))
        return [range_hash(lo, hi, stored) for lo, hi in plan]

    def _read_nodes(self, conn: Connection, nodes: Sequence[NodeId], use_cache: bool = True) -> dict[NodeId, bytes]:
        if not nodes:
            return {}
        found, missing = self.cache.get_many(nodes) if use_cache else ({}, list(nodes))
        if missing:
            fetched: dict[NodeId, bytes] = {}
            # One primary-key lookup per level: `level = L AND idx IN (...)`. (A row-value
            # `(level, idx) IN (...)` makes SQLite scan the whole table.)
            by_level: dict[int, list[int]] = {}
            for level, idx in missing:
                by_level.setdefault(level, []).append(idx)
            cond = [and_(merkle_nodes.c.level == level, merkle_nodes.c.idx.in_(idxs))
                    for level, idxs in by_level.items()]
            for i in range(0, len(cond), 16):
                rows = conn.execute(select(merkle_nodes.c.level, merkle_nodes.c.idx, merkle_nodes.c.hash)
                                    .where(or_(*cond[i : i + 16]))).all()
                fetched.update({(r.level, r.idx): r.hash for r in rows})
            if len(fetched) != len(missing):
                lost = [n for n in missing if n not in fetched]
                raise LedgerError(f"tree nodes missing from storage: {lost[:3]}")
            if use_cache:
                self.cache.put_many(fetched)
            found.update(fetched)
        return found

    def tile_hashes(self, level: int, start: int, count: int) -> list[bytes]:
        """Stored hashes of tree level `level`, nodes [start, start+count)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(merkle_nodes.c.idx, merkle_nodes.c.hash).where(
                merkle_nodes.c.level == level, merkle_nodes.c.idx >= start,
                merkle_nodes.c.idx < start + count).order_by(merkle_nodes.c.idx)).all()
        if len(rows) != count:
            raise NotFound(f"level {level} has no nodes [{start}, {start + count})")
        return [r.hash for r in rows]


def initialise(engine: Engine, origin: str, log_signer: NoteSigner, system: ActorSigner,
               encrypted_system_key: bytes | None, encrypted_log_key: bytes | None,
               clock: Clock = utcnow) -> Ledger:
    """Write the head row and the genesis entry (seq 0), and sign the first checkpoint."""
    with engine.begin() as conn:
        if conn.execute(select(log_head.c.id)).first() is not None:
            raise LedgerError("the log is already initialised")
        conn.execute(insert(log_head).values(id=1, size=0, last_leaf_hash=b"\x00" * 32))
    ledger = Ledger(engine, origin, log_signer, system, clock)
    with ledger.transaction() as tx:
        genesis = tx.append("log.genesis", {
            "origin": origin,
            "log_key": log_signer.verifier.encode(),
            "system_key": base64.b64encode(system.public_key).decode(),
        }, system)
        tx.conn.execute(insert(actor_keys), [
            {"key_id": system.key_id, "actor_id": system.actor_id, "public_key": system.public_key,
             "encrypted_private_key": encrypted_system_key, "active": True, "registered_seq": genesis.seq},
        ])
        if encrypted_log_key is not None:
            log_pub = log_signer.verifier.public_key
            tx.conn.execute(insert(actor_keys).values(
                key_id=key_id_for(log_pub), actor_id=f"log:{origin}", public_key=log_pub,
                encrypted_private_key=encrypted_log_key, active=True, registered_seq=genesis.seq))
    ledger.checkpoint()
    return ledger


def wait_for_checkpoint(ledger: Ledger, seq: int, timeout: float = 2.0, poll: float = 0.01) -> StoredCheckpoint | None:
    """Poll until a checkpoint covers `seq` (a background signer issues it) or time runs out."""
    deadline = _time.monotonic() + timeout
    while True:
        cp = ledger.checkpoint_covering(seq)
        if cp is not None or _time.monotonic() >= deadline:
            return cp
        _time.sleep(poll)
