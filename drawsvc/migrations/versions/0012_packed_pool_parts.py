"""A streamed pool's stored parts compressed: ids and names as zlib-compressed JSON.

Revision ID: 0012_packed_pool_parts
Revises: 0011_special_covering

Why: a province's pool (20 million subjects) stored as JSON text is ~1.2 GB a draw, written
twice by SQLite (the WAL, then the checkpoint) inside prepare's transaction: storing it was the
largest share of prepare's own time. Compressed (zlib, level 1, by the child that makes each
part) it is ~5x smaller. Parts stored before keep their text columns (`subject_ids`,
`subject_names`, now nullable); a part has either those or `ids_zlib` and `names_zlib`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_packed_pool_parts"
down_revision = "0011_special_covering"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draw_pool_chunks") as batch:
        batch.alter_column("subject_ids", existing_type=sa.Text(), nullable=True)
        batch.alter_column("subject_names", existing_type=sa.Text(), nullable=True)
        batch.add_column(sa.Column("ids_zlib", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("names_zlib", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("draw_pool_chunks") as batch:
        batch.drop_column("names_zlib")
        batch.drop_column("ids_zlib")
        batch.alter_column("subject_names", existing_type=sa.Text(), nullable=False)
        batch.alter_column("subject_ids", existing_type=sa.Text(), nullable=False)
