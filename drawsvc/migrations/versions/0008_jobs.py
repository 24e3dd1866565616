"""Background jobs for long reports and exports.

Revision ID: 0008_jobs
Revises: 0007_login_throttle

A report or export too large to compute inside a request becomes a row of `jobs`: the request
answers 202 with the job's URL, a job runner in any server process (or `drawsvc jobs run`)
claims the row with a conditional UPDATE, computes it in a child process under a memory
limit, and stores the result here (drawsvc.jobs).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_jobs"
down_revision = "0007_login_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("estimate_bytes", sa.BigInteger(), nullable=False),
        sa.Column("budget_bytes", sa.BigInteger(), nullable=False),
        sa.Column("runner", sa.String(length=200), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("finished_ms", sa.BigInteger(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("result", sa.LargeBinary(), nullable=True),
        sa.Column("result_mime", sa.String(length=200), nullable=True),
        sa.Column("result_filename", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_ms"])


def downgrade() -> None:
    op.drop_index("ix_jobs_status_created", table_name="jobs")
    op.drop_table("jobs")
