"""`drawsvc log export-tiles DIR` keeps a directory in sync with the log as C2SP tlog-tiles
(docs/SPEC.md §6, docs/DEPLOY.md): full tiles written once and never touched again, a partial
tile for every signed checkpoint size until its full tile exists, the checkpoint last, every
file atomically; re-runs write nothing new. The directory, served by a plain static web server,
verifies with `drawverify log --tiles URL`; a tampered tile or checkpoint fails."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from drawsvc.cli import main as drawsvc
from ledger.store import Ledger
from ledger.tileserve import sync_tiles, tile_bytes
from verifier.cli import cli as drawverify
from verifier.tiles import TileSource

ROOT = Path(__file__).parents[2]


def grow(ledger: Ledger, to: int) -> None:
    """Append entries up to size `to` in one transaction, then sign a checkpoint."""
    with ledger.transaction() as tx:
        for i in range(tx.size, to):
            tx.append("test.item", {"i": i}, ledger.system)
    assert ledger.checkpoint().size == to


def files(d: Path) -> dict[str, tuple[int, int]]:
    """Every served file (not the dot files) -> (inode, mtime_ns)."""
    return {str(p.relative_to(d)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in d.rglob("*") if p.is_file() and not p.name.startswith(".")}


def verify(target: str, ledger: Ledger) -> dict:
    r = CliRunner().invoke(drawverify, ["log", "--tiles", target, "--log-key", ledger.log_signer.verifier.encode(),
                                        "--json", "--workers", "1"], catch_exceptions=False)
    assert r.exit_code in (0, 1), r.output
    doc = json.loads(r.stdout)
    doc["codes"] = {f["code"] for c in doc["checks"] for f in c["findings"]}
    return doc


@pytest.fixture
def static_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """python -m http.server over tmp_path/www: a plain static host, no log code at all."""
    www = tmp_path / "www"
    www.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(www)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "http.server did not start"
                time.sleep(0.1)
        yield www, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_sync_writes_only_new_tiles_and_prunes_superseded_partials(ledger: Ledger, static_server) -> None:  # type: ignore[no-untyped-def]
    www, url = static_server
    out = www / "log"
    for size in (100, 200, 301):  # checkpoints at 1 (genesis), 100, 200, 301
        grow(ledger, size)

    r1 = sync_tiles(ledger, out)
    assert r1.written == ["tile/entries/000", "tile/0/000", "tile/entries/001.p/45", "tile/0/001.p/45",
                          "tile/1/000.p/1", "checkpoint"]  # the checkpoint last
    assert r1.checkpoint_written and r1.removed == []
    for rel in r1.written[:-1]:
        assert (out / rel).read_bytes() == tile_bytes(ledger, rel.removeprefix("tile/"))[0]
    assert (out / "checkpoint").read_text() == ledger.latest_checkpoint().note
    first = files(out)
    assert set(first) == set(r1.written)

    # idempotent: nothing new, nothing written, nothing touched
    r2 = sync_tiles(ledger, out)
    assert r2.written == [] and r2.removed == [] and r2.summary() == "size 301: up to date"
    assert files(out) == first

    # the log grows inside the same tiles: a partial tile per signed size, the old ones stay
    grow(ledger, 321)
    grow(ledger, 331)
    r3 = sync_tiles(ledger, out)
    assert r3.written == ["tile/entries/001.p/65", "tile/entries/001.p/75", "tile/0/001.p/65", "tile/0/001.p/75",
                          "checkpoint"]
    now = files(out)
    assert all(now[k] == v for k, v in first.items() if k != "checkpoint")  # not rewritten: same inode, same mtime
    old_checkpoint = (out / "checkpoint").read_text()

    # the tiles fill up: full tiles written once, the partials they supersede removed
    grow(ledger, 520)
    r4 = sync_tiles(ledger, out)
    assert r4.written == ["tile/entries/001", "tile/0/001", "tile/entries/002.p/8", "tile/0/002.p/8",
                          "tile/1/000.p/2", "checkpoint"]
    assert sorted(r4.removed) == sorted(f"tile/{lv}/001.p/{w}" for lv in ("entries", "0") for w in (45, 65, 75))
    assert not (out / "tile/entries/001.p").exists() and not (out / "tile/0/001.p").exists()
    assert (out / "tile/1/000.p/1").exists()  # its full tile (65536 entries) is not there yet
    after = files(out)
    for k in ("tile/entries/000", "tile/0/000", "tile/1/000.p/1"):
        assert after[k] == first[k]
    assert not any(p.name.endswith(".tmp") for p in out.rglob("*"))

    # served by a plain static web server, the directory verifies on its own
    doc = verify(f"{url}/log", ledger)
    assert doc["result"] == "verified", doc
    tiles = next(c for c in doc["checks"] if c["name"] == "hash_tiles")
    assert tiles["status"] == "passed" and tiles["detail"] == "4 hash tiles recomputed from the entries"
    assert next(c for c in doc["checks"] if c["name"] == "canonical")["status"] == "passed"  # raw leaves read

    # a reader still holding the older checkpoint (size 331) falls back to the full tile (C2SP)
    older = www / "older"
    shutil.copytree(out, older)
    (older / "checkpoint").write_text(old_checkpoint)
    data, path = TileSource(str(older)).tile("entries", 1, 75)
    assert path == "tile/entries/001" and data == (out / "tile/entries/001").read_bytes()
    assert verify(f"{url}/older", ledger)["result"] == "verified"


def test_repair_rewrites_what_went_missing(ledger: Ledger, tmp_path: Path) -> None:
    """A round costs what is new (the tiles under the directory's checkpoint are taken to be
    there); --repair looks for every file and writes the missing ones, byte for byte as before."""
    grow(ledger, 600)
    out = tmp_path / "tiles"
    sync_tiles(ledger, out)
    lost = ["tile/entries/000", "tile/0/001", "tile/1/000.p/2"]
    kept = {rel: (out / rel).read_bytes() for rel in lost}
    for rel in lost:
        (out / rel).unlink()
    assert verify(str(out), ledger)["codes"] >= {"TILE_MISSING"}
    # a plain round looks for the partial tiles of the sizes it serves, not for old full tiles
    assert sync_tiles(ledger, out).written == ["tile/1/000.p/2"]
    r = sync_tiles(ledger, out, repair=True)
    assert r.written == ["tile/entries/000", "tile/0/001"] and not r.checkpoint_written
    assert all((out / rel).read_bytes() == data for rel, data in kept.items())
    assert verify(str(out), ledger)["result"] == "verified"


def test_readers_during_export_always_see_a_complete_log(ledger: Ledger, tmp_path: Path) -> None:
    """The log grows and an exporter keeps syncing while a reader verifies the directory again
    and again: every read is VERIFIED (the checkpoint never names a tile that is not there yet,
    and a partial tile pruned under a reader is read from its full tile)."""
    import random
    import threading

    out = tmp_path / "tiles"
    grow(ledger, 200)
    sync_tiles(ledger, out)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer_and_exporter() -> None:
        rng = random.Random(7)
        try:
            while not stop.is_set() and ledger.size() < 1400:
                grow(ledger, ledger.size() + rng.randint(1, 90))
                sync_tiles(ledger, out)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            stop.set()

    t = threading.Thread(target=writer_and_exporter)
    t.start()
    reads = 0
    try:
        while not stop.is_set() or reads < 2:
            doc = verify(str(out), ledger)
            assert doc["result"] == "verified", doc
            reads += 1
    finally:
        stop.set()
        t.join(120)
    assert not errors, errors
    assert reads >= 2 and verify(str(out), ledger)["result"] == "verified"


def _tampered(src: Path, dst: Path, rel: str, change) -> str:  # type: ignore[no-untyped-def]
    shutil.copytree(src, dst)
    p = dst / rel
    if change is None:
        p.unlink()
    else:
        p.write_bytes(change(p.read_bytes()))
    return str(dst)


def _flip(at: int):  # type: ignore[no-untyped-def]
    return lambda b: b[:at] + bytes([b[at] ^ 1]) + b[at + 1:]


def test_tampered_tiles_and_checkpoints_fail(ledger: Ledger, tmp_path: Path, static_server) -> None:  # type: ignore[no-untyped-def]
    www, url = static_server
    grow(ledger, 300)
    out = www / "log"
    sync_tiles(ledger, out)
    assert verify(str(out), ledger)["result"] == "verified"  # a directory is read as well as a URL

    def checkpoint_size(b: bytes) -> bytes:
        lines = b.decode().split("\n")
        lines[1] = "299"
        return "\n".join(lines).encode()

    cases = {
        "hash tile": ("tile/0/000", _flip(100), {"TILE_MISMATCH"}),
        "partial hash tile": ("tile/0/001.p/44", _flip(0), {"TILE_MISMATCH"}),
        "upper level tile": ("tile/1/000.p/1", _flip(31), {"TILE_MISMATCH"}),
        "missing hash tile": ("tile/1/000.p/1", None, {"TILE_MISSING"}),
        "entry bundle": ("tile/entries/000", lambda b: b.replace(b'"i":7}', b'"i":8}', 1), {"ROOT_MISMATCH"}),
        "missing entry bundle": ("tile/entries/001.p/44", None, {"TILE_MISSING", "SOURCE_INCOMPLETE"}),
        "checkpoint size": ("checkpoint", checkpoint_size, {"CHECKPOINT_SIGNATURE_INVALID"}),
        "checkpoint signature": ("checkpoint", lambda b: b.replace(b"\n\n", b"\nx\n\n", 1),
                                 {"CHECKPOINT_SIGNATURE_INVALID"}),
    }
    for i, (what, (rel, change, codes)) in enumerate(cases.items()):
        _tampered(out, www / f"t{i}", rel, change)
        doc = verify(f"{url}/t{i}", ledger)
        assert doc["result"] == "failed", what
        assert codes <= doc["codes"], (what, doc["codes"])


def test_cli_export_tiles_and_watch(instance, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = ["--home", str(instance.home)]
    out = tmp_path / "tiles"
    run = CliRunner().invoke
    size = instance.ledger().latest_checkpoint().size
    r = run(drawsvc, [*home, "log", "export-tiles", str(out)])
    assert r.exit_code == 0 and f"size {size}: wrote" in r.output and "and the checkpoint" in r.output, r.output
    r = run(drawsvc, [*home, "log", "export-tiles", str(out)])
    assert r.exit_code == 0 and f"size {size}: up to date" in r.output, r.output

    # a directory holding another log's tiles is refused, not mixed (exit 2, a message)
    other = tmp_path / "other"
    other.mkdir()
    (other / "checkpoint").write_text((out / "checkpoint").read_text().replace("test.example/log", "other.example/log"))
    r = run(drawsvc, [*home, "log", "export-tiles", str(other)])
    assert r.exit_code == 2 and "not of 'test.example/log'" in r.output, r.output
    (tmp_path / "afile").write_text("x")
    r = run(drawsvc, [*home, "log", "export-tiles", str(tmp_path / "afile")])
    assert r.exit_code == 2, r.output
    r = run(drawsvc, [*home, "log", "export-tiles", str(tmp_path / "afile" / "tiles")])  # a file in the way
    assert r.exit_code == 2 and "cannot write the tiles" in r.output, r.output

    # --watch follows the log as it grows, until SIGTERM
    proc = subprocess.Popen([sys.executable, "-c", "from drawsvc.cli import main; main()", *home, "log",
                             "export-tiles", str(out), "--watch", "0.2"], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ledger = instance.ledger()
        grow(ledger, 260)
        deadline = time.monotonic() + 60
        # the checkpoint comes after its tiles; the superseded partial tiles go after the checkpoint
        while (out / "checkpoint").read_text().split("\n")[1] != "260" or (out / "tile/entries/000.p").exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the watcher did not follow the log"
            time.sleep(0.1)
        assert (out / "tile/entries/000").exists() and (out / "tile/entries/001.p/4").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "size 260: wrote" in stdout and "stopped" in stderr


def test_drawverify_tiles_refuses_unusable_input(tmp_path: Path) -> None:
    """Not a tiled log at all is unusable input (exit 2, a message), never a traceback."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "checkpoint").write_text("not a note\n")
    for args in (["--tiles", str(tmp_path / "nowhere")], ["--tiles", str(tmp_path / "empty")],
                 ["--tiles", str(tmp_path / "bad")], ["--tiles", "ftp://example.org/log"],
                 ["--tiles", str(tmp_path / "empty"), "--server", "http://127.0.0.1:9"]):
        r = CliRunner().invoke(drawverify, ["log", *args])
        assert r.exit_code == 2 and r.output.strip(), (args, r.output)  # an exception would exit 1


def test_the_mirror_is_never_rolled_back_or_mixed(ledger: Ledger, tmp_path: Path) -> None:
    """The guard docs/DEPLOY.md relies on after a restore: a database whose newest checkpoint is
    behind the directory's, or whose tree is another, is refused (nothing written)."""
    from sqlalchemy import delete

    from ledger.schema import checkpoints
    from ledger.store import LedgerError
    from tests.conftest import new_ledger

    grow(ledger, 100)
    grow(ledger, 300)
    out = tmp_path / "tiles"
    sync_tiles(ledger, out)
    published = (out / "checkpoint").read_bytes()
    with ledger.engine.begin() as conn:  # a restore that lost the newest checkpoint
        conn.execute(delete(checkpoints).where(checkpoints.c.size == 300))
    with pytest.raises(LedgerError, match="newer than the log's newest"):
        sync_tiles(ledger, out)
    other = new_ledger(f"sqlite:///{tmp_path / 'other.sqlite3'}")  # same origin, another tree
    grow(other, 400)
    with pytest.raises(LedgerError, match="not a prefix of this log's"):
        sync_tiles(other, out)
    assert (out / "checkpoint").read_bytes() == published
