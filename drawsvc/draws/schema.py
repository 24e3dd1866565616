"""Tables of the draw lifecycle. Created by Alembic revision 0003_draws."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

# One row per draw. `doc` is public once prepared (parameters and commitments, as logged);
# `secret` holds what stays sealed until publication: nonce, seed, salts, content, pools.
draws = Table(
    "draws", metadata,
    Column("id", String(64), primary_key=True),
    Column("plan", String(64), nullable=False, index=True),
    Column("department", String(64), nullable=False, index=True),
    Column("year", Integer, nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("prepared_seq", BigInteger, nullable=False),
    Column("seeded_seq", BigInteger, nullable=True),
    Column("drawn_seq", BigInteger, nullable=True),
    Column("published_seq", BigInteger, nullable=True),
    Column("aborted_seq", BigInteger, nullable=True),
    Column("doc", Text, nullable=False),
    Column("secret", Text, nullable=False),
)

# The frozen pools of a draw, written once at prepare and read when the draw is run,
# substituted or published — sealed until publication. The subjects (up to millions) as
# columns: ids and names as JSON arrays, strata as one string of one-character strata;
# inspectors, excluded and conflicts as one JSON document in `pools` (revision 0005; before
# it the subjects were in `pools` too, and the columns are null).
draw_pools = Table(
    "draw_pools", metadata,
    Column("draw_id", String(64), primary_key=True),
    Column("pools", Text, nullable=False),
    Column("subject_ids", Text, nullable=True),
    Column("subject_names", Text, nullable=True),
    Column("subject_strata", Text, nullable=True),
)

# A large subject pool, streamed: one row per part of at most 2^20 subjects in id order (what
# the rules left of one part of the registry), ids and names as JSON arrays, strata as one
# string. A 20-million-subject pool in one value would pass the 1 GB a text value may hold
# (SQLite's default limit, PostgreSQL's), and writing or reading it would hold all of it at
# once. Since migration 0012 the JSON arrays are stored zlib-compressed (`ids_zlib`,
# `names_zlib`: ~5x smaller); parts stored before keep the text columns.
draw_pool_chunks = Table(
    "draw_pool_chunks", metadata,
    Column("draw_id", String(64), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("subject_ids", Text, nullable=True),
    Column("subject_names", Text, nullable=True),
    Column("subject_strata", Text, nullable=False),
    Column("ids_zlib", LargeBinary, nullable=True),
    Column("names_zlib", LargeBinary, nullable=True),
)

# Every check a subject got this year (drawn, or not random: complaints, referrals), for the
# frequency cap and "already checked by another unit of the department" of later draws.
checks = Table(
    "draw_checks", metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", String(18), nullable=False, index=True),
    Column("year", Integer, nullable=False, index=True),
    Column("department", String(64), nullable=False),
    Column("source", String(64), nullable=False),  # draw id, or "not_random:<ref>"
    Column("kind", String(16), nullable=False),  # random | not_random
    Column("seq", BigInteger, nullable=False),
)
