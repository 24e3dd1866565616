"""Witnessing: push each new checkpoint to the registered witnesses (C2SP tlog-witness), keep
their cosignatures, and say which checkpoint a quorum of them has cosigned.

The log is the C2SP client: ``POST <url>/add-checkpoint`` with ``old <size>``, the consistency
proof from that size and the signed checkpoint; a 409 with ``text/x.tlog.size`` tells the size
the witness last cosigned, and the push is retried once from there. Every cosignature line of
a 200 is checked against the witness's registered key before it is stored; lines by unknown
keys are ignored, as C2SP asks. A failure is kept (`witnesses.last_error`) so the page can say
what is missing.

Publication waits for the quorum (Tessera's "published" stage): with ``witness_quorum`` k > 0
(``ledger_config``), an entry counts as public only once a checkpoint covering it carries
cosignatures by k registered witnesses (``witnessed_covering``). The log's own timestamped
cosignature (its key under 0x04, name = origin) is never a witness: a witness may not be
registered under the origin's name or the log's key.

Witnesses whose URL is ``local:<state dir>`` run in this process (the demo's three): the same
request body goes to ``verifier.witness.Witness.add_checkpoint``, the code `drawverify witness
serve` answers HTTP with, so only the transport differs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .entry import unix_seconds
from .note import NoteError, NoteVerifier, Signature, parse_note, verify_cosignature
from .schema import checkpoints, config, cosignatures, witnesses
from .store import Ledger, StoredCheckpoint

log = logging.getLogger(__name__)
SIZE_TYPE = "text/x.tlog.size"
QUORUM_KEY = "witness_quorum"


class CosignatureRejected(Exception):
    """A cosignature the log does not store: HTTP status (C2SP's meaning) and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


# --- policy ---------------------------------------------------------------------------------


def quorum(engine: Engine) -> int:
    """k: how many registered witnesses must cosign before anything counts as published (0: none)."""
    with engine.connect() as conn:
        v = conn.execute(select(config.c.value).where(config.c.name == QUORUM_KEY)).scalar_one_or_none()
    return int(v) if v else 0


def set_quorum(engine: Engine, k: int) -> None:
    with engine.begin() as conn:
        n = conn.execute(select(func.count()).select_from(witnesses)).scalar_one()
        if not 0 <= k <= n:
            raise ValueError(f"k must be between 0 and the {n} registered witness(es)")
        if conn.execute(select(config.c.name).where(config.c.name == QUORUM_KEY)).first():
            conn.execute(update(config).where(config.c.name == QUORUM_KEY).values(value=str(k)))
        else:
            conn.execute(insert(config).values(name=QUORUM_KEY, value=str(k)))


def registered(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(witnesses).order_by(witnesses.c.name)))


def policy(engine: Engine) -> dict[str, Any] | None:
    """The bundle's `witness_policy` (docs/SPEC.md §D12): {k, witnesses: [verifier keys]}, or None."""
    k = quorum(engine)
    if k <= 0:
        return None
    return {"k": k, "witnesses": [w.verifier_key for w in registered(engine)]}


def check_registration(ledger: Ledger, v: NoteVerifier) -> None:
    """A witness is someone other than the log: not its origin's name, not its key."""
    if v.alg != 0x04:
        raise ValueError("a witness key is a cosignature/v1 (0x04) key")
    if v.name == ledger.origin or v.public_key == ledger.log_signer.verifier.public_key:
        raise ValueError("the log's own key (or origin) cannot be registered as a witness")


def _witnessed_sizes(k: int) -> Any:
    return (select(cosignatures.c.checkpoint_size)
            .join(witnesses, witnesses.c.name == cosignatures.c.witness)
            .group_by(cosignatures.c.checkpoint_size)
            .having(func.count(func.distinct(cosignatures.c.witness)) >= k))


def witnessed_checkpoint(ledger: Ledger, k: int) -> StoredCheckpoint | None:
    """The newest checkpoint cosigned by at least k registered witnesses."""
    sizes = _witnessed_sizes(k).subquery()
    with ledger.engine.connect() as conn:
        row = conn.execute(select(checkpoints).where(checkpoints.c.size.in_(select(sizes.c.checkpoint_size)))
                           .order_by(checkpoints.c.size.desc()).limit(1)).one_or_none()
    return None if row is None else StoredCheckpoint(row.size, row.root, row.note, row.signed_at)


