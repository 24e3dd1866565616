"""Generate docs/vectors/sm2-v1.json: the 国密 line of SPEC §3.6 / §5.1, from the server's code.

SM2 signatures are randomised; here the per-signature secret k is fixed (derived below) so
that the file is reproducible: the server's tests check this code still produces it byte for
byte, the verifier's tests (Python and the page's, in Chromium) check that it verifies and that
its mutations do not. It also carries the standards' own examples (GB/T 32905 SM3, the
recommended-curve SM2 signature example of GB/T 32918) that every implementation must meet.
Run: python docs/vectors/make_sm2_vectors.py
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nacl.signing import SigningKey

from ledger import merkle, sm2
from ledger.checkpoint import Checkpoint
from ledger.entry import GENESIS_PREV, Entry, make_entry
from ledger.keys import ActorSigner
from ledger.note import NoteSigner

OUT = Path(__file__).with_name("sm2-v1.json")
ORIGIN = "vectors.example/log"


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def fixed_k(label: str) -> bytes:
    """A fixed per-signature secret for the vectors only (never do this when signing for real)."""
    return hashlib.sha256(b"spotcheck sm2 vector k " + label.encode()).digest()


STANDARDS = {
    "sm3": [
        {"source": "GB/T 32905-2016 附录 A.1 (3 bytes)", "message_hex": b"abc".hex(),
         "digest_hex": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
        {"source": "GB/T 32905-2016 附录 A.2 (512 bits)", "message_hex": (b"abcd" * 16).hex(),
         "digest_hex": "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
    ],
    "sm2_sign": [
        {"source": "GB/T 32918.5-2017 (GM/T 0003.5) recommended curve: signature example",
         "private_key_hex": "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8",
         "public_key_hex": "04" "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
                           "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13",
         "user_id": "1234567812345678", "message": "message digest",
         "k_hex": "59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21",
         "signature_hex": "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
                          "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"},
    ],
}


def build() -> dict:
    system = ActorSigner("system", SigningKey(bytes(range(32))))
    log_key = SigningKey(bytes(range(32, 64)))
    log_signer = NoteSigner(ORIGIN, log_key)
    sm2_private = hashlib.sha256(b"spotcheck sm2 vector log key").digest()
    sm2_signer = sm2.Sm2NoteSigner(ORIGIN, sm2_private)
    v = sm2_signer.verifier
    t0 = datetime(2026, 1, 5, 1, 0, 0, tzinfo=UTC)
    drafts = [
        ("log.genesis", {"origin": ORIGIN, "log_key": log_signer.verifier.encode(), "system_key": b64(system.public_key)}),
        (sm2.ENTRY_TYPE, sm2.registration_payload(v, sm2_private, k=fixed_k("registration"))),
        ("registry.item.added", {"code": "SC-001", "name": "食品经营许可检查"}),
    ]
    entries, prev = [], GENESIS_PREV
    for seq, (kind, payload) in enumerate(drafts):
        e = make_entry(seq=seq, moment=t0 + timedelta(seconds=seq), entry_type=kind, actor_id="system",
                       signing_key=system.signing_key, payload=payload, prev=prev)
        entries.append(e)
        prev = e.leaf_hash().hex()
    hashes = [e.leaf_hash() for e in entries]
    checkpoints = []
    for size in (1, 2, 3):  # size 1 is before the registration: no SM2 line is required of it
        text = Checkpoint(ORIGIN, size, merkle.root_from_leaf_hashes(hashes[:size])).body()
        lines = log_signer.signature_line(text)
        if size > 1:
            lines += sm2_signer.signature_line(text, k=fixed_k(f"checkpoint {size}"))
        checkpoints.append({"size": size, "note": text + "\n" + lines})
    text = checkpoints[-1]["note"].split("\n\n")[0] + "\n"
    ed_line, sm2_line = checkpoints[-1]["note"].split("\n\n")[1].splitlines()
    raw = base64.b64decode(sm2_line.split(" ")[2])
    n = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)
    other_uid = sm2.sign(sm2_private, text.encode(), b"ALICE123@YAHOO.COM", k=fixed_k("uid"))

    def note_with(value: bytes) -> str:
        return f"{text}\n{ed_line}\n\u2014 {ORIGIN} {b64(value)}\n"

    flipped = bytearray(raw)
    flipped[20] ^= 0x01
    mutations = [
        {"why": "no SM2 line (only the Ed25519 one)", "expect": "SM2_SIGNATURE_MISSING", "note": f"{text}\n{ed_line}\n"},
        {"why": "one bit of r flipped", "expect": "SM2_SIGNATURE_INVALID", "note": note_with(bytes(flipped))},
        {"why": "signed with user id ALICE123@YAHOO.COM, not 1234567812345678", "expect": "SM2_SIGNATURE_INVALID",
         "note": note_with(raw[:4] + other_uid)},
        {"why": "s = n (out of range)", "expect": "SM2_SIGNATURE_INVALID",
         "note": note_with(raw[:36] + n.to_bytes(32, "big"))},
        {"why": "r = 0", "expect": "SM2_SIGNATURE_INVALID", "note": note_with(raw[:4] + bytes(32) + raw[36:])},
        {"why": "DER instead of r||s", "expect": "SM2_SIGNATURE_INVALID",
         "note": note_with(raw[:4] + _der(raw[4:36], raw[36:]))},
        {"why": "the line signs another checkpoint (size 2)", "expect": "SM2_SIGNATURE_INVALID",
         "note": note_with(base64.b64decode(checkpoints[1]["note"].split("\n\n")[1].splitlines()[1].split(" ")[2]))},
    ]
    actor = _actor_section(entries, log_signer, sm2_signer, t0)
    return {
        "about": "SM2/SM3 (国密) signature line v1, docs/SPEC.md §3.6 and §5.1. The standards' examples first; "
                 "then a log whose entry 1 registers its SM2 key, its checkpoints (size 1 needs no SM2 line, sizes "
                 "2 and 3 must carry one), and mutations of the size-3 checkpoint that must fail. k is fixed here "
                 "only to make the file reproducible.",
        "standards": STANDARDS,
        "origin": ORIGIN,
        "keys": {
            "system": {"seed": b64(bytes(system.signing_key)), "public_key": b64(system.public_key)},
            "log": {"seed": b64(bytes(log_key)), "verifier_key": log_signer.verifier.encode()},
            "sm2_log": {"private_key_hex": sm2_private.hex(), "public_key_hex": v.public_key.hex(),
                        "user_id": sm2.DEFAULT_USER_ID.decode(), "key_blob_b64": b64(sm2.key_blob(v.public_key)),
                        "key_hash_hex": v.hash.hex(), "verifier_key": v.encode()},
        },
        "entries": [e.to_json() for e in entries],
        "checkpoints": checkpoints,
        "mutations": mutations,
        "actor_sm2": actor,
    }


def _actor_section(entries: list[Entry], log_signer: NoteSigner, sm2_signer: sm2.Sm2NoteSigner,
                   t0: datetime) -> dict:
    """SPEC §3 item 11, going on from the log above: an account's Ed25519 key registered (seq 3),
    its SM2 key registered with proof of possession (seq 4), an entry it signs with both (seq 5),
    the checkpoint of size 6, and mutations of entries 4 and 5 with the finding each must raise."""
    system = ActorSigner("system", SigningKey(bytes(range(32))))
    alice_key = SigningKey(hashlib.sha256(b"spotcheck sm2 vector actor ed25519").digest())
    alice_sm2 = hashlib.sha256(b"spotcheck sm2 vector actor sm2").digest()
    alice = ActorSigner("user:alice", alice_key)
    reg = sm2.actor_registration_payload("user:alice", alice_sm2, k=fixed_k("actor registration"))
    drafts = [
        (system, "actor.key.registered", {"actor_id": "user:alice", "key_id": alice.key_id,
                                          "public_key": b64(alice.public_key)}, False),
        (system, sm2.ACTOR_ENTRY_TYPE, reg, False),
        (alice, "registry.subject.added", {"id": "91440300MA5FAKE01X", "name": "示例食品有限公司"}, True),
    ]
    out = list(entries)
    prev = out[-1].leaf_hash().hex()
    for signer, kind, payload, both in drafts:
        seq = len(out)
        e = make_entry(seq=seq, moment=t0 + timedelta(seconds=seq), entry_type=kind, actor_id=signer.actor_id,
                       signing_key=signer.signing_key, payload=payload, prev=prev)
        if both:  # sm2_sig over the bytes sig signs; k fixed for the file only (make_entry draws it fresh)
            sm2_sig = b64(sm2.sign(alice_sm2, e.signing_bytes(), k=fixed_k(f"entry {seq}")))
            e = Entry(e.seq, e.time, e.type, e.actor_id, e.key_id, e.payload, e.prev, e.sig, sm2_sig=sm2_sig)
        out.append(e)
        prev = e.leaf_hash().hex()
    size = len(out)
    text = Checkpoint(ORIGIN, size, merkle.root_from_leaf_hashes([e.leaf_hash() for e in out])).body()
    note = text + "\n" + log_signer.signature_line(text) + sm2_signer.signature_line(text, k=fixed_k(f"checkpoint {size}"))
    signed = out[-1].to_json()
    no_sm2 = {k: v for k, v in signed.items() if k != "sm2_sig"}
    raw = bytearray(base64.b64decode(signed["sm2_sig"]))
    raw[40] ^= 0x01
    bad_reg = out[-2].to_json()
    bad_reg["payload"] = {**bad_reg["payload"], "key_sig": b64(sm2.sign(alice_sm2, b"not the payload",
                                                                         k=fixed_k("bad registration")))}
    bad_reg_entry = make_entry(seq=bad_reg["seq"], moment=t0 + timedelta(seconds=bad_reg["seq"]),
                               entry_type=bad_reg["type"], actor_id="system", signing_key=system.signing_key,
                               payload=bad_reg["payload"], prev=bad_reg["prev"]).to_json()
    return {
        "about": "SPEC §3 item 11: entries 3-5 go on from `entries` above. Entry 5 is signed by user:alice with "
                 "Ed25519 (sig) and SM2 (sm2_sig), both over JCS(entry without sig and sm2_sig). Each mutation "
                 "replaces one entry (position `seq`); verified without checkpoints it must raise `expect`.",
        "keys": {"user:alice": {"ed25519_seed": b64(bytes(alice_key)), "key_id": alice.key_id,
                                "sm2_private_key_hex": alice_sm2.hex(),
                                "sm2_public_key_hex": sm2.public_key_of(alice_sm2).hex()}},
        "signed_message_b64": b64(out[-1].signing_bytes()),
        "entries": [{"entry": e.to_json(), "leaf_b64": b64(e.leaf()), "leaf_hash_hex": e.leaf_hash().hex()}
                    for e in out[len(entries):]],
        "checkpoint": {"size": size, "note": note},
        "mutations": [
            {"why": "sm2_sig removed (the Ed25519 sig still verifies)", "expect": "ENTRY_SM2_SIGNATURE_MISSING",
             "seq": 5, "entry": no_sm2},
            {"why": "one bit of sm2_sig's s flipped", "expect": "ENTRY_SM2_SIGNATURE_INVALID", "seq": 5,
             "entry": {**signed, "sm2_sig": b64(bytes(raw))}},
            {"why": "sm2_sig by the log's SM2 key, not alice's", "expect": "ENTRY_SM2_SIGNATURE_INVALID", "seq": 5,
             "entry": {**signed, "sm2_sig": b64(sm2.sign(sm2_signer.private_key, out[-1].signing_bytes(),
                                                         k=fixed_k("wrong key")))}},
            {"why": "the registration's key_sig signs other bytes (no proof of possession): not applied, so "
                    "entry 5's sm2_sig is by an actor holding no SM2 key", "expect": "SM2_ACTOR_KEY_INVALID",
             "seq": 4, "entry": bad_reg_entry},
        ],
    }


def _der(r: bytes, s: bytes) -> bytes:
    def integer(x: bytes) -> bytes:
        x = x.lstrip(b"\x00") or b"\x00"
        if x[0] & 0x80:
            x = b"\x00" + x
        return b"\x02" + bytes([len(x)]) + x
    body = integer(r) + integer(s)
    return b"\x30" + bytes([len(body)]) + body


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
