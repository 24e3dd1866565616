"""Helpers for the draw tests: tamper with a bundle the way a dishonest service could."""

from __future__ import annotations

import base64
import copy
import hashlib
from typing import Any

import rfc8785
from nacl.signing import SigningKey

from verifier.draw import DrawOptions, verify_bundle


def run(bundle: dict[str, Any], **kw: Any):
    report, st = verify_bundle(copy.deepcopy(bundle), DrawOptions(**kw))
    return report, st


def codes(bundle: dict[str, Any], **kw: Any) -> set[str]:
    return run(bundle, **kw)[0].codes()


def entry(bundle: dict[str, Any], typ: str) -> dict[str, Any]:
    return next(w["entry"] for w in bundle["entries"] if w["entry"]["type"] == typ)


#: actor id -> SM2 private key of the demo's SM2 actors (SPEC §3 item 11), filled by conftest: a
#: dishonest service holds every key, so re-signing an SM2 actor's entry re-signs its sm2_sig too.
SM2_KEYS: dict[str, bytes] = {}


def resign(e: dict[str, Any], sk: SigningKey, key_id: str | None = None) -> None:
    """Sign an entry again (optionally naming another key id); an entry carrying sm2_sig gets a
    fresh SM2 signature as well when its actor's SM2 key is known (both sign the same bytes)."""
    if key_id is not None:
        e["actor"]["key_id"] = key_id
    body = rfc8785.dumps({k: v for k, v in e.items() if k not in ("sig", "sm2_sig")})
    e["sig"] = base64.b64encode(sk.sign(body).signature).decode()
    if "sm2_sig" in e and e["actor"]["id"] in SM2_KEYS:
        from ledger import sm2

        e["sm2_sig"] = base64.b64encode(sm2.sign(SM2_KEYS[e["actor"]["id"]], body)).decode()


def key_id(sk: SigningKey) -> str:
    return hashlib.sha256(bytes(sk.verify_key)).hexdigest()[:16]


def sign_note(text: str, name: str, sk: SigningKey) -> str:
    """A signed note (C2SP) with one Ed25519 line, as the service's log key would make."""
    pub = bytes(sk.verify_key)
    kh = hashlib.sha256(name.encode() + b"\n" + b"\x01" + pub).digest()[:4]
    return text + "\n\u2014 " + name + " " + base64.b64encode(kh + sk.sign(text.encode()).signature).decode() + "\n"


def own_cosignature(note: str, name: str, sk: SigningKey, timestamp: int) -> str:
    """The log's own timestamped cosignature line (cosignature/v1, the log key under 0x04)."""
    text = note.rpartition("\n\n")[0] + "\n"
    kh = hashlib.sha256(name.encode() + b"\n" + b"\x04" + bytes(sk.verify_key)).digest()[:4]
    sig = sk.sign(b"cosignature/v1\ntime %d\n" % timestamp + text.encode()).signature
    return "\u2014 " + name + " " + base64.b64encode(kh + timestamp.to_bytes(8, "big") + sig).decode() + "\n"


def retime_prepared_checkpoint(b: dict[str, Any], name: str, sk: SigningKey, timestamp: int | None) -> None:
    """Replace the log's own cosignature on the prepared checkpoint: re-made at `timestamp` with
    the real log key (a dishonest service), or dropped (None)."""
    pc = b["prepared_checkpoint"]
    text, _, sigs = pc["note"].rpartition("\n\n")
    lines = [ln for ln in sigs.split("\n") if ln]
    own_hash = hashlib.sha256(name.encode() + b"\n" + b"\x04" + bytes(sk.verify_key)).digest()[:4]
    kept = [ln for ln in lines if base64.b64decode(ln.split(" ")[2])[:4] != own_hash]
    assert len(kept) == len(lines) - 1, "the prepared checkpoint carries the log's own cosignature"
    note = text + "\n\n" + "".join(ln + "\n" for ln in kept)
    pc["note"] = note + (own_cosignature(note, name, sk, timestamp) if timestamp is not None else "")


def mutate(doc: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
    """A vector's mutation {path, op: set|del, value} applied to a copy of `doc`."""
    doc = copy.deepcopy(doc)
    *head, last = m["path"]
    at: Any = doc
    for k in head:
        at = at[k]
    if m["op"] == "set":
        at[last] = m["value"]
    else:
        del at[last]
    return doc
