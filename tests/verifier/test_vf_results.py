"""drawverify results on the real demo: the honest log verifies clean, and each kind of
tampering a dishonest service could do to inspection results is reported with its code. Every
tampered log is re-chained and re-signed with the demo's real keys, so the log-level checks
pass and the finding comes from the results checks alone."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest
from vf_resultkit import as_actor, check, find, matching_of, rechain

from verifier.results import result_seal

LOG_CODES = {"ENTRY_SIGNATURE_INVALID", "PREV_MISMATCH", "SEQ_GAP", "UNKNOWN_KEY", "ENTRY_MALFORMED"}


@pytest.fixture(scope="module")
def base(demo: Any) -> dict[str, Any]:
    b = demo.load("published")
    return {"log": demo.full_log, "signers": demo.signers, "draw": b["draw_id"], "matching": matching_of(b),
            "aborted": demo.ids.get("aborted")}


def _log(base: dict[str, Any]) -> list[dict[str, Any]]:
    return copy.deepcopy(base["log"])


def _codes(base: dict[str, Any], log: list[dict[str, Any]], **kw: Any) -> set[str]:
    rep = check(log, {base["draw"]: base["matching"]}, **kw)
    codes = rep.codes()
    assert not codes & LOG_CODES, rep.to_text()  # the re-signing was done right
    return codes


def _pub(log: list[dict[str, Any]], n: int = 0) -> tuple[int, str]:
    idx = [i for i, e in enumerate(log) if e["type"] == "inspection.result.published"][n]
    return idx, log[idx]["payload"]["result_id"]


def test_honest_demo_verifies_clean(base: dict[str, Any]) -> None:
    rep = check(_log(base), {base["draw"]: base["matching"]})
    assert rep.ok, rep.to_text()
    assert rep.info["published_results"] >= 6
    assert rep.checks["tasks_draw"].status == "passed"
    assert rep.info["overdue_unpublished"], "the demo's overdue publication is listed"


def test_without_the_draw_bundle_the_matching_check_says_so(base: dict[str, Any]) -> None:
    rep = check(_log(base))
    assert rep.ok
    assert rep.checks["tasks_draw"].status == "not_checked"


def test_edited_revealed_content_is_a_seal_mismatch(base: dict[str, Any]) -> None:
    log = _log(base)
    i, _ = _pub(log, 1)
    log[i]["payload"]["content"]["findings"] += "（已改写 / rewritten）"
    assert "RESULT_SEAL_MISMATCH" in _codes(base, rechain(log, i, base["signers"]))


def test_confirmed_by_the_enterer(base: dict[str, Any]) -> None:
    log = _log(base)
    _, rid = _pub(log)
    i = find(log, "inspection.result.confirmed", lambda e: e["payload"]["result_id"] == rid)
    entered = log[find(log, "inspection.result.entered", lambda e: e["payload"]["result_id"] == rid)]
    as_actor(log[i], entered["actor"]["id"], base["signers"])
    assert "RESULT_CONFIRMED_BY_ENTERER" in _codes(base, rechain(log, i, base["signers"]))


def test_published_before_confirmation(base: dict[str, Any]) -> None:
    log = _log(base)
    p, rid = _pub(log)
    c = find(log, "inspection.result.confirmed", lambda e: e["payload"]["result_id"] == rid)
    log.insert(p, log.pop(c))  # the confirmation now comes after the publication
    codes = _codes(base, rechain(log, c, base["signers"]))
    assert "RESULT_PUBLISHED_UNCONFIRMED" in codes
    assert "RESULT_ORDER" in codes  # and the late confirmation reviews a result no longer pending


def test_published_with_no_confirmation_at_all(base: dict[str, Any]) -> None:
    log = _log(base)
    _, rid = _pub(log)
    c = find(log, "inspection.result.confirmed", lambda e: e["payload"]["result_id"] == rid)
    del log[c]
    assert "RESULT_PUBLISHED_UNCONFIRMED" in _codes(base, rechain(log, c, base["signers"]))


def test_confirmed_twice_is_out_of_order(base: dict[str, Any]) -> None:
    log = _log(base)
    _, rid = _pub(log)
    c = find(log, "inspection.result.confirmed", lambda e: e["payload"]["result_id"] == rid)
    log.insert(c + 1, copy.deepcopy(log[c]))
    assert "RESULT_ORDER" in _codes(base, rechain(log, c + 1, base["signers"]))


def test_entered_by_someone_not_allowed(base: dict[str, Any]) -> None:
    log = _log(base)
    _, rid = _pub(log)
    i = find(log, "inspection.result.entered", lambda e: e["payload"]["result_id"] == rid)
    as_actor(log[i], "user:auditor", base["signers"])
    assert "RESULT_ACTOR_NOT_ALLOWED" in _codes(base, rechain(log, i, base["signers"]))


def test_invalid_categories_even_when_consistently_sealed(base: dict[str, Any]) -> None:
    log = _log(base)
    p, rid = _pub(log)
    pay = log[p]["payload"]
    pay["content"]["categories"] = ["no_problem", "corrected"]
    pay["content"]["category_labels"] = ["未发现问题", "发现问题已责令改正"]
    new = result_seal(pay["content"], bytes.fromhex(pay["salt"]))
    first = len(log)
    for i, e in enumerate(log):  # the service re-seals the bad content from the start
        if e["type"] in ("inspection.result.entered", "inspection.result.confirmed") and \
                e["payload"]["result_id"] == rid and e["payload"]["version"] == pay["version"]:
            e["payload"]["commitment"] = new
            first = min(first, i)
    codes = _codes(base, rechain(log, first, base["signers"]))
    assert "RESULT_CATEGORY_INVALID" in codes
    assert "RESULT_SEAL_MISMATCH" not in codes


def test_task_from_an_unpublished_draw(base: dict[str, Any]) -> None:
    log = _log(base)
    i = find(log, "inspection.task.created", lambda e: e["payload"]["kind"] == "random")
    log[i]["payload"]["draw_id"] = base["aborted"] or "D-never-published"
    assert "TASK_NOT_FROM_DRAW" in _codes(base, rechain(log, i, base["signers"]))


def test_task_team_not_the_drawn_team(base: dict[str, Any]) -> None:
    log = _log(base)
    i = find(log, "inspection.task.created", lambda e: e["payload"]["kind"] == "random")
    team = log[i]["payload"]["team"]
    log[i]["payload"]["team"] = [*team[:-1], "insp:a-friendly-one"]
    assert "TASK_DRAW_MISMATCH" in _codes(base, rechain(log, i, base["signers"]))


def test_content_for_another_subject(base: dict[str, Any]) -> None:
    log = _log(base)
    p, rid = _pub(log)
    pay = log[p]["payload"]
    pay["content"]["subject"] = "91000000000000000X"
    new = result_seal(pay["content"], bytes.fromhex(pay["salt"]))
    first = len(log)
    for i, e in enumerate(log):
        if e["type"] in ("inspection.result.entered", "inspection.result.confirmed") and \
                e["payload"]["result_id"] == rid:
            e["payload"]["commitment"] = new
            first = min(first, i)
    assert "RESULT_TASK_MISMATCH" in _codes(base, rechain(log, first, base["signers"]))


def _shift(e: dict[str, Any], days: int) -> None:
    t = datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(days=days)
    e["time"] = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def test_late_publication(base: dict[str, Any]) -> None:
    log = _log(base)
    p, _ = _pub(log)
    _shift(log[p], 60)
    from verifier.results import china_day

    log[p]["payload"]["published_date"] = china_day(log[p]["time"]).isoformat()
    codes = _codes(base, rechain(log, p, base["signers"]))
    assert "RESULT_PUBLISHED_LATE" in codes
    assert "RESULT_DATE_MISMATCH" not in codes


def test_published_date_not_the_entry_day(base: dict[str, Any]) -> None:
    log = _log(base)
    p, _ = _pub(log)
    log[p]["payload"]["published_date"] = "2020-01-01"
    assert "RESULT_DATE_MISMATCH" in _codes(base, rechain(log, p, base["signers"]))


def test_not_random_task_opening_must_match(base: dict[str, Any]) -> None:
    """The demo publishes no result of its not-random task: append one whose opening is forged."""
    log = _log(base)
    t = log[find(log, "inspection.task.created", lambda e: e["payload"]["kind"] == "not_random")]["payload"]
    rid = f"{t['task_id']}:{t['department']}"
    content = {"result_id": rid, "task_id": t["task_id"], "department": t["department"], "kind": "not_random",
               "draw_id": None, "trigger": t["trigger"], "subject": "91000000000000000X", "subject_name": "x",
               "check_date": log[-1]["time"][:10], "items": [t["items"][0]["code"]], "categories": ["no_problem"],
               "category_labels": ["未发现问题"], "findings": "f", "evaluation": "e", "handling_opinion": "h",
               "follow_up": {"kind": "none", "label": "无需后续处置", "note": ""}, "version": 1}
    salt = bytes(32)
    c = result_seal(content, salt)
    tmpl = log[-1]
    for typ, actor, payload in (
        ("inspection.result.entered", "user:op-scjg", {"result_id": rid, "task_id": t["task_id"],
                                                         "department": t["department"], "version": 1,
                                                         "commitment": c, "corrects": None}),
        ("inspection.result.confirmed", "user:rev-scjg", {"result_id": rid, "version": 1, "commitment": c}),
        ("inspection.result.published", "user:op-scjg", {
            "result_id": rid, "version": 1, "content": content, "salt": salt.hex(),
            "published_date": None,
            "task_opening": {"task_id": t["task_id"], "content": {"subject": "91000000000000000X"},
                             "salt": salt.hex()}}),
    ):
        e = {"v": 1, "seq": 0, "time": tmpl["time"], "type": typ, "actor": {}, "payload": payload, "prev": "",
             "sig": ""}
        as_actor(e, actor, base["signers"])
        log.append(e)
    from verifier.results import china_day

    log[-1]["payload"]["published_date"] = china_day(tmpl["time"]).isoformat()
    codes = _codes(base, rechain(log, len(log) - 3, base["signers"]))
    assert "TASK_SEAL_MISMATCH" in codes
    assert "RESULT_SEAL_MISMATCH" not in codes


def test_subject_filter(base: dict[str, Any]) -> None:
    log = _log(base)
    p, _ = _pub(log, 1)
    subject = log[p]["payload"]["content"]["subject"]
    log[p]["payload"]["content"]["findings"] = "edited"
    log = rechain(log, p, base["signers"])
    assert "RESULT_SEAL_MISMATCH" in _codes(base, log, subject=subject)
    other = next(e["payload"]["content"]["subject"] for e in log if e["type"] == "inspection.result.published"
                 and e["payload"]["content"]["subject"] != subject)
    rep = check(log, {base["draw"]: base["matching"]}, subject=other)
    assert "RESULT_SEAL_MISMATCH" not in rep.codes()


def test_lateness_in_a_year_of_unknown_holidays_is_approximate_not_asserted(base: dict[str, Any]) -> None:
    """A deadline in a year neither on the log nor known to chinese-calendar is counted Monday to
    Friday: a missed one is listed as approximate, never reported as a violation (it could be an
    honest publication whose deadline a holiday would have moved)."""
    log = _log(base)
    p, rid = _pub(log)
    mine = [i for i, e in enumerate(log) if e["payload"].get("result_id") == rid]
    from verifier.results import china_day

    for i in mine:  # the whole result moves five years on (a year the package does not know), published late
        _shift(log[i], 365 * 5 + (60 if i == p else 0))
        for key in ("published_date", "report_date"):
            if key in log[i]["payload"]:
                log[i]["payload"][key] = china_day(log[i]["time"]).isoformat()
    rep = check(rechain(log, mine[0], base["signers"]), {base["draw"]: base["matching"]})
    assert "RESULT_PUBLISHED_LATE" not in rep.codes(), rep.to_text()
    approx = rep.info["approximate_deadlines"]
    assert any(rid in a and "approximate" in a for a in approx)
    assert "approximate" in rep.to_text()
