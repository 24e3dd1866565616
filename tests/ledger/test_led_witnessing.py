"""Witnessing on the service side: each checkpoint is pushed to the witnesses (C2SP
tlog-witness), their cosignatures are checked and stored, and an entry counts as published
only once k of n witnesses cosigned a checkpoint covering it. Attacked: a cosignature on a
checkpoint the log never signed, by a witness not registered, a replayed timestamp."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from sqlalchemy import func, insert, select, update

from ledger.note import NoteVerifier, Signature, cosign, parse_note
from ledger.schema import cosignatures, witnesses
from ledger.witnessing import check_registration, push, set_quorum, status, witnessed_checkpoint
from verifier.note import ALG_COSIGNATURE_V1, format_private_key
from verifier.witness import Witness, load_witness_key, make_server

NAMES = ("市监局上级.example/w", "纪检监察.example/w", "公证处.example/w")


def make_witness(home: Path, name: str, log_key: str) -> tuple[Witness, NoteVerifier]:
    sk = SigningKey.generate()
    state = home / name.replace("/", "_")
    state.mkdir(parents=True)
    (state / "key").write_text(format_private_key(name, ALG_COSIGNATURE_V1, bytes(sk)) + "\n")
    w = Witness(state, load_witness_key(state / "key"))
    w.trust(log_key)
    return w, NoteVerifier(name, bytes(sk.verify_key), alg=ALG_COSIGNATURE_V1)


def register(engine, v: NoteVerifier, url: str | None) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(insert(witnesses).values(name=v.name, verifier_key=v.encode(), url=url))


def three_local(app, tmp_path: Path) -> list[Witness]:  # type: ignore[no-untyped-def]
    ledger = app.extensions["ledger"]
    out = []
    for name in NAMES:
        w, v = make_witness(tmp_path / "w", name, ledger.log_signer.verifier.encode())
        register(ledger.engine, v, f"local:{w.state}")
        out.append(w)
    set_quorum(ledger.engine, 2)
    return out


def n_cosigs(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(cosignatures)).scalar_one()


def test_push_collects_a_quorum_and_gates_publication(app, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = app.extensions["ledger"]
    three_local(app, tmp_path)
    e = ledger.append("test.item", {"i": 1}, ledger.system)
    ledger.checkpoint()
    st = status(ledger, e.seq)
    assert not st["witnessed"] and {m["name"] for m in st["missing"]} == set(NAMES)
    results = push(ledger)
    assert all(r.ok for r in results) and len(results) == 3
    st = status(ledger, e.seq)
    assert st["witnessed"] and st["checkpoint_size"] == e.seq + 1 and st["missing"] == []
    note = client.get("/checkpoint").get_data(as_text=True)
    assert all(f"\u2014 {n} " in note for n in NAMES)
    assert witnessed_checkpoint(ledger, 2).size == e.seq + 1
    # the next entry: pushed from the size each witness has, with a consistency proof
    e2 = ledger.append("test.item", {"i": 2}, ledger.system)
    ledger.checkpoint()
    assert not status(ledger, e2.seq)["witnessed"]
    assert all(r.ok for r in push(ledger))
    assert status(ledger, e2.seq)["witnessed"]
    assert push(ledger) == []  # nothing new: nothing pushed
    w = client.get("/api/v1/log/witnesses").get_json()
    assert w["k"] == 2 and {x["cosigned_size"] for x in w["witnesses"]} == {e2.seq + 1}


def test_two_of_three_suffice_and_the_missing_one_is_named(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = app.extensions["ledger"]
    three_local(app, tmp_path)
    with ledger.engine.begin() as conn:  # the notary's witness is down
        conn.execute(update(witnesses).where(witnesses.c.name == NAMES[2]).values(url="http://127.0.0.1:9/"))
    e = ledger.append("test.item", {"i": 1}, ledger.system)
    ledger.checkpoint()
    res = {r.witness: r for r in push(ledger, timeout=2)}
    assert res[NAMES[0]].ok and res[NAMES[1]].ok and not res[NAMES[2]].ok
    st = status(ledger, e.seq)
    assert st["witnessed"]
    assert [m["name"] for m in st["missing"]] == [NAMES[2]] and "unreachable" in st["missing"][0]["last_error"]
    set_quorum(ledger.engine, 3)
    assert not status(ledger, e.seq)["witnessed"]


def test_push_over_http_recovers_from_a_stale_old_size(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = app.extensions["ledger"]
    w, v = make_witness(tmp_path, "notary.example/w1", ledger.log_signer.verifier.encode())
    httpd = make_server(w, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        register(ledger.engine, v, f"http://127.0.0.1:{httpd.server_address[1]}")
        set_quorum(ledger.engine, 1)
        ledger.append("test.item", {"i": 1}, ledger.system)
        ledger.checkpoint()
        assert push(ledger)[0].ok
        with ledger.engine.begin() as conn:  # the log forgets what the witness has
            conn.execute(update(witnesses).values(size=0))
        e = ledger.append("test.item", {"i": 2}, ledger.system)
        ledger.checkpoint()
        r = push(ledger)[0]
        assert r.ok, r.detail  # 409 text/x.tlog.size told it the size; it proved from there
        assert status(ledger, e.seq)["witnessed"]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_posted_cosignatures_are_attacked(app, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = app.extensions["ledger"]
    wkey = SigningKey.generate()
    wv = NoteVerifier("witness.example", bytes(wkey.verify_key), alg=0x04)
    register(ledger.engine, wv, None)
    for i in range(3):
        ledger.append("test.item", {"i": i}, ledger.system)
    ledger.checkpoint()
    note = client.get("/checkpoint").get_data(as_text=True)
    text = note.split("\n\n")[0] + "\n"
    size = int(text.split("\n")[1])

    def post(body: str):  # type: ignore[no-untyped-def]
        return client.post("/api/v1/log/cosignatures", data=body, content_type="text/plain")

    # a checkpoint the log never signed: the right size, another root
    other = text.replace(text.split("\n")[2], "A" * 43 + "=")
    r = post(other + "\n" + cosign(other, wv.name, wkey, 1_790_000_000))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "checkpoint_mismatch"
    # a size the log never issued
    bigger = text.replace(f"\n{size}\n", f"\n{size + 5}\n")
    assert post(bigger + "\n" + cosign(bigger, wv.name, wkey, 1_790_000_000)).status_code == 404
    # a witness not registered
    stranger = SigningKey.generate()
    r = post(text + "\n" + cosign(text, "stranger.example", stranger, 1_790_000_000))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "unknown_witness"
    # a registered name and key hash with a forged signature
    good = parse_note(text + "\n" + cosign(text, wv.name, wkey, 1_790_000_000)).signatures[0]
    bad = parse_note(text + "\n" + cosign(text, wv.name, stranger, 1_790_000_000)).signatures[0]
    r = post(text + "\n" + Signature(wv.name, good.key_hash, bad.value).line())
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "bad_cosignature"
    # the log's own line is never a witness's
    assert post(note).status_code == 403
    assert n_cosigs(ledger.engine) == 0  # nothing stored by any of them
    assert post(text + "\n" + cosign(text, wv.name, wkey, 1_790_000_000)).status_code == 201
    # the same again (a replay) and an older timestamp on a newer checkpoint: refused
    r = post(text + "\n" + cosign(text, wv.name, wkey, 1_790_000_000))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_cosigned"
    ledger.append("test.item", {"i": 9}, ledger.system)
    ledger.checkpoint()
    text2 = client.get("/checkpoint").get_data(as_text=True).split("\n\n")[0] + "\n"
    r = post(text2 + "\n" + cosign(text2, wv.name, wkey, 1_789_999_999))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale_timestamp"
    assert n_cosigs(ledger.engine) == 1
    assert post(text2 + "\n" + cosign(text2, wv.name, wkey, 1_790_000_001)).status_code == 201


def test_the_log_is_not_its_own_witness(app) -> None:  # type: ignore[no-untyped-def]
    import pytest

    ledger = app.extensions["ledger"]
    own = NoteVerifier(ledger.origin, ledger.log_signer.verifier.public_key, alg=0x04)
    with pytest.raises(ValueError):
        check_registration(ledger, own)
    with pytest.raises(ValueError):
        check_registration(ledger, NoteVerifier("x.example", ledger.log_signer.verifier.public_key, alg=0x04))
    with pytest.raises(ValueError):
        set_quorum(ledger.engine, 1)  # more than the registered witnesses


def test_background_pusher_and_two_pushers_racing(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`drawsvc serve`'s pusher witnesses each new checkpoint by itself; two of them (two gunicorn
    workers) pushing the same checkpoint both end well, with one cosignature per witness."""
    import time

    from ledger.witnessing import Pusher

    ledger = app.extensions["ledger"]
    three_local(app, tmp_path)
    pushers = [Pusher(ledger, interval=0.05), Pusher(ledger, interval=0.05)]
    try:
        e = ledger.append("test.item", {"i": 1}, ledger.system)
        ledger.checkpoint()
        deadline = time.monotonic() + 20
        while not status(ledger, e.seq)["witnessed"] and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        for p in pushers:
            p.close()
    assert status(ledger, e.seq)["witnessed"]
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(witnesses.c.name, witnesses.c.last_error, witnesses.c.size)).all()
        per = conn.execute(select(cosignatures.c.witness, func.count()).where(
            cosignatures.c.checkpoint_size == e.seq + 1).group_by(cosignatures.c.witness)).all()
    assert all(r.last_error is None and r.size == e.seq + 1 for r in rows), rows
    assert sorted(n for n, c in per if c == 1) == sorted(NAMES)


