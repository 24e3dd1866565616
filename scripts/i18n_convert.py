"""Move bilingual strings into the one message catalogue (a one-off, rerunnable conversion).

The pages used to write both languages side by side: `t("中文", "English")` in templates and page
code, and `"中文 / English"` messages in the services.  This script rewrites them mechanically into
gettext calls whose msgid is the Chinese text, and adds the English to
web/translations/en/LC_MESSAGES/messages.po, so no translation is lost on the way:

- templates:  t("中文", "English")           ->  _("中文")
- Python:     t("中文", "English")           ->  tr("中文")
              "中文 / English"               ->  tr("中文")
              f"超过{n}字 / longer than {n}"  ->  tr("超过%(n)s字", n=n)   (English: "longer than %(n)s")

Python uses `tr` (drawsvc.i18n), not `_`, because `_` is a throwaway variable in page code and a
local `_` would shadow the function.  Calls it cannot convert (a variable instead of a literal,
a Chinese/English pair it cannot split) are listed on stderr for a person to finish.

Usage: python scripts/i18n_convert.py [--dry-run] FILE...   then   make messages
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "web" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
CJK = re.compile(r"[\u4e00-\u9fa5]")
# a Chinese message, then " / ", then its English (the pattern the project's hook counts)
SEP = re.compile(r"(?<=[^\s]) ?/ (?=[A-Za-z{'\"(%])")
TEMPLATE_T = re.compile(r"""\bt\(\s*(["'])((?:(?!\1).)*)\1\s*,\s*(["'])((?:(?!\3).)*)\3\s*\)""", re.S)


def load_catalog(po: Path = PO) -> Catalog:
    if po.exists():
        with po.open("rb") as f:
            return read_po(f, locale="en")
    return Catalog(locale="en", project="spotcheck", domain="messages")


def save_catalog(cat: Catalog, po: Path = PO) -> None:
    cat.fuzzy = False  # a header Babel marks fuzzy would stop pybabel compile
    po.parent.mkdir(parents=True, exist_ok=True)
    with po.open("wb") as f:
        write_po(f, cat, width=0, sort_output=False, omit_header=False)


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


class Pairs:
    """Chinese msgid -> English, refusing to lose a second, different English for one msgid."""

    def __init__(self, cat: Catalog) -> None:
        self.cat = cat
        self.conflicts: list[str] = []

    def add(self, zh: str, en: str, where: str) -> str | None:
        """Record the pair; return a message context when `zh` already means something else."""
        old = self.cat.get(zh)
        if old is not None and old.string and not _same(old.string, en):
            ctx = re.sub(r"[^a-z0-9]+", " ", en.lower()).strip()[:40] or "en"
            known = self.cat.get(zh, context=ctx)
            if known is None:
                self.cat.add(zh, en, locations=[(where, 0)], context=ctx)
            self.conflicts.append(f"{where}: {zh!r} is {old.string!r}; here {en!r} (context {ctx!r})")
            return ctx
        if old is None:
            self.cat.add(zh, en, locations=[(where, 0)])
        elif not old.string:
            old.string = en
        return None


def _same(a: str, b: str) -> bool:
    """Two English renderings close enough to share a msgid (case, a plural s)."""
    def norm(x: str) -> str:
        return x.lower().rstrip("s")
    return norm(a) == norm(b)


def convert_template(path: Path, pairs: Pairs) -> tuple[str, int]:
    text = path.read_text(encoding="utf-8")
    n = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal n
        q, zh, en = m.group(1), m.group(2), m.group(4)
        n += 1
        # Jinja's newstyle gettext always %-formats the message: a literal % is written %%
        ctx = pairs.add(zh.replace("%", "%%"), en.replace("%", "%%"), _where(path))
        if ctx is not None:
            return f"pgettext({q}{ctx}{q}, {q}{zh.replace('%', '%%')}{q})"
        return f"_({q}{zh.replace('%', '%%')}{q})"

    new = TEMPLATE_T.sub(repl, text)
    for line_no, line in enumerate(new.splitlines(), 1):
        if re.search(r"\bt\(", line):
            print(f"{path}:{line_no}: t() left as is: {line.strip()[:120]}", file=sys.stderr)
    return new, n


def _param_name(node: ast.expr, expr: str, used: dict[str, str]) -> str:
    """A placeholder name for an f-string expression (the same expression keeps its name)."""
    for name, known in used.items():
        if known == expr:
            return name
    if isinstance(node, ast.Name):
        base = node.id
    elif isinstance(node, ast.Attribute):
        base = node.attr
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        base = node.slice.value
    else:
        base = "value"
    base = re.sub(r"\W", "_", base).strip("_") or "value"
    name, i = base, 2
    while name in used:
        name, i = f"{base}{i}", i + 1
    used[name] = expr
    return name


def _parts(node: ast.expr, used: dict[str, str], src: str) -> str | None:
    """A string literal (plain or f-string) as a %-format message with named placeholders."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    out = []
    for v in node.values:
        if isinstance(v, ast.Constant):
            out.append(str(v.value).replace("%", "%%"))
        elif isinstance(v, ast.FormattedValue):
            expr = ast.get_source_segment(src, v.value) or "?"
            if v.conversion == ord("r"):
                expr = f"repr({expr})"
            if v.format_spec is not None:
                expr = f"format({expr}, {(ast.get_source_segment(src, v.format_spec) or '')!r})"
            out.append(f"%({_param_name(v.value, expr, used)})s")
    return "".join(out)


def _call(zh: str, used: dict[str, str], fmt: bool) -> str:
    if not fmt:
        zh = zh.replace("%%", "%")
    args = "".join(f", {k}={v}" for k, v in used.items())
    return f"tr({json.dumps(zh, ensure_ascii=False)}{args})"


def convert_python(path: Path, pairs: Pairs) -> tuple[str, int]:
    src = path.read_text(encoding="utf-8")
    tree = ast.parse(src)
    edits: list[tuple[int, int, str]] = []
    lines = src.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:
        # ast columns are UTF-8 byte offsets
        return starts[lineno - 1] + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8"))

    inside_t: set[int] = set()
    where = _where(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t" and len(node.args) == 2:
            used: dict[str, str] = {}
            zh, en = _parts(node.args[0], used, src), _parts(node.args[1], used, src)
            inside_t.update(id(a) for a in ast.walk(node))
            if zh is None or en is None or not CJK.search(zh):
                print(f"{path}:{node.lineno}: t() with a non-literal argument, left as is", file=sys.stderr)
                continue
            fmt = any(isinstance(a, ast.JoinedStr) for a in node.args)
            if pairs.add(zh if fmt else zh.replace("%%", "%"), en if fmt else en.replace("%%", "%"), where):
                print(f"{path}:{node.lineno}: {zh!r} needs its context: finish by hand", file=sys.stderr)
            edits.append((offset(node.lineno, node.col_offset), offset(node.end_lineno or 0, node.end_col_offset or 0),
                          _call(zh, used, fmt)))
    docstrings = {id(b.body[0].value) for b in ast.walk(tree)
                  if isinstance(b, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and b.body and isinstance(b.body[0], ast.Expr)}
    for node in ast.walk(tree):
        if id(node) in inside_t or id(node) in docstrings or not isinstance(node, ast.Constant | ast.JoinedStr):
            continue
        if isinstance(node, ast.Constant) and not isinstance(node.value, str):
            continue
        if any(isinstance(p, ast.JoinedStr) and node in p.values for p in ast.walk(tree)):
            continue  # a piece of an f-string: its whole string is handled
        used = {}
        whole = _parts(node, used, src)
        if whole is None or not CJK.search(whole):
            continue
        m = SEP.search(whole)
        if m is None or not CJK.search(whole[: m.start()]):
            continue
        zh, en = whole[: m.start()], whole[m.end():]
        fmt = isinstance(node, ast.JoinedStr)
        # placeholders used only by the English still get passed; %-formatting with a dict ignores extras
        if pairs.add(zh if fmt else zh.replace("%%", "%"), en if fmt else en.replace("%%", "%"), where):
            print(f"{path}:{node.lineno}: {zh!r} needs its context: finish by hand", file=sys.stderr)
        edits.append((offset(node.lineno, node.col_offset), offset(node.end_lineno or 0, node.end_col_offset or 0),
                      _call(zh, used, fmt)))
    if not edits:
        return src, 0
    out = src
    for a, b, new in sorted(edits, reverse=True):
        out = out[:a] + new + out[b:]
    if "from drawsvc.i18n import tr" not in out:
        m = re.search(r"^(import |from (?!__future__))", out, re.M)
        pos = m.start() if m else len(out)
        out = out[:pos] + "from drawsvc.i18n import tr\n" + out[pos:]
    return out, len(edits)


# Where the msgids are used: Python (tr, trc, N_), the Jinja templates (_, gettext, pgettext) and
# the page scripts (web/static/js: _, pgettext of lib/i18n.js; Babel's JavaScript extractor).
PY_KEYWORDS = {"tr": None, "trc": ((1, "c"), 2), "N_": None, "NC_": ((1, "c"), 2)}
JINJA_KEYWORDS = {"_": None, "gettext": None, "pgettext": ((1, "c"), 2)}


def used_messages() -> set[tuple[str | None, str]]:
    """Every (context, msgid) the code, templates and page scripts ask the catalogue for."""
    return set(used_where())


def used_where() -> dict[tuple[str | None, str], str]:
    """Every (context, msgid) used, with the first file (relative path) that uses it."""
    from babel.messages.extract import extract_from_file

    from web.i18n import JS_KEYWORDS, JS_OPTIONS, SCRIPTS

    found: dict[tuple[str | None, str], str] = {}

    def scan(method: str, f: Path, keywords: dict[str, Any], options: dict[str, str] | None = None) -> None:
        for _lineno, msg, _comments, ctx in extract_from_file(method, str(f), keywords=keywords, options=options):
            found.setdefault((ctx, msg if isinstance(msg, str) else msg[0]), _where(f))

    for pkg in ("web", "drawsvc"):
        for f in sorted((ROOT / pkg).rglob("*.py")):
            scan("python", f, PY_KEYWORDS)
    for f in sorted((ROOT / "web" / "templates").rglob("*.html")):
        scan("jinja2.ext:babel_extract", f, JINJA_KEYWORDS, {"extensions": "jinja2.ext.do", "trimmed": "false"})
    for f in sorted(SCRIPTS.rglob("*.js")):
        if "vendor" not in f.parts:
            scan("javascript", f, JS_KEYWORDS, JS_OPTIONS)
    return found


def sync(cat: Catalog) -> list[str]:
    """Add every used msgid the catalogue lacks, with an empty English for a person to fill
    (tests/web/test_web_i18n.py fails until it is filled); returns the added msgids."""
    added = []
    for (ctx, msgid), where in sorted(used_where().items(), key=lambda kv: (kv[1], kv[0][1])):
        if cat.get(msgid, context=ctx) is None:
            cat.add(msgid, "", locations=[(where, 0)], context=ctx)
            added.append(f"{where}: {ctx + '|' if ctx else ''}{msgid}")
    return added


def prune(cat: Catalog) -> list[str]:
    """Drop msgids nothing uses any more (after a message was reworded)."""
    used = used_messages()
    gone = [m for m in cat if m.id and (m.context, m.id) not in used]
    for m in gone:
        cat.delete(m.id, context=m.context)
    return [m.id for m in gone]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--prune", action="store_true", help="drop msgids no code or template uses")
    ap.add_argument("--sync", action="store_true",
                    help="add msgids the code, templates and scripts use but the catalogue lacks (English to fill)")
    args = ap.parse_args()
    cat = load_catalog()
    if args.prune:
        for gone in prune(cat):
            print("unused, dropped:", gone[:80])
    if args.sync:
        for new in sync(cat):
            print("new msgid, fill its English in messages.po:", new)
    pairs = Pairs(cat)
    total = 0
    for f in args.files:
        f = f.resolve()
        new, n = (convert_template if f.suffix == ".html" else convert_python)(f, pairs)
        if n:
            total += n
            print(f"{_where(f)}: {n}")
            if not args.dry_run:
                f.write_text(new, encoding="utf-8")
    for c in pairs.conflicts:
        print("conflict:", c, file=sys.stderr)
    if not args.dry_run:
        save_catalog(cat)
    print(f"{total} strings; catalogue has {len(cat)} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
