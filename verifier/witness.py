"""The witness: a C2SP tlog-witness (https://c2sp.org/tlog-witness) that cosigns a log's
checkpoints only while they stay one append-only history.

Per C2SP tlog-cosignature/v1 a cosignature says "as of time t, this is the largest consistent
tree I have seen for this origin".  The witness is written from the C2SP text, so any log that
speaks tlog-witness can use it and any tlog-witness can serve our log:

``POST <prefix>/add-checkpoint`` with the body ``old <size>\\n``, zero to 63 base64 consistency
proof lines, an empty line and the signed checkpoint note.  The answers:

* 200 — the cosignature line(s), after the new checkpoint is stored;
* 400 — a malformed body, ``old`` larger than the checkpoint's size, a proof with ``old 0``;
* 403 — no signature by a log key trusted for the origin verifies;
* 404 — the origin is not a log this witness knows;
* 409 — ``old`` is not the size last cosigned (the body is that size, ``text/x.tlog.size``), or
  the sizes are equal and the roots differ (a fork: the evidence is kept);
* 422 — the consistency proof does not verify (the request is kept as evidence).

State is one SQLite database (``<state>/witness.db``).  The check of ``old`` against the stored
size and the store of the new checkpoint happen in one ``BEGIN IMMEDIATE`` transaction, so two
concurrent requests (threads, or several witness processes on one state) cannot roll the record
back — the race the C2SP text warns of.  Cosignature times never run backwards.  Two signed
checkpoints that cannot both be true are kept under ``<state>/evidence/`` and in the database:
they are proof, to anyone, that the log forked.

``witness_once`` is the pull mode for a log that does not push: it fetches the log's newest
checkpoint and a consistency proof, feeds them through the same ``add_checkpoint`` and posts
the cosignature back.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from nacl.signing import SigningKey

from .merkle import verify_consistency
from .note import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    NoteError,
    VerifierKey,
    cosign,
    key_id,
    parse_checkpoint,
    parse_note,
    parse_private_key,
    parse_verifier_key,
    verify_cosignature,
    verify_note,
)
from .sources import ServerClient, SourceError

__all__ = ["Answer", "Witness", "WitnessKey", "WitnessRefusal", "add_checkpoint_body", "load_witness_key",
           "serve", "witness_once"]

MAX_PROOF_LINES = 63  # C2SP tlog-witness
MAX_BODY = 1 << 20
SIZE_TYPE = "text/x.tlog.size"
_OLD = re.compile(r"old (0|[1-9][0-9]*)")


class WitnessRefusal(Exception):
    """The offered checkpoint is not an extension of what the witness saw (exit 1)."""

    def __init__(self, message: str, evidence: Path) -> None:
        super().__init__(message)
        self.evidence = evidence


@dataclass(frozen=True)
class WitnessKey:
    name: str
    sk: SigningKey

    @property
    def verifier_key(self) -> VerifierKey:
        pub = bytes(self.sk.verify_key)
        return VerifierKey(self.name, key_id(self.name, ALG_COSIGNATURE_V1, pub), ALG_COSIGNATURE_V1, pub)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer of add-checkpoint: status, content type, body; `evidence` when a fork was kept."""

    status: int
    content_type: str
    body: str
    evidence: Path | None = None


def load_witness_key(path: str | Path) -> WitnessKey:
    """Read a ``PRIVATE+KEY+...`` file written by ``drawverify keygen``."""
    try:
        name, alg, sk = parse_private_key(Path(path).read_text())
    except OSError as exc:
        raise SourceError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    except NoteError as exc:
        raise SourceError(f"key file {path}: {exc}") from exc
    if alg != ALG_COSIGNATURE_V1:
        raise SourceError(f"key file {path}: not a cosignature/v1 (0x04) key")
    return WitnessKey(name, sk)


