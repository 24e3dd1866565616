"""`drawsvc plan`: an annual plan from draft to publication from the command line, with the
four-eyes rule enforced (the submitter cannot approve) and refusals exiting 2 with the reason."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from pinned import TODAY, days

from drawsvc.cli import main


def _run(home: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["--home", str(home), *args])
    return res.exit_code, res.output


def test_plan_from_draft_to_publication(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "cli-test-passphrase")
    home = tmp_path / "inst"
    assert _run(home, "init")[0] == 0
    code, out = _run(home, "registry", "demo", "--subjects", "20")
    assert code == 0, out
    plan = {"code": "P-CLI", "name": "年度抽查计划", "year": TODAY.year, "departments": ["scjg"], "items": ["SCJG-001"],
            "window_start": days(0), "window_end": days(90), "team_size": 2}
    f = tmp_path / "plan.json"
    f.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    code, out = _run(home, "plan", "draft", str(f), "--as", "op-scjg")
    assert code == 0 and "草稿" in out, out

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ratios_bp": {"A": 1, "B": 1, "C": 1, "D": 1}}), encoding="utf-8")
    code, out = _run(home, "plan", "edit", "P-CLI", str(bad), "--as", "op-scjg")
    assert code == 2 and "ratios_bp" in out  # below the general item's floor: refused, named
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps({"frequency_cap": 1, "note": "改为每年一次"}, ensure_ascii=False), encoding="utf-8")
    assert _run(home, "plan", "edit", "P-CLI", str(edit), "--as", "op-scjg")[0] == 0

    assert _run(home, "plan", "approve", "P-CLI", "--as", "admin")[0] == 2  # not submitted
    assert _run(home, "plan", "submit", "P-CLI", "--as", "op-scjg")[0] == 0
    code, out = _run(home, "plan", "approve", "P-CLI", "--as", "op-scjg")
    assert code == 2 and "另一人" in out  # the submitter does not approve
    code, out = _run(home, "plan", "return", "P-CLI", "--as", "admin")
    assert code == 2 and "理由" in out
    assert _run(home, "plan", "return", "P-CLI", "--as", "admin", "--reason", "比例需说明")[0] == 0
    assert _run(home, "plan", "submit", "P-CLI", "--as", "op-scjg")[0] == 0
    code, out = _run(home, "plan", "approve", "P-CLI", "--as", "admin")
    assert code == 0 and "已批准" in out, out
    assert _run(home, "plan", "publish", "P-CLI", "--as", "op-scjg")[0] == 0

    code, out = _run(home, "plan", "show", "P-CLI")
    assert code == 0 and "已公布" in out and "年度抽查次数上限：1" in out and f"{days(0)} 至 {days(90)}" in out
    code, out = _run(home, "plan", "show", "P-CLI", "--json")
    shown = json.loads(out)
    assert [h["type"] for h in shown["history"]] == [
        "registry.plan.added", "registry.plan.changed", "registry.plan.submitted", "registry.plan.returned",
        "registry.plan.submitted", "registry.plan.approved", "registry.plan.published"]
    approved = shown["history"][5]
    assert approved["actor"] != shown["history"][4]["actor"]  # two people, two signatures
    code, out = _run(home, "plan", "list")
    assert code == 0 and "P-CLI" in out and "已公布" in out
    assert _run(home, "plan", "show", "NOPE")[0] == 2