def witnessed_covering(ledger: Ledger, seq: int, k: int) -> StoredCheckpoint | None:
    """The smallest checkpoint covering entry `seq` that k registered witnesses cosigned."""
    sizes = _witnessed_sizes(k).subquery()
    with ledger.engine.connect() as conn:
        row = conn.execute(select(checkpoints).where(checkpoints.c.size > seq,
                                                     checkpoints.c.size.in_(select(sizes.c.checkpoint_size)))
                           .order_by(checkpoints.c.size).limit(1)).one_or_none()
    return None if row is None else StoredCheckpoint(row.size, row.root, row.note, row.signed_at)


def cosigned_before(ledger: Ledger, size: int, before: int) -> int:
    """How many registered witnesses cosigned the checkpoint of `size` at a time before `before`."""
    with ledger.engine.connect() as conn:
        return conn.execute(select(func.count(func.distinct(cosignatures.c.witness)))
                            .select_from(cosignatures.join(witnesses, witnesses.c.name == cosignatures.c.witness))
                            .where(cosignatures.c.checkpoint_size == size, cosignatures.c.timestamp < before)
                            ).scalar_one()


def public_below(ledger: Ledger) -> int | None:
    """Entries below this seq are witnessed (public); None when there is no quorum to wait for."""
    k = quorum(ledger.engine)
    if k <= 0:
        return None
    cp = witnessed_checkpoint(ledger, k)
    return 0 if cp is None else cp.size


@dataclass(frozen=True)
class WitnessState:
    """What decides every entry's witnessing at one moment, read in three queries: k, the
    registered witnesses, the newest checkpoint k of them cosigned (`public_below`), and for each
    witness the largest checkpoint beyond that it has cosigned. A page that shows the status of
    many entries (a company's results) reads this once per public version, not per entry."""

    k: int
    witnesses: tuple[tuple[str, str | None], ...]  # (name, last_error), by name
    public_below: int | None
    cosigned_beyond: dict[str, int]  # witness -> largest cosigned size > public_below


def state(ledger: Ledger) -> WitnessState:
    k = quorum(ledger.engine)
    ws = tuple((w.name, w.last_error) for w in registered(ledger.engine))
    below: int | None = None
    beyond: dict[str, int] = {}
    if k > 0:  # public_below's answer, without reading k again
        cp = witnessed_checkpoint(ledger, k)
        below = 0 if cp is None else cp.size
        with ledger.engine.connect() as conn:
            # only the tail above the witnessed checkpoint: short, and all an unwitnessed entry needs
            for name, size in conn.execute(select(cosignatures.c.witness, func.max(cosignatures.c.checkpoint_size))
                                           .where(cosignatures.c.checkpoint_size > (below or 0))
                                           .group_by(cosignatures.c.witness)):
                beyond[name] = size
    return WitnessState(k, ws, below, beyond)


def status(ledger: Ledger, seq: int | None, st: WitnessState | None = None) -> dict[str, Any]:
    """Whether entry `seq` is witnessed (public), and if not, who is missing and why.

    With `st` (a WitnessState read for the current version) an entry at or above `public_below`
    costs no query: no witnessed checkpoint can cover it (the newest one is not larger than it),
    and a witness has cosigned a checkpoint covering it iff its largest cosigned size exceeds it."""
    st = st or state(ledger)
    out: dict[str, Any] = {"k": st.k, "n": len(st.witnesses), "witnessed": True}
    if st.k <= 0 or seq is None:
        return out
    if st.public_below is not None and seq >= st.public_below:
        cp = None
        by = {w for w, size in st.cosigned_beyond.items() if size > seq}
    else:
        cp = witnessed_covering(ledger, seq, st.k)
        with ledger.engine.connect() as conn:
            by = set(conn.execute(select(cosignatures.c.witness).where(cosignatures.c.checkpoint_size > seq)
                                  .distinct()).scalars())
    out["witnessed"] = cp is not None
    out["checkpoint_size"] = cp.size if cp is not None else None
    out["cosigned_by"] = [name for name, _ in st.witnesses if name in by]
    out["missing"] = [{"name": name, "last_error": err} for name, err in st.witnesses if name not in by]
    return out


# --- storing a cosignature ------------------------------------------------------------------