def add_checkpoint_body(old: int, proof: list[bytes], note: str) -> bytes:
    """The C2SP add-checkpoint request body."""
    lines = [f"old {old}\n", *(base64.b64encode(h).decode() + "\n" for h in proof), "\n"]
    return ("".join(lines) + note).encode()


class _BadRequest(Exception):
    pass


def _parse_body(body: bytes) -> tuple[int, list[bytes], str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadRequest("the body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise _BadRequest("the body needs an old size line, proof lines, an empty line and a checkpoint")
    lines = head.split("\n")
    m = _OLD.fullmatch(lines[0])
    if m is None:
        raise _BadRequest(f"the first line must be 'old <size>' (decimal, no leading zeros), got {lines[0][:40]!r}")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise _BadRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for ln in lines[1:]:
        try:
            h = base64.b64decode(ln, validate=True)
        except (binascii.Error, ValueError):
            raise _BadRequest(f"proof line {ln[:60]!r} is not base64") from None
        if len(h) != 32:
            raise _BadRequest(f"proof line {ln[:60]!r} is not a 32-byte hash")
        proof.append(h)
    return int(m.group(1)), proof, note


_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_keys (origin TEXT NOT NULL, verifier_key TEXT NOT NULL,
                                     PRIMARY KEY (origin, verifier_key));
CREATE TABLE IF NOT EXISTS latest (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,
                                   note TEXT NOT NULL, cosigned_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evidence (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, at INTEGER NOT NULL,
                                     reason TEXT NOT NULL, seen TEXT NOT NULL, offered TEXT NOT NULL,
                                     dir TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cosigned (origin TEXT NOT NULL, size INTEGER NOT NULL, root BLOB NOT NULL,
                                     at INTEGER NOT NULL);
"""


class Witness:
    """One witness: its key, its state directory, the logs (origin -> keys) it witnesses."""

    def __init__(self, state: str | Path, key: WitnessKey) -> None:
        self.state = Path(state)
        self.state.mkdir(parents=True, exist_ok=True)
        self.key = key
        self._local = threading.local()
        self._db().executescript(_SCHEMA)  # idempotent; executescript commits on its own

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.state / "witness.db", timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE takes the database's write lock first, so the
        read of the stored size and the write of the new one cannot interleave with another's."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- configuration -------------------------------------------------------------------
    def trust(self, verifier_key: str) -> VerifierKey:
        """Witness the log whose checkpoints this Ed25519 note key signs (its name is the origin)."""
        k = parse_verifier_key(verifier_key)
        if k.alg != ALG_ED25519:
            raise NoteError(f"log key {verifier_key!r} is not an Ed25519 (0x01) note key")
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO log_keys VALUES (?, ?)", (k.name, str(k)))
        return k

    def log_keys(self, origin: str) -> list[VerifierKey]:
        rows = self._db().execute("SELECT verifier_key FROM log_keys WHERE origin = ?", (origin,)).fetchall()
        return [parse_verifier_key(r[0]) for r in rows]

    def latest(self, origin: str) -> tuple[int, bytes, str] | None:
        """The newest checkpoint cosigned for `origin`: size, root, note."""
        row = self._db().execute("SELECT size, root, note FROM latest WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else (row[0], bytes(row[1]), row[2])

    def evidence(self) -> list[dict[str, object]]:
        rows = self._db().execute("SELECT id, origin, at, reason, dir FROM evidence ORDER BY id").fetchall()
        return [{"id": r[0], "origin": r[1], "at": r[2], "reason": r[3], "dir": r[4]} for r in rows]

    # -- add-checkpoint ------------------------------------------------------------------
    def add_checkpoint(self, body: bytes, now: int | None = None) -> Answer:
        """C2SP tlog-witness add-checkpoint: check, store, cosign — or refuse with the C2SP status."""
        try:
            old, proof, note_text = _parse_body(body)
            note = parse_note(note_text)
            cp = parse_checkpoint(note.text)
        except (_BadRequest, NoteError) as exc:
            return Answer(400, "text/plain", f"malformed add-checkpoint request: {exc}\n")
        keys = self.log_keys(cp.origin)
        if not keys:
            return Answer(404, "text/plain", f"unknown log origin {cp.origin!r}\n")
        if not any(verify_note(note, k) for k in keys):
            return Answer(403, "text/plain", f"no signature by a trusted key of {cp.origin!r} verifies\n")
        if old > cp.size:
            return Answer(400, "text/plain", f"old size {old} is larger than the checkpoint size {cp.size}\n")
        if old == 0 and proof:
            return Answer(400, "text/plain", "the consistency proof must be empty when the old size is 0\n")
        with self._tx() as db:
            row = db.execute("SELECT size, root, note FROM latest WHERE origin = ?", (cp.origin,)).fetchone()
            stored = 0 if row is None else row[0]
            if old != stored:
                return Answer(409, SIZE_TYPE, f"{stored}\n")
            if row is not None:
                seen_root, seen_note = bytes(row[1]), row[2]
                if old == cp.size and cp.root != seen_root:
                    ev = self._keep(db, cp.origin, f"FORK: two signed checkpoints of size {cp.size} with different "
                                    "roots", seen_note, note_text, None)
                    return Answer(409, "text/plain", f"FORK: a checkpoint of size {cp.size} with another root was "
                                  f"cosigned before; evidence kept ({ev.name})\n", ev)
                if old < cp.size and not verify_consistency(old, cp.size, seen_root, cp.root, proof):
                    ev = self._keep(db, cp.origin, f"FORK: the checkpoint of size {cp.size} is not proven an "
                                    f"extension of the checkpoint of size {old} cosigned before (consistency proof "
                                    "fails)", seen_note, note_text, proof)
                    return Answer(422, "text/plain", f"FORK?: the consistency proof from {old} to {cp.size} does "
                                  f"not verify; request kept as evidence ({ev.name})\n", ev)
            t = int(time.time()) if now is None else now
            last = db.execute("SELECT value FROM meta WHERE name = 'last_time'").fetchone()
            if last is not None:
                t = max(t, int(last[0]))  # cosignature times never run backwards
            db.execute("INSERT OR REPLACE INTO latest VALUES (?, ?, ?, ?, ?)",
                       (cp.origin, cp.size, cp.root, note_text, t))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('last_time', ?)", (str(t),))
            db.execute("INSERT INTO cosigned VALUES (?, ?, ?, ?)", (cp.origin, cp.size, cp.root, t))
        return Answer(200, "text/plain; charset=utf-8", cosign(note.text, self.key.name, self.key.sk, t).line())

    def _keep(self, db: sqlite3.Connection, origin: str, reason: str, seen: str, offered: str,
              proof: list[bytes] | None) -> Path:
        """Keep both signed checkpoints (and the proof offered): files and a database row."""
        ev = self.state / "evidence" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        n = 0
        while ev.exists():
            n += 1
            ev = ev.with_name(f"{ev.name.split('-')[0]}-{n}")
        ev.mkdir(parents=True)
        (ev / "seen.checkpoint").write_text(seen)
        (ev / "offered.checkpoint").write_text(offered)
        (ev / "reason.txt").write_text(reason + "\n")
        if proof is not None:
            (ev / "proof.json").write_text(json.dumps({"proof": [base64.b64encode(h).decode() for h in proof]}))
        db.execute("INSERT INTO evidence (origin, at, reason, seen, offered, dir) VALUES (?, ?, ?, ?, ?, ?)",
                   (origin, int(time.time()), reason, seen, offered, str(ev)))
        return ev


# --- the HTTP service ---------------------------------------------------------------------


def make_server(witness: Witness, host: str = "127.0.0.1", port: int = 0, prefix: str = "") -> ThreadingHTTPServer:
    """An HTTP server answering ``POST <prefix>/add-checkpoint`` (keep-alive, one thread per connection)."""
    path = prefix.rstrip("/") + "/add-checkpoint"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "drawverify-witness/1"

        def _send(self, status: int, ctype: str, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            if self.path != path:
                self._send(404, "text/plain", f"not found; POST {path}\n")
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._send(411, "text/plain", "Content-Length required\n")
                return
            if not 0 <= length <= MAX_BODY:
                self.close_connection = True
                self._send(413, "text/plain", f"the body is limited to {MAX_BODY} bytes\n")
                return
            ans = witness.add_checkpoint(self.rfile.read(length))
            if ans.evidence is not None:  # say so, loudly, where the operator looks
                bar = "!" * 72
                sys.stderr.write(f"{bar}\nWITNESS REFUSES TO COSIGN: {ans.body.strip()}\nevidence kept in "
                                 f"{ans.evidence}\n{bar}\n")
            self._send(ans.status, ans.content_type, ans.body)

        def do_GET(self) -> None:  # noqa: N802
            self._send(405 if self.path == path else 404, "text/plain", f"POST {path}\n")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return ThreadingHTTPServer((host, port), Handler)


def serve(witness: Witness, host: str, port: int, prefix: str = "") -> None:
    """Serve until interrupted."""
    httpd = make_server(witness, host, port, prefix)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


# --- pull mode: fetch from a log that does not push -----------------------------------------


def _trusted_log_keys(w: Witness, client: ServerClient, pinned: list[str]) -> None:
    for k in pinned:
        try:
            w.trust(k)
        except NoteError as exc:
            raise SourceError(f"log key {k!r}: {exc}") from exc
    if not w._db().execute("SELECT 1 FROM log_keys").fetchone():
        # Trust on first use, recorded so later runs cannot be fed a different key.
        try:
            w.trust(client.log_key()["verifier_key"])
        except (NoteError, KeyError, TypeError) as exc:
            raise SourceError(f"the log's /key answer: {exc}") from exc


def witness_once(client: ServerClient, state: Path, key: WitnessKey, log_keys: list[str] | None = None,
                 now: int | None = None) -> str:
    """One poll: fetch, check, cosign and POST.  Returns a one-line description of what happened.

    Raises :class:`WitnessRefusal` on a non-extension, :class:`SourceError` on unusable input.
    """
    w = Witness(state, key)
    _trusted_log_keys(w, client, log_keys or [])
    offered = client.checkpoint()
    try:
        note = parse_note(offered)
        cp = parse_checkpoint(note.text)
    except NoteError as exc:
        raise SourceError(f"/checkpoint is not a valid checkpoint: {exc}") from exc
    latest = w.latest(cp.origin)
    old = 0 if latest is None else latest[0]
    if latest is not None and cp.size < old:
        with w._tx() as db:
            ev = w._keep(db, cp.origin, f"ROLLBACK: offered size {cp.size} is smaller than the size {old} already "
                         "cosigned", latest[2], offered, None)
        raise WitnessRefusal(f"ROLLBACK: offered size {cp.size} is smaller than the size {old} already cosigned", ev)
    if latest is not None and cp.size == old and cp.root == latest[1] and verify_cosignature(note, key.verifier_key)[0]:
        return f"size {cp.size} already carries our cosignature"
    proof = client.consistency(old, cp.size) if 0 < old < cp.size else []
    ans = w.add_checkpoint(add_checkpoint_body(old, proof, offered), now)
    if ans.evidence is not None:
        raise WitnessRefusal(ans.body.strip(), ans.evidence)
    if ans.status == 403:
        raise SourceError(f"/checkpoint (size {cp.size}) is not signed by a trusted log key for {cp.origin!r}; "
                          "not cosigning (pin the log's key with --log-key if it rotated)")
    if ans.status != 200:
        raise SourceError(f"not cosigning size {cp.size}: {ans.status} {ans.body.strip()}")
    client.post_cosignature(note.text + "\n" + ans.body)
    (_, t) = verify_cosignature(parse_note(note.text + "\n" + ans.body), key.verifier_key)
    return f"cosigned size {cp.size} at time {t}"
