"""Draw pools stored as columns; subjects clustered by code on SQLite.

Revision ID: 0005_columnar_pools
Revises: 0004_inspections

- draw_pools gets subject_ids, subject_names (JSON arrays) and subject_strata (one character
  per subject). Existing rows keep their subjects in the `pools` JSON (the columns stay null)
  and are read as before.
- On SQLite, reg_subjects becomes a WITHOUT ROWID table (a B-tree keyed by code), so reading
  the registry for a draw returns it in code order and the pool commitment needs no sort.
  PostgreSQL sorts in the query.
- Two indexes serve the draw's read of the registry: ix_reg_subjects_draw (code, name,
  credit_class: a narrow covering index, scanned in code order) and the partial index
  ix_reg_subjects_special over the few subjects the rules treat apart.
"""

import sqlalchemy as sa
from alembic import op

# written out, not imported, so this revision never changes with the code
SPECIAL_SUBJECTS = ("status NOT IN ('存续', '在业') OR abnormal OR serious_dishonest OR penalized_on IS NOT NULL "
                    "OR complaints > 0")

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
    op.create_index("ix_reg_subjects_draw", "reg_subjects", ["code", "name", "credit_class"])
    op.create_index("ix_reg_subjects_special", "reg_subjects", ["code"], sqlite_where=sa.text(SPECIAL_SUBJECTS),
                    postgresql_where=sa.text(SPECIAL_SUBJECTS))


def downgrade() -> None:
    op.drop_index("ix_reg_subjects_special", "reg_subjects")
    op.drop_index("ix_reg_subjects_draw", "reg_subjects")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("reg_subjects", recreate="always"):
            pass
    op.drop_column("draw_pools", "subject_strata")
    op.drop_column("draw_pools", "subject_names")
    op.drop_column("draw_pools", "subject_ids")
