"""Tables of inspections and results. Created by Alembic revision 0004_inspections.

Rows are working copies: the log is the source of truth. Content that must stay confidential
until publication (a result's findings, a not-random task's subject) is kept here in clear
and on the log only as a salted commitment, revealed by the publication entry.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

# One task per subject and check: random (from a drawn and published draw) or not random
# (complaint, referral, assignment: 003 第九条).
tasks = Table(
    "ins_tasks", metadata,
    Column("id", String(64), primary_key=True),
    Column("department", String(64), nullable=False, index=True),  # initiating department
    Column("draw_id", String(64), nullable=True, index=True),
    Column("subject", String(18), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # random | not_random
    Column("year", Integer, nullable=False, index=True),
    Column("status", String(16), nullable=False),  # open | checked
    Column("check_date", String(10), nullable=True),
    Column("window_start", String(10), nullable=False),
    Column("window_end", String(10), nullable=False),
    Column("created_seq", BigInteger, nullable=False),
    Column("created_date", String(10), nullable=False),
    Column("doc", Text, nullable=False),  # team, items, departments, notice, trigger, reference
    Column("salt", String(64), nullable=True),  # not-random tasks: opening of the commitment
)

# One result per (task, department): 谁检查、谁录入、谁公开.
results = Table(
    "ins_results", metadata,
    Column("id", String(140), primary_key=True),
    Column("task_id", String(64), nullable=False, index=True),
    Column("department", String(64), nullable=False, index=True),
    Column("subject", String(18), nullable=False, index=True),
    Column("subject_name", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # pending | returned | confirmed | published
    Column("version", Integer, nullable=False),
    Column("entered_by", String(64), nullable=False),
    Column("confirmed_by", String(64), nullable=True),
    Column("check_date", String(10), nullable=False),
    Column("report_date", String(10), nullable=False),  # first entry: the report's completion
    Column("published_date", String(10), nullable=True),
    Column("published_version", Integer, nullable=True),
    Column("published_seq", BigInteger, nullable=True),
    Column("doc", Text, nullable=False),  # current version's content
    Column("public_doc", Text, nullable=True),  # last published content (what the public sees)
    Column("seq", BigInteger, nullable=False),
)
Index("ix_ins_results_status_dept", results.c.status, results.c.department)

# Every version of every result (corrections are new versions, never edits).
result_versions = Table(
    "ins_result_versions", metadata,
    Column("result_id", String(140), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("doc", Text, nullable=False),
    Column("salt", String(64), nullable=False),
    Column("commitment", String(64), nullable=False),
    Column("entered_by", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

# Steps after a result: the subject's answer, follow-ups, their end, penalty publication, credit linkage.
events = Table(
    "ins_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("result_id", String(140), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("date", String(10), nullable=False),
    Column("doc", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
)

evidence = Table(
    "ins_evidence", metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", String(64), nullable=False, index=True),
    Column("n", Integer, nullable=False),  # 1, 2, ... within the task, as logged
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("label", String(32), nullable=False),  # 检查笔录 | 照片 | 文书 | 其他
    Column("media_type", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("path", String(300), nullable=False),  # relative to the instance's evidence directory
    Column("uploaded_by", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

# Result categories added after release (the built-in table lives in categories.py).
categories = Table(
    "ins_categories", metadata,
    Column("code", String(64), primary_key=True),
    Column("doc", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
)

# Holiday years loaded by an administrator (years the chinese-calendar package does not know).
calendar_years = Table(
    "ins_calendar_years", metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("doc", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

# Deadlines moved when a holiday calendar year was loaded (revision 0006): shown, never silent.
deadline_changes = Table(
    "ins_deadline_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("calendar_seq", BigInteger, nullable=False),  # the inspection.calendar.loaded entry
    Column("year", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("department", String(64), nullable=False),
    Column("ref", String(128), nullable=False, index=True),
    Column("due_before", String(10), nullable=False),
    Column("due_after", String(10), nullable=False),
)

# Per-department settings: publication deadline in working days, rules issued (月报表 一.1).
settings = Table(
    "ins_settings", metadata,
    Column("department", String(64), primary_key=True),
    Column("doc", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
)

# Annual plan-execution disclosures (003 第二十三条), one per department and year.
disclosures = Table(
    "ins_disclosures", metadata,
    Column("department", String(64), primary_key=True),
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("published_date", String(10), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("doc", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
)
