"""Inspections, results, evidence, categories, calendar years, settings, disclosures.

Revision ID: 0004_inspections
Revises: 0003_draws

The DDL is written out here (rendered once from drawsvc/inspections/schema.py) so this
revision never changes when that module does: a later change to a table is a new revision.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_inspections"
down_revision = "0003_draws"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ins_calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "ins_categories",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "ins_disclosures",
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("published_date", sa.String(length=10), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("department", "year"),
    )
    op.create_table(
        "ins_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.String(length=140), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("date", sa.String(length=10), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_ins_events_result_id"), "ins_events", ["result_id"], unique=False)
    op.create_table(
        "ins_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_ins_evidence_task_id"), "ins_evidence", ["task_id"], unique=False)
    op.create_table(
        "ins_result_versions",
        sa.Column("result_id", sa.String(length=140), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("result_id", "version"),
    )
    op.create_table(
        "ins_results",
        sa.Column("id", sa.String(length=140), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=18), nullable=False),
        sa.Column("subject_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("check_date", sa.String(length=10), nullable=False),
        sa.Column("report_date", sa.String(length=10), nullable=False),
        sa.Column("published_date", sa.String(length=10), nullable=True),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("published_seq", sa.BigInteger(), nullable=True),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("public_doc", sa.Text(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_ins_results_department"), "ins_results", ["department"], unique=False)
    op.create_index("ix_ins_results_status_dept", "ins_results", ["status", "department"], unique=False)
    op.create_index(op.f("ix_ins_results_subject"), "ins_results", ["subject"], unique=False)
    op.create_index(op.f("ix_ins_results_task_id"), "ins_results", ["task_id"], unique=False)
    op.create_table(
        "ins_settings",
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("department"),
    )
    op.create_table(
        "ins_tasks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("draw_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=18), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("check_date", sa.String(length=10), nullable=True),
        sa.Column("window_start", sa.String(length=10), nullable=False),
        sa.Column("window_end", sa.String(length=10), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_date", sa.String(length=10), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_ins_tasks_department"), "ins_tasks", ["department"], unique=False)
    op.create_index(op.f("ix_ins_tasks_draw_id"), "ins_tasks", ["draw_id"], unique=False)
    op.create_index(op.f("ix_ins_tasks_subject"), "ins_tasks", ["subject"], unique=False)
    op.create_index(op.f("ix_ins_tasks_year"), "ins_tasks", ["year"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ins_tasks_year"), table_name="ins_tasks")
    op.drop_index(op.f("ix_ins_tasks_subject"), table_name="ins_tasks")
    op.drop_index(op.f("ix_ins_tasks_draw_id"), table_name="ins_tasks")
    op.drop_index(op.f("ix_ins_tasks_department"), table_name="ins_tasks")
    op.drop_table("ins_tasks")
    op.drop_table("ins_settings")
    op.drop_index(op.f("ix_ins_results_task_id"), table_name="ins_results")
    op.drop_index(op.f("ix_ins_results_subject"), table_name="ins_results")
    op.drop_index("ix_ins_results_status_dept", table_name="ins_results")
    op.drop_index(op.f("ix_ins_results_department"), table_name="ins_results")
    op.drop_table("ins_results")
    op.drop_table("ins_result_versions")
    op.drop_index(op.f("ix_ins_evidence_task_id"), table_name="ins_evidence")
    op.drop_table("ins_evidence")
    op.drop_index(op.f("ix_ins_events_result_id"), table_name="ins_events")
    op.drop_table("ins_events")
    op.drop_table("ins_disclosures")
    op.drop_table("ins_categories")
    op.drop_table("ins_calendar_years")