def test_drawsvc_witness_commands(instance, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`drawsvc witness add | quorum | push | list`: bad input exits 2 with a message, nothing stored."""
    from click.testing import CliRunner

    from drawsvc.cli import main

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, ["--home", str(instance.home), "witness", *args])

    ledger = instance.ledger()
    w, v = make_witness(tmp_path, "notary.example/w1", ledger.log_signer.verifier.encode())
    own = NoteVerifier(ledger.origin, ledger.log_signer.verifier.public_key, alg=0x04)
    r = run("add", own.encode())
    assert r.exit_code == 2 and "own key" in r.output
    r = run("add", v.encode(), "--url", "ftp://x")
    assert r.exit_code == 2 and "--url" in r.output
    r = run("quorum", "1")
    assert r.exit_code == 2  # no witness registered yet
    assert run("add", v.encode(), "--url", f"local:{w.state}").exit_code == 0
    assert run("add", v.encode()).exit_code == 2  # registered already
    assert run("quorum", "1").exit_code == 0
    r = run("push")
    assert r.exit_code == 0 and "notary.example/w1: ok" in r.output, r.output
    r = run("list")
    assert "quorum k = 1" in r.output and "cosigned size" in r.output


def test_local_witness_url_is_stored_absolute(instance, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`--url local:<dir>` given relative is resolved against the registering command's directory
    and stored absolute, so the server pushes to it from any working directory; an empty or
    missing directory exits 2 with nothing stored; a relative row (stored before) is refused by
    name rather than read relative to the server's cwd."""
    from click.testing import CliRunner

    from drawsvc.cli import main
    from ledger.witnessing import _local_witness

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, ["--home", str(instance.home), "witness", *args])

    ledger = instance.ledger()
    w, v = make_witness(tmp_path, "notary.example/w1", ledger.log_signer.verifier.encode())
    monkeypatch.chdir(w.state.parent)
    r = run("add", v.encode(), "--url", "local:")
    assert r.exit_code == 2 and "state directory" in r.output
    r = run("add", v.encode(), "--url", "local:no-such-dir")
    assert r.exit_code == 2 and "does not exist" in r.output
    with instance.engine().connect() as conn:
        assert conn.execute(select(witnesses.c.name)).all() == []
    assert run("add", v.encode(), "--url", f"local:{w.state.name}").exit_code == 0
    with instance.engine().connect() as conn:
        url = conn.execute(select(witnesses.c.url)).scalar_one()
    assert url == f"local:{w.state.resolve()}"
    monkeypatch.chdir("/")  # the server runs elsewhere: the stored path still names the witness
    assert run("quorum", "1").exit_code == 0
    r = run("push")
    assert r.exit_code == 0 and "notary.example/w1: ok" in r.output, r.output
    with pytest.raises(ValueError, match="relative"):
        _local_witness(f"local:{w.state.name}")
