"""Schemathesis over the served OpenAPI document (issue 13): anonymous, then as each role with a
bearer token and with a browser session (CSRF header), all phases, bounded in time. The checks are
`not_a_server_error`, counted twice: by schemathesis and by the server itself (every 5xx the app
answers is recorded), and `status_code_conformance`: an operation that answers a status its entry in
the document does not list fails the run (each lists its own set: web.openapi.operation_errors).
The server runs in this process, so a service function raising a refusal its @raises does not
declare (web.errors.UndeclaredRefusal, an error under pytest) is a 500 here and fails the run too.
Failures it finds go in as regression tests (test_web_limits.py).

The document must say what the API accepts: a run fails on schemathesis's "schema validation
mismatch" warning (an operation that rejected, as malformed, all the data its schema allows;
`fail-on` in the run's schemathesis.toml, and the text checked too). Formats JSON Schema cannot
express are taught to schemathesis by tests/web/fuzz_hooks.py.

Runs on a demo instance of its own: the fuzzer changes registries and fails logins by the
hundred, which must not leak into other tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import PASSPHRASE
from tests.web.conftest import PASSWORDS

ROOT = Path(__file__).resolve().parents[2]
# Fail on a validation mismatch. Two exceptions, named: the evidence upload takes only a PDF, JPEG or
# PNG file (its magic bytes are checked), which no schema can say of a multipart binary part, so
# once the stateful phase reaches a real task the fuzzer's random bytes are (rightly) refused; and
# an inspector's update, whose certificate validity must not end before it starts — a relation
# between two fields (and, for a partial update, with the stored record) that JSON Schema cannot
# state, so once the stateful phase reaches a real inspector about half the random dates are
# (rightly) refused. tests/registry tests that rule and its message directly.
FUZZ_CONFIG = """[warnings]
fail-on = ["validation_mismatch"]

[[operations]]
include-path = "/api/v1/inspections/tasks/{task_id}/evidence"
include-method = "POST"
warnings = false

[[operations]]
include-path = "/api/v1/inspectors/{key}"
include-method = "PUT"
warnings = false
"""
ROLES = ("auditor", "insp-p001", "op-scjg", "admin")  # admin last: its changes cannot lock the others out
SECONDS = int(os.environ.get("SPOTCHECK_FUZZ_SECONDS", "12"))  # per run; 9 runs
ST = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")


class _Count5xx:
    """WSGI middleware: remembers every 5xx the app answers (method, path, status)."""

    def __init__(self, app: Any) -> None:
        self.app, self.seen = app, []

    def __call__(self, environ: dict, start_response: Any) -> Any:
        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            if status[:1] == "5":
                self.seen.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO"), status))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, _Count5xx]]:
    from werkzeug.serving import make_server

    from drawsvc.demo import create_demo
    from web import create_app

    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    os.environ.pop("DATABASE_URL", None)
    inst, _, _ = create_demo(tmp_path_factory.mktemp("fuzz") / "instance", origin="test.example/log")
    app = create_app(inst, {"TESTING": False})
    counted = _Count5xx(app.wsgi_app)
    app.wsgi_app = counted  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    # the document is built once per app (seconds on a loaded machine): built here, so that
    # schemathesis' own 10 s limit for loading it measures nothing but the machine's load
    requests.get(base + "/api/v1/openapi.json", timeout=300).raise_for_status()
    try:
        yield base, counted
    finally:
        server.shutdown()
        thread.join(5)


def _credentials(base: str) -> dict[str, dict[str, str]]:
    """A session (cookie + CSRF token) and a bearer token for every role, made before any run."""
    admin = requests.Session()
    r = admin.post(base + "/api/v1/session", json={"account": "admin", "password": PASSWORDS["admin"]}, timeout=30)
    r.raise_for_status()
    admin_csrf = r.json()["csrf_token"]
    out = {}
    for account in ROLES:
        s = requests.Session()
        r = s.post(base + "/api/v1/session", json={"account": account, "password": PASSWORDS[account]}, timeout=30)
        r.raise_for_status()
        t = admin.post(base + "/api/v1/tokens", json={"name": f"fuzz {account}", "account": account},
                       headers={"X-CSRF-Token": admin_csrf}, timeout=30)
        t.raise_for_status()
        out[account] = {"session": f"session={s.cookies['session']}", "csrf": r.json()["csrf_token"],
                        "bearer": t.json()["secret"]}
    return out


def _run(base: str, headers: list[str], label: str, workdir: Path) -> str:
    cmd = [ST, "--no-color", "run", f"{base}/api/v1/openapi.json", "--checks", "not_a_server_error,status_code_conformance",
           "--phases", "examples,coverage,fuzzing,stateful", "--max-time", str(SECONDS), "--workers", "1", "--request-timeout", "60",
           "--seed", "13", "--suppress-health-check", "all"]
    # --workers 1: hypothesis describes strategies with ast.parse, which CPython 3.11.7 does not
    # make thread-safe ("AST constructor recursion depth mismatch" under several workers)
    for h in headers:
        cmd += ["-H", h]
    # in a directory of its own: schemathesis keeps its run data under ./.schemathesis
    (workdir / "schemathesis.toml").write_text(FUZZ_CONFIG)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.web.fuzz_hooks",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS * 4 + 120, cwd=workdir, env=env)
    out = done.stdout + done.stderr
    assert "ST101" not in out and "Server error" not in out, f"{label}:\n{out[-6000:]}"
    assert "Schema validation mismatch" not in out, f"{label}: the schema allows data the API rejects\n{out[-6000:]}"
    assert done.returncode == 0, f"{label}: exit {done.returncode}\n{out[-6000:]}"
    return out


@pytest.mark.timeless
@pytest.mark.skipif(ST is None, reason="schemathesis is not installed (pip install -e '.[test]')")
def test_no_server_error_anonymous_and_as_every_role(served: tuple[str, _Count5xx], tmp_path: Path) -> None:
    base, counted = served
    creds = _credentials(base)
    _run(base, [], "anonymous", tmp_path)
    for account in ROLES:
        c = creds[account]
        _run(base, [f"Authorization: Bearer {c['bearer']}"], f"{account} (bearer)", tmp_path)
        _run(base, [f"Cookie: {c['session']}", f"X-CSRF-Token: {c['csrf']}"], f"{account} (session)", tmp_path)
    assert counted.seen == []
