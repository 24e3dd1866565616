"""The witness: cosign a log's checkpoints only while they stay one append-only history.

Per C2SP tlog-cosignature/v1 a cosignature says "as of time t, this is the largest consistent
tree I have seen for this origin".  So the witness keeps the last checkpoint it accepted
(``<state>/checkpoint``) and, for every new one, checks the log signature, the origin, and a
consistency proof from the old size to the new; equal sizes need equal roots, a smaller size
is a rollback.  A checkpoint that is not an extension is refused loudly, and both notes (and
the proof) are kept under ``<state>/evidence/`` — two signed checkpoints that cannot both be
true are proof, to anyone, that the log forked.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from nacl.signing import SigningKey

from .merkle import verify_consistency
from .note import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    NoteError,
    SignedNote,
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

__all__ = ["WitnessKey", "WitnessRefusal", "load_witness_key", "witness_once"]


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


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _refuse(state: Path, reason: str, seen: str, offered: str, proof: list[str] | None) -> WitnessRefusal:
    ev = state / "evidence" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    n = 0
    while ev.exists():
        n += 1
        ev = ev.with_name(f"{ev.name.split('-')[0]}-{n}")
    ev.mkdir(parents=True)
    (ev / "seen.checkpoint").write_text(seen)
    (ev / "offered.checkpoint").write_text(offered)
    (ev / "reason.txt").write_text(reason + "\n")
    if proof is not None:
        (ev / "proof.json").write_text(json.dumps({"proof": proof}))
    return WitnessRefusal(reason, ev)


def _trusted_log_keys(state: Path, client: ServerClient, pinned: list[str]) -> list[VerifierKey]:
    f = state / "log_keys"
    keys = list(pinned)
    if f.exists():
        keys += [k for k in f.read_text().split("\n") if k]
    if not keys:
        # Trust on first use, recorded so later runs cannot be fed a different key.
        keys = [client.log_key()["verifier_key"]]
        _write(f, keys[0] + "\n")
    out = []
    for k in keys:
        try:
            out.append(parse_verifier_key(k))
        except NoteError as exc:
            raise SourceError(f"log key {k!r}: {exc}") from exc
    return out


def witness_once(client: ServerClient, state: Path, key: WitnessKey, log_keys: list[str] | None = None,
                 now: int | None = None) -> str:
    """One poll: fetch, check, cosign and POST.  Returns a one-line description of what happened.

    Raises :class:`WitnessRefusal` on a non-extension, :class:`SourceError` on unusable input.
    """
    state.mkdir(parents=True, exist_ok=True)
    trusted = _trusted_log_keys(state, client, log_keys or [])
    offered_text = client.checkpoint()
    try:
        note = parse_note(offered_text)
        cp = parse_checkpoint(note.text)
    except NoteError as exc:
        raise SourceError(f"/checkpoint is not a valid checkpoint: {exc}") from exc
    if not any(verify_note(note, k) for k in trusted if k.name == cp.origin):
        raise SourceError(f"/checkpoint (size {cp.size}) is not signed by a trusted log key for {cp.origin!r}; "
                          "not cosigning (pin the log's key with --log-key if it rotated)")
    seen_file = state / "checkpoint"
    proof_b64: list[str] | None = None
    if seen_file.exists():
        seen_text = seen_file.read_text()
        seen = parse_checkpoint(parse_note(seen_text).text)
        if seen.origin != cp.origin:
            raise _refuse(state, f"origin changed from {seen.origin!r} to {cp.origin!r}", seen_text, offered_text, None)
        if cp.size < seen.size:
            raise _refuse(state, f"ROLLBACK: offered size {cp.size} is smaller than the size {seen.size} already "
                          "seen", seen_text, offered_text, None)
        if cp.size == seen.size and cp.root != seen.root:
            raise _refuse(state, f"FORK: two signed checkpoints of size {cp.size} with different roots",
                          seen_text, offered_text, None)
        if cp.size > seen.size:
            proof = client.consistency(seen.size, cp.size)
            proof_b64 = [base64.b64encode(p).decode() for p in proof]
            if not verify_consistency(seen.size, cp.size, seen.root, cp.root, proof):
                raise _refuse(state, f"FORK: checkpoint of size {cp.size} is not an extension of the checkpoint of "
                              f"size {seen.size} seen before (consistency proof fails)", seen_text, offered_text,
                              proof_b64)
    return _cosign_and_post(client, state, key, note, cp, offered_text, now)


def _cosign_and_post(client: ServerClient, state: Path, key: WitnessKey, note: SignedNote, cp: Checkpoint,
                     text: str, now: int | None) -> str:
    ok, _ = verify_cosignature(note, key.verifier_key)
    _write(state / "checkpoint", text)
    if ok:
        return f"size {cp.size} already carries our cosignature"
    last_t = state / "last_time"
    t = int(time.time()) if now is None else now
    if last_t.exists():
        t = max(t, int(last_t.read_text() or 0))
    sig = cosign(note.text, key.name, key.sk, t)
    client.post_cosignature(sig.line())
    _write(last_t, str(t))
    with (state / "cosigned.log").open("a") as f:
        f.write(f"{t} {cp.size} {parse_checkpoint(note.text).root.hex()}\n")
    return f"cosigned size {cp.size} at time {t}"
