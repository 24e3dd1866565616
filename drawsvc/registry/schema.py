"""The registries' tables (SQLAlchemy Core). Created by Alembic revision 0002_registries.

Every table holds the current record as canonical JSON in `doc` (exactly the `state` of the
last log entry that touched it) plus a few indexed columns copied from it for queries, and
`seq`, the log entry that produced the row. The log is the source of truth: these tables can
be rebuilt from it (drawsvc.registry.state.rebuild).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text, text

from .records import ACTIVE_SUBJECT_STATUSES

metadata = MetaData()


def _common() -> list[Column]:
    return [Column("doc", Text, nullable=False), Column("seq", BigInteger, nullable=False)]


departments = Table(
    "reg_departments", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("parent", String(64), nullable=True),
    Column("joint_group", String(100), nullable=True),
    *_common(),
)

items = Table(
    "reg_items", metadata,
    Column("code", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("department", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    *_common(),
)

# Every version of every item (the item list is versioned; history is kept).
item_versions = Table(
    "reg_item_versions", metadata,
    Column("code", String(64), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    *_common(),
)

subjects = Table(
    "reg_subjects", metadata,
    Column("code", String(18), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("region", String(6), nullable=False, index=True),
    Column("industry", String(8), nullable=False, index=True),
    Column("status", String(8), nullable=False),
    Column("credit_class", String(1), nullable=False, index=True),
    Column("abnormal", Boolean, nullable=False),
    Column("serious_dishonest", Boolean, nullable=False),
    Column("penalized_on", String(10), nullable=True),
    Column("complaints", Integer, nullable=False),
    *_common(),
    # clustered by code on SQLite (revision 0005): a draw reads every subject in code order,
    # which the pool commitment needs, without a sort (docs/PERFORMANCE.md, draws (b))
    sqlite_with_rowid=False,
)

inspectors = Table(
    "reg_inspectors", metadata,
    Column("id", String(64), primary_key=True),
    Column("cert_no", String(64), nullable=False, unique=True),
    Column("name", String(50), nullable=False),
    Column("department", String(64), nullable=False, index=True),
    Column("status", String(8), nullable=False),
    Column("cert_valid_from", String(10), nullable=False),
    Column("cert_valid_to", String(10), nullable=False),
    *_common(),
)

experts = Table(
    "reg_experts", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(50), nullable=False),
    Column("status", String(8), nullable=False),
    *_common(),
)

conflicts = Table(
    "reg_conflicts", metadata,
    Column("id", String(100), primary_key=True),
    Column("inspector", String(64), nullable=False, index=True),
    Column("subject", String(18), nullable=False, index=True),
    *_common(),
)

sublibraries = Table(
    "reg_sublibraries", metadata,
    Column("code", String(64), primary_key=True),
    Column("department", String(64), nullable=True),
    *_common(),
)

plans = Table(
    "reg_plans", metadata,
    Column("code", String(64), primary_key=True),
    Column("year", Integer, nullable=False, index=True),
    Column("status", String(16), nullable=False),
    *_common(),
)

# Accounts: the log carries id, role, departments, status and the public key; the password hash
# (argon2id) stays here only, and the encrypted private signing key in the ledger's actor_keys.
accounts = Table(
    "reg_accounts", metadata,
    Column("id", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("password_hash", String(200), nullable=True),
    *_common(),
)

# API tokens: only SHA-256 of the secret is stored; the log records issue and revocation.
tokens = Table(
    "reg_tokens", metadata,
    Column("id", String(64), primary_key=True),
    Column("account", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    *_common(),
)

Index("ix_reg_subjects_class_region", subjects.c.credit_class, subjects.c.region)

# A draw reads every subject (drawsvc.draws.service._subject_columns, revision 0005): the code,
# name and credit class of all of them from this narrow covering index, in code order (the
# table rows also carry the JSON doc, so a table scan reads several times the pages) ...
Index("ix_reg_subjects_draw", subjects.c.code, subjects.c.name, subjects.c.credit_class)
# ... and the few the rules treat apart — not active, or with a flag the stratum rule reads —
# from this partial index. The query repeats SPECIAL_SUBJECTS word for word, so the planner
# can prove it implies the index's condition.
SPECIAL_SUBJECTS = ("status NOT IN (" + ", ".join(f"'{s}'" for s in ACTIVE_SUBJECT_STATUSES) + ") OR abnormal "
                    "OR serious_dishonest OR penalized_on IS NOT NULL OR complaints > 0")
# (covering: the rules read these columns of them, from the index alone — migration 0011)
Index("ix_reg_subjects_special", subjects.c.code, subjects.c.status, subjects.c.abnormal, subjects.c.serious_dishonest,
      subjects.c.penalized_on, subjects.c.complaints, sqlite_where=text(SPECIAL_SUBJECTS),
      postgresql_where=text(SPECIAL_SUBJECTS))

TABLES = {
    "department": departments, "item": items, "subject": subjects, "inspector": inspectors,
    "expert": experts, "conflict": conflicts, "sublibrary": sublibraries, "plan": plans,
    "account": accounts, "token": tokens,
}


# --- login throttling (issue 13): shared by every worker process, hence in the database -------

login_throttle = Table(
    "login_throttle", metadata,
    Column("scope", String(8), primary_key=True),  # "pair" (account + address) or "addr" (address)
    Column("key", String(400), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start_ms", BigInteger, nullable=False),
    Column("next_allowed_ms", BigInteger, nullable=False),
    Column("locked_until_ms", BigInteger, nullable=False),
)

login_lockouts = Table(
    "login_lockouts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("scope", String(8), nullable=False),
    Column("account", String(200), nullable=False),
    Column("address", String(64), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("until", String(40), nullable=False),
)
