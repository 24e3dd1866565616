"""The log over HTTP: reads, proofs, tiles, external appends with receipts, cosignatures,
and bad requests answered with 4xx JSON (never a 500)."""

from __future__ import annotations

import base64

import pytest
from nacl.signing import SigningKey

from ledger import merkle
from ledger.checkpoint import Checkpoint
from ledger.entry import Entry
from ledger.external import create_client, sign_record
from ledger.note import NoteVerifier, cosign, verify_note
from ledger.tiles import decode_entry_bundle


def _b(x: str) -> bytes:
    return base64.b64decode(x)


@pytest.fixture
def populated(app):  # type: ignore[no-untyped-def]
    ledger = app.extensions["ledger"]
    for i in range(301 - ledger.size()):  # 301 in all: genesis, the SM2 key (SPEC §3.6), then test items
        ledger.append("test.item", {"i": i}, ledger.system)
    ledger.checkpoint()
    return ledger


def test_checkpoint_is_signed_by_the_published_key(client, populated) -> None:  # type: ignore[no-untyped-def]
    key = client.get("/api/v1/log/key").get_json()
    note = client.get("/checkpoint").get_data(as_text=True)
    cp = Checkpoint.parse(verify_note(note, NoteVerifier.parse(key["verifier_key"])).text)
    assert cp.size == 301 and cp.origin == key["origin"]


def test_entries_proofs_and_tiles_agree_with_an_independent_recomputation(client, populated) -> None:  # type: ignore[no-untyped-def]
    entries = client.get("/api/v1/log/entries?start=0&end=301").get_json()["entries"]
    leaves = [Entry.from_json(e).leaf() for e in entries]
    hashes = [merkle.leaf_hash(x) for x in leaves]
    root = merkle.root_from_leaf_hashes(hashes)
    for index, size in [(0, 1), (7, 300), (256, 301), (300, 301)]:
        body = client.get(f"/api/v1/log/proof/inclusion?index={index}&size={size}").get_json()
        merkle.verify_inclusion(index, size, hashes[index], [_b(p) for p in body["proof"]],
                                merkle.root_from_leaf_hashes(hashes[:size]))
    body = client.get("/api/v1/log/proof/consistency?old=100&new=301").get_json()
    merkle.verify_consistency(100, 301, merkle.root_from_leaf_hashes(hashes[:100]), root,
                              [_b(p) for p in body["proof"]])
    full = client.get("/tile/0/000")
    assert full.status_code == 200 and "immutable" in full.headers["Cache-Control"]
    assert full.data == b"".join(hashes[:256])
    part = client.get("/tile/0/001.p/45")
    assert part.data == b"".join(hashes[256:301])
    assert client.get("/tile/1/000.p/1").data == merkle.root_from_leaf_hashes(hashes[:256])
    assert decode_entry_bundle(client.get("/tile/entries/001.p/45").data) == leaves[256:301]


@pytest.mark.parametrize("url,status", [
    ("/api/v1/log/proof/inclusion?index=301&size=301", 400),
    ("/api/v1/log/proof/inclusion?index=0&size=99999", 404),
    ("/api/v1/log/proof/inclusion?index=-1&size=3", 400),
    ("/api/v1/log/proof/inclusion?index=a&size=3", 400),
    ("/api/v1/log/proof/inclusion?size=3", 400),
    ("/api/v1/log/proof/consistency?old=10&new=5", 400),
    ("/api/v1/log/proof/consistency?old=1&new=1.5", 400),
    ("/api/v1/log/entries/99999", 404),
    ("/api/v1/log/entries/abc", 400),
    ("/api/v1/log/entries?start=5&end=2", 400),
    ("/api/v1/log/entries?start=0&end=5000", 400),
    ("/tile/0/002", 404),
    ("/tile/0/abc", 400),
    ("/tile/entries/000.p/300", 400),
    ("/api/v1/log/nope", 404),
])
def test_bad_requests_get_json_errors(client, populated, url: str, status: int) -> None:  # type: ignore[no-untyped-def]
    r = client.get(url)
    assert r.status_code == status
    assert r.is_json and r.get_json()["error"]["message"]


