"""Fixtures for the registry tests: a fresh migrated SQLite instance with a ledger."""

from __future__ import annotations

from datetime import date

import pytest
from argon2 import PasswordHasher

from drawsvc.instance import make_engine, migrate
from drawsvc.registry.service import Registry
from ledger.keys import ActorSigner, generate_actor_key
from ledger.note import NoteSigner
from ledger.store import initialise

PASS = b"test-passphrase"


@pytest.fixture
def reg_ledger(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'reg.sqlite3'}")
    migrate(engine)
    origin = "test.example/log"
    led = initialise(engine, origin, NoteSigner(origin, generate_actor_key()),
                     ActorSigner("system", generate_actor_key()), None, None)
    yield led
    engine.dispose()


@pytest.fixture
def reg(reg_ledger):
    # cheap argon2id parameters for tests only (production uses argon2-cffi's RFC 9106 defaults)
    return Registry(reg_ledger, PASS, today=lambda: date(2026, 3, 2),
                    hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def app(reg_ledger, reg):
    from flask import Flask

    from web.errors import register_error_handlers
    from web.openapi import init_openapi
    from web.registry_api import bp, csrf_protect

    app = Flask("registry-test")
    app.config.update(SECRET_KEY="test", TESTING=True, DRAWSVC_KEY_PASSPHRASE=PASS)
    app.extensions["ledger"] = reg_ledger
    app.extensions["engine"] = reg_ledger.engine
    app.extensions["registry"] = reg
    register_error_handlers(app)
    app.register_blueprint(bp)
    app.before_request(csrf_protect)
    init_openapi(app)
    return app
