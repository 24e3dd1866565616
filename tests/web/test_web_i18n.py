"""One message catalogue, and pages in one language at a time (issue 14, point 2).

- the catalogue: every msgid the code and templates use has its English; the committed .mo is
  the compiled .po (so a clean checkout serves English without a build step); no bilingual
  "中文 / English" literals and no t(zh, en) helper are left in the services or templates;
- the crawl: every GET page route of the app, with its ids filled from the demo, as every role
  (anonymous and each staff role) in Chinese and in English: never a 5xx, and the visible text
  (tags, scripts, styles, code/pre and data values stripped) holds no English word in Chinese
  beyond proper nouns and acronyms, and no Chinese in English beyond the demo's data values.
"""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.web.conftest import ensure_team_inspector, login, make_app

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "web" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")

ROLES = {"anonymous": None, "admin": "admin", "operator": "op-scjg", "inspector": "insp-p001",
         "team_inspector": "insp-team", "auditor": "auditor", "reviewer": "rev-scjg", "other_operator": "op-rfb"}
# proper nouns, acronyms and formats a Chinese page may name as they are
ALLOWED_EN = {
    "API", "JSON", "CSV", "Excel", "xlsx", "xls", "csv", "json", "pdf", "PDF", "PNG", "JPEG", "drand", "SHA", "Ed25519",
    "BLS", "URL", "HTTP", "HTTPS", "CSRF", "Merkle", "RFC", "UTF", "GBK", "GB18030", "Chromium", "Chrome", "Firefox",
    "drawverify", "drawsvc", "spotcheck", "QR", "ID", "Unix", "UTC", "CLI", "JavaScript", "WebCrypto", "Python",
    "English", "hex", "pip", "GitHub", "HTML", "OpenAPI", "Swagger", "Token", "CA", "ISO", "MB", "KB", "txt", "zip",
    "Bearer", "min", "max", "PIN", "IP",
}


# --- the catalogue ------------------------------------------------------------------------

def _catalogue() -> Any:
    with PO.open("rb") as f:
        return read_po(f, locale="en")


