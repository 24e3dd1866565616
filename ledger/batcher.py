"""Group commit and checkpoint integration.

One writer thread per process drains queued appends and commits up to `max_batch` of
them in one transaction, so one durable fsync (and one lock round-trip) serves many
entries. After each commit it makes sure a signed checkpoint will cover them within
`checkpoint_interval` seconds: at once if the last checkpoint is that old, else a timer.
That bounds both append-to-receipt latency and the number of checkpoints kept.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from .entry import Entry, EntryError, encode_payload
from .keys import ActorSigner
from .store import Ledger

log = logging.getLogger(__name__)


@dataclass
class _Request:
    entry_type: str
    payload: dict[str, Any]
    signer: ActorSigner
    future: Future[Entry]
    payload_json: str | None = None  # computed by the submitting thread, outside the append lock


class AppendBatcher:
    def __init__(self, ledger: Ledger, max_batch: int = 512, checkpoint_interval: float = 0.2) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self.checkpoint_interval = checkpoint_interval
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._last_checkpoint = 0.0
        self._timer: threading.Timer | None = None
        self._cp_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    def submit(self, entry_type: str, payload: dict[str, Any], signer: ActorSigner) -> Future[Entry]:
        fut: Future[Entry] = Future()
        try:
            payload_json = encode_payload(payload)
        except Exception:  # leave the error to make_entry, inside the batch, as before
            payload_json = None
        self._queue.put(_Request(entry_type, payload, signer, fut, payload_json))
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

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Request]) -> None:
        done: list[tuple[_Request, Entry]] = []
        try:
            with self.ledger.transaction() as tx:
                for req in batch:
                    try:
                        done.append((req, tx.append(req.entry_type, req.payload, req.signer,
                                                       payload_json=req.payload_json)))
                    except EntryError as exc:  # a bad entry fails alone; the others go on
                        req.future.set_exception(exc)
        except Exception as exc:  # the transaction rolled back: nothing of the batch is in
            for req, _ in done:
                req.future.set_exception(exc)
            for req in batch:
                if not req.future.done():
                    req.future.set_exception(exc)
            return
        for req, entry in done:
            req.future.set_result(entry)
        if done:
            self._schedule_checkpoint()

    def _schedule_checkpoint(self) -> None:
        with self._cp_lock:
            wait = self._last_checkpoint + self.checkpoint_interval - time.monotonic()
            if wait <= 0:
                fire_now = True
            else:
                fire_now = False
                if self._timer is None:
                    self._timer = threading.Timer(wait, self._timer_fired)
                    self._timer.daemon = True
                    self._timer.start()
        if fire_now:
            self._checkpoint_now()

    def _timer_fired(self) -> None:
        with self._cp_lock:
            self._timer = None
        self._checkpoint_now()

    def _checkpoint_now(self) -> None:
        self._last_checkpoint = time.monotonic()
        try:
            self.ledger.checkpoint()
        except Exception:  # a later batch or timer retries; say so rather than hide it
            log.exception("signing a checkpoint failed; the next batch will retry")
