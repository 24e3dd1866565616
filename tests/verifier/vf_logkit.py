"""A small log writer for the verifier's tests, written from docs/SPEC.md Part I.

It uses the reference ``rfc8785`` encoder and PyNaCl directly (not the verifier's code), so a
fast-path bug in the verifier cannot be masked by the same bug in the data it checks.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import rfc8785
from nacl.signing import SigningKey

ORIGIN = "spotcheck.test/log"


LOG_START = datetime(2026, 11, 23, 2, 10, 0, 123000, tzinfo=UTC)  # a made-up log's first entry

def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def kid(sk: SigningKey) -> str:
    return hashlib.sha256(bytes(sk.verify_key)).hexdigest()[:16]


def note_kid(name: str, alg: int, pub: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + pub).digest()[:4]


def vkey(name: str, sk: SigningKey, alg: int = 1) -> str:
    pub = bytes(sk.verify_key)
    return f"{name}+{note_kid(name, alg, pub).hex()}+{b64(bytes([alg]) + pub)}"


def lh(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def mth(hs: list[bytes]) -> bytes:
    if not hs:
        return hashlib.sha256(b"").digest()
    if len(hs) == 1:
        return hs[0]
    k = 1
    while k * 2 < len(hs):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hs[:k]) + mth(hs[k:])).digest()


def entry_time(seq: int) -> str:
    """The time of entry `seq` of a made-up log: one second apart, never running backwards."""
    moment = LOG_START + timedelta(seconds=seq)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sign_entry(e: dict[str, Any], sk: SigningKey) -> dict[str, Any]:
    body = {k: v for k, v in e.items() if k != "sig"}
    e = dict(body)
    e["sig"] = b64(sk.sign(rfc8785.dumps(body)).signature)
    return e


class LogMaker:
    def __init__(self, origin: str = ORIGIN) -> None:
        self.origin = origin
        self.system = SigningKey.generate()
        self.log_sk = SigningKey.generate()
        self.entries: list[dict[str, Any]] = []
        self.actors: dict[str, SigningKey] = {"system": self.system}
        self.clients: dict[str, SigningKey] = {}
        self.append("log.genesis", {"origin": origin, "log_key": vkey(origin, self.log_sk),
                                    "system_key": b64(bytes(self.system.verify_key))})

    def leaf_of(self, e: dict[str, Any]) -> bytes:
        return rfc8785.dumps(e)

    def append(self, typ: str, payload: dict[str, Any], actor: str = "system", sk: SigningKey | None = None,
               key_id: str | None = None) -> dict[str, Any]:
        sk = sk or self.actors[actor]
        seq = len(self.entries)
        prev = lh(self.leaf_of(self.entries[-1])).hex() if self.entries else "0" * 64
        e = {"v": 1, "seq": seq, "time": entry_time(seq), "type": typ,
             "actor": {"id": actor, "key_id": key_id or kid(sk)}, "payload": payload, "prev": prev}
        e = sign_entry(e, sk)
        self.entries.append(e)
        return e

    def register(self, actor: str, sk: SigningKey | None = None) -> SigningKey:
        sk = sk or SigningKey.generate()
        self.append("actor.key.registered", {"actor_id": actor, "key_id": kid(sk),
                                             "public_key": b64(bytes(sk.verify_key))})
        self.actors[actor] = sk
        return sk

    def rotate(self, actor: str) -> tuple[SigningKey, SigningKey]:
        old, new = self.actors[actor], SigningKey.generate()
        p = {"actor_id": actor, "old_key_id": kid(old), "new_key_id": kid(new),
             "new_public_key": b64(bytes(new.verify_key))}
        p["new_key_sig"] = b64(new.sign(rfc8785.dumps(p)).signature)
        self.append("actor.key.rotated", p, actor=actor, sk=old)
        self.actors[actor] = new
        return old, new

    def rotate_log_key(self) -> SigningKey:
        new = SigningKey.generate()
        p = {"old_log_key": vkey(self.origin, self.log_sk), "new_log_key": vkey(self.origin, new)}
        p["new_key_sig"] = b64(new.sign(rfc8785.dumps(p)).signature)
        self.append("log.key.rotated", p)
        self.log_sk = new
        return new

    def add_client(self, name: str) -> SigningKey:
        sk = self.register(f"client:{name}")
        self.clients[name] = sk
        return sk

    def external(self, name: str, rtype: str, record: Any, sk: SigningKey | None = None) -> dict[str, Any]:
        typ = f"external.{rtype}"
        csk = sk or self.clients[name]
        cs = csk.sign(rfc8785.dumps({"client": name, "type": typ, "record": record})).signature
        return self.append(typ, {"client": name, "client_key_id": kid(self.clients[name]), "record": record,
                                 "client_sig": b64(cs)})

    def event(self, actor: str, typ: str = "registry.subject.added", **payload: Any) -> dict[str, Any]:
        return self.append(typ, payload or {"credit_code": "91310000MA1FL0XX1X", "name": "上海某某有限公司"},
                           actor=actor)

    def leaves(self, entries: list[dict[str, Any]] | None = None) -> list[bytes]:
        return [self.leaf_of(e) for e in (entries if entries is not None else self.entries)]

    def checkpoint(self, size: int | None = None, sk: SigningKey | None = None, leaves: list[bytes] | None = None,
                   extra_sigs: str = "") -> str:
        leaves = leaves if leaves is not None else self.leaves()
        size = len(leaves) if size is None else size
        root = mth([lh(x) for x in leaves[:size]])
        text = f"{self.origin}\n{size}\n{b64(root)}\n"
        sk = sk or self.log_sk
        sig = note_kid(self.origin, 1, bytes(sk.verify_key)) + sk.sign(text.encode()).signature
        return f"{text}\n\u2014 {self.origin} {b64(sig)}\n{extra_sigs}"

    def bundle(self, leaves: list[bytes] | None = None, checkpoints: list[str] | None = None) -> dict[str, Any]:
        leaves = leaves if leaves is not None else self.leaves()
        return {"format": "drawverify-log/v1", "leaves": [b64(x) for x in leaves],
                "checkpoints": checkpoints if checkpoints is not None else [self.checkpoint()]}

    def copy_entries(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.entries)


def honest_log(n_events: int = 10) -> LogMaker:
    lm = LogMaker()
    lm.register("operator:alice")
    lm.register("inspector:bob")
    for i in range(n_events):
        lm.event("operator:alice" if i % 2 else "inspector:bob", idx=i)
    return lm


def serve_fake_log() -> Iterator[dict[str, Any]]:
    """A local HTTP server in front of whatever fake log the test puts in state["log"] (its
    handle(path, query) -> (code, body, content type); POSTed cosignatures are appended to its
    `cosignatures`). Yields the state, with the base URL in state["url"]."""
    state: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            u = urlparse(self.path)
            code, body, ctype = state["log"].handle(u.path, parse_qs(u.query))
            data = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else \
                json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype or "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            # As the service's POST /api/v1/log/cosignatures: the cosigned checkpoint note; its
            # signature lines are the cosignatures.
            note = self.rfile.read(int(self.headers["Content-Length"])).decode()
            line = note.rpartition("\n\n")[2]
            state["log"].cosignatures.append(line)
            state.setdefault("posted", []).append((self.headers["Content-Type"], line))
            self.send_response(204)
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()

