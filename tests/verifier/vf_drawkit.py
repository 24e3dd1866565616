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


def resign(e: dict[str, Any], sk: SigningKey, key_id: str | None = None) -> None:
    """Sign an entry again (optionally naming another key id)."""
    if key_id is not None:
        e["actor"]["key_id"] = key_id
    body = {k: v for k, v in e.items() if k != "sig"}
    e["sig"] = base64.b64encode(sk.sign(rfc8785.dumps(body)).signature).decode()


def key_id(sk: SigningKey) -> str:
    return hashlib.sha256(bytes(sk.verify_key)).hexdigest()[:16]


def sign_note(text: str, name: str, sk: SigningKey) -> str:
    """A signed note (C2SP) with one Ed25519 line, as the service's log key would make."""
    pub = bytes(sk.verify_key)
    kh = hashlib.sha256(name.encode() + b"\n" + b"\x01" + pub).digest()[:4]
    return text + "\n\u2014 " + name + " " + base64.b64encode(kh + sk.sign(text.encode()).signature).decode() + "\n"
