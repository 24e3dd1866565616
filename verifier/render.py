"""A report in words an auditor reads: a short summary first, then every check.

Why: a 纪检监察 auditor must see at once what was checked, what passed, what could not be
checked yet and why — in Simplified Chinese by default (English with ``--lang en``). The words
come from one catalogue per language (``verifier/messages/<lang>.json``), which the page in the
browser loads too, so the command line and the page say the same thing. Details (ids, hashes,
expected and actual values) are data and stay as the checks wrote them.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["LANGS", "messages", "summary_lines", "to_text"]

LANGS = ("zh", "en")
MESSAGES = Path(__file__).with_name("messages")

# English words of the report, the fallback for anything a catalogue does not name.
_EN = {
    "verdicts": {"verified": "VERIFIED", "failed": "FAILED", "aborted": "ABORTED",
                 "pending": "VERIFIED (some steps not yet in a signed checkpoint)",
                 "awaiting_witnesses": "AWAITING WITNESSES (not yet public: too few witness cosignatures so far)"},
    "statuses": {"passed": "passed", "failed": "FAILED", "not_checked": "not checked yet", "pending": "pending",
                 "awaiting_witnesses": "awaiting witnesses"},
    "marks": {"passed": "PASS", "failed": "FAIL", "not_checked": "SKIP", "pending": "PEND",
              "awaiting_witnesses": "WAIT"},
    "words": {
        "result": "RESULT", "subject": "Checked", "counts": "{n} checks: {passed} passed, {failed} failed, "
        "{not_checked} not checked yet{pending}.", "pending_count": ", {n} pending",
        "failed_head": "Failed:", "skipped_head": "Not checked yet, and why:", "findings_shown": "findings shown",
        "more": "... and {n} more findings of this check", "details": "Every check:", "why": "not checked",
        "awaiting": "Awaiting witnesses: {more} more valid cosignature(s) needed on checkpoint size {size} "
                    "(k = {k}; cosigned by: {have}); missing: {missing}",
    },
}
@cache
def messages(lang: str) -> dict[str, Any]:
    """The catalogue of `lang` ('zh' or 'en'), English filling what it does not name."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (use one of {', '.join(LANGS)})")
    out: dict[str, Any] = {k: dict(v) for k, v in _EN.items()}
    out["checks"], out["codes"], out["info"], out["aliases"], out["reasons"] = {}, {}, {}, {}, []
    if lang == "zh":
        cat = json.loads((MESSAGES / "zh.json").read_text(encoding="utf-8"))
        for key in ("verdicts", "statuses", "marks", "words", "checks", "codes", "info", "aliases"):
            out[key].update(cat.get(key, {}))
        out["reasons"] = [(re.compile(r["match"]), r["say"]) for r in cat.get("reasons", [])]
    return out


def _reason(text: str | None, m: dict[str, Any]) -> str:
    """A not-checked reason in the catalogue's words (its pattern's groups kept), else as written."""
    if not text:
        return ""
    for pattern, say in m["reasons"]:
        hit = pattern.match(text)
        if hit:
            return str(say).format(**hit.groupdict())
    return text


def _title(check: dict[str, Any], m: dict[str, Any]) -> str:
    return str(m["checks"].get(check["name"], check["title"]))


def verdict(report: dict[str, Any]) -> str:
    """verified | failed | aborted | awaiting_witnesses | pending, from a report's dict (`Report.to_dict()`)."""
    v = str(report.get("verdict") or report.get("result") or "failed").lower()
    if v == "verified" and any(c["status"] == "pending" for c in report["checks"]):
        return "pending"
    return v


def summary_lines(report: dict[str, Any], lang: str = "zh") -> list[str]:
    """The opening summary: the verdict, what was checked, what failed, what could not be checked and why."""
    m = messages(lang)
    w = m["words"]
    checks = report["checks"]
    count = {s: sum(1 for c in checks if c["status"] == s) for s in ("passed", "failed", "not_checked", "pending")}
    pending = w["pending_count"].format(n=count["pending"]) if count["pending"] else ""
    head = str(m["verdicts"].get(verdict(report), verdict(report)))
    if report.get("aborted"):
        head += f" — {report['aborted']}"
    lines = [f"{w['result']}：{head}" if lang == "zh" else f"{w['result']}: {head}",
             (f"{w['subject']}：" if lang == "zh" else f"{w['subject']}: ") + str(report.get("subject", "")),
             w["counts"].format(n=len(checks), passed=count["passed"], failed=count["failed"],
                                not_checked=count["not_checked"], pending=pending)]
    aw = report.get("awaiting_witnesses")
    if aw and verdict(report) == "awaiting_witnesses":
        lines.append(w["awaiting"].format(more=aw.get("more_needed"), size=aw.get("checkpoint_size"), k=aw.get("k"),
                                          have=", ".join(aw.get("cosigned_by") or []) or "-",
                                          missing=", ".join(aw.get("missing") or []) or "-"))
    failed = [c for c in checks if c["status"] == "failed"]
    if failed:
        lines.append(w["failed_head"])
        for c in failed:
            codes = sorted({f["code"] for f in c["findings"]})
            said = "；".join(f"{m['codes'].get(code, code)}（{code}）" for code in codes) if lang == "zh" \
                else "; ".join(f"{code}: {m['codes'].get(code, code)}" for code in codes)
            lines.append(f"  · {_title(c, m)}" + (f" — {said}" if said else ""))
    skipped = [c for c in checks if c["status"] in ("not_checked", "pending", "awaiting_witnesses")]
    if skipped:
        lines.append(w["skipped_head"])
        for c in skipped:
            why = _reason(c.get("reason") or c.get("detail"), m)
            lines.append(f"  · {_title(c, m)}" + (f"：{why}" if lang == "zh" else f": {why}") if why else
                         f"  · {_title(c, m)}")
    return lines


def to_text(report: dict[str, Any], lang: str = "zh") -> str:
    """The summary, then every check with its status, detail and findings."""
    m = messages(lang)
    w = m["words"]
    lines = summary_lines(report, lang)
    lines += ["", w["details"]]
    for k, v in (report.get("info") or {}).items():
        if v not in (None, [], {}, ""):
            lines.append(f"  {m['info'].get(k, k)}: {v}")
    for c in report["checks"]:
        line = f"[{m['marks'].get(c['status'], c['status'])}] {_title(c, m)}"
        if c.get("detail"):
            line += f" — {c['detail']}"
        if c["status"] == "awaiting_witnesses" and c.get("reason"):
            line += f"（{_reason(c['reason'], m)}）" if lang == "zh" else f" ({c['reason']})"
        elif c["status"] in ("not_checked", "pending") and c.get("reason"):
            line += f"（{w['why']}：{_reason(c['reason'], m)}）" if lang == "zh" else f" ({w['why']}: {c['reason']})"
        lines.append(line)
        for f in c["findings"]:
            meaning = m["codes"].get(f["code"])
            head = f"    {f['code']}" + (f"（{meaning}）" if lang == "zh" and meaning else "")
            where = f" @ {f['where']}" if f.get("where") not in (None, "") else ""
            lines.append(f"{head}{where}: {f.get('message', '')}")
            for key in ("expected", "actual"):
                if f.get(key) is not None:
                    lines.append(f"        {key}: {f[key]}")
        if c.get("omitted_findings"):
            lines.append("    " + w["more"].format(n=c["omitted_findings"]))
    lines.append("")
    lines.append(summary_lines(report, lang)[0])
    return "\n".join(lines)
