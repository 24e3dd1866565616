"""Inspections, results, evidence, categories, calendar years, settings, disclosures.

Revision ID: 0004_inspections
Revises: 0003_draws
"""

from alembic import op

from drawsvc.inspections import schema

revision = "0004_inspections"
down_revision = "0003_draws"
branch_labels = None
depends_on = None

# The tables are defined once, in drawsvc/inspections/schema.py; this revision creates exactly
# those (a later change to a table gets its own revision, never an edit of this one).
TABLES = ("ins_tasks", "ins_results", "ins_result_versions", "ins_events", "ins_evidence", "ins_categories",
          "ins_calendar_years", "ins_settings", "ins_disclosures")


def upgrade() -> None:
    bind = op.get_bind()
    schema.metadata.create_all(bind, tables=[schema.metadata.tables[t] for t in TABLES])


def downgrade() -> None:
    bind = op.get_bind()
    schema.metadata.drop_all(bind, tables=[schema.metadata.tables[t] for t in reversed(TABLES)])