def test_every_msgid_used_has_an_english_translation() -> None:
    from scripts.i18n_convert import used_messages

    cat = _catalogue()
    missing = sorted(f"{ctx or ''}|{msgid}" for ctx, msgid in used_messages()
                     if (m := cat.get(msgid, context=ctx)) is None or not m.string)
    assert not missing, "msgids without English in messages.po:\n" + "\n".join(missing)
    empty = [m.id for m in cat if m.id and not m.string]
    assert not empty, f"empty translations: {empty}"
    chinese = [(m.id, m.string) for m in cat if m.id and CJK.search(m.string)]
    assert not chinese, f"English translations holding Chinese: {chinese}"
    fuzzy = [m.id for m in cat if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy translations are not served: {fuzzy}"
    # and a translation keeps the msgid's placeholders (Babel's own checks)
    problems = [(m.id, str(e)) for m, errs in cat.check() for e in errs]
    assert not problems, problems
    # both languages say the same: the same named values in the Chinese and the English
    names = re.compile(r"%\((\w+)\)s")
    differ = [(m.id, m.string) for m in cat if m.id and set(names.findall(m.id)) != set(names.findall(m.string))]
    assert not differ, differ


def test_compiled_catalogue_is_the_po() -> None:
    """The .mo is committed so a clean checkout (or a read-only install) has it; it must be the .po.

    Compared message by message, not byte by byte, so a newer Babel writing a different header
    does not matter. `make messages` recompiles."""
    cat = _catalogue()
    with MO.open("rb") as f:
        mo = read_mo(f)
    want = {(m.context, m.id): m.string for m in cat if m.id}
    got = {(m.context, m.id): m.string for m in mo if m.id}
    stale = sorted(str(k) for k in set(want) ^ set(got)) + sorted(str(k) for k in want if k in got and want[k] != got[k])
    assert not stale, "messages.mo is not the compiled messages.po; run `make messages`:\n" + "\n".join(stale[:30])


def test_no_bilingual_literals_and_no_t_helper() -> None:
    """The project's before-stop hook counts "中文 / English" literals; it must find none."""
    out = subprocess.run(["grep", "-rPc", r'[\x{4e00}-\x{9fa5}][^"]{0,40} / [A-Za-z]', "--include=*.py",
                          "--include=*.html", "drawsvc", "web"], cwd=ROOT, capture_output=True, text=True,
                         env={"LC_ALL": "C.UTF-8"})
    counts = {ln.rsplit(":", 1)[0]: int(ln.rsplit(":", 1)[1]) for ln in out.stdout.splitlines()}
    assert sum(counts.values()) == 0, {k: v for k, v in counts.items() if v}
    helper = [str(p.relative_to(ROOT)) for p in (ROOT / "web" / "templates").rglob("*.html")
              if re.search(r"(?<![\w.])t\(", p.read_text(encoding="utf-8"))]
    assert not helper, f"templates still call t(zh, en): {helper}"


def test_language_switch_and_cookie(web_app: Any) -> None:
    c = web_app.test_client()
    assert 'lang="zh-CN"' in c.get("/").get_data(as_text=True)
    r = c.get("/?lang=en")
    assert 'lang="en"' in r.get_data(as_text=True) and "lang=en" in r.headers.get("Set-Cookie", "")
    assert 'lang="en"' in c.get("/public/draws").get_data(as_text=True)  # remembered
    assert 'lang="zh-CN"' in c.get("/public/draws?lang=zh").get_data(as_text=True)
    # the API's errors: a stable English code, the message in the request's language
    zh = c.get("/api/v1/draws/nope/bundle").get_json()["error"]
    en = c.get("/api/v1/draws/nope/bundle?lang=en").get_json()["error"]
    assert zh["code"] == en["code"] == "not_found" and CJK.search(zh["message"]) and not CJK.search(en["message"])


# --- the crawl ----------------------------------------------------------------------------

class _Text(HTMLParser):
    """The text a reader sees: element text plus placeholder/title/alt/button values, without
    scripts, styles, code, and elements marked as data (class "data", or a `lang` other than the page's)."""

    SKIP = {"script", "style", "code", "pre", "svg", "kbd", "samp", "textarea", "template"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, page_lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_lang = page_lang
        self.stack: list[bool] = []  # per open element: is its subtree skipped
        self.parts: list[str] = []

    def _skipping(self) -> bool:
        return any(self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        skip = (tag in self.SKIP or "data" in a.get("class", "").split() or a.get("translate") == "no"
                or (tag != "html" and "lang" in a and not a["lang"].startswith(self.page_lang)))
        if not self._skipping() and not skip:
            for k in ("placeholder", "title", "alt", "aria-label"):
                if a.get(k):
                    self.parts.append(a[k])
            if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
                self.parts.append(a["value"])
        if tag not in self.VOID:
            self.stack.append(skip)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self.parts.append(data)


def visible_text(html: str, lang: str) -> str:
    p = _Text("en" if lang == "en" else "zh")
    p.feed(html)
    return " ".join(" ".join(p.parts).split())


def demo_data_strings(demo: Any) -> list[str]:
    """Values the demo's data holds (names, notes, reasons): shown as they are in every language."""
    from sqlalchemy import select

    from drawsvc.inspections import schema
    from drawsvc.registry.service import Registry

    reg = Registry(demo.ledger(), demo.passphrase())
    out: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, str):
            if CJK.search(v):
                out.add(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                if k not in CODED_FIELDS:  # enumerations are words of the catalogue, not data
                    walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    for kind in ("department", "item", "subject", "inspector", "expert", "sublibrary", "plan", "account", "conflict"):
        walk(reg.list(kind))
    # account ids are names people chose (admin, op-scjg): data in either language
    out.update(a["id"] for a in reg.list("account"))
    with demo.ledger().engine.connect() as conn:
        for table in (schema.tasks, schema.results):
            for row in conn.execute(select(table.c.doc)):
                walk(json.loads(row.doc))
    for e in demo.ledger().entries(0, demo.ledger().size()) if hasattr(demo.ledger(), "entries") else []:
        walk(e.to_json().get("payload"))
    return sorted(out, key=len, reverse=True)


def crawl_urls(app: Any, demo: Any) -> list[str]:
    """Every GET page route of the app, its arguments filled from the demo."""
    from sqlalchemy import select

    from drawsvc.inspections import schema
    from drawsvc.registry.service import Registry
    from tests.web.conftest import draw_ids
    from web.pages.staff import REGISTRIES, TEMPLATE_FILES

    reg = Registry(demo.ledger(), demo.passphrase())
    draws = draw_ids(demo)
    with demo.ledger().engine.connect() as conn:
        results = {r.status: (r.id, r.task_id, r.subject) for r in
                   conn.execute(select(schema.results).order_by(schema.results.c.seq))}
        tasks = [r.id for r in conn.execute(select(schema.tasks.c.id).order_by(schema.tasks.c.created_seq))]
    values: dict[str, list[str]] = {
        "draw_id": sorted(set(draws.values())),
        "plan": [p["code"] for p in reg.list("plan")][:3],
        "company": sorted({r[2] for r in results.values()})[:2],
        "plural": list(REGISTRIES),
        "name": list(TEMPLATE_FILES)[:0],  # downloads, not pages
        "task_id": tasks[:2] + [r[1] for r in results.values()][:2],
        "result_id": [r[0] for r in results.values()],
    }
    urls: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/static", "/tile")) or \
                rule.rule.endswith((".json",)) or rule.rule == "/checkpoint":
            continue
        args = sorted(rule.arguments)
        if not args:
            urls.append(rule.rule)
            continue
        [arg] = args
        key = arg if arg != "code" else ("company" if "companies" in rule.rule else "plan")
        for v in values.get(key, []):
            urls.append(re.sub(r"<(?:\w+:)?" + arg + ">", v, rule.rule))
    urls += ["/public/search?q=公司", "/staff/inspections/reports?kind=annual", "/staff/inspections/reports?kind=half-year&half=1",
             "/staff/inspections/reports?kind=plan-execution", "/staff/draws?plan=" + values["plan"][0],
             "/public/draws/no-such-draw", "/staff/plans/no-such-plan"]
    return urls


CODED_FIELDS = {"status", "kind", "reason", "label", "category_labels", "subject_status", "methods"}
RAW_CODE = re.compile(r"\b(?:[a-z]+_[a-z_]+|None|True|False|null)\b")
ALLOWED_PHRASES = ("League of Entropy", "noble-curves", "noble BLS12-381", "chinese-calendar", "Web Crypto", "sm-crypto",
                   "default、quicknet", "（quicknet）")


def _english_words(text: str) -> list[str]:
    """English words of a Chinese page: tokens with a digit (ids, hashes, versions) are data."""
    for p in ALLOWED_PHRASES:
        text = text.replace(p, " ")
    out = []
    for token in re.split(r"[\s,;()（）/·|\[\]{}<>=“”\"'#?&.、，：；。]+", text):
        if not token or re.search(r"\d", token) or not re.search(r"[A-Za-z]{2}", token):
            continue
        out += [w for w in re.findall(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]", token) if w not in ALLOWED_EN]
    return out


def _strip_data(text: str, data: list[str]) -> str:
    for s in data:
        if s in text:
            text = text.replace(s, " ")
    return text


def page_findings(where: str, html: str, lang: str, data: list[str]) -> list[str]:
    """What is wrong with one page's language: the other language, or a code shown raw."""
    text = _strip_data(visible_text(html, lang), data)
    out = []
    if lang == "zh":
        bad = sorted(set(_english_words(text)))
        if bad:
            out.append(f"{where} English in zh: {bad[:15]}")
    else:
        bad = sorted(set(CJK.findall(text)))
        if bad:
            out.append(f"{where} Chinese in en: {bad[:15]}")
    # codes are never shown raw, in either language: snake_case identifiers, Python's None
    raw = sorted(set(RAW_CODE.findall(text)))
    if raw:
        out.append(f"{where} raw codes: {raw[:15]}")
    return out


@pytest.fixture(scope="module")
def crawl(demo: Any) -> dict[str, Any]:
    ensure_team_inspector(demo)
    app = make_app(demo)
    return {"app": app, "urls": crawl_urls(app, demo), "data": demo_data_strings(demo)}


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_in_one_language(role: str, crawl: dict[str, Any]) -> None:
    app, urls, data = crawl["app"], crawl["urls"], crawl["data"]
    findings: list[str] = []
    read = 0
    for lang in ("zh", "en"):
        c = app.test_client()
        if ROLES[role]:
            login(c, ROLES[role])
        for url in urls:
            full = url + ("&" if "?" in url else "?") + f"lang={lang}"
            r = c.get(full)
            assert r.status_code in (200, 302, 403, 404), f"{role} {full}: {r.status_code}"
            if r.status_code == 302 or r.mimetype != "text/html":
                continue
            read += r.status_code == 200
            findings += page_findings(f"{full} [{r.status_code}]", r.get_data(as_text=True), lang, data)
    # not a vacuous crawl: the public pages for everyone, the console for staff
    assert read >= (2 * 15 if role == "anonymous" else 2 * 20), (role, read, len(urls))
    assert not findings, f"{len(findings)} pages:\n" + "\n".join(findings)


def test_visible_text_skips_data_and_code() -> None:
    html = ('<html lang="en"><body><p>Hello <code>abc</code><span class="data">固阳公司</span>'
            '<span lang="zh">名称</span><input type="submit" value="Go"><script>var x="中文"</script></p></body></html>')
    assert visible_text(html, "en") == "Hello Go"


def test_error_pages_in_the_readers_language(demo: Any) -> None:
    """403/404/500 pages and the API's errors: Werkzeug's English paragraphs never reach a reader."""
    app = make_app(demo)

    @app.get("/public/boom")
    def boom() -> str:
        raise RuntimeError("a bug")

    c = app.test_client()
    for path, status, zh, en in [("/public/boom", 500, "服务器内部错误", "Internal error"),
                                 ("/public/draws/no-such", 404, "找不到该页面或记录", "There is no such page"),
                                 ("/staff/inspections/calendar", 403, "您没有访问此页面的权限", "You do not have permission")]:
        if status == 403:
            login(c, "auditor")
        r = c.get(path + "?lang=zh")  # the cookie remembers the last language asked for
        body = visible_text(r.get_data(as_text=True), "zh")
        assert r.status_code == status and zh in body and not _english_words(body), (path, body[:300])
        r = c.get(path + "?lang=en")
        body = visible_text(r.get_data(as_text=True), "en")
        assert r.status_code == status and en in body and not CJK.search(body), (path, body[:300])
    api = c.get("/api/v1/no-such-route?lang=zh").get_json()["error"]
    api_en = c.get("/api/v1/no-such-route?lang=en").get_json()["error"]
    assert api["code"] == api_en["code"] == "not_found" and CJK.search(api["message"]) and not CJK.search(api_en["message"])


@pytest.fixture(scope="module")
def fresh_demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A demo built on the pinned day, so its plan's window is open and a draw can be prepared."""
    import os

    from drawsvc.demo import create_demo
    from tests.conftest import PASSPHRASE

    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    inst, _, _ = create_demo(tmp_path_factory.mktemp("i18ndemo") / "instance", origin="test.example/log")
    return inst


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_prepare_check_and_its_refusals_in_one_language(fresh_demo: Any, lang: str) -> None:
    """The prepare check (a POST page: pools, eligible inspectors, who is left out and why) and the
    form's refusals, which the GET crawl cannot reach."""
    from pinned import TODAY

    from drawsvc.registry.service import Registry
    from tests.web.conftest import csrf_of

    c = make_app(fresh_demo).test_client()
    login(c, "op-scjg")
    plan = Registry(fresh_demo.ledger(), fresh_demo.passphrase()).list("plan")[0]
    data = [*demo_data_strings(fresh_demo), "“abc”"]  # what the official typed is shown as typed
    findings: list[str] = []
    for values in ({}, {"dice_min_digits": "abc"}, {"dice_min_digits": "5"}, {"use_drand": "1", "drand_round": "-5"},
                   {"draw_date": "2026-13-45"}, {"use_dice": ""}):
        form = {"csrf_token": csrf_of(c.get(f"/staff/draws?lang={lang}").data), "plan": plan["code"],
                "department": "scjg", "draw_date": TODAY.isoformat(), "use_dice": "1", "dice_min_digits": "20",
                **values}
        r = c.post(f"/staff/draws/check?lang={lang}", data=form, follow_redirects=True)
        assert r.status_code in (200, 400, 422), (values, r.status_code)
        body = r.get_data(as_text=True)
        if not values:
            assert 'id="prepare-strata"' in body, body[:2000]
        findings += page_findings(f"check {values}", body, lang, data)
    assert not findings, "\n".join(findings)


def test_the_converter_loses_no_translation(tmp_path: Path) -> None:
    """scripts/i18n_convert.py: every t(zh, en) pair and "zh / en" string becomes a msgid with its
    English, values become named placeholders, one Chinese word with two meanings gets a context."""
    from babel.messages.catalog import Catalog

    from scripts.i18n_convert import Pairs, convert_python, convert_template

    page = tmp_path / "page.html"
    page.write_text('<h1>{{ t("抽签", "Draw") }}</h1><p>{{ t("公示", "Published") }} {{ t("公示", "Publish") }}'
                    '{{ t(\'比例 5%\', \'ratio 5%\') }}</p>', encoding="utf-8")
    code = tmp_path / "svc.py"
    code.write_text('"""A service."""\n\nfrom __future__ import annotations\n\nimport re\n\n\n'
                    'def f(n, key):\n    """Docstring / not a message."""\n'
                    '    if n > 1:\n        raise ValueError(f"超过{n}字 / longer than {n} characters")\n'
                    '    raise KeyError(f"{key!r} 不存在 / {key!r} not found")\n', encoding="utf-8")
    cat = Catalog(locale="en")
    pairs = Pairs(cat)
    html, n_html = convert_template(page, pairs)
    py, n_py = convert_python(code, pairs)
    assert (n_html, n_py) == (4, 2)
    assert html == ('<h1>{{ _("抽签") }}</h1><p>{{ _("公示") }} {{ pgettext("publish", "公示") }}'
                    "{{ _('比例 5%%') }}</p>")
    assert 'tr("超过%(n)s字", n=n)' in py and 'tr("%(key)s 不存在", key=repr(key))' in py
    assert '"""Docstring / not a message."""' in py and "from drawsvc.i18n import tr\nimport re" in py
    got = {(m.context, m.id): m.string for m in cat if m.id}
    assert got == {(None, "抽签"): "Draw", (None, "公示"): "Published", ("publish", "公示"): "Publish",
                   (None, "比例 5%%"): "ratio 5%%", (None, "超过%(n)s字"): "longer than %(n)s characters",
                   (None, "%(key)s 不存在"): "%(key)s not found"}
    compile(py, "svc.py", "exec")  # still Python


# --- the page scripts ---------------------------------------------------------------------

SCRIPTS = ROOT / "web" / "static" / "js"
# the old two-language helpers: T("中文", "English"), EN ? "English" : "中文"
JS_HELPER = re.compile(r"(?<![\w$.])T\(|\bEN\s*\?")


def _scripts() -> list[Path]:
    return [p for p in sorted(SCRIPTS.rglob("*.js")) if "vendor" not in p.parts]


def js_pairs(text: str) -> list[str]:
    """zh/en pairs left in a script: the old helpers, and a Chinese string literal followed by an
    English one (`[`中文 ${a}`, `English ${a}`]`, `f("中文", "English")`), read with the converter's
    own literal parser (template literals with ${…} holding quotes included)."""
    from scripts.i18n_convert_js import parse_literal

    found = [m.group() for m in JS_HELPER.finditer(text)]
    for m in re.finditer(r"[\[(,]\s*(?=[\"'`])", text):
        try:
            end, first = parse_literal(text, m.end())
            comma = re.match(r"\s*,\s*(?=[\"'`])", text[end:])
            if not comma:
                continue
            _end2, second = parse_literal(text, end + comma.end())
        except (ValueError, IndexError):
            continue
        zh = "".join(p for p in first if isinstance(p, str))
        en = "".join(p for p in second if isinstance(p, str))
        if CJK.search(zh) and re.search(r"[A-Za-z]{3}", en) and not CJK.search(en):
            found.append(text[m.start():end + comma.end() + 40])
    return found


def test_page_scripts_carry_no_bilingual_pairs() -> None:
    """The scripts' words are msgids of the one catalogue (lib/i18n.js `_`), not zh/en pairs."""
    left = [f"{p.relative_to(ROOT)}: {x[:80]!r}" for p in _scripts() for x in js_pairs(p.read_text(encoding="utf-8"))]
    assert not left, "zh/en pairs left in the page scripts:\n" + "\n".join(left)
    # it finds what it must (so an empty result above is not a blind test)
    for bad in ('x = T("中文", "English");', 'k: (a) => [`中文 ${a}`, `English ${a}`],', 'const w = EN ? "key" : "公钥";',
                'c: (n, l) => [`${n} 处${l ? "：" + l : ""}`, `${n} change(s)${l ? ": " + l : ""}`],'):
        assert js_pairs(bad), bad
    assert not js_pairs('_("树大小 %(size)s", { size })') and not js_pairs('x = ["抽取", "抽中"];')


def test_every_script_msgid_has_its_english() -> None:
    """Each msgid the scripts use is Chinese (the zh text is the msgid) and has a non-fuzzy English
    without Chinese, with the same named placeholders."""
    from web.i18n import js_msgids

    used = js_msgids()
    assert len(used) > 150, len(used)  # verify.js, subject-proof.js, drand.js, plan.js, lib/sm2.js
    # the extractor misses none: every _("…") / pgettext("…", "…") literal of the scripts, also
    # those inside a template literal's ${…}, is among the msgids the page's table is built from
    call = re.compile(r'(?<![\w$.])(?:_\(|pgettext\("[^"]*",\s*)("(?:[^"\\]|\\.)*")')
    written = {json.loads(m.group(1)) for p in _scripts() for m in call.finditer(p.read_text(encoding="utf-8"))}
    assert written == {msgid for _ctx, msgid in used}, written ^ {msgid for _ctx, msgid in used}
    cat = _catalogue()
    names = re.compile(r"%\((\w+)\)s")
    problems = []
    for ctx, msgid in sorted(used, key=lambda m: (m[0] or "", m[1])):
        m = cat.get(msgid, context=ctx)
        if not CJK.search(msgid):
            problems.append(f"not a Chinese msgid: {msgid!r}")
        elif m is None or not m.string or m.fuzzy:
            problems.append(f"no English: {ctx or ''}|{msgid}")
        elif CJK.search(m.string) or set(names.findall(m.string)) != set(names.findall(msgid)):
            problems.append(f"bad English: {msgid!r} -> {m.string!r}")
    assert not problems, "\n".join(problems)


def _js_table(html: str) -> dict[str, str]:
    m = re.search(r'<script type="application/json" id="js-messages">(.*?)</script>', html, re.S)
    assert m, "the page embeds no js-messages table"
    return json.loads(m.group(1))  # type: ignore[no-any-return]


def test_pages_with_scripts_embed_the_readers_table(web_app: Any, demo: Any) -> None:
    """/verify and a company page give lib/i18n.js every script msgid's English (from the compiled
    catalogue) in English, and nothing in Chinese (the msgids are the Chinese)."""
    from sqlalchemy import select

    from drawsvc.inspections import schema
    from web.i18n import js_msgids

    with demo.ledger().engine.connect() as conn:
        company = conn.execute(select(schema.results.c.subject)).scalars().first()
    want = {f"{ctx}\x04{msgid}" if ctx else msgid for ctx, msgid in js_msgids()}
    c = web_app.test_client()
    for path in ("/verify", f"/public/companies/{company}"):
        en = _js_table(c.get(path + "?lang=en").get_data(as_text=True))
        assert set(en) == want, sorted(set(en) ^ want)[:10]
        assert not [v for v in en.values() if CJK.search(v)]
        assert en["树大小 %(size)s"] == "tree size %(size)s"
        assert _js_table(c.get(path + "?lang=zh").get_data(as_text=True)) == {}
    # the ceremony screen: lib/draw.js's refusals of a live-typed source (too few dice digits, …)
    from tests.web.conftest import draw_ids

    staff = web_app.test_client()
    login(staff, "op-scjg")
    ceremony = f"/staff/draws/{draw_ids(demo)['published']}/ceremony"
    en = _js_table(staff.get(ceremony + "?lang=en").get_data(as_text=True))
    assert en["骰子点数须为至少 %(need)s 位数字"] == "dice digits must be at least %(need)s ASCII digits"
    assert _js_table(staff.get(ceremony + "?lang=zh").get_data(as_text=True)) == {}
    # a message cannot close the data block early
    from web.i18n import js_messages

    with web_app.test_request_context("/verify?lang=en"):
        assert "</script" not in str(js_messages())[:-len("</script>")]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_refusals_of_the_draws_services_in_one_language(demo: Any, lang: str) -> None:
    """The draw services' refusals (a substitution or a swap that cannot be made) reach the draw page
    as a flash and the API as JSON: in the reader's language, not the services' English. A refusal
    writes nothing, so the shared demo is left as it was."""
    from tests.web.conftest import csrf_of, draw_ids

    draw_id = draw_ids(demo)["drawn"]
    size = demo.ledger().size()
    c = make_app(demo).test_client()
    login(c, "op-scjg")
    data = demo_data_strings(demo)
    cases = [({"kind": "swap", "inspector_a": "P001", "subject_a": "Z0000", "inspector_b": "P002", "subject_b": "Z0000"},
              "未被抽中", "is not drawn"),
             ({"kind": "inspector", "subject": "Z0000", "leaving": "P001", "reason": "cannot_attend"},
              "未被抽中", "is not drawn"),
             ({"kind": "subject", "subject": "Z0000", "reason": "deregistered"}, "未被抽中", "is not drawn")]
    findings: list[str] = []
    for form, zh, en in cases:
        token = csrf_of(c.get(f"/staff/draws/{draw_id}?lang={lang}").data)
        r = c.post(f"/staff/draws/{draw_id}/substitute?lang={lang}", data={"csrf_token": token, **form},
                   follow_redirects=True)
        body = visible_text(r.get_data(as_text=True), lang)
        assert r.status_code == 200 and (zh if lang == "zh" else en) in body, (form, body[:400])
        findings += page_findings(f"substitute {form}", r.get_data(as_text=True), lang, data)
        api = c.post(f"/api/v1/draws/{draw_id}/substitutions?lang={lang}", json=form,
                     headers={"X-CSRF-Token": token})
        msg = api.get_json()["error"]["message"]
        assert api.status_code in (409, 422) and (zh if lang == "zh" else en) in msg, (api.status_code, msg)
        assert bool(CJK.search(msg)) == (lang == "zh"), msg
    assert not findings, "\n".join(findings)
    assert demo.ledger().size() == size  # nothing written


def test_official_documents_say_in_english_why_they_are_chinese(demo: Any) -> None:
    """The 行政检查通知书 and the reports (with their Excel/PDF exports) are official forms, Chinese
    by law in every language: the English console says so above them, the Chinese one says nothing."""
    from sqlalchemy import select

    from drawsvc.inspections import schema

    with demo.ledger().engine.connect() as conn:
        task = conn.execute(select(schema.tasks.c.id).order_by(schema.tasks.c.created_seq)).scalars().first()
    c = make_app(demo).test_client()
    login(c, "admin")
    for path, document in ((f"/staff/inspections/tasks/{task}/notice", 'id="notice"'),
                           ("/staff/inspections/reports?kind=annual", 'id="report-title"')):
        en = c.get(path + ("&" if "?" in path else "?") + "lang=en").get_data(as_text=True)
        assert document in en, path
        note = re.search(r'<p [^>]*id="zh-only-note"[^>]*>(.*?)</p>', en, re.S)
        assert note and "Chinese" in note.group(1) and not CJK.search(note.group(1)), (path, note)
        assert en.index('id="zh-only-note"') < en.index(document)  # read before the document
        zh = c.get(path + ("&" if "?" in path else "?") + "lang=zh").get_data(as_text=True)
        assert document in zh and 'id="zh-only-note"' not in zh, path
