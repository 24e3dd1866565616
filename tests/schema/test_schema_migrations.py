"""Alembic migrations create exactly the tables the code declares — on SQLite and PostgreSQL.

A table changed in a schema module without a new migration fails here (autogenerate finds a
difference), and so does a migration that drifts from its module.
"""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from drawsvc.instance import make_engine, migrate

SCHEMAS = ("ledger.schema", "drawsvc.registry.schema", "drawsvc.draws.schema", "drawsvc.inspections.schema",
           "drawsvc.jobs.schema")


def _differences(url: str) -> list:
    engine = make_engine(url)
    migrate(engine)
    metadatas = [importlib.import_module(name).metadata for name in SCHEMAS]
    with engine.connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True})
        # compare against all declared tables at once, so other areas' tables are not "extra"
        from sqlalchemy import MetaData

        combined = MetaData()
        for md in metadatas:
            for table in md.tables.values():
                table.to_metadata(combined)
        diffs = compare_metadata(mc, combined)
    engine.dispose()
    return [d for d in diffs if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")]


def test_migrations_match_declared_schema_sqlite(sqlite_url: str) -> None:
    assert _differences(sqlite_url) == []


@pytest.mark.postgres
def test_migrations_match_declared_schema_postgres(pg_url: str) -> None:
    assert _differences(pg_url) == []
