"""Shared fixtures: a fresh ledger on SQLite or PostgreSQL, an initialised instance.

PostgreSQL tests (marker `postgres`) and browser tests (marker `browser`) skip with a
message on a machine without them; under CI=true such a skip is turned into a failure.

No test reads the wall clock: the whole session runs at a pinned moment (`TEST_NOW`, moving
forward from there in real time) so dates in fixtures are relative to it and never age.
`SPOTCHECK_TEST_NOW` moves the pin (an ISO time, or `wall` for whatever the machine's clock
says): `make test-dates` runs the suite under `faketime` at year ends and a leap day with the
pin following the faked clock.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import time_machine
from nacl.signing import SigningKey
from pinned import TEST_NOW, TODAY
from sqlalchemy import create_engine, text

from drawsvc.instance import Instance, init_instance, make_engine, migrate
from ledger.keys import ActorSigner
from ledger.note import NoteSigner
from ledger.store import Ledger, initialise

PG_ADMIN_URL = os.environ.get("SPOTCHECK_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSPHRASE = "test-passphrase"

@pytest.fixture(scope="session", autouse=True)
def pinned_clock() -> Iterator[datetime]:
    with time_machine.travel(TEST_NOW, tick=True):
        yield TEST_NOW


@pytest.fixture(scope="session")
def today() -> date:
    return TODAY


def skip_or_fail(message: str) -> None:
    """Skip on a developer's machine; fail under CI, where these tests must run."""
    if IN_CI:
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any connection failure means: no PostgreSQL here
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = _pg_available()
    if problem:
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432 "
                     f"({problem}); start it (pg_ctlcluster <version> main start) "
                     "or set SPOTCHECK_PG_URL to enable these tests")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"spotcheck_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_server.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'log.sqlite3'}"


def new_ledger(url: str, origin: str = "test.example/log") -> Ledger:
    engine = make_engine(url)
    migrate(engine)
    system = ActorSigner("system", SigningKey.generate())
    return initialise(engine, origin, NoteSigner(origin, SigningKey.generate()), system, None, None)


@pytest.fixture
def ledger(sqlite_url: str) -> Ledger:
    return new_ledger(sqlite_url)


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Instance:
    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    inst, _ = init_instance(tmp_path / "instance", origin="test.example/log")
    return inst


@pytest.fixture
def app(instance: Instance):  # type: ignore[no-untyped-def]
    from web import create_app

    flask_app = create_app(instance, {"TESTING": True})
    yield flask_app
    batcher = flask_app.extensions.get("batcher")
    if batcher is not None:
        batcher.close()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()
