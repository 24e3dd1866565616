"""Import and export of the registries: CSV (UTF-8, with or without BOM; GBK/GB18030 accepted),
Excel .xlsx and the old .xls, with Chinese column headers (English field names are accepted too).

Files are read as officials make them: the header row may sit below title rows (merged cells),
headers may carry spaces or full-width brackets, and a code is read from the text the sheet
stores, never through a float; a code a spreadsheet has already cut to 15 digits is named as
such (LOST_PRECISION) rather than read as a wrong code.

An import is all-or-nothing: every row is validated first, and if any is bad nothing is written
and the report lists every bad row with its column, value and reason. A good file is applied in
one transaction: one log entry per added or changed record, none for unchanged ones, so
re-importing the same file changes nothing. Columns absent from the file keep their stored values.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from drawsvc import creditcode
from drawsvc.i18n import tr
from drawsvc.raises import raises

from . import schema
from .authz import Actor, Forbidden
from .records import KEY_FIELD, NORMALIZERS, Context, RecordError, changed_fields
from .service import Conflict

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


def _col_index(ref: str) -> tuple[int, int]:
    """'AB12' -> (row 11, column 27), both from 0."""
    letters = "".join(ch for ch in ref if ch.isalpha())
    col = 0
    for ch in letters.upper():
        col = col * 26 + ord(ch) - 64
    return int(ref[len(letters):]) - 1, col - 1


def _stored_numbers(data: bytes) -> dict[tuple[int, int], str]:
    """The stored text of the first sheet's long numeric cells, by (row, column) from 0.

    calamine gives numbers as floats, which cannot hold an 18-digit code; the sheet's XML holds
    the value as written, so a code another program stored exactly is read exactly."""
    import posixpath
    import zipfile
    from xml.etree import ElementTree as ET

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
    out: dict[tuple[int, int], str] = {}
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        first = ET.fromstring(z.read("xl/workbook.xml")).find("m:sheets/m:sheet", ns)
        rid = first.get(f"{{{ns['r']}}}id") if first is not None else None
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in rels if r.get("Id") == rid)
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        with z.open(path) as f:
            for _, el in ET.iterparse(f):
                if el.tag == f"{{{ns['m']}}}c":
                    v = el.find("m:v", ns)
                    if el.get("t") in (None, "n") and v is not None and v.text and len(v.text) >= 16:
                        out[_col_index(el.get("r", "A1"))] = v.text.strip()
                    el.clear()
    except (KeyError, StopIteration, ET.ParseError, zipfile.BadZipFile, ValueError):
        return {}
    return out


MAX_CSV_FIELD = csv.field_size_limit()  # characters of one CSV cell (the csv module's own limit, 128 Ki)


def sheet_rows(data: bytes, filename: str) -> Iterator[tuple[int, list[Any]]]:
    """(row number as the official sees it, cells as text or None) of a .csv, .xlsx or .xls file."""
    name = filename.lower()
    is_xlsx = name.endswith(".xlsx") or data[:4] == b"PK\x03\x04"
    is_xls = name.endswith(".xls") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    if is_xlsx or is_xls:
        # Read with calamine (Rust): several times faster than openpyxl's parser on 100,000
        # rows, and it reads the old .xls too; openpyxl still writes the exports and templates.
        from python_calamine import CalamineWorkbook

        try:
            sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
            rows = sheet.to_python(skip_empty_area=False)  # rows and columns from A1
        except Exception:  # calamine raises its own error types (English) for damaged files: our words instead
            kind = ".xlsx" if is_xlsx else ".xls"
            raise ImportFormatError(tr("不是有效的 %(kind)s 文件：无法读取其中的工作表（文件可能已损坏，或并非 Excel 工作簿；请在 Excel 或 WPS 中打开后另存为 %(kind)s 再导入）", kind=kind)) from None
        stored: dict[tuple[int, int], str] = {}
        if is_xlsx and any(isinstance(v, float) and abs(v) >= 1e15 for row in rows for v in row):
            stored = _stored_numbers(data)
        for r, row in enumerate(rows):
            yield r + 1, [_cell(None if v == "" else v, stored.get((r, c)), exact_numbers=is_xlsx)
                          for c, v in enumerate(row)]
        return
    for encoding in ("utf-8-sig", "gb18030"):  # GB18030 is a superset of GBK and GB2312
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFormatError(tr("CSV 编码应为 UTF-8 或 GBK/GB18030"))
    reader = csv.reader(io.StringIO(text, newline=""))
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


def iter_rows(data: bytes, filename: str) -> Iterator[list[Any]]:
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


MAX_IMPORT_ROWS = 200_000


def validate_file(reg: Any, kind: str, data: bytes, filename: str,
                  today: date | None = None) -> tuple[ImportReport, list[dict]]:
    """Parse and validate; returns the report and the normalised records (empty if any error)."""
    if kind not in IMPORTABLE:
        raise ImportFormatError(tr("不能导入 %(kind)s；可导入：%(importable)s", kind=kind, importable="、".join(IMPORTABLE)))
    report = ImportReport(kind, hashlib.sha256(data).hexdigest())
    rows = sheet_rows(data, filename)
    found = find_header(kind, rows)
    if found is None:
        report.errors.append({"row": 1, "column": None, "field": None, "value": None, "reason": tr("文件为空")})
        return report, []
    header_row, header = found
    cols, report.errors = _header_map(kind, header, header_row)
    if report.errors:
        return report, []
    title_of = {fname: title for _, fname, title in cols}
    keyname = KEY_FIELD[kind]
    records: list[dict] = []
    first_row: dict[str, int] = {}
    certs: dict[str, int] = {}
    with reg.ledger.engine.connect() as conn:
        ctx = reg.context(conn)
        cache: dict[tuple[str, str], Any] = {}

        def cached_get(k: str, key: str) -> Any:
            if (k, key) not in cache:
                cache[(k, key)] = ctx.get(k, key)
            return cache[(k, key)]

        dept_by_name = _department_names(conn) if kind == "inspector" else {}
        today = today or reg.today()
        vctx = Context(cached_get, today=today)
        existing = _existing(conn, kind)
        for rownum, row in rows:
            if not any(c not in (None, "") for c in row):
                continue
            report.rows += 1
            if report.rows > MAX_IMPORT_ROWS:  # one request never holds an unbounded file's records
                raise ImportFormatError(tr("文件超过 %(MAX_IMPORT_ROWS)s 行", MAX_IMPORT_ROWS=MAX_IMPORT_ROWS))
            raw = {fname: (row[idx] if 0 <= idx < len(row) else None) for idx, fname, _ in cols}
            lossy = [f for f, v in raw.items() if isinstance(v, LossyNumber) or (
                f in CODE_FIELDS and isinstance(v, str) and _SCIENTIFIC.fullmatch(v.strip()))]
            for f in lossy:  # digits already lost in the spreadsheet: say so, never guess them
                report.errors.append({"row": rownum, "column": title_of[f], "field": f, "value": str(raw[f]),
                                      "reason": LOST_PRECISION})
            if lossy:
                continue
            raw_had_id = True
            if kind == "inspector":
                if raw.get("id") in (None, ""):
                    raw_had_id = False
                    raw["id"] = raw.get("cert_no")
                dept = (raw.get("department") or "").strip()
                if dept in dept_by_name:
                    raw["department"] = dept_by_name[dept]
            if kind == "subject" and raw.get("code"):
                raw["code"] = creditcode.normalize(str(raw["code"]))
            old = existing.get(str(raw.get(keyname) or "").strip())
            merged = {**old, **{k: v for k, v in raw.items()}} if old else raw
            try:
                rec = NORMALIZERS[kind](merged, vctx)
            except RecordError as exc:
                for e in exc.errors:
                    report.errors.append({"row": rownum, "column": title_of.get(e["field"], e["field"]),
                                          "field": e["field"], "value": raw.get(e["field"], e["value"]),
                                          "reason": e["message"]})
                continue
            key = rec[keyname]
            if key in first_row:
                col = keyname if (kind != "inspector" or raw_had_id) else "cert_no"
                report.errors.append({"row": rownum, "column": title_of[col], "field": col, "value": key,
                                      "reason": tr("重复的代码，与第%(value)s行重复", value=first_row[key])})
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
                if rec["cert_valid_to"] < today.isoformat():
                    report.errors.append({"row": rownum, "column": title_of["cert_valid_to"], "field": "cert_valid_to",
                                          "value": rec["cert_valid_to"],
                                          "reason": tr("执法证已于 %(value)s 之前过期", value=today.isoformat())})
                    continue
                holder = certs.get(rec["cert_no"])
                owner = existing.get(("cert", rec["cert_no"]))
                if holder is not None or (owner is not None and owner != key):
                    report.errors.append({"row": rownum, "column": title_of["cert_no"], "field": "cert_no",
                                          "value": rec["cert_no"], "reason": tr("执法证号重复")})
                    continue
                certs[rec["cert_no"]] = rownum
            records.append(rec)
    if report.errors:
        return report, []
    return report, records


def _department_names(conn: Any) -> dict[str, str]:
    from sqlalchemy import select

    t = schema.departments
    return {name: code for code, name in conn.execute(select(t.c.code, t.c.name))}


def _existing(conn: Any, kind: str) -> dict[Any, Any]:
    from sqlalchemy import select

    table = schema.TABLES[kind]
    keycol = table.c[KEY_FIELD[kind]]
    out: dict[Any, Any] = {}
    for key, doc in conn.execute(select(keycol, table.c.doc)):
        rec = json.loads(doc)
        out[key] = rec
        if kind == "inspector":
            out[("cert", rec["cert_no"])] = key
    return out


@raises(Forbidden, Conflict)  # rows are validated first: a bad row is in the report, not raised
def import_file(reg: Any, actor: Actor, kind: str, data: bytes, filename: str, *, dry_run: bool = False,
                today: date | None = None) -> ImportReport:
    """Validate, then (unless there are errors or dry_run) apply in one transaction."""
    report, records = validate_file(reg, kind, data, filename, today=today)
    report.dry_run = dry_run
    if report.ok and not dry_run and records:
        counts = reg.apply_batch(actor, kind, records, {"file_sha256": report.file_sha256, "rows": report.rows,
                                                       "filename": Path(filename).name[:200]}, validated=True)
        report.added, report.changed, report.unchanged = counts["added"], counts["changed"], counts["unchanged"]
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
