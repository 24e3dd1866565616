"""The C2SP tlog-witness service (`drawverify witness serve`): every answer of add-checkpoint,
attacked: a stale `old`, an unknown origin, a forged log signature, a bad proof, a fork, a race."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import requests
from nacl.signing import SigningKey

from verifier.merkle import consistency_proof, leaf_hash, root_from_leaf_hashes
from verifier.note import (
    ALG_ED25519,
    Checkpoint,
    VerifierKey,
    key_id,
    parse_note,
    sign_note,
    verify_cosignature,
)
from verifier.witness import SIZE_TYPE, Witness, WitnessKey, add_checkpoint_body, make_server

ORIGIN = "spotcheck.example/log"


class Log:
    """A tiny honest log: leaves, signed checkpoints, consistency proofs."""

    def __init__(self, origin: str = ORIGIN) -> None:
        self.origin = origin
        self.sk = SigningKey.generate()
        self.hashes: list[bytes] = []

    @property
    def vkey(self) -> str:
        pub = bytes(self.sk.verify_key)
        return str(VerifierKey(self.origin, key_id(self.origin, ALG_ED25519, pub), ALG_ED25519, pub))

    def grow(self, n: int, tag: bytes = b"") -> None:
        start = len(self.hashes)
        self.hashes += [leaf_hash(tag + str(start + i).encode()) for i in range(n)]

    def note(self, size: int | None = None, hashes: list[bytes] | None = None) -> str:
        hs = (hashes or self.hashes)[: size if size is not None else len(hashes or self.hashes)]
        text = Checkpoint(self.origin, len(hs), root_from_leaf_hashes(hs)).text()
        return text + "\n" + sign_note(text, self.origin, self.sk).line()

    def body(self, old: int, size: int | None = None) -> bytes:
        size = len(self.hashes) if size is None else size
        proof = consistency_proof(self.hashes[:size], old) if 0 < old < size else []
        return add_checkpoint_body(old, proof, self.note(size))


def _witness(tmp_path: Path, log: Log) -> Witness:
    w = Witness(tmp_path / "w", WitnessKey("notary.example/w1", SigningKey.generate()))
    w.trust(log.vkey)
    return w


def _cosigned(w: Witness, note: str, line: str) -> int | None:
    ok, t = verify_cosignature(parse_note(parse_note(note).text + "\n" + line), w.key.verifier_key)
    assert ok
    return t


def test_cosigns_a_first_checkpoint_and_its_extensions(tmp_path):
    log = Log()
    log.grow(5)
    w = _witness(tmp_path, log)
    a = w.add_checkpoint(log.body(0), now=1000)
    assert a.status == 200 and a.body.startswith("\u2014 notary.example/w1 ")
    assert _cosigned(w, log.note(), a.body) == 1000
    log.grow(7)
    a = w.add_checkpoint(log.body(5), now=990)  # the clock stepped back: the time does not
    assert a.status == 200 and _cosigned(w, log.note(), a.body) == 1000
    assert w.latest(ORIGIN)[0] == 12
    # the same size again with the same root: cosigned again
    assert w.add_checkpoint(log.body(12), now=1001).status == 200
    # the state survives a restart (a new Witness on the same directory)
    w2 = Witness(tmp_path / "w", w.key)
    assert w2.latest(ORIGIN)[0] == 12


def test_stale_old_is_409_with_the_size_and_nothing_changes(tmp_path):
    log = Log()
    log.grow(5)
    w = _witness(tmp_path, log)
    assert w.add_checkpoint(log.body(0)).status == 200
    log.grow(3)
    a = w.add_checkpoint(log.body(0))  # the log forgot what the witness has
    assert (a.status, a.content_type, a.body) == (409, SIZE_TYPE, "5\n")
    a = w.add_checkpoint(log.body(3))
    assert (a.status, a.body) == (409, "5\n")
    assert w.latest(ORIGIN)[0] == 5
    assert w.add_checkpoint(log.body(5)).status == 200  # the client retries with the size it was told


def test_unknown_origin_forged_signature_and_malformed_bodies(tmp_path):
    log = Log()
    log.grow(4)
    w = _witness(tmp_path, log)
    other = Log("other.example/log")
    other.grow(4)
    assert w.add_checkpoint(other.body(0)).status == 404
    impostor = Log(ORIGIN)  # the right origin, another key
    impostor.grow(4)
    assert w.add_checkpoint(impostor.body(0)).status == 403
    # a checkpoint the log never signed: the log's line on another root
    forged = log.note().replace(log.note().split("\n")[2], base64.b64encode(b"\x07" * 32).decode())
    assert w.add_checkpoint(add_checkpoint_body(0, [], forged)).status == 403
    for bad in (b"", b"old 01\n\n" + log.note().encode(), b"old 0\n" + log.note().encode(),
                b"old x\n\n" + log.note().encode(), b"old 0\nnot-base64!\n\n" + log.note().encode(),
                b"\xff\xfe", b"old 0\n\nno note\n"):
        assert w.add_checkpoint(bad).status == 400, bad
    assert w.add_checkpoint(log.body(0, 4).replace(b"old 0", b"old 9")).status == 400  # old > size
    proof_with_zero = add_checkpoint_body(0, [b"\x01" * 32], log.note())
    assert w.add_checkpoint(proof_with_zero).status == 400
    too_long = add_checkpoint_body(2, [b"\x01" * 32] * 64, log.note())
    assert w.add_checkpoint(too_long).status == 400
    assert w.latest(ORIGIN) is None  # nothing stored by any of them


def test_bad_proof_is_422_and_a_fork_is_refused_with_evidence(tmp_path):
    log = Log()
    log.grow(6)
    w = _witness(tmp_path, log)
    assert w.add_checkpoint(log.body(0)).status == 200
    log.grow(4)
    bad = add_checkpoint_body(6, [b"\x02" * 32] * 3, log.note())
    a = w.add_checkpoint(bad)
    assert a.status == 422 and a.evidence is not None
    assert (a.evidence / "offered.checkpoint").read_text() == log.note()
    assert w.latest(ORIGIN)[0] == 6
    # a fork at the same size: the log signs another tree of 6 leaves
    forked = [leaf_hash(b"rewritten")] + log.hashes[1:6]
    fork_note = log.note(6, forked)
    a = w.add_checkpoint(add_checkpoint_body(6, [], fork_note))
    assert a.status == 409 and "FORK" in a.body and a.evidence is not None
    assert (a.evidence / "seen.checkpoint").read_text() != (a.evidence / "offered.checkpoint").read_text()
    assert len(w.evidence()) == 2
    # a forked extension: its proof cannot verify against the root cosigned before
    fork_ext = forked + log.hashes[6:]
    proof = consistency_proof(fork_ext, 6)
    a = w.add_checkpoint(add_checkpoint_body(6, proof, log.note(10, fork_ext)))
    assert a.status == 422
    assert w.latest(ORIGIN)[0] == 6


def test_check_and_store_is_atomic_under_a_race(tmp_path):
    """C2SP's race: requests for N and N+K checked together must not roll the record back."""
    log = Log()
    log.grow(3)
    w = _witness(tmp_path, log)
    assert w.add_checkpoint(log.body(0)).status == 200
    log.grow(20)
    bodies = [log.body(3, size) for size in range(4, 24)]
    answers: list[int] = []

    def go(b: bytes) -> None:
        answers.append(Witness(tmp_path / "w", w.key).add_checkpoint(b).status)

    threads = [threading.Thread(target=go, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count(200) == 1 and answers.count(409) == 19
    won = w.latest(ORIGIN)[0]
    assert won > 3
    assert w.add_checkpoint(log.body(won)).status == 200


def test_http_service(tmp_path):
    log = Log()
    log.grow(8)
    w = _witness(tmp_path, log)
    httpd = make_server(w, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/add-checkpoint"
    try:
        r = requests.post(url, data=log.body(0), timeout=10)
        assert r.status_code == 200 and r.text.startswith("\u2014 notary.example/w1 ")
        r = requests.post(url, data=log.body(0), timeout=10)
        assert r.status_code == 409 and r.headers["Content-Type"] == SIZE_TYPE and r.text == "8\n"
        assert requests.get(url, timeout=10).status_code == 405
        assert requests.post(url.replace("add-checkpoint", "x"), data=b"", timeout=10).status_code == 404
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_serve_command_unusable_input(tmp_path):
    from click.testing import CliRunner

    from verifier.cli import cli

    run = CliRunner().invoke
    key = tmp_path / "w.key"
    assert run(cli, ["keygen", "--name", "w.example/w1", "--out", str(key)]).exit_code == 0
    r = run(cli, ["witness", "serve", "--state", str(tmp_path / "s"), "--key", str(key)])
    assert r.exit_code == 2 and "--log" in r.output
    r = run(cli, ["witness", "serve", "--state", str(tmp_path / "s"), "--key", str(key), "--log", "garbage"])
    assert r.exit_code == 2
    r = run(cli, ["witness", "serve", "--state", str(tmp_path / "s"), "--key", str(tmp_path / "none"),
                  "--log", Log().vkey])
    assert r.exit_code == 2
    assert run(cli, ["witness"]).exit_code == 2


def test_add_checkpoint_vector(tmp_path):
    """docs/vectors/log-v1.json `add_checkpoint`: the push body the log sends and the witness's
    answer, byte for byte; and the 409 for a stale `old`."""
    import json

    from verifier.note import parse_checkpoint, parse_note

    v = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "log-v1.json").read_text("utf-8"))
    ac = v["add_checkpoint"]
    seed = base64.b64decode(v["keys"]["witness"]["seed"])
    w = Witness(tmp_path / "w", WitnessKey(v["keys"]["witness"]["name"], SigningKey(seed)))
    w.trust(v["keys"]["log"]["verifier_key"])
    assert w.add_checkpoint(add_checkpoint_body(0, [], ac["witness_cosigned"]), now=ac["time"] - 60).status == 200
    note = ac["request"].split("\n\n", 1)[1]
    proof = [base64.b64decode(x) for x in ac["request"].split("\n\n", 1)[0].split("\n")[1:]]
    assert add_checkpoint_body(3, proof, note).decode() == ac["request"]  # the log's push body
    a = w.add_checkpoint(ac["stale_request"].encode(), now=ac["time"])
    assert (a.status, a.content_type, a.body) == (409, SIZE_TYPE, ac["stale_response"])
    a = w.add_checkpoint(ac["request"].encode(), now=ac["time"])
    assert (a.status, a.body) == (200, ac["response"])
    assert parse_checkpoint(parse_note(note).text).size == 7
