"""Language of the pages and messages: Simplified Chinese by default, English on request.

One catalogue (Flask-Babel / gettext): the msgid is the Chinese text, its English is in
web/translations/en/LC_MESSAGES/messages.po (compiled to messages.mo, committed; see
tests/web/test_web_i18n.py and `make messages`).  Templates write `{{ _("中文") }}`, Python code
`tr("中文")` (drawsvc.i18n).  `?lang=en` (or `?lang=zh`) switches and remembers the choice in a
`lang` cookie; without either the reader gets Chinese.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from flask import Flask, Response, current_app, g, has_request_context, request
from flask_babel import Babel, get_translations
from markupsafe import Markup

from drawsvc import i18n as service_i18n

LANGS = ("zh", "en")
COOKIE = "lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
SCRIPTS = Path(__file__).resolve().parent / "static" / "js"
#: what the page scripts call (web/static/js/lib/i18n.js), as Babel's JavaScript extractor reads them
JS_KEYWORDS = {"_": None, "pgettext": ((1, "c"), 2)}
#: `${_("截止签号")}` inside a template literal is a use too (Babel skips template literals by default)
JS_OPTIONS = {"parse_template_string": "true"}


@cache
def js_msgids() -> frozenset[tuple[str | None, str]]:
    """Every (context, msgid) the page scripts ask for, read from the scripts themselves.

    Why from the source: the scripts' words are msgids of the same catalogue as the templates',
    so the table a page embeds (js_messages) and the test that each has its English
    (tests/web/test_web_i18n.py) cannot miss one a script gained."""
    from babel.messages.extract import extract_from_file

    found: set[tuple[str | None, str]] = set()
    for f in sorted(SCRIPTS.rglob("*.js")):
        if "vendor" in f.parts:
            continue
        for _lineno, msg, _comments, ctx in extract_from_file("javascript", str(f), keywords=JS_KEYWORDS,
                                                              options=JS_OPTIONS):
            found.add((ctx, msg if isinstance(msg, str) else msg[0]))
    return frozenset(found)


def js_messages() -> Markup:
    """The scripts' words in the reader's language, as a JSON data block for lib/i18n.js.

    Chinese is the msgids themselves: the block is empty.  In English it maps each msgid (with
    its context as gettext joins them, with an EOT character between) to its translation from the compiled
    catalogue, the one the templates read; a data block, not a script, so the page's CSP
    (script-src 'self') is untouched."""
    table: dict[str, str] = {}
    if current_lang() != "zh" and _ready():
        tr = get_translations()
        for ctx, msgid in sorted(js_msgids(), key=lambda m: (m[0] or "", m[1])):
            text = str(tr.upgettext(ctx, msgid) if ctx else tr.ugettext(msgid))
            if text != msgid:
                table[f"{ctx}\x04{msgid}" if ctx else msgid] = text
    data = json.dumps(table, ensure_ascii=False, sort_keys=True)
    # "</script>" cannot end the block early: < > & are written as JSON escapes
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/json" id="js-messages">{data}</script>')


def current_lang() -> str:
    if "lang" in g:
        return str(g.lang)
    asked = request.args.get("lang")
    lang = asked if asked in LANGS else request.cookies.get(COOKIE)
    g.lang = lang if lang in LANGS else "zh"
    return str(g.lang)


def _locale() -> str:
    # zh has no catalogue: the msgids are Chinese, so gettext returns them unchanged
    return current_lang() if has_request_context() else "zh"


def _region_label(code: str) -> str:
    """The division's Chinese name on a Chinese page; the code itself on an English one (the
    GB/T 2260 table has no English names, and a page speaks one language)."""
    from drawsvc.registry.codes import region_label

    return region_label(code) if _locale() == "zh" else str(code or "")


def _industry_label(code: str) -> str:
    """As _region_label, for a GB/T 4754 industry code."""
    from drawsvc.registry.codes import industry_label

    return industry_label(code) if _locale() == "zh" else str(code or "")


def _ready() -> bool:
    """A request of an app with the catalogue (an app built without init_i18n serves Chinese)."""
    return has_request_context() and "babel" in current_app.extensions


def _lookup(msgid: str) -> str:
    if not _ready():
        return msgid
    return str(get_translations().ugettext(msgid))


def _lookup_ctx(context: str, msgid: str) -> str:
    if not _ready():
        return msgid
    return str(get_translations().upgettext(context, msgid))


def init_i18n(app: Flask) -> None:
    Babel(app, locale_selector=_locale, default_locale="zh",
          default_translation_directories=str(TRANSLATIONS))
    service_i18n.install(_lookup)
    service_i18n.install_ctx(_lookup_ctx)
    app.jinja_env.globals["tr"] = service_i18n.tr
    app.jinja_env.globals["N_"] = service_i18n.N_
    app.jinja_env.globals["js_messages"] = js_messages
    app.jinja_env.filters["region_label"] = _region_label
    app.jinja_env.filters["industry_label"] = _industry_label
    from drawsvc.inspections.service import TRIGGERS

    from .labels import (
        COLUMN_LABELS,
        DRAW_STATUS,
        EVENT_LABELS,
        REGISTRY_LABELS,
        ROLE_LABELS,
        SOURCE_LABELS,
        SUBSTITUTION_REASONS,
        VALUE_LABELS,
    )

    app.jinja_env.globals.update(trigger_labels=TRIGGERS, role_labels=ROLE_LABELS, registry_labels=REGISTRY_LABELS, column_labels=COLUMN_LABELS,
                              value_labels=VALUE_LABELS, draw_status=DRAW_STATUS, source_labels=SOURCE_LABELS,
                              substitution_reasons=SUBSTITUTION_REASONS, event_labels=EVENT_LABELS)

    @app.context_processor
    def _inject() -> dict[str, object]:
        return {"lang": current_lang(), "html_lang": "en" if current_lang() == "en" else "zh-CN"}

    @app.after_request
    def _remember(resp: Response) -> Response:
        asked = request.args.get("lang")
        if asked in LANGS and request.cookies.get(COOKIE) != asked:
            resp.set_cookie(COOKIE, asked, max_age=365 * 86400, samesite="Lax", httponly=True,
                            secure=request.is_secure)
        return resp
