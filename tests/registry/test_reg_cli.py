"""CLI: init --demo, import (refused and accepted), export, rebuild --check, user create/token."""

from pathlib import Path

from click.testing import CliRunner

from drawsvc.cli import main
from drawsvc.registry.cli import COMMANDS

for _cmd in COMMANDS:
    if _cmd.name not in main.commands:
        main.add_command(_cmd)

TEMPLATES = Path(__file__).resolve().parents[2] / "docs" / "templates"


def test_cli_flow(tmp_path, monkeypatch):
    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "cli-test-passphrase")
    home = tmp_path / "inst"
    r = CliRunner()
    res = r.invoke(main, ["--home", str(home), "init"])
    assert res.exit_code == 0, res.output
    res = r.invoke(main, ["--home", str(home), "registry", "demo", "--subjects", "20"])
    assert res.exit_code == 0, res.output
    bad = tmp_path / "bad.csv"
    bad.write_text("统一社会信用代码,名称,行政区划代码,行业代码\n91350100M000100Y44,x,350100,C13\n", encoding="utf-8")
    res = r.invoke(main, ["--home", str(home), "import", "subjects", str(bad)])
    assert res.exit_code == 1 and "row 2" in res.output
    res = r.invoke(main, ["--home", str(home), "import", "subjects", str(TEMPLATES / "subjects.xlsx"), "--as", "op-scjg"])
    assert res.exit_code == 0 and "5 added" in res.output, res.output
    res = r.invoke(main, ["--home", str(home), "import", "subjects", str(TEMPLATES / "subjects.csv")])
    assert res.exit_code == 0 and "5 unchanged" in res.output, res.output
    out = tmp_path / "subjects.xlsx"
    res = r.invoke(main, ["--home", str(home), "export", "subjects", str(out)])
    assert res.exit_code == 0 and out.stat().st_size > 0
    res = r.invoke(main, ["--home", str(home), "user", "create", "aud2", "--role", "auditor", "--password", "a-long-password"])
    assert res.exit_code == 0, res.output
    res = r.invoke(main, ["--home", str(home), "user", "token", "aud2", "reader"])
    assert res.exit_code == 0 and "sct_" in res.output
    res = r.invoke(main, ["--home", str(home), "registry", "rebuild", "--check"])
    assert res.exit_code == 0 and "equals" in res.output, res.output
