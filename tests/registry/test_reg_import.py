"""Import: all-or-nothing with row-level errors, idempotent re-import, changes only; templates; export."""

import io
from pathlib import Path

import openpyxl
import pytest

from drawsvc import creditcode
from drawsvc.registry import io as regio
from drawsvc.registry.demo import seed_registries
from drawsvc.registry.state import diff_states, load_state, rebuild_from_ledger

TEMPLATES = Path(__file__).resolve().parents[2] / "docs" / "templates"
HEAD = "统一社会信用代码,名称,行政区划代码,行业代码,信用风险分类,经营异常名录\n"


@pytest.fixture
def county(reg):
    seed_registries(reg, subjects=20)
    return reg.actor_for(reg.get("account", "op-scjg"))


def _csv(rows):
    return (HEAD + "".join(",".join(r) + "\n" for r in rows)).encode("utf-8-sig")


def _codes(n, seed=1):
    import random
    rng = random.Random(seed)
    return [creditcode.generate(rng, region="150222") for _ in range(n)]


def test_bad_rows_are_all_reported_and_nothing_is_imported(reg, county):
    good = _codes(3)
    dup = good[0]
    bad_check = good[1][:17] + ("0" if good[1][17] != "0" else "1")
    data = _csv([[good[0], "甲公司", "150222", "C13", "A", "否"],
                 [bad_check, "乙公司", "150222", "C13", "B", "否"],
                 [good[2], "丙公司", "150299", "Z99", "E", "也许"],
                 [dup, "重复公司", "150222", "F52", "B", "否"]])
    size = reg.ledger.size()
    report = regio.import_file(reg, county, "subject", data, "s.csv")
    assert not report.ok and reg.ledger.size() == size
    got = {(e["row"], e["column"]) for e in report.errors}
    assert got == {(3, "统一社会信用代码"), (4, "行政区划代码"), (4, "行业代码"), (4, "信用风险分类"),
                   (4, "经营异常名录"), (5, "统一社会信用代码")}
    reasons = " ".join(e["reason"] for e in report.errors)
    assert "校验码错误" in reasons and "重复" in reasons and "未知的行政区划代码" in reasons
    assert all(e["value"] is not None for e in report.errors)


def test_reimport_changes_nothing_and_changed_file_logs_only_changes(reg, county):
    codes = _codes(50, seed=2)
    rows = [[c, f"公司{i}", "150222", "F52", "ABCD"[i % 4], "否"] for i, c in enumerate(codes)]
    r1 = regio.import_file(reg, county, "subject", _csv(rows), "s.csv")
    assert r1.ok and r1.added == 50
    size = reg.ledger.size()
    r2 = regio.import_file(reg, county, "subject", _csv(rows), "s.csv")
    assert r2.ok and (r2.added, r2.changed, r2.unchanged) == (0, 0, 50)
    assert reg.ledger.size() == size
    rows[6][4] = "D"
    rows[9][1] = "新名称"
    rows.append([_codes(1, seed=99)[0], "新公司", "150222", "H62", "B", "是"])
    r3 = regio.import_file(reg, county, "subject", _csv(rows), "s.csv")
    assert (r3.added, r3.changed, r3.unchanged) == (1, 2, 48)
    new = reg.ledger.entries(size, reg.ledger.size())
    assert [e.type for e in new] == ["registry.subject.changed", "registry.subject.changed",
                                     "registry.subject.added", "registry.import.completed"]
    assert new[0].payload["changed"] == ["credit_class"] and new[1].payload["changed"] == ["name"]
    assert new[-1].payload["file_sha256"] == r3.file_sha256
    with reg.ledger.engine.connect() as conn:
        assert diff_states(load_state(conn), rebuild_from_ledger(reg.ledger)) == []


def test_columns_absent_from_the_file_keep_their_values(reg, county):
    code = _codes(1, seed=5)[0]
    regio.import_file(reg, county, "subject", ("统一社会信用代码,名称,行政区划代码,行业代码,标签\n"
                                               f"{code},甲,150222,C13,重点监管\n").encode(), "a.csv")
    r = regio.import_file(reg, county, "subject", _csv([[code, "甲", "150222", "C13", "B", "否"]]), "b.csv")
    assert r.unchanged == 1 and reg.get("subject", code)["tags"] == ["重点监管"]


def test_xlsx_import_and_inspector_rules(reg, county):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "执法证号", "证件有效期起", "证件有效期止", "所属部门", "专业特长"])
    ws.append(["赵六", "1502229999", "2024-01-01", "2028-12-31", "scjg", "食品安全；特种设备"])
    ws.append(["钱七", "1502229998", "2020-01-01", "2025-12-31", "scjg", ""])        # expired
    ws.append(["孙八", "1502229997", "2024-01-01", "2028-12-31", "nosuch", ""])      # unknown dept
    ws.append(["周九", 1502229999, "2024-01-01", "2028-12-31", "县应急管理局", ""])  # duplicate cert
    buf = io.BytesIO()
    wb.save(buf)
    report = regio.import_file(reg, county, "inspector", buf.getvalue(), "i.xlsx")
    assert [(e["row"], e["column"]) for e in report.errors] == [(3, "证件有效期止"), (4, "所属部门"), (5, "执法证号")]
    assert "过期" in report.errors[0]["reason"] and "未知的部门" in report.errors[1]["reason"]


def test_unknown_and_missing_columns(reg, county):
    report = regio.import_file(reg, county, "subject", "名称,颜色\n甲,红\n".encode(), "x.csv")
    cols = {e["column"] for e in report.errors}
    assert {"颜色", "统一社会信用代码", "行政区划代码", "行业代码"} <= cols


@pytest.mark.parametrize("name", ["subjects.csv", "subjects.xlsx", "inspectors.csv", "inspectors.xlsx"])
def test_templates_import_cleanly(reg, county, name):
    kind = name.split(".")[0][:-1]
    report = regio.import_file(reg, reg.actor_for(reg.get("account", "admin")), kind,
                               (TEMPLATES / name).read_bytes(), name)
    assert report.ok, report.errors
    assert report.added + report.changed >= 3


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_round_trips(reg, county, fmt):
    subjects = reg.list("subject")
    data = regio.export_bytes(subjects, "subject", fmt)
    report = regio.import_file(reg, county, "subject", data, f"x.{fmt}")
    assert report.ok and report.unchanged == len(subjects) and report.added == report.changed == 0
    for kind in ("item", "inspector", "plan", "department", "conflict", "account", "expert", "sublibrary"):
        assert regio.export_bytes(reg.list(kind), kind, fmt)
