"""Login throttling shared by all worker processes.

Revision ID: 0007_login_throttle
Revises: 0006_deadline_changes

Failed logins are counted per (account, client address) and per client address in
`login_throttle`, so every gunicorn worker sees the same counts and delays; every lockout is
kept in `login_lockouts` for the administrator (drawsvc.registry.throttle).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_login_throttle"
down_revision = "0006_deadline_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start_ms", sa.BigInteger(), nullable=False),
        sa.Column("next_allowed_ms", sa.BigInteger(), nullable=False),
        sa.Column("locked_until_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_table(
        "login_lockouts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("until", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("login_lockouts")
    op.drop_table("login_throttle")
