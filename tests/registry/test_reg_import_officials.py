"""Import as officials' files are (issue 14, point 5): a title row (merged) above the header,
headers with spaces, codes read from the stored value and never through a float, a code a
spreadsheet has already cut to 15 digits named as such, the old .xls and GBK CSV, and a dry run
that says what it would add and writes nothing."""

from __future__ import annotations

import io
import random
import re
import zipfile

import openpyxl
import pytest

from drawsvc import creditcode
from drawsvc.registry import io as regio
from drawsvc.registry.demo import seed_registries


@pytest.fixture
def county(reg):  # type: ignore[no-untyped-def]
    seed_registries(reg, subjects=20)
    return reg.actor_for(reg.get("account", "op-scjg"))


def _digit_codes(n: int) -> list[str]:
    """Valid credit codes made only of digits (the ones Excel turns into numbers)."""
    out = []
    for i in range(10_000_000, 10_100_000):  # organisation-code bodies of digits (before 2015)
        body = str(i)[:8]
        first17 = "91150222" + body + creditcode.org_check_char(body)
        code = first17 + creditcode.check_char(first17)
        if code.isdigit():
            out.append(code)
            if len(out) == n:
                return out
    raise AssertionError("no all-digit code found")


def _official_xlsx(rows: list[list[object]], stored: dict[str, str] | None = None) -> bytes:
    """A sheet as an official sends it: a merged title row, a blank row, then the header
    (with stray spaces); `stored` rewrites cells' stored number text (as another program wrote it)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "XX市市场主体名录（2026年）"
    ws.merge_cells("A1:D1")
    ws.append([])
    ws.append([" 统一社会信用代码 ", "名\u3000称", "行政区划代码", "行业代码"])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    if not stored:
        return buf.getvalue()
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for ref, value in stored.items():
                    text, n = re.subn(rf'(<c r="{ref}"[^>]*>)<v>[^<]*</v>', rf"\g<1><v>{value}</v>", text)
                    assert n == 1, ref
                data = text.encode()
            dst.writestr(item, data)
    return out.getvalue()


def test_header_below_title_rows_and_code_stored_as_number_read_exactly(reg, county) -> None:  # type: ignore[no-untyped-def]
    exact, other = _digit_codes(2)
    data = _official_xlsx([[int(exact), "甲公司", "150222", "C13"], [other, "乙公司", "150222", "C13"]],
                          stored={"A4": exact})  # stored as the number's exact digits
    report = regio.import_file(reg, county, "subject", data, "名录.xlsx")
    assert report.ok, report.errors
    assert report.added == 2 and reg.get("subject", exact)["name"] == "甲公司"


def test_code_that_lost_digits_in_excel_is_named_as_such(reg, county) -> None:  # type: ignore[no-untyped-def]
    code, ok = _digit_codes(2)
    lost = f"{float(code):.14E}".replace("E+", "E+")  # what Excel keeps: 15 significant digits
    data = _official_xlsx([[float(code), "甲公司", "150222", "C13"], [ok, "乙公司", "150222", "C13"]],
                          stored={"A4": lost})
    size = reg.ledger.size()
    report = regio.import_file(reg, county, "subject", data, "名录.xlsx")
    assert not report.ok and reg.ledger.size() == size
    assert [(e["row"], e["column"], e["reason"]) for e in report.errors] == [
        (4, "统一社会信用代码", regio.LOST_PRECISION)]  # the sheet's own row number, below the title rows
    # the same in a CSV saved by Excel (scientific notation)
    csv = f"统一社会信用代码,名称,行政区划代码,行业代码\n9.14403E+17,甲公司,150222,C13\n{ok},乙公司,150222,C13\n"
    report = regio.import_file(reg, county, "subject", csv.encode("utf-8"), "s.csv")
    assert [(e["row"], e["reason"]) for e in report.errors] == [(2, regio.LOST_PRECISION)]


def test_old_xls_is_read_and_its_numeric_codes_named(reg, county) -> None:  # type: ignore[no-untyped-def]
    xlwt = pytest.importorskip("xlwt")
    text_code, number_code = _digit_codes(2)

    def xls(code_cell: object) -> bytes:
        wb = xlwt.Workbook(encoding="utf-8")
        ws = wb.add_sheet("名录")
        ws.write_merge(0, 0, 0, 3, "XX县市场主体名录")
        for c, h in enumerate(["统一社会信用代码", "名称", "行政区划代码", "行业代码"]):
            ws.write(2, c, h)
        for c, v in enumerate([code_cell, "甲公司", "150222", "C13"]):
            ws.write(3, c, v)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    report = regio.import_file(reg, county, "subject", xls(float(number_code)), "old.xls")
    assert [(e["row"], e["reason"]) for e in report.errors] == [(4, regio.LOST_PRECISION)]
    report = regio.import_file(reg, county, "subject", xls(text_code), "old.xls")
    assert report.ok and report.added == 1 and reg.get("subject", text_code) is not None


def test_gbk_csv_and_dry_run_that_writes_nothing(reg, county) -> None:  # type: ignore[no-untyped-def]
    codes = [creditcode.generate(random.Random(i), region="150222") for i in range(50)]
    text = "统一社会信用代码,名称,行政区划代码,行业代码\n" + "".join(f"{c},测试公司{i},150222,C13\n"
                                                           for i, c in enumerate(codes))
    data = text.encode("gbk")
    size = reg.ledger.size()
    report = regio.import_file(reg, county, "subject", data, "gbk.csv", dry_run=True)
    assert report.ok and report.dry_run and report.added == 50 and report.rows == 50
    assert reg.ledger.size() == size and reg.get("subject", codes[0]) is None  # nothing written
    report = regio.import_file(reg, county, "subject", data, "gbk.csv")
    assert report.added == 50 and reg.get("subject", codes[0])["name"] == "测试公司0"
    again = regio.import_file(reg, county, "subject", data, "gbk.csv", dry_run=True)
    assert (again.added, again.changed, again.unchanged) == (0, 0, 50)


def test_header_titles_compare_without_spaces_or_full_width_forms() -> None:
    assert regio.norm_title("抽查比例下限（基点）") == regio.norm_title("抽查比例下限(基点)")
    assert regio.norm_title("\u3000统一社会信用代码 ") == regio.norm_title("统一社会信用代码")
    assert regio.norm_title("*名称") == regio.norm_title("名称")
    assert regio.norm_title("名称") != regio.norm_title("名录")
