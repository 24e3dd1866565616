"""Deadlines moved by a loaded holiday calendar.

Revision ID: 0006_deadline_changes
Revises: 0005_columnar_pools

When an administrator loads a year's State Council notice, every open or completed deadline
that was computed with weekends only for that year is recomputed; each one that moved is kept
here (with the seq of the `inspection.calendar.loaded` entry) so the pages show the change
instead of silently showing a new date.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_deadline_changes"
down_revision = "0005_columnar_pools"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ins_deadline_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("calendar_seq", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("due_before", sa.String(length=10), nullable=False),
        sa.Column("due_after", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ins_deadline_changes_ref", "ins_deadline_changes", ["ref"])


def downgrade() -> None:
    op.drop_index("ix_ins_deadline_changes_ref", "ins_deadline_changes")
    op.drop_table("ins_deadline_changes")
