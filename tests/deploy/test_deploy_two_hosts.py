"""Several service processes on one PostgreSQL database make one log (issue 16 point 3).

Two "hosts" — two processes, each with its own instance directory (a copy of instance.json, as
configuration management would lay it down), the shared session key in the environment and its
own clock, host B's running 30 s behind host A's — serve the demo county. Clients spread over
both (as a load balancer would) append external records, add registry subjects and take a draw
through its whole lifecycle, every step on alternating hosts, all at once. The result must be
one log: no seq gap, the audit clean, entry times never decreasing (host B's entries that follow
host A's carry a time no earlier, though B's clock is behind: the time is fixed under the append
lock), every checkpoint signed and consistent, and `drawverify log` VERIFIED against each host
and against the tiles exported from the same database. An evidence file uploaded through
one host downloads through the other (DRAWSVC_EVIDENCE_DIR, shared).

Each host runs in a network namespace of its own (`unshare -n`, when the tests run as root and
the kernel allows it): no network but its own loopback, so the hosts share nothing but the
database, reached through PostgreSQL's Unix socket, and are reached by clients through a small
TCP balancer in the test that forwards to each host's Unix socket. Where namespaces cannot be
made, the same two processes run in the test's namespace (the report line says which).
"""

from __future__ import annotations

import itertools
import json
import os
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from nacl.signing import SigningKey
from sqlalchemy import create_engine, text

from drawsvc import creditcode
from drawsvc.demo import create_demo
from drawsvc.instance import Instance
from ledger.audit import Auditor
from ledger.entry import parse_time
from ledger.external import create_client, sign_record
from ledger.tileserve import sync_tiles
from tests.conftest import PASSPHRASE
from verifier.cli import cli as drawverify

pytestmark = [pytest.mark.postgres]
ROOT = Path(__file__).parents[2]
SKEW = {"a": 0.0, "b": -30.0}  # host B's clock is 30 s behind host A's


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        up = socket.socket(socket.AF_UNIX)
        try:
            up.connect(self.server.target)  # type: ignore[attr-defined]
            ends = [self.request, up]
            while True:
                ready, _, _ = select.select(ends, [], [], 60)
                if not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (up if end is self.request else self.request).sendall(data)
        finally:
            up.close()


class Balancer(socketserver.ThreadingTCPServer):
    """A TCP front on 127.0.0.1 for one host's Unix socket (the part of a load balancer that
    matters here: clients reach the host without sharing its network)."""

    daemon_threads = True

    def __init__(self, target: Path) -> None:
        self.target = str(target)
        super().__init__(("127.0.0.1", 0), _Pipe)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _netns_available() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


def _socket_url(pg_url: str) -> str | None:
    """The test database's URL through PostgreSQL's Unix socket (None if it has none)."""
    eng = create_engine(pg_url)
    with eng.connect() as conn:
        dirs = conn.execute(text("SHOW unix_socket_directories")).scalar_one()
        port = conn.execute(text("SHOW port")).scalar_one()
    eng.dispose()
    first = next((d.strip() for d in dirs.split(",") if d.strip() and not d.strip().startswith("@")), None)
    if first is None or not Path(first).is_dir():
        return None
    base, name = pg_url.rsplit("/", 1)
    return f"{base.split('@')[0]}@/{name}?host={first}&port={port}"


