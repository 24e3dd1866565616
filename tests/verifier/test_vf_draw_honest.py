"""The honest demo draws (real drand quicknet round 123) verify clean; a sealed draw reports
what cannot be checked before publication as not checked — never as passed."""

from __future__ import annotations

import json

from click.testing import CliRunner
from vf_drawkit import run

from verifier.cli import cli

PUBLIC_ONLY_AFTER = {"seed", "pools", "selection", "matching", "seal", "substitutions", "current_matching",
                     "publication"}


def test_published_bundle_verifies_clean(demo):
    for name in ("published", "published-priv"):
        report, st = run(demo.load(name), log_key=demo.log_key)
        assert report.ok, report.to_text()
        statuses = {c.name: c.status for c in report.checks.values()}
        for must in ("bundle_log", "bundle_checkpoint", "lifecycle", "prepared_checkpoint", "timing", "reveals",
                     "seed", "pools", "sizes", "selection", "matching", "seal", "substitutions", "current_matching",
                     "rules", "publication"):
            assert statuses[must] == "passed", (must, report.to_text())
        assert st.seed is not None
        # the demo's witnesses (2 of 3, the bundle's witness_policy) cosigned before the round
        assert report.checks["timing"].detail.startswith("witness-vouched"), report.checks["timing"].detail
    b = demo.load("published")
    del b["witness_policy"]  # a bundle without a policy, no --witness: the service's clock alone
    report, _ = run(b, log_key=demo.log_key)
    assert report.ok and "service's own clock" in report.checks["timing"].detail.lower()


def test_sealed_public_bundle_reports_not_checked(demo):
    report, _ = run(demo.load("sealed"))
    assert report.ok, report.to_text()
    st = {c.name: c for c in report.checks.values()}
    for name in PUBLIC_ONLY_AFTER:
        assert st[name].status == "not_checked", name
        assert "not yet published" in st[name].reason
    for name in ("bundle_log", "lifecycle", "prepared_checkpoint", "reveals", "sizes"):
        assert st[name].status == "passed", name


def test_sealed_privileged_bundle_checks_with_sealed_values(demo):
    report, _ = run(demo.load("sealed-priv"))
    assert report.ok, report.to_text()
    st = {c.name: c.status for c in report.checks.values()}
    assert st["seed"] == st["selection"] == st["matching"] == st["seal"] == "passed"
    assert st["publication"] == "not_checked"
    assert "privileged" in report.checks["seed"].detail


def test_aborted_draw_is_reported(demo):
    report, _ = run(demo.load("aborted"))
    assert report.ok, report.to_text()
    assert "aborted" in report.info
    assert report.checks["publication"].status == "not_checked"


def test_full_log_lists_other_draws_of_the_plan(demo):
    report, _ = run(demo.load("published"), full_log=demo.full_log)
    # the sealed draw's bundle omits the aborted attempt and the re-run: with the full log they appear
    assert any(demo.ids["aborted"] in line for line in report.info["other_draws_of_plan"])


def test_cli_bundle_and_subject(demo):
    r = CliRunner().invoke(cli, ["bundle", str(demo.files["published"]), "--json", "--log-key", demo.log_key])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["result"] == "verified"
    b = demo.load("published")
    drawn = b["content"]["strata"]["D"]["selected"][0]["id"]
    r = CliRunner().invoke(cli, ["subject", drawn, "--draw", b["draw_id"], "--bundle", str(demo.files["published"])])
    assert r.exit_code == 0 and "Drawn" in r.output and "已被抽中" in r.output, r.output
    sel = {x["id"] for s in b["content"]["strata"].values() for x in s["selected"]}
    other = next(x["id"] for x in b["pools"]["subjects"] if x["id"] not in sel)
    r = CliRunner().invoke(cli, ["subject", other, "--draw", b["draw_id"], "--bundle", str(demo.files["published"]),
                                 "--json"])
    d = json.loads(r.output)
    assert d["verdict"] == "above_cutoff" and d["ticket"] > d["cutoff_ticket"]
    r = CliRunner().invoke(cli, ["subject", other, "--draw", b["draw_id"], "--bundle", str(demo.files["sealed"])])
    assert r.exit_code == 2  # wrong draw id for that bundle
    r = CliRunner().invoke(cli, ["bundle", str(demo.dir / "missing.json")])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_cli_sealed_subject_cannot_be_determined(demo):
    b = demo.load("sealed")
    r = CliRunner().invoke(cli, ["subject", "91150222MA3GD3BH5X", "--draw", b["draw_id"], "--bundle",
                                 str(demo.files["sealed"]), "--json"])
    assert r.exit_code == 0
    assert json.loads(r.output)["verdict"] == "unknown"
