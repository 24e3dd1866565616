"""Issue 14's smaller leftovers of raw codes and foreign words: the entries table's header, a
damaged .xlsx, a refused coded choice, the plan's exemptions on the command line, and the public
draw page's per-stratum counts — each said in words from the catalogue."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import render_template_string

from drawsvc.registry import io as regio
from drawsvc.registry.records import _V, KIND_WORDS, PLAN_STATUS_WORDS
from tests.web.conftest import draw_ids, make_app


def test_entries_table_header_is_a_word_not_seq(demo: Any) -> None:
    app = make_app(demo)
    created = [{"seq": 7, "type": "registry.item.added", "actor": "admin", "time": "t", "proof": "/p", "entry_url": "/e"}]
    for lang, word in (("", "日志序号"), ("?lang=en", "Log seq.")):
        with app.test_request_context("/" + lang):
            html = render_template_string('{% include "_entries.html" %}', created=created)
        assert f"<th>{word}</th>" in html and "<th>seq</th>" not in html


def test_a_damaged_xlsx_is_refused_in_our_words() -> None:
    with pytest.raises(regio.ImportFormatError) as exc:
        list(regio.sheet_rows(b"PK\x03\x04 not really a workbook", "名录.xlsx"))
    message = str(exc.value)
    assert message.startswith("不是有效的 .xlsx 文件：") and "另存为" in message
    assert not re.search(r"[A-Za-z]{3,}", message.replace(".xlsx", "").replace("Excel", "").replace("WPS", "")), message


@pytest.mark.parametrize(("words", "value", "shown"), [
    (KIND_WORDS, "bogus", "“重点检查事项”、“一般检查事项”"),
    (PLAN_STATUS_WORDS, "done", "“草稿”、“待审批”、“已批准”、“已公布”"),
])
def test_a_refused_choice_names_the_choices_in_words(words: dict[str, str], value: str, shown: str) -> None:
    v = _V({"x": value})
    v.choice("x", tuple(words), words=words)
    assert v.errors[0]["message"] == f"应为 {shown} 之一"
    assert not any(code in v.errors[0]["message"] for code in words)
    ok = _V({"x": words[next(iter(words))]})  # a choice written as its word is taken as its code
    assert ok.choice("x", tuple(words), words=words) == next(iter(words)) and not ok.errors


def test_item_kind_refusal_over_the_api_names_the_kinds_in_words(demo: Any) -> None:
    """The 422 of POST /api/v1/items with a bad kind names the kinds in words, in either language."""
    from tests.web.conftest import PASSWORDS

    c = make_app(demo).test_client()
    c.environ_base["REMOTE_ADDR"] = "10.14.0.5"  # its own address: no shared throttle
    r = c.post("/api/v1/session", json={"account": "admin", "password": PASSWORDS["admin"]})
    h = {"X-CSRF-Token": r.json["csrf_token"]}
    item = {"code": "KIND-1", "name": "n", "legal_basis": "b", "department": "scjg", "object_scope": "o",
            "content": "c", "methods": ["现场检查"], "kind": "bogus"}
    for lang, shown in (("", "应为 “重点检查事项”、“一般检查事项” 之一"), ("?lang=en", "“key item”, “general item”")):
        r = c.post("/api/v1/items" + lang, json=item, headers=h)
        assert r.status_code == 422, (r.status_code, r.data[:300])
        messages = [e["message"] for e in r.json["error"]["details"] if e["field"] == "kind"]
        assert messages and shown in messages[0] and "key, general" not in messages[0], messages


def test_plan_show_names_the_exemptions_in_words(demo: Any) -> None:
    from drawsvc.registry.plan_cli import plan_summary
    from drawsvc.registry.service import Registry

    reg = Registry(demo.ledger(), demo.passphrase())
    plan = {**reg.list("plan")[0], "exemptions": ["abnormal", "penalized", "serious_dishonest"]}
    lines = plan_summary(reg, plan, [])
    line = next(x for x in lines if "不受上限限制" in x)
    assert line.endswith("经营异常名录、已受行政处罚、严重违法失信"), line
    assert not re.search(r"abnormal|penalized|serious_dishonest", "\n".join(lines))


def test_public_draw_page_says_drawn_of_total_per_stratum(demo: Any) -> None:
    c = make_app(demo).test_client()
    published = draw_ids(demo)["published"]
    zh = c.get(f"/public/draws/{published}").data.decode()
    heads = re.findall(r'<div class="stratum card"><h3>(.*?)</h3>', zh)
    assert heads and all(re.fullmatch(r"[A-D] 类 <small>抽取 \d+ / 共 \d+</small>", h) for h in heads), heads
    en = c.get(f"/public/draws/{published}?lang=en").data.decode()
    heads = re.findall(r'<div class="stratum card"><h3>(.*?)</h3>', en)
    assert heads and all(re.fullmatch(r"Class [A-D] <small>\d+ drawn of \d+</small>", h) for h in heads), heads