def store_cosignatures(ledger: Ledger, note_text: str) -> list[str]:
    """Check and store the cosignatures in a checkpoint note (a witness's POST, or the text of a
    pushed checkpoint followed by the lines a witness answered). Nothing is stored unless every
    line by a registered witness is good. Raises CosignatureRejected with the C2SP status."""
    try:
        note = parse_note(note_text)
    except NoteError as exc:
        raise CosignatureRejected(400, "bad_note", f"body must be a checkpoint note with a cosignature: {exc}") from None
    lines = note.text.split("\n")
    try:
        size = int(lines[1]) if len(lines) > 3 and lines[1].isdigit() else -1
    except ValueError:
        size = -1
    if size < 0 or lines[0] != ledger.origin:
        raise CosignatureRejected(404, "unknown_checkpoint", f"not a checkpoint of {ledger.origin!r}")
    with ledger.engine.connect() as conn:
        stored = conn.execute(select(checkpoints.c.note).where(checkpoints.c.size == size)).scalar_one_or_none()
        keys = {r.name: NoteVerifier.parse(r.verifier_key) for r in conn.execute(select(witnesses))}
        last = dict(conn.execute(select(cosignatures.c.witness, func.max(cosignatures.c.timestamp))
                                 .group_by(cosignatures.c.witness)).all())
        have = set(conn.execute(select(cosignatures.c.witness).where(cosignatures.c.checkpoint_size == size))
                   .scalars())
    if stored is None:
        raise CosignatureRejected(404, "unknown_checkpoint", f"the log never signed a checkpoint of size {size}")
    if parse_note(stored).text != note.text:
        raise CosignatureRejected(409, "checkpoint_mismatch", "the log never signed this checkpoint: its checkpoint "
                                  f"of size {size} has another root")
    good: list[tuple[Signature, int]] = []
    for sig in note.signatures:
        if sig.name == ledger.origin:
            continue  # the log's own lines: not a witness's
        v = keys.get(sig.name)
        if v is None or sig.key_hash != v.hash:
            continue
        try:
            ts = verify_cosignature(note.text, sig, v)
        except NoteError as exc:
            raise CosignatureRejected(403, "bad_cosignature", str(exc)) from None
        if sig.name in have:
            raise CosignatureRejected(409, "already_cosigned", f"{sig.name} has cosigned the checkpoint of size "
                                      f"{size} already")
        if sig.name in last and ts < last[sig.name]:
            raise CosignatureRejected(409, "stale_timestamp", f"cosignature time {ts} is before {sig.name}'s last "
                                      f"stored cosignature ({last[sig.name]}): a replayed or backdated timestamp")
        good.append((sig, ts))
    if not good:
        raise CosignatureRejected(403, "unknown_witness", "no cosignature by a registered witness in the note")
    try:
        with ledger.engine.begin() as conn:
            for sig, ts in good:
                conn.execute(insert(cosignatures).values(checkpoint_size=size, witness=sig.name, line=sig.line(),
                                                         timestamp=ts))
    except IntegrityError:
        raise CosignatureRejected(409, "already_cosigned", "a cosignature for this checkpoint and witness is "
                                  "stored already") from None
    return [s.name for s, _ in good]


# --- pushing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    witness: str
    size: int
    ok: bool
    detail: str


Transport = Callable[[str, bytes], tuple[int, str, str]]


def resolve_witness_url(url: str) -> str:
    """The URL as stored: a ``local:<state dir>`` becomes ``local:<absolute dir>``, resolved now
    against the registering command's working directory. Why: the server that later pushes runs
    from wherever it was started (a service manager's /), where a relative path names another
    directory or none. Raises ValueError for an empty path or one that is not a directory."""
    if not url.startswith("local:"):
        return url
    raw = url[len("local:"):].strip()
    if not raw:
        raise ValueError("local: needs the witness's state directory, e.g. local:/srv/witness-a")
    state = Path(raw).expanduser().resolve()
    if not state.is_dir():
        raise ValueError(f"local witness state directory {state} does not exist")
    return f"local:{state}"


def _local_witness(url: str) -> Any:
    from verifier.witness import Witness, load_witness_key

    state = Path(url[len("local:"):])
    if not state.is_absolute():  # stored before resolve_witness_url: never read relative to the server's cwd
        raise ValueError(f"local witness path {state} is relative; register it again with an absolute path")
    return Witness(state, load_witness_key(state / "key"))