@pytest.fixture
def hosts(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Instance, dict[str, str]]]:
    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    monkeypatch.setenv("DRAWSVC_EVIDENCE_DIR", str(tmp_path / "shared-evidence"))  # a network mount, in production
    inst, _, _ = create_demo(tmp_path / "host-a", origin="test.example/log", database_url=pg_url)
    (tmp_path / "host-b").mkdir()
    shutil.copy(inst.home / "instance.json", tmp_path / "host-b" / "instance.json")
    db_socket = _socket_url(pg_url)
    netns = db_socket is not None and _netns_available()
    env = {**os.environ, "DRAWSVC_KEY_PASSPHRASE": PASSPHRASE, "DRAWSVC_SECRET_KEY": "shared-session-key-" + "x" * 40,
           "PYTHONPATH": str(ROOT), "DATABASE_URL": db_socket or pg_url}
    start = datetime.now(UTC).isoformat()  # the session's pinned clock, ticking
    procs, urls, fronts = [], {}, []
    print(f"two hosts: {'separate network namespaces' if netns else 'two processes in one network namespace'}")
    try:
        for name, skew in SKEW.items():
            sock = tmp_path / f"host-{name}.sock"
            cmd = [sys.executable, str(Path(__file__).with_name("_host.py")), str(tmp_path / f"host-{name}"),
                   f"unix://{sock}", start, str(skew)]
            procs.append(subprocess.Popen(["unshare", "-n", *cmd] if netns else cmd, env=env, cwd=ROOT,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
            fronts.append(Balancer(sock))
            urls[name] = fronts[-1].url
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            if netns:  # its own network stack, not ours
                assert os.readlink(f"/proc/{proc.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        for url in urls.values():
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(url + "/checkpoint", timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, f"{url} did not answer"
                time.sleep(0.1)
        yield inst, urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)
        for front in fronts:
            front.shutdown()
            front.server_close()


class Staff:
    """A logged-in account whose session cookie works on every host (one shared session key)."""

    def __init__(self, host: str, account: str, password: str) -> None:
        r = requests.post(host + "/api/v1/session", json={"account": account, "password": password}, timeout=60)
        assert r.status_code == 200, r.text
        self.cookies = r.cookies
        self.headers = {"X-CSRF-Token": r.json()["csrf_token"]}

    def call(self, method: str, url: str, **kw: Any) -> requests.Response:
        return requests.request(method, url, cookies=self.cookies, headers=self.headers, timeout=120, **kw)


def test_two_hosts_on_one_database_make_one_verifiable_log(hosts: tuple[Instance, dict[str, str]]) -> None:
    inst, urls = hosts
    a, b = urls["a"], urls["b"]
    ledger = inst.ledger()
    before = ledger.size()

    # a session opened on one host is valid on the other (one session key for all hosts) ...
    admin = Staff(b, "admin", "demo-admin-2026")
    ops = Staff(b, "op-scjg", "demo-pass-2026")
    assert admin.call("GET", a + "/api/v1/session").json()["account"] == "admin"
    assert ops.call("GET", a + "/api/v1/session").json()["account"] == "op-scjg"
    # ... as long as the clocks agree: a session cookie is timestamped, and one stamped by a host
    # whose clock is ahead is refused as "from the future" by a host behind (docs/DEPLOY.md: NTP)
    ahead = Staff(a, "auditor", "demo-pass-2026")
    assert ahead.call("GET", a + "/api/v1/session").json()["account"] == "auditor"
    assert ahead.call("GET", b + "/api/v1/session").json()["account"] is None
    sample = admin.call("GET", a + "/api/v1/subjects?limit=1").json()["items"][0]
    plan = next(d["plan"] for d in ops.call("GET", a + "/api/v1/draws").json()["draws"] if d["status"] == "published")

    key = SigningKey.generate()
    token = create_client(ledger, "loadgen", bytes(key.verify_key))
    host_cycle = itertools.cycle("ab")

    def external(i: int) -> tuple[str, int]:
        host = next(host_cycle)
        record = {"n": i, "via": host}
        r = requests.post(urls[host] + "/api/v1/log/entries", timeout=120, headers={"Authorization": f"Bearer {token}"},
                          json={"type": "external.load", "record": record,
                                "client_sig": sign_record("loadgen", "external.load", record, key)})
        assert r.status_code == 201, r.text
        return host, int(r.json()["seq"])

    rng = __import__("random").Random(16)
    codes = [creditcode.generate(rng, region=sample["code"][2:8]) for _ in range(16)]

    def subject(i: int) -> str:
        host = urls["ab"[i % 2]]
        r = admin.call("POST", host + "/api/v1/subjects", json={
            "code": codes[i], "name": f"两台主机测试公司{i}", "region": sample["region"], "industry": sample["industry"]})
        assert r.status_code == 201, r.text
        return codes[i]

    def draw() -> str:
        r = ops.call("POST", a + "/api/v1/draws", json={"plan": plan, "department": "scjg",
                                                          "sources": [{"type": "dice", "min_digits": 20}]})
        assert r.status_code == 201, r.text
        draw_id = r.json()["id"]
        r = ops.call("POST", b + f"/api/v1/draws/{draw_id}/seed",
                     json={"reveals": [{"type": "dice", "digits": "31415926535897932384"}]})
        assert r.status_code == 200, r.text
        r = ops.call("POST", a + f"/api/v1/draws/{draw_id}/run")
        assert r.status_code == 200 and r.json()["status"] == "drawn", r.text
        r = ops.call("POST", b + f"/api/v1/draws/{draw_id}/publish")
        assert r.status_code == 200 and r.json()["status"] == "published", r.text
        return draw_id

    with ThreadPoolExecutor(8) as pool:
        drawn = pool.submit(draw)
        added = pool.map(subject, range(len(codes)))
        appended = list(pool.map(external, range(48)))
        draw_id = drawn.result()
        added = list(added)

    # what one host wrote, the other reads at once (no per-process cache goes stale)
    for i, code in enumerate(added):
        other = urls["ba"[i % 2]]
        assert requests.get(other + f"/api/v1/subjects/{code}", timeout=30).status_code == 200
    assert ops.call("GET", b + f"/api/v1/draws/{draw_id}").json()["status"] == "published"
    # an evidence file uploaded through one host downloads through the other (shared evidence dir)
    task = ops.call("GET", a + "/api/v1/inspections/tasks").json()["tasks"][0]["id"]
    photo = b"\xff\xd8\xff\xe0" + bytes(range(64))
    r = ops.call("POST", a + f"/api/v1/inspections/tasks/{task}/evidence", data={"label": "照片"},
                 files={"file": ("现场.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text
    n = r.json()["evidence"][0]["n"]
    r = ops.call("GET", b + f"/api/v1/inspections/tasks/{task}/evidence/{n}")
    assert r.status_code == 200 and r.content == photo

    size = ledger.size()
    assert len({seq for _, seq in appended}) == 48
    # both hosts come to serve one checkpoint covering everything
    deadline = time.monotonic() + 60
    while {int(requests.get(u + "/checkpoint", timeout=10).text.split("\n")[1]) for u in urls.values()} != {size}:
        assert time.monotonic() < deadline, "no common checkpoint covering every entry"
        time.sleep(0.2)

    # one log: seq 0..size-1 with no gap, times never decreasing, audit clean
    entries = ledger.entries(0, size)
    assert [e.seq for e in entries] == list(range(size))
    times = [parse_time(e.time) for e in entries]
    assert all(x <= y for x, y in itertools.pairwise(times))
    via = {seq: host for host, seq in appended}
    last_a = None
    clamped = 0
    for e, t in zip(entries[before:], times[before:], strict=True):
        if via.get(e.seq) == "a":
            last_a = t
        elif via.get(e.seq) == "b" and last_a is not None:
            assert t >= last_a  # B's clock is behind; its entry still does not go back in time
            clamped += 1
    assert clamped > 0
    report = Auditor(inst.engine(), inst.genesis_log_key).run()
    assert report.ok and report.size == size, report.first_broken()
    assert report.checkpoints_checked >= 2

    # the independent verifier, against each host, and against the tiles of the same database
    pinned = inst.genesis_log_key.encode()
    for target in (["--server", a], ["--server", b]):
        r = CliRunner().invoke(drawverify, ["log", *target, "--log-key", pinned, "--json", "--workers", "1"])
        doc = json.loads(r.stdout)
        assert r.exit_code == 0 and doc["result"] == "verified", r.output
        assert next(c for c in doc["checks"] if c["name"] == "consistency")["status"] == "passed"
    # the live service serves the same tile paths: its hash tiles too are the tree's
    r = CliRunner().invoke(drawverify, ["log", "--tiles", b, "--log-key", pinned, "--json", "--workers", "1"])
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["result"] == "verified", r.output
    assert next(c for c in doc["checks"] if c["name"] == "hash_tiles")["status"] == "passed"
    out = Path(inst.home) / "tiles"
    assert sync_tiles(ledger, out).size == size
    r = CliRunner().invoke(drawverify, ["log", "--tiles", str(out), "--log-key", pinned, "--json", "--workers", "1"])
    assert r.exit_code == 0 and json.loads(r.stdout)["result"] == "verified", r.output
