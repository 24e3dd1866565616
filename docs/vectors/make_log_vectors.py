"""Generate docs/vectors/log-v1.json from the server's ledger code.

Keys are fixed seeds and Ed25519 is deterministic, so the file is reproducible; the
server's tests check that this code still produces it byte for byte, and the verifier's
tests check it verifies (and that its mutations do not). Run: python docs/vectors/make_log_vectors.py
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nacl.signing import SigningKey

from ledger import merkle
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.entry import GENESIS_PREV, make_entry, parse_time, unix_seconds
from ledger.external import sign_record
from ledger.keys import ActorSigner
from ledger.note import NoteSigner, cosign, sign_note

OUT = Path(__file__).with_name("log-v1.json")
ORIGIN = "vectors.example/log"


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def build() -> dict:
    system = ActorSigner("system", SigningKey(bytes(range(32))))
    log_key = SigningKey(bytes(range(32, 64)))
    operator_key = SigningKey(bytes(range(64, 96)))
    client_key = SigningKey(bytes(range(96, 128)))
    witness_key = SigningKey(bytes(range(128, 160)))
    rotated_key = SigningKey(bytes(range(160, 192)))
    log_signer = NoteSigner(ORIGIN, log_key)
    operator = ActorSigner("user:op-1", operator_key)
    t0 = datetime(2026, 1, 5, 1, 0, 0, tzinfo=UTC)

    drafts: list[tuple[str, dict, ActorSigner]] = [
        ("log.genesis", {"origin": ORIGIN, "log_key": log_signer.verifier.encode(),
                         "system_key": b64(system.public_key)}, system),
        ("actor.key.registered", {"actor_id": operator.actor_id, "key_id": operator.key_id,
                                  "public_key": b64(operator.public_key)}, system),
        ("registry.subject.added", {"credit_code": "91350100M000100Y43", "name": "福州某某贸易有限公司",
                                    "credit_class": "B"}, operator),
        ("actor.key.registered", {"actor_id": "client:permits", "key_id": ActorSigner("c", client_key).key_id,
                                  "public_key": b64(bytes(client_key.verify_key))}, system),
    ]
    record = {"permit": "闽A-0001", "status": "issued"}
    drafts.append(("external.permit", {"client": "permits", "client_key_id": ActorSigner("c", client_key).key_id,
                                       "record": record,
                                       "client_sig": sign_record("permits", "external.permit", record, client_key)},
                   system))
    new_op = ActorSigner(operator.actor_id, rotated_key)
    rot = {"actor_id": operator.actor_id, "old_key_id": operator.key_id, "new_key_id": new_op.key_id,
           "new_public_key": b64(new_op.public_key)}
    rot["new_key_sig"] = b64(rotated_key.sign(canonical_bytes(rot)).signature)
    drafts.append(("actor.key.rotated", rot, operator))
    drafts.append(("registry.subject.changed", {"credit_code": "91350100M000100Y43", "changed": {"credit_class": "C"}},
                   new_op))

    entries, leaves, prev = [], [], GENESIS_PREV
    for seq, (kind, payload, signer) in enumerate(drafts):
        e = make_entry(seq=seq, moment=t0 + timedelta(seconds=seq, milliseconds=7 * seq), entry_type=kind,
                       actor_id=signer.actor_id, signing_key=signer.signing_key, payload=payload, prev=prev)
        entries.append(e)
        leaves.append(e.leaf())
        prev = e.leaf_hash().hex()
    hashes = [merkle.leaf_hash(x) for x in leaves]
    nodes = dict(merkle.append_leaves(0, {}, hashes))
    n = len(leaves)
    checkpoints = []
    for size in (3, n):
        body = Checkpoint(ORIGIN, size, merkle.root_from_leaf_hashes(hashes[:size])).body()
        checkpoints.append({"size": size, "note": sign_note(body, [log_signer])})
    witness_text = Checkpoint(ORIGIN, n, merkle.root_from_leaf_hashes(hashes)).body()
    out = {
        "about": "Log protocol v1 test vectors (docs/SPEC.md §2-§7). Seeds are fixed; Ed25519 is deterministic.",
        "origin": ORIGIN,
        "keys": {
            "system": {"seed": b64(bytes(system.signing_key)), "public_key": b64(system.public_key),
                       "key_id": system.key_id},
            "log": {"seed": b64(bytes(log_key)), "verifier_key": log_signer.verifier.encode()},
            "operator": {"seed": b64(bytes(operator_key)), "key_id": operator.key_id},
            "operator_rotated": {"seed": b64(bytes(rotated_key)), "key_id": new_op.key_id},
            "client_permits": {"seed": b64(bytes(client_key)), "public_key": b64(bytes(client_key.verify_key))},
            "witness": {"seed": b64(bytes(witness_key)), "name": "witness.example",
                        "verifier_key": _cosig_vkey("witness.example", witness_key)},
        },
        "entries": [{"entry": e.to_json(), "leaf_b64": b64(leaf), "leaf_hash_hex": h.hex()}
                    for e, leaf, h in zip(entries, leaves, hashes, strict=True)],
        "roots": {str(s): merkle.root_from_leaf_hashes(hashes[:s]).hex() for s in range(1, n + 1)},
        "inclusion_proofs": [
            {"index": i, "size": s, "proof": [b64(merkle.range_hash(lo, hi, nodes))
                                              for lo, hi in merkle.inclusion_plan(i, s)]}
            for s in (3, n) for i in range(s)],
        "consistency_proofs": [
            {"old": o, "new": n, "proof": [b64(merkle.range_hash(lo, hi, nodes))
                                           for lo, hi in merkle.consistency_plan(o, n)]}
            for o in range(1, n + 1)],
        "checkpoints": checkpoints,
        "cosignature": {"checkpoint": witness_text, "timestamp": 1767574800,
                        "line": cosign(witness_text, "witness.example", witness_key, 1767574800)},
        # §5: the log's own timestamped cosignature, at the newest entry's time in whole seconds
        "timestamped_checkpoint": {
            "size": n, "timestamp": unix_seconds(parse_time(entries[-1].time)),
            "own_verifier_key": _cosig_vkey(ORIGIN, log_key),
            "note": sign_note(witness_text, [log_signer])
            + cosign(witness_text, ORIGIN, log_key, unix_seconds(parse_time(entries[-1].time)))},
    }
    # §5 witnessing (C2SP tlog-witness): the push of the timestamped checkpoint of size n to a
    # witness that last cosigned the checkpoint of size 3, and the witness's answer at 1767574800
    ts = out["timestamped_checkpoint"]
    proof3 = next(c["proof"] for c in out["consistency_proofs"] if c["old"] == 3)
    out["add_checkpoint"] = {
        "witness_cosigned": out["checkpoints"][0]["note"], "time": 1767574800,
        "request": "old 3\n" + "".join(h + "\n" for h in proof3) + "\n" + ts["note"],
        "response": out["cosignature"]["line"],
        "stale_request": "old 0\n\n" + ts["note"], "stale_response": "3\n"}
    return out


def _cosig_vkey(name: str, key: SigningKey) -> str:
    from ledger.note import ALG_COSIGNATURE_V1, NoteVerifier

    return NoteVerifier(name, bytes(key.verify_key), ALG_COSIGNATURE_V1).encode()


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
