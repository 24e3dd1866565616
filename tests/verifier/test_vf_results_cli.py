"""drawverify results from files: exit 0 on the honest demo, 1 on a tampered one, 2 on bad input."""

import copy
import json

from click.testing import CliRunner
from vf_resultkit import rechain

from verifier.cli import cli


def invoke(*args):
    """drawverify in English (these tests read its English words; test_vf_words checks the Chinese)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"DRAWVERIFY_LANG": "en"})


def test_results_cli_honest_and_tampered(demo, tmp_path):
    r = invoke("results", "--file", str(demo.files["full-log"]), "--bundle", str(demo.files["published"]))
    assert r.exit_code == 0, r.output
    assert "random task(s) matched against their draw" in r.output
    r = invoke("results", "--file", str(demo.files["full-log"]), "--json")
    doc = json.loads(r.output)
    assert doc["result"] == "verified"
    assert doc["info"]["published_results"] >= 6
    log = copy.deepcopy(demo.full_log)
    i = next(k for k, e in enumerate(log) if e["type"] == "inspection.result.published")
    subject = log[i]["payload"]["content"]["subject"]
    log[i]["payload"]["content"]["findings"] += " (rewritten)"
    rechain(log, i, demo.signers)
    f = tmp_path / "tampered.json"
    f.write_text(json.dumps({"entries": log}, ensure_ascii=False))
    r = invoke("results", "--file", str(f), "--subject", subject, "--json")
    assert r.exit_code == 1
    codes = {x["code"] for c in json.loads(r.output)["checks"] for x in c["findings"]}
    assert "RESULT_SEAL_MISMATCH" in codes


def test_results_cli_bad_input(tmp_path):
    assert invoke("results", "--file", str(tmp_path / "none.json")).exit_code == 2
    assert invoke("results").exit_code == 2
    assert invoke("results", "--server", "http://127.0.0.1:9").exit_code == 2
