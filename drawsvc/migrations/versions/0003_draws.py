"""Draw lifecycle tables.

Revision ID: 0003_draws
Revises: 0002_registries
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_draws"
down_revision = "0002_registries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("draws",
                    sa.Column("id", sa.String(64), primary_key=True),
                    sa.Column("plan", sa.String(64), nullable=False),
                    sa.Column("department", sa.String(64), nullable=False),
                    sa.Column("year", sa.Integer, nullable=False),
                    sa.Column("status", sa.String(16), nullable=False),
                    sa.Column("prepared_seq", sa.BigInteger, nullable=False),
                    sa.Column("seeded_seq", sa.BigInteger, nullable=True),
                    sa.Column("drawn_seq", sa.BigInteger, nullable=True),
                    sa.Column("published_seq", sa.BigInteger, nullable=True),
                    sa.Column("aborted_seq", sa.BigInteger, nullable=True),
                    sa.Column("doc", sa.Text, nullable=False),
                    sa.Column("secret", sa.Text, nullable=False))
    op.create_index("ix_draws_plan", "draws", ["plan"])
    op.create_index("ix_draws_department", "draws", ["department"])
    op.create_index("ix_draws_year", "draws", ["year"])
    op.create_table("draw_pools",
                    sa.Column("draw_id", sa.String(64), primary_key=True),
                    sa.Column("pools", sa.Text, nullable=False))
    op.create_table("draw_checks",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("subject", sa.String(18), nullable=False),
                    sa.Column("year", sa.Integer, nullable=False),
                    sa.Column("department", sa.String(64), nullable=False),
                    sa.Column("source", sa.String(64), nullable=False),
                    sa.Column("kind", sa.String(16), nullable=False),
                    sa.Column("seq", sa.BigInteger, nullable=False))
    op.create_index("ix_draw_checks_subject", "draw_checks", ["subject"])
    op.create_index("ix_draw_checks_year", "draw_checks", ["year"])


def downgrade() -> None:
    op.drop_table("draw_checks")
    op.drop_table("draw_pools")
    op.drop_table("draws")
