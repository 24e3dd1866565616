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
        "key_lifecycle": _key_lifecycle(system, log_signer, witness_key, new_op, entries, t0),
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


def _seed(k: int) -> SigningKey:
    return SigningKey(bytes((k + 11 * i) % 256 for i in range(32)))


def _key_lifecycle(system: ActorSigner, log_signer: NoteSigner, witness_key: SigningKey, op1: ActorSigner,
                   base: list, t0: datetime) -> dict:
    """§3 items 7-10: the log above goes on with a witness registered, rotated and revoked, an actor key
    registered, used and revoked, and the log key revoked; checkpoints cosigned per the witness
    key in force; then what a verifier must refuse."""
    op2 = ActorSigner("user:op-2", _seed(1))
    witness_new = _seed(2)
    log_new = NoteSigner(ORIGIN, _seed(3))
    wname = "witness.example"
    w_old, w_new = _cosig_vkey(wname, witness_key), _cosig_vkey(wname, witness_new)
    stmt = {"name": wname, "old_verifier_key": w_old, "new_verifier_key": w_new}
    stmt = {**stmt, "old_key_sig": b64(witness_key.sign(canonical_bytes(stmt)).signature),
            "new_key_sig": b64(witness_new.sign(canonical_bytes(stmt)).signature)}
    log_rev = {"old_log_key": log_signer.verifier.encode(), "new_log_key": log_new.verifier.encode(),
               "reason": "日志签名服务器失窃 / log signing host stolen"}
    log_rev["new_key_sig"] = b64(log_new.signing_key.sign(canonical_bytes(log_rev)).signature)
    drafts: list[tuple[str, dict, ActorSigner]] = [
        ("witness.key.registered", {"name": wname, "verifier_key": w_old}, system),  # 7
        ("actor.key.registered", {"actor_id": op2.actor_id, "key_id": op2.key_id,
                                  "public_key": b64(op2.public_key)}, system),  # 8
        ("registry.subject.changed", {"credit_code": "91350100M000100Y43", "changed": {"credit_class": "B"}},
         op2),  # 9
        ("witness.key.rotated", stmt, system),  # 10
        ("actor.key.revoked", {"actor_id": op2.actor_id, "key_id": op2.key_id, "reason": "调离，账户停用 / left the "
                               "department"}, system),  # 11
        ("witness.key.revoked", {"name": wname, "verifier_key": w_new, "reason": "公证处更换 / notary replaced"},
         system),  # 12
        ("log.key.revoked", log_rev, system),  # 13
        ("registry.subject.changed", {"credit_code": "91350100M000100Y43", "changed": {"credit_class": "A"}},
         op1),  # 14
    ]
    entries, hashes = list(base), [e.leaf_hash() for e in base]

    def at(seq: int) -> datetime:
        return t0 + timedelta(seconds=seq, milliseconds=7 * seq)

    for kind, payload, signer in drafts:
        seq = len(entries)
        e = make_entry(seq=seq, moment=at(seq), entry_type=kind, actor_id=signer.actor_id,
                       signing_key=signer.signing_key, payload=payload, prev=hashes[-1].hex())
        entries.append(e)
        hashes.append(e.leaf_hash())
    n = len(entries)

    def note(size: int, signer: NoteSigner, cosigners: list[tuple[SigningKey, int]]) -> str:
        text = Checkpoint(ORIGIN, size, merkle.root_from_leaf_hashes(hashes[:size])).body()
        t = unix_seconds(parse_time(entries[size - 1].time))
        out = sign_note(text, [signer]) + cosign(text, ORIGIN, signer.signing_key, t)
        return out + "".join(cosign(text, wname, k, ts) for k, ts in cosigners)

    def ts(seq: int) -> int:
        return unix_seconds(at(seq))

    refused_entry = make_entry(seq=n, moment=at(9), entry_type="registry.subject.changed", actor_id=op2.actor_id,
                               signing_key=op2.signing_key, payload={"credit_code": "91350100M000100Y43",
                                                                    "changed": {"credit_class": "D"}},
                               prev=hashes[-1].hex())
    return {
        "about": "SPEC §3 items 7-10 continued from the entries above (seq 7 on). Witness policy: the verifier "
                 "knows only keys.witness.verifier_key (and the genesis log key); it follows the rotation "
                 "at seq 10 and the revocation at seq 12 from the log.",
        "keys": {"operator_2": {"seed": b64(bytes(op2.signing_key)), "key_id": op2.key_id},
                 "witness_rotated": {"seed": b64(bytes(witness_new)), "verifier_key": w_new},
                 "log_after_revocation": {"seed": b64(bytes(log_new.signing_key)),
                                          "verifier_key": log_new.verifier.encode()}},
        "entries": [{"entry": e.to_json(), "leaf_b64": b64(e.leaf()), "leaf_hash_hex": e.leaf_hash().hex()}
                    for e in entries[len(base):]],
        "roots": {str(s): merkle.root_from_leaf_hashes(hashes[:s]).hex() for s in range(len(base) + 1, n + 1)},
        "checkpoints": [
            {"size": 10, "note": note(10, log_signer, [(witness_key, ts(9))]),
             "cosigned_by": [f"{wname}@{ts(9)}"], "refused": []},
            {"size": 12, "note": note(12, log_signer, [(witness_key, ts(11)), (witness_new, ts(11))]),
             "cosigned_by": [f"{wname}@{ts(11)}"], "refused": [["WITNESS_KEY_RETIRED", w_old]]},
            {"size": n, "note": note(n, log_new, [(witness_new, ts(11))]),
             "cosigned_by": [], "refused": [["WITNESS_KEY_REVOKED", w_new]]},
        ],
        "refused": {
            "entry_by_revoked_key": {"entry": refused_entry.to_json(),
                                     "codes": ["ENTRY_TIME_DECREASING", "REVOKED_KEY"]},
            "checkpoint_by_revoked_log_key": {"size": n, "note": note(n, log_signer, []), "code": "LOG_KEY_REVOKED"},
        },
    }


def _cosig_vkey(name: str, key: SigningKey) -> str:
    from ledger.note import ALG_COSIGNATURE_V1, NoteVerifier

    return NoteVerifier(name, bytes(key.verify_key), ALG_COSIGNATURE_V1).encode()


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
