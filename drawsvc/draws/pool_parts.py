"""The subject pool of a bundle in parts (docs/SPEC.md §D12.1, `spotcheck-pool-part/1`).

Why: a province's pool (20 million subjects) as one JSON list is ~1.9 GB in one document, and a
reader that parses it holds one object per record (~17 GiB). In parts, each part is the leaves
of 2^p consecutive records — `JCS(record)` and a line feed each, exactly the bytes §D4 hashes —
so a writer and a reader hold one part at a time, and every full part is a complete, aligned
subtree of the pool's RFC 9162 tree (its root folds with the others' to the committed root).

The parts are read from the stored pool without joining it: a streamed pool from
`draw_pool_chunks` one stored part at a time, an older one from `draw_pools` (small by
construction: it was committed at once).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ledger.canonical import canonical_bytes

from . import schema

__all__ = ["ENCODING", "PART_SIZE", "describe", "encode_part", "part_bytes", "subject_parts"]

ENCODING = "spotcheck-pool-part/1"
PART_SIZE = 1 << 20  # the stored parts' size (drawsvc.draw.pool.STREAM_CHUNK): a part is read as stored

# a value JCS writes other than verbatim (quote, backslash, control character) or cannot write (surrogate)
_NEEDS_ESCAPE = re.compile("[\x00-\x1f\"\\\\\ud800-\udfff]")


def valid_part_size(size: int) -> bool:
    """A part size is a power of two (so full parts are aligned complete subtrees, §D12.1)."""
    return type(size) is int and size >= 1 and size & (size - 1) == 0


def encode_part(ids: Sequence[str], names: Sequence[str], strata: Sequence[str]) -> bytes:
    """JCS({id, name, stratum}) + LF per record: the leaves' bytes, in order.

    Plain values (nothing JCS escapes) are written by one template, members in JCS order; any
    other record by the canonical encoder."""
    out: list[str] = []
    add = out.append
    for i, m, s in zip(ids, names, strata, strict=True):
        if _NEEDS_ESCAPE.search(i) or _NEEDS_ESCAPE.search(m) or _NEEDS_ESCAPE.search(s):
            add(canonical_bytes({"id": i, "name": m, "stratum": s}).decode("utf-8") + "\n")
        else:
            add(f'{{"id":"{i}","name":"{m}","stratum":"{s}"}}\n')
    return "".join(out).encode("utf-8")


def encode_records(records: Iterable[dict[str, Any]]) -> bytes:
    """The general form: JCS(record) + LF for records of any shape (an old JSON-stored pool)."""
    return b"".join(canonical_bytes(r) + b"\n" for r in records)


def stored_ids(row: Any) -> bytes | str:
    """A stored part's ids as a JSON array (its `ids_zlib` inflated; a part stored before
    migration 0012: its text)."""
    return zlib.decompress(row.ids_zlib) if row.ids_zlib is not None else row.subject_ids


def stored_names(row: Any) -> bytes | str:
    """A stored part's names as a JSON array (as stored_ids)."""
    return zlib.decompress(row.names_zlib) if row.names_zlib is not None else row.subject_names


def part_columns(names: bool = True) -> list[Any]:
    """The columns stored_ids (and stored_names) read, and the strata."""
    c = schema.draw_pool_chunks.c
    return [c.ids_zlib, c.subject_ids, c.subject_strata] + ([c.names_zlib, c.subject_names] if names else [])


def _stored_columns(conn: Connection, draw_id: str) -> Iterator[tuple[list[str], list[str], str]]:
    """(ids, names, strata) of a streamed pool's stored parts, one at a time, in order."""
    n = 0
    c = schema.draw_pool_chunks.c
    while True:
        row = conn.execute(select(*part_columns()).where(c.draw_id == draw_id, c.n == n)).one_or_none()
        if row is None:
            return
        yield orjson.loads(stored_ids(row)), orjson.loads(stored_names(row)), row.subject_strata
        n += 1