def _send(url: str, body: bytes, now: int | None, timeout: float) -> tuple[int, str, str]:
    if url.startswith("local:"):
        ans = _local_witness(url).add_checkpoint(body, now)
        return ans.status, ans.content_type, ans.body
    r = requests.post(url.rstrip("/") + "/add-checkpoint", data=body, timeout=timeout,
                      headers={"Content-Type": "text/plain; charset=utf-8"})
    return r.status_code, r.headers.get("Content-Type", ""), r.text


def _body(ledger: Ledger, old: int, cp: StoredCheckpoint) -> bytes:
    from verifier.witness import add_checkpoint_body

    proof = ledger.consistency_proof(old, cp.size) if 0 < old < cp.size else []
    return add_checkpoint_body(old, proof, cp.note)


def push_one(ledger: Ledger, w: Any, cp: StoredCheckpoint, now: int | None = None,
             timeout: float = 10.0) -> PushResult:
    """Push `cp` to witness row `w`; store what it cosigns; record a failure. An in-process
    witness shares the service's clock (`now`, default the ledger's); a remote one has its own."""
    if now is None:
        now = unix_seconds(ledger.clock())
    old = w.size if w.size <= cp.size else 0
    detail = ""
    ok = False
    try:
        for _ in range(2):
            st, ctype, text = _send(w.url, _body(ledger, old, cp), now, timeout)
            if st == 409 and ctype.split(";")[0].strip() == SIZE_TYPE and text.strip().isdigit() \
                    and int(text) != old and int(text) <= cp.size:
                old = int(text)  # the size the witness has: prove from there
                continue
            break
        if st == 200:
            store_cosignatures(ledger, parse_note(cp.note).text + "\n" + text)
            ok, detail = True, f"cosigned size {cp.size}"
        else:
            detail = f"HTTP {st}: {text.strip()[:300]}"
    except CosignatureRejected as exc:
        if exc.code == "already_cosigned":  # another process pushed the same checkpoint first
            ok, detail = True, f"cosigned size {cp.size}"
        else:
            detail = f"answer refused: {exc}"
    except (requests.RequestException, OSError, ValueError) as exc:
        detail = f"unreachable: {exc}"
    except Exception as exc:  # a broken witness must not stop the others
        detail = f"failed: {exc}"
    values: dict[str, Any] = {"last_error": None if ok else detail,
                              "last_attempt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if ok:
        values["size"] = cp.size
    with ledger.engine.begin() as conn:
        conn.execute(update(witnesses).where(witnesses.c.name == w.name).values(**values))
    return PushResult(w.name, cp.size, ok, detail)


def push(ledger: Ledger, now: int | None = None, timeout: float = 10.0) -> list[PushResult]:
    """Push the newest checkpoint to every witness with a URL that has not cosigned it yet."""
    cp = ledger.latest_checkpoint()
    if cp is None:
        return []
    with ledger.engine.connect() as conn:
        done = set(conn.execute(select(cosignatures.c.witness).where(cosignatures.c.checkpoint_size == cp.size))
                   .scalars())
    return [push_one(ledger, w, cp, now, timeout) for w in registered(ledger.engine)
            if w.url and w.name not in done]


def witness_now(ledger: Ledger, timeout: float = 3.0) -> None:
    """After a step that publishes (prepare, publish): sign a checkpoint covering it and push it
    at once, as Tessera's publish waits for its witnesses. Best effort: a failure is recorded on
    the witness and the background pusher tries again."""
    with ledger.engine.connect() as conn:
        if conn.execute(select(witnesses.c.name).where(witnesses.c.url.is_not(None)).limit(1)).first() is None:
            return
    try:
        ledger.checkpoint()
        push(ledger, timeout=timeout)
    except Exception:
        log.exception("pushing the checkpoint to the witnesses failed; the background pusher retries")


class Pusher:
    """A background thread of the serving process: pushes each new checkpoint within `interval`."""

    def __init__(self, ledger: Ledger, interval: float = 1.0) -> None:
        self.ledger, self.interval = ledger, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="witness-pusher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                push(self.ledger)
            except Exception:
                log.exception("pushing the checkpoint to the witnesses failed; retrying")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
