"""Alembic environment: run programmatically by drawsvc.instance.migrate()."""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import MetaData

# Every area's tables; an area that does not exist yet is skipped.
_METADATA_MODULES = ["ledger.schema", "drawsvc.registry.schema", "drawsvc.draws.schema",
                     "drawsvc.inspections.schema", "drawsvc.jobs.schema"]


def _target_metadata() -> list[MetaData]:
    found = []
    for name in _METADATA_MODULES:
        try:
            found.append(importlib.import_module(name).metadata)
        except ModuleNotFoundError:
            continue
    return found


config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=_target_metadata(),
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
