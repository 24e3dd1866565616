"""Registry state as a pure fold over log entries, and the same state read from the tables.

Entry types are `registry.<kind>.<verb>`; the payload is either
    {"id": key, "state": {...the whole new record...}, "changed": [field, ...]}    (an upsert)
or  {"id": key, "removed": true, "reason": "..."}                              (a removal).
Items also keep every version: `state["item_version"]["<code>@<version>"]`.
`registry.import.completed` summarises an import and changes no state.

`rebuild(entries)` and `load_state(conn)` must always agree: tests/registry prove it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from . import schema
from .records import KEY_FIELD, KINDS

State = dict[str, dict[str, dict[str, Any]]]
PREFIX = "registry."
STATE_KINDS = (*KINDS, "item_version")


def empty_state() -> State:
    return {kind: {} for kind in STATE_KINDS}


def parse_type(entry_type: str) -> tuple[str, str] | None:
    if not entry_type.startswith(PREFIX):
        return None
    parts = entry_type.split(".")
    if len(parts) != 3 or parts[1] not in KINDS:
        return None
    return parts[1], parts[2]


def apply(state: State, entry_type: str, payload: Mapping[str, Any]) -> bool:
    """Fold one entry into `state` (in place). Returns whether it was a registry entry."""
    parsed = parse_type(entry_type)
    if parsed is None:
        return False
    kind, _verb = parsed
    key = payload["id"]
    if payload.get("removed"):
        state[kind].pop(key, None)
        return True
    record = payload["state"]
    state[kind][key] = record
    if kind == "item":
        state["item_version"][f"{key}@{record['version']}"] = record
    return True


def rebuild(entries: Iterable[Any], upto: int | None = None) -> State:
    """State after entries with seq < upto (all when None). Entries: ledger Entry or JSON dicts."""
    state = empty_state()
    for e in entries:
        if isinstance(e, dict):
            seq, etype, payload = e["seq"], e["type"], e["payload"]
        else:
            seq, etype, payload = e.seq, e.type, e.payload
        if upto is not None and seq >= upto:
            break
        apply(state, etype, payload)
    return state


def rebuild_from_ledger(ledger: Any, upto: int | None = None, page: int = 5000) -> State:
    """Read the log in pages and fold it: the registries at log position `upto`."""
    end = ledger.size() if upto is None else min(upto, ledger.size())
    state = empty_state()
    for start in range(0, end, page):
        for e in ledger.entries(start, min(start + page, end)):
            apply(state, e.type, e.payload)
    return state


_SAFE = 2**53 - 1


def flat_simple(record: Mapping[str, Any]) -> bool:
    """Whether a record is flat and plain: ASCII field names; text, flags, integers within
    ±2^53, None, lists of text. For such a record orjson (sorted keys) writes exactly the bytes
    of the standard library's sorted compact non-ASCII-escaping form (ledger/canonical.py), its
    JCS, several times faster; anything else goes the general way."""
    for k, v in record.items():
        if type(k) is not str or not k.isascii():
            return False
        t = type(v)
        if t is str or t is bool or v is None or (t is int and -_SAFE <= v <= _SAFE):
            continue
        if t is list and all(type(x) is str for x in v):
            continue
        return False
    return True


def dumps(record: dict[str, Any]) -> str:
    if type(record) is dict and flat_simple(record):
        try:
            return orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode("utf-8")
        except orjson.JSONEncodeError:  # a lone surrogate: the standard library's form below
            pass
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def load_state(conn: Connection) -> State:
    state = empty_state()
    for kind, table in schema.TABLES.items():
        keycol = table.c[KEY_FIELD[kind]]
        for key, doc in conn.execute(select(keycol, table.c.doc)):
            state[kind][key] = json.loads(doc)
    for code, version, doc in conn.execute(select(schema.item_versions.c.code, schema.item_versions.c.version,
                                                  schema.item_versions.c.doc)):
        state["item_version"][f"{code}@{version}"] = json.loads(doc)
    return state


_COLUMNS = {kind: tuple(c.name for c in table.columns) for kind, table in schema.TABLES.items()}


def _row(kind: str, record: dict[str, Any], seq: int) -> dict[str, Any]:
    row = {name: record[name] for name in _COLUMNS[kind] if name in record}
    row["doc"] = dumps(record)
    row["seq"] = seq
    return row


def _insert_many(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT the rows through the driver's own executemany, grouped by their columns.

    Why: SQLAlchemy's executemany processes every row's parameters in Python (a tenth of a
    large import's time); these tables' columns are plain text, numbers and booleans, which
    sqlite3 and psycopg take as they are, and none has a Python-side default."""
    by_cols: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_cols.setdefault(tuple(row), []).append(row)
    for cols, group in by_cols.items():
        insert_rows(conn, table.name, cols, [tuple(r[c] for c in cols) for r in group])


def insert_rows(conn: Connection, table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Plain rows into `table`: one COPY on PostgreSQL (psycopg's executemany sends and the
    server runs one INSERT per row: most of a large import's time there), the driver's
    executemany elsewhere."""
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in cols)
    if conn.dialect.name == "postgresql":
        with conn.connection.driver_connection.cursor() as cur, \
                cur.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join([mark] * len(cols))})", rows)


def write_records(conn: Connection, kind: str, rows: list[tuple[dict[str, Any], int, bool]],
                  extra: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Write (record, seq, is_new) rows: inserts for new keys, updates otherwise, in batches.

    `extra` maps a key to table-only columns (password hash, token hash) that the log never sees.
    """
    table = schema.TABLES[kind]
    keyname = KEY_FIELD[kind]
    inserts, updates = [], []
    for record, seq, is_new in rows:
        row = _row(kind, record, seq)
        if extra and record[keyname] in extra:
            row.update(extra[record[keyname]])
        (inserts if is_new else updates).append(row)
    if inserts:
        _insert_many(conn, table, inserts)
    if updates:
        by_cols: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in updates:
            by_cols.setdefault(tuple(sorted(row)), []).append(row)
        for cols, group in by_cols.items():
            stmt = update(table).where(table.c[keyname] == bindparam("_key")).values(
                {c: bindparam(c) for c in cols if c != keyname})
            conn.execute(stmt, [{**r, "_key": r[keyname]} for r in group])
    if kind == "item":
        conn.execute(insert(schema.item_versions), [
            {"code": r["code"], "version": r["version"], "doc": dumps(r), "seq": seq} for r, seq, _ in rows])


def delete_record(conn: Connection, kind: str, key: str) -> None:
    table = schema.TABLES[kind]
    conn.execute(delete(table).where(table.c[KEY_FIELD[kind]] == key))


def get_record(conn: Connection, kind: str, key: str) -> dict[str, Any] | None:
    table = schema.TABLES[kind]
    doc = conn.execute(select(table.c.doc).where(table.c[KEY_FIELD[kind]] == key)).scalar_one_or_none()
    return None if doc is None else json.loads(doc)


def diff_states(a: State, b: State) -> list[str]:
    """Human-readable differences between two states (empty when equal)."""
    out = []
    for kind in STATE_KINDS:
        x, y = a.get(kind, {}), b.get(kind, {})
        for key in sorted(set(x) | set(y)):
            if x.get(key) != y.get(key):
                out.append(f"{kind}/{key}: {x.get(key)!r} != {y.get(key)!r}")
    return out
