"""Draw pools stored as columns; subjects clustered by code on SQLite.

Revision ID: 0005_columnar_pools
Revises: 0004_inspections

- draw_pools gets subject_ids, subject_names (JSON arrays) and subject_strata (one character
  per subject). Existing rows keep their subjects in the `pools` JSON (the columns stay null)
  and are read as before.
- On SQLite, reg_subjects becomes a WITHOUT ROWID table (a B-tree keyed by code), so reading
  the registry for a draw returns it in code order and the pool commitment needs no sort.
  PostgreSQL is unchanged (it sorts in the query).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_columnar_pools"
down_revision = "0004_inspections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("draw_pools", sa.Column("subject_ids", sa.Text(), nullable=True))
    op.add_column("draw_pools", sa.Column("subject_names", sa.Text(), nullable=True))
    op.add_column("draw_pools", sa.Column("subject_strata", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("reg_subjects", recreate="always",
                                  table_kwargs={"sqlite_with_rowid": False}):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("reg_subjects", recreate="always"):
            pass
    op.drop_column("draw_pools", "subject_strata")
    op.drop_column("draw_pools", "subject_names")
    op.drop_column("draw_pools", "subject_ids")
