"""The `jobs` table (migration 0008_jobs): long reports and exports computed outside requests."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

jobs = Table(
    "jobs", metadata,
    Column("id", String(64), primary_key=True),          # 128-bit random token: the job's URL
    Column("kind", String(32), nullable=False),          # report | registry_export
    Column("params", Text, nullable=False),              # canonical JSON of what to compute
    Column("owner", String(200)),                        # account id; None = anonymous (public data only)
    Column("status", String(16), nullable=False),        # queued | running | done | failed
    Column("progress", Integer, nullable=False),         # 0..100
    Column("estimate_bytes", BigInteger, nullable=False),
    Column("budget_bytes", BigInteger, nullable=False),   # the memory limit it was admitted under
    Column("runner", String(200)),                       # host:pid of the process that claimed it
    Column("created_ms", BigInteger, nullable=False),
    Column("finished_ms", BigInteger),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("result", LargeBinary),
    Column("result_mime", String(200)),
    Column("result_filename", String(200)),
    Index("ix_jobs_status_created", "status", "created_ms"),
)
