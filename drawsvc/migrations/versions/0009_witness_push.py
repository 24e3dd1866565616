"""Witnesses the log pushes its checkpoints to (C2SP tlog-witness), and one cosignature per
witness and checkpoint.

Revision ID: 0009_witness_push
Revises: 0008_jobs

`witnesses` gains the witness's submission URL (`url`: http(s)://... or, for the demo's
in-process witnesses, local:<state dir>), the size it last cosigned for us (`size`, the `old`
of the next add-checkpoint), and the last failure, shown on the page as what is missing.
A witness cosigns a checkpoint once: (checkpoint_size, witness) is unique.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_witness_push"
down_revision = "0008_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("witnesses") as t:
        t.add_column(sa.Column("url", sa.Text(), nullable=True))
        t.add_column(sa.Column("size", sa.BigInteger(), nullable=False, server_default="0"))
        t.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        t.add_column(sa.Column("last_attempt", sa.String(length=40), nullable=True))
    op.execute("DELETE FROM cosignatures WHERE id NOT IN "
               "(SELECT min(id) FROM cosignatures GROUP BY checkpoint_size, witness)")
    op.create_index("ux_cosignatures_size_witness", "cosignatures", ["checkpoint_size", "witness"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_cosignatures_size_witness", "cosignatures")
    with op.batch_alter_table("witnesses") as t:
        t.drop_column("last_attempt")
        t.drop_column("last_error")
        t.drop_column("size")
        t.drop_column("url")