def subject_parts(conn: Connection, draw_id: str, part_size: int = PART_SIZE) -> Iterator[bytes]:
    """The bytes of each part of the draw's subject pool, in order, one part alive at a time."""
    if not valid_part_size(part_size):
        raise ValueError("the part size is a power of two")
    row = conn.execute(select(schema.draw_pools.c.pools).where(schema.draw_pools.c.draw_id == draw_id)).one()
    stored = orjson.loads(row.pools)
    if stored.get("subjects_chunks") is None:  # committed at once: small; the whole list, cut
        from .service import load_pools

        recs = load_pools(conn, draw_id)["subjects"]
        for lo in range(0, len(recs), part_size):
            yield encode_records(recs[lo:lo + part_size])
        return
    ids: list[str] = []
    names: list[str] = []
    strata = ""
    for a, b, s in _stored_columns(conn, draw_id):
        ids += a
        names += b
        strata += s
        while len(ids) >= part_size:
            yield encode_part(ids[:part_size], names[:part_size], strata[:part_size])
            del ids[:part_size], names[:part_size]
            strata = strata[part_size:]
    if ids:
        yield encode_part(ids, names, strata)


def _stored_sizes(conn: Connection, draw_id: str) -> list[int]:
    """How many records each stored part of a streamed pool holds, in order, read from the
    parts themselves: for a draw whose pools document does not list them (a stored part is
    what the rules left of one registry part: at most 2^20, often fewer). Strata are one
    character each in the stored parts, so their string's length is the count."""
    c = schema.draw_pool_chunks.c
    return [size for _, size in conn.execute(select(c.n, func.length(c.subject_strata))
                                             .where(c.draw_id == draw_id).order_by(c.n))]


def part_bytes(conn: Connection, draw_id: str, n: int, part_size: int = PART_SIZE) -> bytes | None:
    """Part ``n`` alone (the API's `GET .../pool/subjects/<n>`), or None past the last part.

    A streamed pool's part is cut from the one or two stored parts it overlaps (their sizes
    read first); an older pool, stored whole, is cut from the whole."""
    if n < 0 or not valid_part_size(part_size):
        return None
    raw = conn.execute(select(schema.draw_pools.c.pools).where(schema.draw_pools.c.draw_id == draw_id)).scalar()
    if raw is None:
        return None
    doc = orjson.loads(raw)
    if doc.get("subjects_chunks") is None:
        for i, data in enumerate(subject_parts(conn, draw_id, part_size)):
            if i == n:
                return data
        return None
    lo, hi = n * part_size, (n + 1) * part_size
    ids: list[str] = []
    names: list[str] = []
    strata = ""
    c = schema.draw_pool_chunks.c
    start = 0
    sizes = doc.get("subjects_part_sizes")  # (a draw prepared before they were kept: read them)
    for k, size in enumerate(sizes if sizes is not None else _stored_sizes(conn, draw_id)):
        end = start + size
        if start < hi and end > lo:
            row = conn.execute(select(*part_columns()).where(c.draw_id == draw_id, c.n == k)).one()
            a, b = max(lo, start) - start, min(hi, end) - start
            ids += orjson.loads(stored_ids(row))[a:b]
            names += orjson.loads(stored_names(row))[a:b]
            strata += row.subject_strata[a:b]
        start = end
    return encode_part(ids, names, strata) if ids else None


def describe(parts: Iterable[bytes], part_size: int, wanted: set[str] | None = None,
             sink: Any = None) -> tuple[dict[str, Any], set[str]]:
    """The bundle's `pool_parts.subjects` description of ``parts`` (each part's record count and
    SHA-256), and which of the ``wanted`` ids are in the pool. ``sink(n, data)``, if given, gets
    each part (the bundle directory's writer), so the pool is read once."""
    desc: list[dict[str, Any]] = []
    found: set[str] = set()
    for n, data in enumerate(parts):
        desc.append({"records": data.count(b"\n"), "sha256": hashlib.sha256(data).hexdigest()})
        if wanted:
            found |= {w for w in wanted if f'{{"id":{orjson.dumps(w).decode()},'.encode() in data}
        if sink is not None:
            sink(n, data)
    return {"encoding": ENCODING, "part_size": part_size, "parts": desc}, found


def part_file(n: int) -> str:
    """A part's path in a bundle directory (§D12.1)."""
    return f"pool/subjects-{n:06d}.jsonl"
