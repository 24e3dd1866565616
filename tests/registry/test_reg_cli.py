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


def test_cli_key_lifecycle_sm2_and_new_key(tmp_path, monkeypatch):
    """`user sm2-key`, `key revoke`, `user new-key`; refusals exit 2 with the reason; drawverify
    then verifies the whole log (entries with both signatures included)."""
    from drawsvc.instance import load
    from verifier.log import LogOptions, verify_log

    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "cli-test-passphrase")
    home = tmp_path / "inst"
    r = CliRunner()

    def run(*args: str):
        return r.invoke(main, ["--home", str(home), *args])

    assert run("init").exit_code == 0
    assert run("user", "create", "op1", "--role", "admin", "--password", "a-long-password").exit_code == 0
    res = run("user", "sm2-key", "op1")
    assert res.exit_code == 0 and "SM2 key registered for op1" in res.output, res.output
    res = run("user", "sm2-key", "nobody")
    assert res.exit_code == 2 and "nobody" in res.output, res.output
    res = run("user", "new-key", "op1")  # a key in force: refused, nothing written
    assert res.exit_code == 2, res.output
    res = run("key", "revoke", "user:op1", "--reason", "离职交接")
    assert res.exit_code == 0, res.output
    res = run("user", "new-key", "op1")
    assert res.exit_code == 0 and "new key" in res.output, res.output
    res = run("user", "create", "aud3", "--role", "auditor", "--password", "a-long-password", "--as", "op1")
    assert res.exit_code == 0, res.output  # signed by op1 with its new Ed25519 key and its SM2 key
    inst = load(home)
    led = inst.ledger()
    entries = [e.to_json() for e in led.entries(0, led.size())]
    rep = verify_log(entries, [led.latest_checkpoint().note], options=LogOptions(log_key=inst.config["log_verifier_key"]))
    assert rep.ok, rep.to_text()
    last = led.entry(led.size() - 1)
    assert last.actor_id == "user:op1" and last.sm2_sig is not None
    res = run("log", "audit")  # the service's own audit reads entries with both signatures too
    assert res.exit_code == 0, res.output
