"""Language of the pages: Simplified Chinese by default, English on request.

`?lang=en` (or `?lang=zh`) switches and remembers the choice in a `lang` cookie; templates
write bilingual strings as `{{ t("中文", "English") }}`, so the two languages stay side by side
in one place and nothing is missing from either.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

LANGS = ("zh", "en")
COOKIE = "lang"


def current_lang() -> str:
    if "lang" in g:
        return str(g.lang)
    asked = request.args.get("lang")
    lang = asked if asked in LANGS else request.cookies.get(COOKIE)
    g.lang = lang if lang in LANGS else "zh"
    return str(g.lang)


def t(zh: str, en: str) -> str:
    return en if current_lang() == "en" else zh


def init_i18n(app: Flask) -> None:
    @app.context_processor
    def _inject() -> dict[str, object]:
        return {"t": t, "lang": current_lang(), "html_lang": "en" if current_lang() == "en" else "zh-CN"}

    @app.after_request
    def _remember(resp: Response) -> Response:
        asked = request.args.get("lang")
        if asked in LANGS and request.cookies.get(COOKIE) != asked:
            resp.set_cookie(COOKIE, asked, max_age=365 * 86400, samesite="Lax", httponly=True,
                            secure=request.is_secure)
        return resp
