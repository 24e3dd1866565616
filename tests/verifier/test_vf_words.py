"""drawverify speaks Simplified Chinese by default (--lang en / DRAWVERIFY_LANG=en for English),
opens with a summary an auditor reads — the verdict, what was checked, what failed, what could
not be checked yet and why — and every title, code and reason it can print has its Chinese
words in the one catalogue (verifier/messages/zh.json) the browser page loads too."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from verifier.cli import cli
from verifier.draw import DrawOptions, verify_bundle
from verifier.findings import CODES
from verifier.render import MESSAGES, messages, summary_lines

CJK = re.compile(r"[\u4e00-\u9fff]")


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def test_the_catalogue_names_every_code_in_chinese() -> None:
    m = messages("zh")
    assert set(CODES) <= set(m["codes"]), sorted(set(CODES) - set(m["codes"]))
    assert all(CJK.search(v) for v in m["codes"].values())
    for key in ("verified", "failed", "aborted", "pending", "awaiting_witnesses"):
        assert CJK.search(m["verdicts"][key])


def _reports(demo: Any) -> list[dict[str, Any]]:
    """Reports over the demo's honest bundles (published, sealed, aborted; public and privileged)
    and a few forgeries, so every check and reason the draw verifier prints is seen."""
    out = []
    opts = DrawOptions(log_key=demo.log_key)
    for name in sorted(demo.files):
        if Path(demo.files[name]).is_dir():  # the split bundle: its pool checks' codes are in the catalogue test
            continue
        b = demo.load(name)
        if not str(b.get("format", "")).startswith("spotcheck-draw-bundle/"):
            continue
        out.append(verify_bundle(copy.deepcopy(b), opts)[0].to_dict())
        if name == "published":
            b["content"]["strata"] = {k: {**v, "selected": v["selected"][::-1]} for k, v in b["content"]["strata"].items()}
            out.append(verify_bundle(copy.deepcopy(b), opts)[0].to_dict())
    return out


def test_every_check_and_reason_the_draw_verifier_prints_is_in_chinese(demo: Any) -> None:
    m = messages("zh")
    for rep in _reports(demo):
        for c in rep["checks"]:
            assert c["name"] in m["checks"], c["name"]
        text = "\n".join(summary_lines(rep, "zh"))
        for line in text.splitlines():
            if line.startswith("  · "):  # a failed or a waiting check: its title and why, in Chinese
                assert CJK.search(line.split("：", 1)[-1] if "：" in line else line), line
        for c in rep["checks"]:
            if c["status"] in ("not_checked", "pending") and c.get("reason"):
                said = next((p.match(c["reason"]) for p, _ in m["reasons"] if p.match(c["reason"])), None)
                assert said is not None, f"no Chinese words for the reason {c['reason']!r}"


def test_default_is_chinese_with_the_summary_first_and_english_on_request(demo: Any, tmp_path: Path) -> None:
    r = run("bundle", str(demo.files["sealed"]), "--log-key", demo.log_key)
    lines = r.output.splitlines()
    assert r.exit_code == 0 and lines[0] == "结论：核验通过" and lines[-1] == lines[0], r.output
    assert lines[1].startswith("核验对象：") and re.match(r"共 \d+ 项检查：通过 \d+ 项，未通过 0 项，暂不能检查 \d+ 项", lines[2])
    assert "暂不能检查的项目及原因：" in lines and any("尚未公示" in x for x in lines)
    assert "逐项检查：" in lines and any(x.startswith("[通过] ") for x in lines)
    # English with --lang en, after the command or before it, or from the environment
    for args, env in ((["bundle", str(demo.files["sealed"]), "--lang", "en"], None),
                      (["--lang", "en", "bundle", str(demo.files["sealed"])], None),
                      (["bundle", str(demo.files["sealed"])], {"DRAWVERIFY_LANG": "en"})):
        r = run(*args, "--log-key", demo.log_key, env=env)
        assert r.output.startswith("RESULT: VERIFIED") and "RESULT: VERIFIED" in r.output.splitlines()[-1], r.output
        assert not CJK.search("\n".join(r.output.splitlines()[:3])), r.output  # an English summary
        assert "Not checked yet, and why:" in r.output
    # JSON for machines, whatever the language
    doc = json.loads(run("bundle", str(demo.files["sealed"]), "--json", "--log-key", demo.log_key).output)
    assert doc["result"] == "verified"


def test_a_forgery_is_said_plainly(demo: Any, tmp_path: Path) -> None:
    b = demo.load("published")
    b["content"]["strata"] = {k: {**v, "selected": v["selected"][::-1]} for k, v in b["content"]["strata"].items()}
    f = tmp_path / "forged.json"
    f.write_text(json.dumps(b, ensure_ascii=False), encoding="utf-8")
    r = run("bundle", str(f), "--log-key", demo.log_key)
    lines = r.output.splitlines()
    assert r.exit_code == 1 and lines[0] == "结论：核验未通过", r.output
    failed = lines[lines.index("未通过的检查：") + 1]
    assert "公示内容与抽取时的封存承诺不符（SEAL_MISMATCH）" in r.output or "（SEAL_MISMATCH）" in failed, r.output


def test_an_aborted_draw_says_so_with_its_reason(demo: Any) -> None:
    r = run("bundle", str(demo.files["aborted"]), "--log-key", demo.log_key)
    assert r.exit_code == 3 and r.output.startswith("结论：已中止"), r.output
    assert "见证人未到场" in r.output.splitlines()[0]


def test_an_unknown_language_is_refused() -> None:
    r = CliRunner().invoke(cli, ["bundle", "x.json", "--lang", "fr"])
    assert r.exit_code == 2 and "fr" in r.output


def test_the_page_serves_the_same_catalogue() -> None:
    from web.pages.public import VERIFIER_MESSAGES

    assert Path(VERIFIER_MESSAGES) == MESSAGES / "zh.json"
