"""The `inspection` command group, attached to a bare click group with the drawsvc context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner
from pinned import TODAY

from drawsvc.inspections.cli import inspection


class _Ctx:
    def __init__(self, instance: Any) -> None:
        self.instance = instance


def test_cli_report_deadlines_and_calendar(demo: Any, tmp_path: Path) -> None:
    @click.group()
    @click.pass_context
    def root(ctx: click.Context) -> None:
        ctx.obj = _Ctx(demo)

    root.add_command(inspection)
    runner = CliRunner()
    r = runner.invoke(root, ["inspection", "report", "annual", "--year", str(TODAY.year), "--out", str(tmp_path / "a.xlsx")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "a.xlsx").read_bytes()[:2] == b"PK"
    r = runner.invoke(root, ["inspection", "deadlines", "--department", "scjg"])
    assert r.exit_code == 0 and any(x["status"] == "overdue" for x in json.loads(r.output))
    f = tmp_path / "2032.json"
    f.write_text(json.dumps({"year": 2032, "source": "测试", "holidays": ["2032-01-01"], "workdays": []}))
    r = runner.invoke(root, ["inspection", "calendar-load", "--file", str(f), "--as", "op-scjg"])
    assert r.exit_code == 2 and "Forbidden" in r.output
    r = runner.invoke(root, ["inspection", "calendar-load", "--file", str(f), "--as", "admin"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["year"] == 2032
