"""`drawsvc serve` is gunicorn by default (issue 13): 4 workers on PostgreSQL share the login
throttle, the append batcher and the checkpoint signer through the database; an access log is
written; SIGHUP replaces the workers gracefully and SIGTERM shuts down cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from nacl.signing import SigningKey

from tests.conftest import PASSPHRASE

WORKERS = 4
pytestmark = [pytest.mark.postgres, pytest.mark.timeless]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> set[int]:
    """Process ids whose parent is `pid` (the gunicorn workers of the master)."""
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(d.name))
    return out


def _wait(predicate: Any, what: str, limit: float = 90.0) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def served(pg_url: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen, Any, Path]]:
    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    from drawsvc.instance import init_instance

    inst, _ = init_instance(tmp_path / "inst", origin="test.example/log", database_url=pg_url, passphrase=PASSPHRASE)
    port = _free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "DRAWSVC_KEY_PASSPHRASE": PASSPHRASE}
    env.pop("DATABASE_URL", None)
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-c", "from drawsvc.cli import main; main()", "--home",
                                 str(tmp_path / "inst"), "serve", "--port", str(port), "--workers", str(WORKERS)],
                                stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=Path(__file__).parents[2])
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: requests.get(base + "/checkpoint", timeout=60).status_code == 200, "the server")
        yield base, proc, inst, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_four_workers_share_throttle_batcher_and_signer(served: tuple[str, subprocess.Popen, Any, Path]) -> None:
    from sqlalchemy import select

    from drawsvc.registry import throttle as th
    from drawsvc.registry.schema import login_lockouts
    from ledger.audit import Auditor
    from ledger.external import create_client, sign_record

    base, proc, inst, log = served
    r = requests.get(base + "/checkpoint", timeout=60)
    assert "gunicorn" in r.headers.get("Server", "") and "Werkzeug" not in r.headers.get("Server", "")
    workers = _wait(lambda: (c := _children(proc.pid)) and len(c) == WORKERS and c, "4 workers")

    # the append batcher: concurrent appends through every worker make one gap-free, audited log
    ledger = inst.ledger()
    key = SigningKey.generate()
    token = create_client(ledger, "loadgen", bytes(key.verify_key))
    before = ledger.size()

    def append(i: int) -> int:
        record = {"n": i}
        r = requests.post(base + "/api/v1/log/entries", timeout=30, headers={"Authorization": f"Bearer {token}"},
                          json={"type": "external.load", "record": record,
                                "client_sig": sign_record("loadgen", "external.load", record, key)})
        assert r.status_code == 201, r.text
        return int(r.json()["seq"])

    with ThreadPoolExecutor(16) as pool:
        seqs = sorted(pool.map(append, range(64)))
    assert seqs == list(range(before, before + 64))
    # the checkpoint signer: some worker signs a checkpoint covering every entry; the log audits
    _wait(lambda: int(requests.get(base + "/checkpoint", timeout=60).text.splitlines()[1]) >= before + 64,
          "a checkpoint covering the appends", 30)
    report = Auditor(inst.engine(), inst.genesis_log_key).run()
    assert report.ok and report.size == before + 64

    # the login throttle: failures spread over the workers add up in the database
    def fail(i: int) -> int:
        return requests.post(base + "/api/v1/session", json={"account": f"nobody{i}", "password": "x"},
                             timeout=30).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(fail, range(th.ADDRESS_LIMIT)))
    assert codes == [401] * th.ADDRESS_LIMIT
    refused = [requests.post(base + "/api/v1/session", json={"account": "admin", "password": "x"}, timeout=30)
               for _ in range(2 * WORKERS)]  # new connections: any worker answers
    assert {r.status_code for r in refused} == {429}
    with inst.engine().connect() as conn:
        locks = conn.execute(select(login_lockouts.c.scope, login_lockouts.c.address)).all()
    assert [tuple(x) for x in locks] == [("addr", "127.0.0.1")]

    # the access log names the requests
    text = log.read_text()
    assert '"POST /api/v1/log/entries HTTP/1.1" 201' in text and '"POST /api/v1/session HTTP/1.1" 429' in text
    # no control socket: one at gunicorn's per-user default path would be shared by every instance
    assert "Control socket listening" not in text

    # background jobs: queued through one worker, claimed once by some worker's runner, readable from all
    expected = requests.get(base + "/api/v1/export/subjects.csv", timeout=30).content
    urls = {requests.get(base + "/api/v1/export/subjects.csv?async=1", timeout=30).json()["url"] for _ in range(4)}
    assert len(urls) == 1  # the same request is the same job, whichever worker answered
    url = base + urls.pop()
    done = _wait(lambda: (s := requests.get(url, timeout=30).json())["status"] in ("done", "failed") and s,
                 "the export job")
    assert done["status"] == "done", done
    assert requests.get(url + "/result", timeout=30).content == expected

    # graceful reload: new workers, the service answers throughout
    proc.send_signal(signal.SIGHUP)
    _wait(lambda: (c := _children(proc.pid)) and len(c) == WORKERS and not (c & workers), "new workers", 60)
    assert requests.get(base + "/checkpoint", timeout=60).status_code == 200
    # graceful shutdown
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert "Shutting down" in log.read_text()
