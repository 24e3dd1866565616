"""The plan-level checks in the page (web/static/js/plan.js: rules, other_draws, pool_changes), in
real headless Chromium, judged against the CLI (verifier/draw.py) on the same bundles: the demo's
published draw passes both, and each broken rule fails both with the same finding code."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.web.test_web_drand_browser import demo_bundle, page, verify_in_page  # noqa: F401  (page: fixture)
from verifier.draw import verify_bundle

pytestmark = pytest.mark.browser
PLAN_CHECKS = ("rules", "other_draws", "pool_changes")


def cli(bundle: dict[str, Any]) -> dict[str, tuple[str, set[str]]]:
    rep, _ = verify_bundle(copy.deepcopy(bundle))
    return {k: (rep.checks[k].status, {f.code for f in rep.checks[k].findings}) for k in PLAN_CHECKS}


def entry(b: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e for e in b["entries"] if e["entry"]["type"] == kind)


def prepared(b: dict[str, Any]) -> dict[str, Any]:
    return entry(b, "draw.prepared")["entry"]["payload"]  # type: ignore[no-any-return]


def add_entries(b: dict[str, Any], *entries: dict[str, Any]) -> None:
    """Slip entries into the bundle at free sequence numbers before the prepared entry (the log
    checks then fail too; the plan checks must still see them)."""
    b["entries"].extend(entries)
    b["entries"].sort(key=lambda e: e["seq"])


def fake(b: dict[str, Any], seq: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    base = copy.deepcopy(entry(b, "draw.prepared"))
    base["seq"] = seq
    base["entry"].update(seq=seq, type=kind, payload=payload)
    base["inclusion_proof"] = []
    return base


def test_demo_draw_passes_the_plan_checks_as_in_the_cli(page: Any, live_server: str, demo: Any) -> None:  # noqa: F811
    b = demo_bundle(live_server, demo)
    checks = verify_in_page(page, b)
    want = cli(b)
    for k in PLAN_CHECKS:
        assert checks[k]["status"] == want[k][0] == "passed", (k, checks[k], want[k])
    assert prepared(b)["plan"] in checks["rules"]["detail"] and "计划" in checks["rules"]["detail"]
    assert "drawverify --full-log" in checks["other_draws"]["detail"]  # says what a bundle cannot show


def test_broken_rules_fail_with_the_clis_codes(page: Any, live_server: str, demo: Any) -> None:  # noqa: F811
    honest = demo_bundle(live_server, demo)
    ps = entry(honest, "draw.prepared")["seq"]
    used = {e["seq"] for e in honest["entries"]}
    free = [s for s in range(1, ps) if s not in used]  # sequence numbers the bundle does not show
    subject = honest["content"]["strata"][next(s for s, x in honest["content"]["strata"].items() if x["selected"])]["selected"][0]["id"]

    def team_rule(b: dict[str, Any]) -> dict[str, Any]:
        return prepared(b)["parameters"]["team_rule"]  # type: ignore[no-any-return]

    def drop_plan(b: dict[str, Any]) -> None:
        b["entries"] = [e for e in b["entries"] if not e["entry"]["type"].startswith("registry.plan.")]

    def short_team(b: dict[str, Any]) -> None:
        a = b["content"]["matching"]["assignments"][0]
        a["team"] = a["team"][:1]

    def rerun(b: dict[str, Any]) -> None:  # an earlier draw of the plan, seeded and abandoned
        plan = prepared(b)["plan"]
        add_entries(b, fake(b, free[0], "draw.prepared", {"draw_id": "D-EARLIER", "plan": plan}),
                    fake(b, free[1], "draw.seeded", {"draw_id": "D-EARLIER", "reveals": []}))

    cases = {
        "RULE_TEAM_SIZE": lambda b: team_rule(b).update(team_size=1),
        "RULE_JOINT_COVERAGE": lambda b: prepared(b)["parameters"].update(joint=True) or team_rule(b).update(departments=team_rule(b)["departments"][:1]),
        "RULE_FLOOR": lambda b: prepared(b)["parameters"].update(floor="0.01", key_item=False),
        "RULE_PLAN_MISMATCH": drop_plan,
        "RULE_PLAN_MISMATCH (ratios)": lambda b: prepared(b)["parameters"]["ratios"].update({next(iter(prepared(b)["parameters"]["ratios"])): "0.9"}),
        "RULE_TEAM_SIZE (content)": short_team,
        "RERUN_AFTER_SEED": rerun,
    }
    for label, change in cases.items():
        b = copy.deepcopy(honest)
        change(b)
        code = label.split(" ")[0]
        check = "other_draws" if code == "RERUN_AFTER_SEED" else "rules"
        want = cli(b)[check]
        got = verify_in_page(page, b)[check]
        assert want[0] == "failed" and code in want[1], (label, want)
        assert got["status"] == "failed" and code + ":" in got["detail"], (label, got)
        assert set(re.findall(r"\b([A-Z]+(?:_[A-Z]+)+):", got["detail"])) <= want[1], (label, got, want)  # nothing the CLI does not say

    # a subject changed between the plan and prepare, which the seed then draws: reported
    b = copy.deepcopy(honest)
    plan_entries = sorted((e for e in b["entries"] if e["entry"]["type"].startswith("registry.plan.")), key=lambda e: e["seq"])
    for e, s in zip(plan_entries, free[-len(plan_entries) - 1:], strict=False):  # room after the plan's last entry
        e["seq"] = e["entry"]["seq"] = s
    add_entries(b, fake(b, ps - 1, "registry.subject.updated", {"id": subject, "changed": ["address"], "state": {}}))
    want = cli(b)["pool_changes"]
    got = verify_in_page(page, b)["pool_changes"]
    assert want[0] == got["status"] == "passed"
    assert "1 处变动；其中 1 个对象本会被抽中" in got["detail"] and subject in got["detail"], got
