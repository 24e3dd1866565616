"""Group commit and checkpoint integration.

One writer thread per process takes the append lock as soon as a request is queued, then
commits everything queued by then (up to `max_batch`) in one transaction, so one durable
fsync (and one lock round-trip) serves many entries. Collecting after the lock is granted
makes batches grow under contention: while other processes hold the lock, this one's
queue keeps filling, and all of it goes into the transaction that finally gets it.

Requests are prepared by the submitting thread (ledger.prepared): the entry's canonical
bytes except seq, prev and time, so little more than signing is left inside the lock.

A signed checkpoint covers committed entries within `checkpoint_interval` seconds: a batch
committed when the last checkpoint is that old signs one in its own transaction (no lock or
commit of its own); otherwise a timer checkpoints later unless another one (of any process)
already covers the entries by then. That bounds append-to-receipt latency and the number of
checkpoints kept.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from .entry import Entry, EntryError, format_time
from .keys import ActorSigner
from .prepared import PreparedEntry, prepare
from .store import KeyRevoked, Ledger

log = logging.getLogger(__name__)


@dataclass
class _Request:
    entry_type: str
    payload: dict[str, Any]
    signer: ActorSigner
    future: Future[Entry]
    prepared: PreparedEntry | None = None  # built by the submitting thread, outside the append lock


class AppendBatcher:
    def __init__(self, ledger: Ledger, max_batch: int = 512, checkpoint_interval: float = 0.2) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self.checkpoint_interval = checkpoint_interval
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._last_checkpoint = 0.0
        self._need = 0  # the tree size a checkpoint must reach to cover what this batcher committed
        self._timer: threading.Timer | None = None
        self._cp_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    def submit(self, entry_type: str, payload: dict[str, Any], signer: ActorSigner) -> Future[Entry]:
        fut: Future[Entry] = Future()
        try:
            prepared = prepare(entry_type, payload, signer)
        except EntryError as exc:  # malformed: fails alone, never reaches the lock
            fut.set_exception(exc)
            return fut
        except Exception:  # anything else: make_entry, inside the batch, decides as before
            prepared = None
        self._queue.put(_Request(entry_type, payload, signer, fut, prepared))
        return fut

    def append(self, entry_type: str, payload: dict[str, Any], signer: ActorSigner) -> Entry:
        return self.submit(entry_type, payload, signer).result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        with self._cp_lock:
            if self._timer is not None:
                self._timer.cancel()
        self._checkpoint_now()
        self.ledger.close()

    def cover(self, size: int) -> None:
        """See that a signed checkpoint covers the first `size` entries within the checkpoint
        interval, though they were appended outside this batcher (registry and inspection
        changes commit in transactions of their own, which sign none). Without it such an entry
        stays unprovable until the next batch or draw step of any process happens to sign one."""
        if size > 0:
            self._after_commit(size, False)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            if self._commit(first):
                return

    def _drain(self, batch: list[_Request]) -> bool:
        """Move queued requests into `batch` (up to max_batch); True when the stop sign came."""
        while len(batch) < self.max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                return False
            if nxt is None:
                return True
            batch.append(nxt)
        return False

    def _commit(self, first: _Request) -> bool:
        """Commit `first` and whatever else is queued once the append lock is held.
        Returns True when the stop sign was taken from the queue (the batch still commits)."""
        batch = [first]
        stop = False
        done: list[tuple[_Request, Entry]] = []
        made_checkpoint = False
        try:
            with self.ledger.batch() as tx:
                stop = self._drain(batch)
                moment = self.ledger.clock()  # one time for the batch: it commits as one
                stamp = format_time(moment)
                for req in batch:
                    try:
                        if req.prepared is not None:
                            entry = tx.append_prepared(req.prepared, stamp)
                        else:
                            entry = tx.append(req.entry_type, req.payload, req.signer, moment=moment)
                    except (EntryError, KeyRevoked) as exc:  # a bad entry or revoked signer fails alone
                        req.future.set_exception(exc)
                        continue
                    done.append((req, entry))
                tx.want_checkpoint = time.monotonic() - self._last_checkpoint >= self.checkpoint_interval
            made_checkpoint = tx.checkpoint is not None
        except Exception as exc:  # the transaction rolled back: nothing of the batch is in
            for req in batch:
                if not req.future.done():
                    req.future.set_exception(exc)
            return stop
        for req, entry in done:
            req.future.set_result(entry)
        if done:
            self._after_commit(done[-1][1].seq + 1, made_checkpoint)
        return stop

    def _after_commit(self, size: int, made_checkpoint: bool) -> None:
        with self._cp_lock:
            self._need = max(self._need, size)
            if made_checkpoint:
                self._last_checkpoint = time.monotonic()
                return
            wait = self._last_checkpoint + self.checkpoint_interval - time.monotonic()
            if self._timer is None:
                self._timer = threading.Timer(max(wait, 0.0), self._timer_fired)
                self._timer.daemon = True
                self._timer.start()

    def _timer_fired(self) -> None:
        with self._cp_lock:
            self._timer = None
            need = self._need
        try:
            covered = self.ledger.checkpoint_covering(need - 1) is not None
        except Exception:
            covered = False
        if not covered:  # else a later batch, or another process, has signed one already
            self._checkpoint_now()

    def _checkpoint_now(self) -> None:
        self._last_checkpoint = time.monotonic()
        try:
            self.ledger.checkpoint()
        except Exception:  # a later batch or timer retries; say so rather than hide it
            log.exception("signing a checkpoint failed; the next batch will retry")
