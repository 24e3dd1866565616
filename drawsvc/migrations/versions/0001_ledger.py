"""The ledger's tables: head, entries, tree nodes, checkpoints, cosignatures, keys, tokens.

Revision ID: 0001_ledger
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("log_head",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("size", sa.BigInteger, nullable=False),
                    sa.Column("last_leaf_hash", sa.LargeBinary(32), nullable=False))
    op.create_table("log_entries",
                    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("leaf", sa.LargeBinary, nullable=False),
                    sa.Column("type", sa.String(128), nullable=False),
                    sa.Column("actor_id", sa.String(128), nullable=False),
                    sa.Column("time", sa.String(32), nullable=False))
    op.create_index("ix_log_entries_type", "log_entries", ["type"])
    op.create_index("ix_log_entries_actor_id", "log_entries", ["actor_id"])
    op.create_table("merkle_nodes",
                    sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
                    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("hash", sa.LargeBinary(32), nullable=False))
    op.create_table("checkpoints",
                    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("root", sa.LargeBinary(32), nullable=False),
                    sa.Column("note", sa.Text, nullable=False),
                    sa.Column("signed_at", sa.String(32), nullable=False))
    op.create_table("cosignatures",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("checkpoint_size", sa.BigInteger, nullable=False),
                    sa.Column("witness", sa.String(256), nullable=False),
                    sa.Column("line", sa.Text, nullable=False),
                    sa.Column("timestamp", sa.BigInteger, nullable=False))
    op.create_index("ix_cosignatures_checkpoint_size", "cosignatures", ["checkpoint_size"])
    op.create_table("witnesses",
                    sa.Column("name", sa.String(256), primary_key=True),
                    sa.Column("verifier_key", sa.Text, nullable=False))
    op.create_table("actor_keys",
                    sa.Column("key_id", sa.String(16), primary_key=True),
                    sa.Column("actor_id", sa.String(128), nullable=False),
                    sa.Column("public_key", sa.LargeBinary(32), nullable=False),
                    sa.Column("encrypted_private_key", sa.LargeBinary, nullable=True),
                    sa.Column("active", sa.Boolean, nullable=False),
                    sa.Column("registered_seq", sa.BigInteger, nullable=True))
    op.create_index("ix_actor_keys_actor_id", "actor_keys", ["actor_id"])
    op.create_table("api_tokens",
                    sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
                    sa.Column("name", sa.String(64), nullable=False, unique=True),
                    sa.Column("actor_id", sa.String(128), nullable=False),
                    sa.Column("scopes", sa.String(256), nullable=False),
                    sa.Column("created_at", sa.String(32), nullable=False),
                    sa.Column("revoked", sa.Boolean, nullable=False))
    op.create_table("ledger_config",
                    sa.Column("name", sa.String(64), primary_key=True),
                    sa.Column("value", sa.Text, nullable=False))


def downgrade() -> None:
    for name in ("ledger_config", "api_tokens", "actor_keys", "witnesses", "cosignatures",
                 "checkpoints", "merkle_nodes", "log_entries", "log_head"):
        op.drop_table(name)
