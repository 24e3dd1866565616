"""The import page (issue 14, point 5): a dry run says what it would add and writes nothing,
the outcome comes before the log entries, the templates download from the page, and .xls is
accepted."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

from conftest import ROOT, csrf_of, login, make_app

from drawsvc import creditcode


def _codes(n: int) -> list[str]:
    return [creditcode.generate(random.Random(1000 + i), region="150222") for i in range(n)]


def _post(c: Any, data: bytes, name: str, dry: bool) -> Any:
    tok = csrf_of(c.get("/staff/import").data)
    form = {"csrf_token": tok, "kind": "subjects", "file": (io.BytesIO(data), name)}
    if dry:
        form["dry_run"] = "1"
    return c.post("/staff/import", data=form, content_type="multipart/form-data")


def test_dry_run_says_what_it_would_add_and_writes_nothing(demo: Any) -> None:
    app = make_app(demo)
    c = app.test_client()
    login(c, "op-scjg")
    codes = _codes(50)
    text = "统一社会信用代码,名称,行政区划代码,行业代码\n" + "".join(f"{x},试运行公司{i},150222,C13\n"
                                                           for i, x in enumerate(codes))
    size = demo.ledger().size()
    r = _post(c, text.encode("gb18030"), "名录.csv", dry=True)
    body = r.data.decode()
    assert r.status_code == 200 and 'data-dry-run="true"' in body
    assert "将新增 50 行" in body and "导入成功" not in body
    assert demo.ledger().size() == size and 'id="created-entries"' not in body


def test_templates_download_from_the_import_page(demo: Any) -> None:
    app = make_app(demo)
    c = app.test_client()
    login(c, "op-scjg")
    page = c.get("/staff/import").data.decode()
    assert "docs/templates" not in page
    for name in ("subjects.xlsx", "subjects.csv", "inspectors.xlsx", "inspectors.csv"):
        assert f'href="/staff/import/templates/{name}"' in page
        r = c.get(f"/staff/import/templates/{name}")
        assert r.status_code == 200 and r.data == (Path(ROOT) / "docs" / "templates" / name).read_bytes()
        assert name in r.headers["Content-Disposition"]
    assert c.get("/staff/import/templates/secret.txt").status_code == 404
    anon = app.test_client()
    assert anon.get("/staff/import/templates/subjects.csv").status_code == 302  # staff only


def test_xls_upload_is_read(demo: Any) -> None:
    import pytest

    xlwt = pytest.importorskip("xlwt")
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("名录")
    for col, h in enumerate(["统一社会信用代码", "名称", "行政区划代码", "行业代码"]):
        ws.write(0, col, h)
    for col, v in enumerate([_codes(51)[50], "旧格式公司", "150222", "C13"]):
        ws.write(1, col, v)
    buf = io.BytesIO()
    wb.save(buf)
    app = make_app(demo)
    c = app.test_client()
    login(c, "op-scjg")
    body = _post(c, buf.getvalue(), "old.xls", dry=True).data.decode()
    assert "将新增 1 行" in body, body[:3000]
    body = _post(c, b"not really an xls", "fake.xls", dry=True).data.decode()
    assert "不是有效的 .xls 文件" in body
