"""Streamed subject pools: draw_pool_chunks holds a large pool in parts of at most 2^20 subjects.

Revision ID: 0010_pool_chunks
Revises: 0009_witness_push

Why: a provincial pool (20 million subjects) in one draw_pools value passes the 1 GB that a
text value may hold, and writing or reading it holds the whole pool in memory. Draws prepared
before keep their draw_pools columns; a streamed one stores `subjects_chunks` in its pools
document and its subjects here (same three columns, one row per part, in id order).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_pool_chunks"
down_revision = "0009_witness_push"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("draw_pool_chunks",
                    sa.Column("draw_id", sa.String(length=64), primary_key=True),
                    sa.Column("n", sa.Integer(), primary_key=True, autoincrement=False),
                    sa.Column("subject_ids", sa.Text(), nullable=False),
                    sa.Column("subject_names", sa.Text(), nullable=False),
                    sa.Column("subject_strata", sa.Text(), nullable=False))


def downgrade() -> None:
    op.drop_table("draw_pool_chunks")
