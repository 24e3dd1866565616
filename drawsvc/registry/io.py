"""Import and export of the registries: CSV (UTF-8, with or without BOM; GBK/GB18030 accepted),
Excel .xlsx and the old .xls, with Chinese column headers (English field names are accepted too).

Files are read as officials make them: the header row may sit below title rows (merged cells),
headers may carry spaces or full-width brackets, and a code is read from the text the sheet
stores, never through a float; a code a spreadsheet has already cut to 15 digits is named as
such (LOST_PRECISION) rather than read as a wrong code.

An import is all-or-nothing: if any row is bad nothing is written and the report lists every
bad row with its column, value and reason. A good file is applied in one transaction: one log
entry per added or changed record, none for unchanged ones, so re-importing the same file
changes nothing. Columns absent from the file keep their stored values. The file is streamed
(read, validated and written a batch of rows at a time inside that one transaction, rolled
back at the end if any row was bad), so a province's 20 million rows need no more memory than
a county's (docs/PERFORMANCE.md, "A province-sized registry").
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

from sqlalchemy import column as sa_column
from sqlalchemy import select
from sqlalchemy import table as sa_table

from drawsvc import creditcode
from drawsvc.i18n import tr
from drawsvc.raises import raises

from . import schema
from .authz import Actor, Forbidden
from .records import KEY_FIELD, NORMALIZERS, Context, RecordError, changed_fields
from .service import Conflict
from .state import insert_rows

# (field, Chinese header) per kind, in template order. Import is offered for subjects and inspectors.
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "subject": [("code", "统一社会信用代码"), ("name", "名称"), ("region", "行政区划代码"), ("industry", "行业代码"),
                ("licences", "许可证类型"), ("status", "登记状态"), ("credit_class", "信用风险分类"),
                ("abnormal", "经营异常名录"), ("serious_dishonest", "严重违法失信名单"), ("penalized_on", "最近处罚日期"),
                ("complaints", "投诉举报次数"), ("tags", "标签"), ("address", "地址")],
    "inspector": [("id", "人员编号"), ("name", "姓名"), ("cert_no", "执法证号"), ("cert_valid_from", "证件有效期起"),
                  ("cert_valid_to", "证件有效期止"), ("department", "所属部门"), ("qualifications", "执法资格"),
                  ("specialties", "专业特长"), ("status", "状态")],
    "department": [("code", "部门编码"), ("name", "部门名称"), ("parent", "上级部门"), ("joint_group", "联席会议"),
                   ("region", "行政区划代码")],
    "item": [("code", "事项编码"), ("version", "版本"), ("name", "抽查事项"), ("department", "抽查主体"),
             ("legal_basis", "抽查依据"), ("object_scope", "抽查对象"), ("content", "抽查内容"), ("methods", "抽查方式"),
             ("kind", "事项类别"), ("ratio_min_bp", "抽查比例下限(基点)"), ("ratio_max_bp", "抽查比例上限(基点)"),
             ("frequency", "抽查频次"), ("status", "状态")],
    "expert": [("id", "专家编号"), ("name", "姓名"), ("specialties", "专业领域"), ("organisation", "工作单位"),
               ("title", "职称"), ("status", "状态")],
    "conflict": [("inspector", "检查人员"), ("subject", "检查对象统一社会信用代码"), ("reason", "回避原因"),
                 ("note", "说明"), ("declared_on", "申报日期")],
    "sublibrary": [("code", "子库编码"), ("name", "子库名称"), ("department", "所属部门"), ("filter", "筛选条件")],
    "plan": [("code", "计划编号"), ("name", "计划名称"), ("year", "年度"), ("departments", "部门"), ("items", "抽查事项"),
             ("sublibraries", "子库"), ("filter", "筛选条件"), ("ratios_bp", "各信用等级抽查比例(基点)"),
             ("frequency_cap", "年度检查次数上限"), ("exemptions", "不受次数限制"), ("team_size", "每组检查人员数"),
             ("window_start", "开始日期"), ("window_end", "结束日期"), ("joint", "部门联合"), ("status", "状态"),
             ("note", "备注")],
    "account": [("id", "账户"), ("name", "姓名"), ("role", "角色"), ("departments", "部门"), ("inspector", "检查人员"),
                ("status", "状态"), ("key_id", "签名密钥")],
}
IMPORTABLE = ("subject", "inspector")
CODE_FIELDS = {"code", "cert_no", "id", "region"}  # identifiers: a number format loses their digits
_SCIENTIFIC = re.compile(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+")
BOOL_FIELDS = {"abnormal", "serious_dishonest", "joint"}


class ImportFormatError(ValueError):
    pass


@dataclass
class ImportReport:
    kind: str
    file_sha256: str
    rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "file_sha256": self.file_sha256, "ok": self.ok, "rows": self.rows,
                "added": self.added, "changed": self.changed, "unchanged": self.unchanged, "errors": self.errors,
                "dry_run": self.dry_run}


LOST_PRECISION = "该单元格为数值格式，已丢失精度，请将列设为文本"
_EXACT_FLOAT = 2 ** 53  # above this a float no longer holds every whole number


class LossyNumber(str):
    """A cell stored as a number too long for a spreadsheet's 15 significant digits (an 18-digit
    credit code typed into a number column): its digits are already lost, so it is named as
    such instead of being read as a wrong code."""


def _cell(value: Any, raw: str | None = None, exact_numbers: bool = True) -> Any:
    """A cell as text. A large number is taken from the text the sheet stores (`raw`), never
    through a float; one whose stored text has already lost digits becomes a LossyNumber."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and abs(value) >= 1e15:
        if exact_numbers and raw is not None and raw.lstrip("-").isdigit():
            return raw  # the exact digits the file stores
        return LossyNumber(str(int(value)) if value.is_integer() else repr(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return str(value)


MAX_CSV_FIELD = csv.field_size_limit()  # characters of one CSV cell (the csv module's own limit, 128 Ki)
_CHUNK = 1 << 20  # bytes read at a time when scanning a file
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old Excel .xls (a compound document)

Source = bytes | Path | BinaryIO  # a file's bytes (an upload), its path (the CLI) or an open binary file


@contextmanager
def open_source(source: Source) -> Iterator[BinaryIO]:
    """The file as a seekable binary stream, whatever form it came in (closed after, if opened here)."""
    if isinstance(source, bytes | bytearray):
        yield io.BytesIO(source)
    elif isinstance(source, str | Path):
        with Path(source).open("rb") as f:
            yield f
    else:
        yield source


def _file_kind(head: bytes, filename: str) -> str:
    """'xlsx', 'xls' or 'csv', from the name or the first bytes (as the reader has always decided)."""
    name = filename.lower()
    if name.endswith(".xlsx") or head[:4] == b"PK\x03\x04":
        return "xlsx"
    if name.endswith(".xls") or head[:8] == OLE_MAGIC:
        return "xls"
    return "csv"


def scan_file(f: BinaryIO, filename: str) -> tuple[str, str | None]:
    """(SHA-256 hex, CSV encoding) of a file, read once in 1 MiB pieces before it is parsed.

    Why a pass of its own: the import's summary entry names the whole file's hash, and a CSV's
    encoding (UTF-8, else GB18030) is decided by whether the WHOLE file decodes as UTF-8 —
    as it was when the file was decoded at once — which a row reader learns only at the end.
    The encoding is None for a workbook; a CSV that is neither raises ImportFormatError."""
    sha = hashlib.sha256()
    f.seek(0)
    head = f.read(8)
    f.seek(0)
    utf8: Any = codecs.getincrementaldecoder("utf-8-sig")() if _file_kind(head, filename) == "csv" else None
    while chunk := f.read(_CHUNK):
        sha.update(chunk)
        if utf8 is not None and utf8 is not False:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    f.seek(0)
    if utf8 is None:
        return sha.hexdigest(), None
    if utf8 is not False:
        try:
            utf8.decode(b"", final=True)
            return sha.hexdigest(), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    gb = codecs.getincrementaldecoder("gb18030")()  # GB18030 is a superset of GBK and GB2312
    try:
        while chunk := f.read(_CHUNK):
            gb.decode(chunk)
        gb.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportFormatError(tr("CSV 编码应为 UTF-8 或 GBK/GB18030")) from None
    finally:
        f.seek(0)
    return sha.hexdigest(), "gb18030"


def _bad_workbook(kind: str) -> ImportFormatError:
    return ImportFormatError(tr("不是有效的 %(kind)s 文件：无法读取其中的工作表（文件可能已损坏，或并非 Excel 工作簿；请在 Excel 或 WPS 中打开后另存为 %(kind)s 再导入）", kind=kind))


def _xlsx_rows(f: BinaryIO) -> Iterator[tuple[int, list[Any]]]:
    """The first sheet's rows, streamed: openpyxl's read-only mode parses the sheet's XML as it
    goes, so memory does not grow with the rows. A number is read from the text the sheet
    stores: whole-number text becomes an exact int (an 18-digit code stays exact), anything
    written with a decimal point or exponent a float, named LOST_PRECISION if long."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(f, read_only=True, data_only=True)
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # a stale <dimension> must not cut rows or columns off
        rows = ws.iter_rows(values_only=True)
    except Exception:  # openpyxl and zipfile raise their own (English) errors: our words instead
        raise _bad_workbook(".xlsx") from None
    try:
        r = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception:
                raise _bad_workbook(".xlsx") from None
            r += 1
            yield r, [_cell(None if v == "" else v) for v in values]
    finally:
        wb.close()


def _xls_rows(f: BinaryIO) -> Iterator[tuple[int, list[Any]]]:
    """The old .xls (at most 65,536 rows by its format), read whole with calamine (Rust): it
    gives numbers as floats, so a long numeric code is named LOST_PRECISION, never guessed."""
    from python_calamine import CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(f.read())).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)  # rows and columns from A1
    except Exception:  # calamine raises its own error types (English) for damaged files: our words instead
        raise _bad_workbook(".xls") from None
    for r, row in enumerate(rows):
        yield r + 1, [_cell(None if v == "" else v, exact_numbers=False) for v in row]


def _csv_rows(f: BinaryIO, encoding: str) -> Iterator[tuple[int, list[Any]]]:
    text = io.TextIOWrapper(f, encoding=encoding, newline="")
    try:
        yield from _csv_records(csv.reader(text))
    finally:
        text.detach()  # the caller's file stays open (the wrapper would close it)


def _csv_records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[Any]]]:
    rownum = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # Why: the csv module refuses a field over its limit (a stray quote makes one too) with
            # its own English error; left alone that is a 500. Say which row and what the limit is.
            if "field limit" in str(exc):
                raise ImportFormatError(tr("第 %(row)s 行有字段超过 %(limit)s 字符（可能是引号不配对）",
                                           row=rownum + 1, limit=MAX_CSV_FIELD)) from None
            raise ImportFormatError(tr("第 %(row)s 行不是有效的 CSV", row=rownum + 1)) from None
        rownum += 1
        yield rownum, row


def sheet_rows(data: Source, filename: str, encoding: str | None = None) -> Iterator[tuple[int, list[Any]]]:
    """(row number as the official sees it, cells as text or None) of a .csv, .xlsx or .xls file,
    one row at a time. `encoding` (a CSV's, from scan_file) is found here when not given."""
    with open_source(data) as f:
        head = f.read(8)
        f.seek(0)
        kind = _file_kind(head, filename)
        if kind == "xlsx":
            yield from _xlsx_rows(f)
        elif kind == "xls":
            yield from _xls_rows(f)
        else:
            yield from _csv_rows(f, encoding or scan_file(f, filename)[1] or "utf-8-sig")


def iter_rows(data: Source, filename: str) -> Iterator[list[Any]]:
    """Rows of a .csv, .xlsx or .xls file, cells as text or None."""
    for _, row in sheet_rows(data, filename):
        yield row


def norm_title(title: Any) -> str:
    """A header as compared: full-width forms folded (（） → ()), spaces and required-field
    marks dropped, so "统一社会信用代码 " or "抽查比例下限（基点）" or "*名称" still match."""
    import unicodedata

    text = unicodedata.normalize("NFKC", str(title or ""))
    return "".join(ch for ch in text if not ch.isspace()).strip("*").lower()


HEADER_SCAN_ROWS = 30


def find_header(kind: str, rows: Iterator[tuple[int, list[Any]]]) -> tuple[int, list[Any]] | None:
    """The header row: the first row (among the first few) naming at least two known columns;
    title rows above it ("XX市市场主体名录（2026年）", merged cells) are skipped. Without such a
    row, the first non-empty row is taken as the header (and its unknown columns reported)."""
    known = {norm_title(t) for f, t in COLUMNS[kind]} | {norm_title(f) for f, _ in COLUMNS[kind]}
    first: tuple[int, list[Any]] | None = None
    for n, (rownum, row) in enumerate(rows):
        if not any(c not in (None, "") for c in row):
            continue
        if first is None:
            first = (rownum, row)
        if sum(1 for c in row if c not in (None, "") and norm_title(c) in known) >= 2:
            return rownum, row
        if n >= HEADER_SCAN_ROWS:
            break
    return first


def _header_map(kind: str, header: list[Any], header_row: int = 1) -> tuple[list[tuple[int, str, str]], list[dict]]:
    by_name = {}
    for fname, title in COLUMNS[kind]:
        by_name[norm_title(title)] = fname
        by_name[norm_title(fname)] = fname
    cols, errors, seen = [], [], set()
    for idx, title in enumerate(header):
        title = str(title or "").strip()
        if not title:
            continue
        fname = by_name.get(norm_title(title))
        if fname is None:
            errors.append({"row": header_row, "column": title, "field": None, "value": title,
                           "reason": tr("未知的列，应为：%(value)s", value='、'.join(t for _, t in COLUMNS[kind]))})
        elif fname in seen:
            errors.append({"row": header_row, "column": title, "field": fname, "value": title,
                           "reason": tr("重复的列")})
        else:
            seen.add(fname)
            cols.append((idx, fname, title))
    key = KEY_FIELD[kind]
    required = {"subject": {"code", "name", "region", "industry"},
                "inspector": {"name", "cert_no", "cert_valid_from", "cert_valid_to", "department"}}[kind]
    for fname in sorted(required - seen):
        title = dict(COLUMNS[kind])[fname]
        errors.append({"row": header_row, "column": title, "field": fname, "value": None,
                       "reason": tr("缺少必需的列")})
    if kind == "inspector" and key not in seen:
        cols.append((-1, key, dict(COLUMNS[kind])[key]))  # id defaults to the certificate number
    return cols, errors


MAX_IMPORT_ROWS = 200_000  # rows of one import through the web (the CLI passes max_rows=None: any number)
IMPORT_BATCH = 2000  # rows validated, looked up, written and flushed together


@dataclass
class ImportProgress:
    """How far a streamed import has got: rows read from the file, log entries written.
    `tick()` calls `emit` every `every_rows` rows read or `every_seconds`, whichever comes first
    (the CLI prints it on stderr); the clock is injected so a test needs no wall time."""

    emit: Callable[[ImportProgress], None] | None = None
    every_rows: int = 100_000
    every_seconds: float = 10.0
    clock: Callable[[], float] = time.monotonic
    read: int = 0
    written: int = 0

    def __post_init__(self) -> None:
        self.started = self._last_time = self.clock()
        self._last_rows = 0

    def elapsed(self) -> float:
        return self.clock() - self.started

    def rate(self) -> float:
        """Rows read per second since the start."""
        spent = self.elapsed()
        return self.read / spent if spent > 0 else 0.0

    def tick(self, final: bool = False) -> None:
        if self.emit is None:
            return
        now = self.clock()
        if final or self.read - self._last_rows >= self.every_rows or now - self._last_time >= self.every_seconds:
            self._last_rows, self._last_time = self.read, now
            self.emit(self)


# Keys (and certificate numbers) already met in the file, with their rows: a temporary table of
# the import's own connection, so a duplicate is found at any distance without holding every key
# of a 20-million-row file in memory. Dropped with the transaction (PostgreSQL: ON COMMIT DROP;
# SQLite: dropped at the end, or undone by the rollback).
_SEEN = sa_table("import_seen_keys", sa_column("space"), sa_column("k"), sa_column("row_no"))
_LOOKUP_CHUNK = 500  # keys per IN (...) query


class _SeenKeys:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS import_seen_keys (space VARCHAR(8) NOT NULL, "
            "k VARCHAR(200) NOT NULL, row_no INTEGER NOT NULL, PRIMARY KEY (space, k))"
            + (" ON COMMIT DROP" if self.pg else ""))
        conn.exec_driver_sql("DELETE FROM import_seen_keys")

    def rows(self, space: str, keys: list[str]) -> dict[str, int]:
        """The first row of each of `keys` met before (absent if none)."""
        out: dict[str, int] = {}
        for i in range(0, len(keys), _LOOKUP_CHUNK):
            out.update(self.conn.execute(select(_SEEN.c.k, _SEEN.c.row_no).where(
                _SEEN.c.space == space, _SEEN.c.k.in_(keys[i:i + _LOOKUP_CHUNK]))).all())
        return out

    def add(self, space: str, first: dict[str, int]) -> None:
        insert_rows(self.conn, "import_seen_keys", ("space", "k", "row_no"), [(space, k, r) for k, r in first.items()])

    def close(self) -> None:
        if not self.pg:
            self.conn.exec_driver_sql("DROP TABLE IF EXISTS import_seen_keys")


class _FileCheck:
    """Validates a file's rows a batch at a time against the registry as it stood before the
    import (every row's key is looked up once, in the batch's one query; a key met twice is an
    error, so no earlier row of the import has changed what a later one is compared with).

    What it holds does not grow with the rows: one batch, the departments' names, and for
    inspectors the certificate numbers on the registry (a few thousand) — not the records."""

    def __init__(self, kind: str, cols: list[tuple[int, str, str]], report: ImportReport, today: date,
                 max_rows: int | None) -> None:
        self.kind, self.cols, self.report, self.today, self.max_rows = kind, cols, report, today, max_rows
        self.title_of = {fname: title for _, fname, title in cols}
        self.keyname = KEY_FIELD[kind]

    def batches(self, conn: Any, rows: Iterator[tuple[int, list[Any]]], size: int,
                progress: ImportProgress | None) -> Iterator[list[tuple[dict, dict | None]]]:
        """(record, its stored state or None) of each good row, a batch at a time, while the file
        has no error so far; after the first error the rest is still checked (the report names
        every bad row) but nothing more is yielded."""
        cache: dict[tuple[str, str], Any] = {}
        get_record = _record_getter(conn)

        def cached_get(k: str, key: str) -> Any:
            if (k, key) not in cache:
                if len(cache) >= 10_000:  # references (departments, regions): few; bounded anyway
                    cache.clear()
                cache[(k, key)] = get_record(k, key)
            return cache[(k, key)]

        self.vctx = Context(cached_get, today=self.today)
        self.dept_by_name = _department_names(conn) if self.kind == "inspector" else {}
        self.cert_owner = _cert_owners(conn) if self.kind == "inspector" else {}
        seen = _SeenKeys(conn)
        batch: list[tuple[int, list[Any]]] = []
        for rownum, row in rows:
            if not any(c not in (None, "") for c in row):
                continue
            batch.append((rownum, row))
            if len(batch) >= size:
                out = self._check(conn, batch, seen)
                batch = []
                if progress is not None:
                    progress.read = self.report.rows
                    progress.tick()
                if self.report.ok and out:
                    yield out
        out = self._check(conn, batch, seen)
        if progress is not None:
            progress.read = self.report.rows
        if self.report.ok and out:
            yield out
        seen.close()

    def _error(self, rownum: int, field: str | None, value: Any, reason: str, column: str | None = None) -> None:
        self.report.errors.append({"row": rownum, "column": column if column is not None else self.title_of[field],
                                   "field": field, "value": value, "reason": reason})

    def _raw(self, rownum: int, row: list[Any]) -> tuple[dict[str, Any], bool] | None:
        """A row's cells by field, prepared as the normaliser expects; None (errors reported) if
        a code's digits were already lost in the spreadsheet."""
        kind = self.kind
        raw = {fname: (row[idx] if 0 <= idx < len(row) else None) for idx, fname, _ in self.cols}
        lossy = [f for f, v in raw.items() if isinstance(v, LossyNumber) or (
            f in CODE_FIELDS and isinstance(v, str) and _SCIENTIFIC.fullmatch(v.strip()))]
        for f in lossy:  # digits already lost in the spreadsheet: say so, never guess them
            self._error(rownum, f, str(raw[f]), LOST_PRECISION)
        if lossy:
            return None
        raw_had_id = True
        if kind == "inspector":
            if raw.get("id") in (None, ""):
                raw_had_id = False
                raw["id"] = raw.get("cert_no")
            dept = (raw.get("department") or "").strip()
            if dept in self.dept_by_name:
                raw["department"] = self.dept_by_name[dept]
        if kind == "subject" and raw.get("code"):
            raw["code"] = creditcode.normalize(str(raw["code"]))
        return raw, raw_had_id

    def _check(self, conn: Any, batch: list[tuple[int, list[Any]]], seen: _SeenKeys) -> list[tuple[dict, dict | None]]:
        report, kind, keyname = self.report, self.kind, self.keyname
        errors_before = len(report.errors)
        prepared = []
        for rownum, row in batch:
            report.rows += 1
            if self.max_rows is not None and report.rows > self.max_rows:  # one request never holds an unbounded file
                raise ImportFormatError(tr("文件超过 %(MAX_IMPORT_ROWS)s 行", MAX_IMPORT_ROWS=self.max_rows))
            got = self._raw(rownum, row)
            if got is not None:
                prepared.append((rownum, *got))
        raw_keys = [str(raw.get(keyname) or "").strip() for _, raw, _ in prepared]
        existing = _existing_docs(conn, kind, raw_keys)
        asked = set(raw_keys)
        normalised = []
        for (rownum, raw, raw_had_id), raw_key in zip(prepared, raw_keys, strict=True):
            old = existing.get(raw_key)
            merged = {**old, **raw} if old else raw
            try:
                rec = NORMALIZERS[kind](merged, self.vctx)
            except RecordError as exc:
                for e in exc.errors:
                    self._error(rownum, e["field"], raw.get(e["field"], e["value"]), e["message"],
                                column=self.title_of.get(e["field"], e["field"]))
                continue
            normalised.append((rownum, raw_had_id, rec))
        keys = [rec[keyname] for _, _, rec in normalised]
        existing.update(_existing_docs(conn, kind, [k for k in keys if k not in asked]))
        earlier = seen.rows("key", keys)
        earlier_certs = seen.rows("cert", [rec["cert_no"] for _, _, rec in normalised]) if kind == "inspector" else {}
        first_row: dict[str, int] = {}
        certs: dict[str, int] = {}
        out = []
        for rownum, raw_had_id, rec in normalised:
            key = rec[keyname]
            first = first_row.get(key, earlier.get(key))
            if first is not None:
                col = keyname if (kind != "inspector" or raw_had_id) else "cert_no"
                self._error(rownum, col, key, tr("重复的代码，与第%(value)s行重复", value=first))
                continue
            first_row[key] = rownum
            old_rec = existing.get(key)
            if old_rec is None:
                report.added += 1  # what the import would do: the dry run reports it too
            elif changed_fields(old_rec, rec):
                report.changed += 1
            else:
                report.unchanged += 1
            if kind == "inspector":
                if rec["cert_valid_to"] < self.today.isoformat():
                    self._error(rownum, "cert_valid_to", rec["cert_valid_to"],
                                tr("执法证已于 %(value)s 之前过期", value=self.today.isoformat()))
                    continue
                holder = certs.get(rec["cert_no"], earlier_certs.get(rec["cert_no"]))
                owner = self.cert_owner.get(rec["cert_no"])
                if holder is not None or (owner is not None and owner != key):
                    self._error(rownum, "cert_no", rec["cert_no"], tr("执法证号重复"))
                    continue
                certs[rec["cert_no"]] = rownum
            out.append((rec, old_rec))
        seen.add("key", first_row)
        seen.add("cert", certs)
        # the checks above run in two passes over the batch: the report lists its errors in row order
        report.errors[errors_before:] = sorted(report.errors[errors_before:], key=lambda e: e["row"])
        return out


def _record_getter(conn: Any) -> Callable[[str, str], Any]:
    from .state import get_record

    return lambda kind, key: get_record(conn, kind, key)


def _department_names(conn: Any) -> dict[str, str]:
    t = schema.departments
    return {name: code for code, name in conn.execute(select(t.c.code, t.c.name))}


def _cert_owners(conn: Any) -> dict[str, str]:
    """Certificate number -> inspector id, as the registry holds them before the import."""
    t = schema.inspectors
    return {cert: key for key, cert in conn.execute(select(t.c.id, t.c.cert_no))}


def _existing_docs(conn: Any, kind: str, keys: list[str]) -> dict[str, dict]:
    """The stored records of `keys` (those that exist), looked up _LOOKUP_CHUNK keys per query."""
    table = schema.TABLES[kind]
    keycol = table.c[KEY_FIELD[kind]]
    out: dict[str, dict] = {}
    unique = list(dict.fromkeys(k for k in keys if k))
    for i in range(0, len(unique), _LOOKUP_CHUNK):
        for key, doc in conn.execute(select(keycol, table.c.doc).where(keycol.in_(unique[i:i + _LOOKUP_CHUNK]))):
            out[key] = json.loads(doc)
    return out


@raises(Forbidden, Conflict)  # rows are validated first: a bad row is in the report, not raised
def import_file(reg: Any, actor: Actor, kind: str, data: Source, filename: str, *, dry_run: bool = False,
                today: date | None = None, progress: ImportProgress | None = None, unbounded: bool = False,
                batch_size: int = IMPORT_BATCH) -> ImportReport:
    """Import a file, streamed: read, validated and (unless dry_run) written a batch of rows at a
    time, all in ONE transaction — one log entry per added or changed record, then
    `registry.import.completed` — committed only if the whole file is good; a bad row anywhere
    (the report lists every one) or a refusal rolls everything back: nothing is written.

    `data` is the file's bytes (an upload), its path or an open binary file; memory does not
    grow with the rows (a batch, and the log's pending entries, live until the batch is
    flushed). A file over MAX_IMPORT_ROWS rows is refused (one web request's bound) unless
    `unbounded` (the CLI: a province's 20 million rows)."""
    if kind not in IMPORTABLE:
        raise ImportFormatError(tr("不能导入 %(kind)s；可导入：%(importable)s", kind=kind, importable="、".join(IMPORTABLE)))
    limit = None if unbounded else MAX_IMPORT_ROWS  # read at call time (tests lower it)
    with open_source(data) as f:
        sha, encoding = scan_file(f, filename)
        report = ImportReport(kind, sha, dry_run=dry_run)
        rows = sheet_rows(f, filename, encoding)
        found = find_header(kind, rows)
        if found is None:
            report.errors.append({"row": 1, "column": None, "field": None, "value": None, "reason": tr("文件为空")})
            return report
        header_row, header = found
        cols, report.errors = _header_map(kind, header, header_row)
        if report.errors:
            return report
        check = _FileCheck(kind, cols, report, today or reg.today(), limit)
        if dry_run:
            with reg.ledger.engine.connect() as conn, conn.begin() as tx:
                for _ in check.batches(conn, rows, batch_size, progress):
                    pass
                tx.rollback()
        else:
            name = Path(filename).name[:200]
            counts = reg.import_stream(actor, kind, lambda conn: check.batches(conn, rows, batch_size, progress),
                                       lambda: {"file_sha256": sha, "rows": report.rows, "filename": name}
                                       if report.ok else None, progress)
            if counts is None and progress is not None:
                progress.written = 0  # rolled back: nothing stays written
    if progress is not None:
        progress.tick(final=True)
    return report


# --- export ---------------------------------------------------------------------------------

def _text(fname: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "；".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def export_rows(records: list[dict], kind: str) -> Iterator[list[Any]]:
    cols = COLUMNS[kind]
    yield [title for _, title in cols]
    for rec in records:
        yield [_text(f, rec.get(f)) for f, _ in cols]


def write_csv(records: list[dict], kind: str, out: IO[bytes]) -> None:
    """UTF-8 with BOM, so that Excel opens the Chinese headers correctly."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    for row in export_rows(records, kind):
        writer.writerow(row)
    text.flush()
    text.detach()


def write_xlsx(records: list[dict], kind: str, out: IO[bytes], title: str | None = None) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(title or kind)
    for row in export_rows(records, kind):
        ws.append([str(v) if isinstance(v, str) else v for v in row])
    wb.save(out)


def export_bytes(records: list[dict], kind: str, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "csv":
        write_csv(records, kind, buf)
    elif fmt == "xlsx":
        write_xlsx(records, kind, buf)
    else:
        raise ValueError(tr("格式须为 csv 或 xlsx"))
    return buf.getvalue()