def test_external_append_gives_a_verifiable_receipt(app, client) -> None:  # type: ignore[no-untyped-def]
    ledger = app.extensions["ledger"]
    sk = SigningKey.generate()
    token = create_client(ledger, "permits", bytes(sk.verify_key))
    record = {"permit": "京A-001", "status": "issued"}
    r = client.post("/api/v1/log/entries", headers={"Authorization": f"Bearer {token}"},
                    json={"type": "external.permit", "record": record,
                          "client_sig": sign_record("permits", "external.permit", record, sk)})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    entry = client.get(f"/api/v1/log/entries/{body['seq']}").get_json()["entry"]
    assert entry["payload"]["record"] == record and entry["actor"]["id"] == "system"
    note = verify_note(body["checkpoint"], ledger.log_signer.verifier)
    cp = Checkpoint.parse(note.text)
    merkle.verify_inclusion(body["seq"], cp.size, _b(body["leaf_hash"]),
                            [_b(p) for p in body["inclusion_proof"]], cp.root)


def test_external_append_refuses_bad_tokens_signatures_and_sizes(app, client) -> None:  # type: ignore[no-untyped-def]
    ledger = app.extensions["ledger"]
    sk = SigningKey.generate()
    token = create_client(ledger, "permits", bytes(sk.verify_key))
    size_before = ledger.size()
    record = {"a": 1}
    good_sig = sign_record("permits", "external.permit", record, sk)
    cases = [
        ({}, {"type": "external.permit", "record": record, "client_sig": good_sig}, 401),
        ({"Authorization": "Bearer wrong"}, {"type": "external.permit", "record": record, "client_sig": good_sig}, 401),
        ({"Authorization": f"Bearer {token}"}, {"type": "external.permit", "record": {"a": 2}, "client_sig": good_sig}, 400),
        ({"Authorization": f"Bearer {token}"}, {"type": "registry.fake", "record": record, "client_sig": good_sig}, 400),
        ({"Authorization": f"Bearer {token}"}, {"type": "external.permit", "record": record}, 400),
    ]
    for headers, body, status in cases:
        r = client.post("/api/v1/log/entries", headers=headers, json=body)
        assert r.status_code == status, (body, r.get_json())
        assert r.get_json()["error"]["message"]
    big = {"blob": "x" * 70000}
    r = client.post("/api/v1/log/entries", headers={"Authorization": f"Bearer {token}"},
                    json={"type": "external.permit", "record": big,
                          "client_sig": sign_record("permits", "external.permit", big, sk)})
    assert r.status_code == 413 and "65535" in r.get_json()["error"]["message"]
    assert ledger.size() == size_before


def test_cosignatures_are_checked_stored_and_served(app, client, populated) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from ledger.schema import witnesses

    wkey = SigningKey.generate()
    wv = NoteVerifier("witness.example", bytes(wkey.verify_key), alg=0x04)
    with app.extensions["engine"].begin() as conn:
        conn.execute(insert(witnesses).values(name=wv.name, verifier_key=wv.encode()))
    note = client.get("/checkpoint").get_data(as_text=True)
    text = note.split("\n\n")[0] + "\n"
    line = cosign(text, "witness.example", wkey, 1_790_000_000)
    r = client.post("/api/v1/log/cosignatures", data=text + "\n" + line, content_type="text/plain")
    assert r.status_code == 201, r.get_json()
    assert line in client.get("/checkpoint").get_data(as_text=True)
    forged = cosign(text.replace("\n301\n", "\n300\n"), "witness.example", wkey, 1_790_000_001)
    r = client.post("/api/v1/log/cosignatures", data=text + "\n" + forged, content_type="text/plain")
    assert r.status_code in (403, 409)  # not a valid cosignature of this checkpoint (or a second one)
    r = client.post("/api/v1/log/cosignatures", data="garbage", content_type="text/plain")
    assert r.status_code == 400
