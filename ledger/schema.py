"""The ledger's tables (SQLAlchemy Core). Created by Alembic revision 0001_ledger."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# One row (id = 1): the tree size and last leaf hash. Every append locks it first, which
# serialises writers across processes (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite).
log_head = Table(
    "log_head", metadata,
    Column("id", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("last_leaf_hash", LargeBinary(32), nullable=False),
)

log_entries = Table(
    "log_entries", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("type", String(128), nullable=False, index=True),
    Column("actor_id", String(128), nullable=False, index=True),
    Column("time", String(32), nullable=False),
)

# Hashes of complete subtrees: node (level, idx) covers leaves [idx*2^level, (idx+1)*2^level).
merkle_nodes = Table(
    "merkle_nodes", metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

checkpoints = Table(
    "checkpoints", metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("signed_at", String(32), nullable=False),
)

cosignatures = Table(
    "cosignatures", metadata,
    Column("id", Integer, primary_key=True),
    Column("checkpoint_size", BigInteger, nullable=False, index=True),
    Column("witness", String(256), nullable=False),
    Column("line", Text, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ux_cosignatures_size_witness", "checkpoint_size", "witness", unique=True),
)

# Witnesses (C2SP tlog-witness). `url`: where the log pushes its checkpoints (http(s)://... or
# local:<state dir> for an in-process witness); `size`: what the witness last cosigned for us.
witnesses = Table(
    "witnesses", metadata,
    Column("name", String(256), primary_key=True),
    Column("verifier_key", Text, nullable=False),
    Column("url", Text, nullable=True),
    Column("size", BigInteger, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("last_attempt", String(40), nullable=True),
)

# Actor keys. Private halves only encrypted; external clients' keys have no private half here.
actor_keys = Table(
    "actor_keys", metadata,
    Column("key_id", String(16), primary_key=True),
    Column("actor_id", String(128), nullable=False, index=True),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("encrypted_private_key", LargeBinary, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("registered_seq", BigInteger, nullable=True),
)

# API tokens for other software. Only a SHA-256 of the token is stored.
api_tokens = Table(
    "api_tokens", metadata,
    Column("token_hash", LargeBinary(32), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("actor_id", String(128), nullable=False),
    Column("scopes", String(256), nullable=False, default="log.append"),
    Column("created_at", String(32), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

config = Table(
    "ledger_config", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
