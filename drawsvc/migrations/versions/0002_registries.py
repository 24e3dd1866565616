"""The registries: departments, items (+ versions), subjects, inspectors, experts, conflicts,
sub-libraries, plans, accounts, tokens. Each row keeps its record as JSON in `doc` and the seq
of the log entry that wrote it.

Revision ID: 0002_registries
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_registries"
down_revision = "0001_ledger"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column]:
    return [sa.Column("doc", sa.Text, nullable=False), sa.Column("seq", sa.BigInteger, nullable=False)]


def upgrade() -> None:
    op.create_table("reg_departments",
                    sa.Column("code", sa.String(64), primary_key=True),
                    sa.Column("name", sa.String(100), nullable=False),
                    sa.Column("parent", sa.String(64), nullable=True),
                    sa.Column("joint_group", sa.String(100), nullable=True),
                    *_common())
    op.create_table("reg_items",
                    sa.Column("code", sa.String(64), primary_key=True),
                    sa.Column("version", sa.Integer, nullable=False),
                    sa.Column("department", sa.String(64), nullable=False),
                    sa.Column("kind", sa.String(16), nullable=False),
                    sa.Column("status", sa.String(16), nullable=False),
                    *_common())
    op.create_index("ix_reg_items_department", "reg_items", ["department"])
    op.create_table("reg_item_versions",
                    sa.Column("code", sa.String(64), primary_key=True),
                    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
                    *_common())
    op.create_table("reg_subjects",
                    sa.Column("code", sa.String(18), primary_key=True),
                    sa.Column("name", sa.String(200), nullable=False),
                    sa.Column("region", sa.String(6), nullable=False),
                    sa.Column("industry", sa.String(8), nullable=False),
                    sa.Column("status", sa.String(8), nullable=False),
                    sa.Column("credit_class", sa.String(1), nullable=False),
                    sa.Column("abnormal", sa.Boolean, nullable=False),
                    sa.Column("serious_dishonest", sa.Boolean, nullable=False),
                    sa.Column("penalized_on", sa.String(10), nullable=True),
                    sa.Column("complaints", sa.Integer, nullable=False),
                    *_common())
    op.create_index("ix_reg_subjects_region", "reg_subjects", ["region"])
    op.create_index("ix_reg_subjects_industry", "reg_subjects", ["industry"])
    op.create_index("ix_reg_subjects_credit_class", "reg_subjects", ["credit_class"])
    op.create_index("ix_reg_subjects_class_region", "reg_subjects", ["credit_class", "region"])
    op.create_table("reg_inspectors",
                    sa.Column("id", sa.String(64), primary_key=True),
                    sa.Column("cert_no", sa.String(64), nullable=False, unique=True),
                    sa.Column("name", sa.String(50), nullable=False),
                    sa.Column("department", sa.String(64), nullable=False),
                    sa.Column("status", sa.String(8), nullable=False),
                    sa.Column("cert_valid_from", sa.String(10), nullable=False),
                    sa.Column("cert_valid_to", sa.String(10), nullable=False),
                    *_common())
    op.create_index("ix_reg_inspectors_department", "reg_inspectors", ["department"])
    op.create_table("reg_experts",
                    sa.Column("id", sa.String(64), primary_key=True),
                    sa.Column("name", sa.String(50), nullable=False),
                    sa.Column("status", sa.String(8), nullable=False),
                    *_common())
    op.create_table("reg_conflicts",
                    sa.Column("id", sa.String(100), primary_key=True),
                    sa.Column("inspector", sa.String(64), nullable=False),
                    sa.Column("subject", sa.String(18), nullable=False),
                    *_common())
    op.create_index("ix_reg_conflicts_inspector", "reg_conflicts", ["inspector"])
    op.create_index("ix_reg_conflicts_subject", "reg_conflicts", ["subject"])
    op.create_table("reg_sublibraries",
                    sa.Column("code", sa.String(64), primary_key=True),
                    sa.Column("department", sa.String(64), nullable=True),
                    *_common())
    op.create_table("reg_plans",
                    sa.Column("code", sa.String(64), primary_key=True),
                    sa.Column("year", sa.Integer, nullable=False),
                    sa.Column("status", sa.String(16), nullable=False),
                    *_common())
    op.create_index("ix_reg_plans_year", "reg_plans", ["year"])
    op.create_table("reg_accounts",
                    sa.Column("id", sa.String(64), primary_key=True),
                    sa.Column("role", sa.String(16), nullable=False),
                    sa.Column("status", sa.String(16), nullable=False),
                    sa.Column("password_hash", sa.String(200), nullable=True),
                    *_common())
    op.create_table("reg_tokens",
                    sa.Column("id", sa.String(64), primary_key=True),
                    sa.Column("account", sa.String(64), nullable=False),
                    sa.Column("status", sa.String(16), nullable=False),
                    sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
                    *_common())
    op.create_index("ix_reg_tokens_account", "reg_tokens", ["account"])


def downgrade() -> None:
    for name in ("reg_tokens", "reg_accounts", "reg_plans", "reg_sublibraries", "reg_conflicts", "reg_experts",
                 "reg_inspectors", "reg_subjects", "reg_item_versions", "reg_items", "reg_departments"):
        op.drop_table(name)
