"""Move the page scripts' bilingual pairs into the one message catalogue (one-off, rerunnable).

The scripts under web/static/js used to carry both languages: `T("中文", "English")`, message
tables `key: (a) => [`中文 ${a}`, `English ${a}`]` and `EN ? "English" : "中文"`.  This rewrites
each pair into `_("中文 %(a)s", {a})` (lib/i18n.js: the msgid is the Chinese text, looked up in
the catalogue the page embeds as JSON, see web/i18n.py `js_messages`) and adds the English to
web/translations/en/LC_MESSAGES/messages.po, so no translation is lost on the way.

A `${expr}` becomes a named placeholder (`%(name)s`); a pair whose two sides do not interpolate
the same expressions, or that it cannot parse, is listed on stderr for a person to finish.

Usage: python scripts/i18n_convert_js.py [--dry-run] FILE.js...   then   make messages
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.i18n_convert import CJK, Pairs, _where, load_catalog, save_catalog  # noqa: E402

Part = str | tuple[str]  # literal text, or (expression source,)


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t\r\n":
        i += 1
    return i


def _skip_js(s: str, i: int, close: str) -> int:
    """The index of `close` ending the expression at `i` (strings and nesting skipped)."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            i = parse_literal(s, i)[0]
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0 and c == close:
                return i
            depth -= 1
        i += 1
    raise ValueError("unterminated expression")


def parse_literal(s: str, i: int) -> tuple[int, list[Part]]:
    """A JS string or template literal starting at `i`: (index after it, its parts)."""
    q = s[i]
    if q not in "\"'`":
        raise ValueError("not a string literal")
    parts: list[Part] = []
    buf: list[str] = []
    i += 1
    while i < len(s):
        c = s[i]
        if c == "\\":
            nxt = s[i + 1]
            buf.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        if c == q:
            if buf:
                parts.append("".join(buf))
            return i + 1, parts
        if q == "`" and s.startswith("${", i):
            if buf:
                parts.append("".join(buf))
                buf = []
            end = _skip_js(s, i + 2, "}")
            parts.append((_list_expr(s[i + 2:end].strip()),))
            i = end + 1
            continue
        buf.append(c)
        i += 1
    raise ValueError("unterminated string")


def _list_expr(expr: str) -> str:
    """`xs.join("、")` / `xs.join(", ")` -> `list(xs)`: lib/i18n.js joins in the reader's language."""
    m = re.fullmatch(r"(.+)\.join\((?:\"、\"|\", \"|'、'|', ')\)", expr, re.S)
    return f"list({m.group(1)})" if m else expr


def _name(expr: str, used: dict[str, str]) -> str:
    for name, known in used.items():
        if known == expr:
            return name
    m = re.fullmatch(r"[\w$]+(?:\.[\w$]+)*", expr)
    if m:
        segs = expr.split(".")
        base = segs[-1] if segs[-1] != "length" or len(segs) == 1 else segs[-2] + "_n"
    else:
        call = re.match(r"([\w$.]+)\((.*)\)$", expr, re.S)
        inner = call.group(2).strip() if call else ""
        if call and call.group(1) == "list" and re.fullmatch(r"[\w$]+(?:\.[\w$]+)*", inner):
            base = inner.split(".")[-1]
        else:
            base = call.group(1).split(".")[-1] if call else "value"
    base = re.sub(r"\W", "_", base) or "value"
    name, n = base, 2
    while name in used:
        name, n = f"{base}{n}", n + 1
    used[name] = expr
    return name


def _message(parts: list[Part], used: dict[str, str], fmt: bool) -> str:
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p.replace("%", "%%") if fmt else p)
        else:
            out.append(f"%({_name(p[0], used)})s")
    return "".join(out)


def _exprs(parts: list[Part]) -> list[str]:
    return [p[0] for p in parts if isinstance(p, tuple)]


def _call(zh: list[Part], en: list[Part], pairs: Pairs, where: str) -> str | None:
    """`_("中文 %(a)s", {a})` for a pair, recording its English; None when it must be done by hand."""
    if not CJK.search("".join(p for p in zh if isinstance(p, str))):
        return None
    if sorted(set(_exprs(zh))) != sorted(set(_exprs(en))):
        return None
    used: dict[str, str] = {}
    fmt = bool(_exprs(zh))
    msg_zh = _message(zh, used, fmt)
    msg_en = _message(en, used, fmt)
    ctx = pairs.add(msg_zh, msg_en, where)
    lit = json.dumps(msg_zh, ensure_ascii=False)
    args = [json.dumps(ctx, ensure_ascii=False), lit] if ctx else [lit]
    if used:
        args.append("{ " + ", ".join(n if n == e else f"{n}: {e}" for n, e in used.items()) + " }")
    return f"{'pgettext' if ctx else '_'}({', '.join(args)})"


def convert_js(path: Path, pairs: Pairs) -> tuple[str, int, list[str]]:
    """The rewritten script, how many pairs it converted, and what it left for a person."""
    s = path.read_text(encoding="utf-8")
    where = _where(path)
    out: list[str] = []
    left: list[str] = []
    n = 0
    i = 0
    pat = re.compile(r"(?<![\w$.])T\(|=>\s*\[|\bEN\s*\?\s*")
    while True:
        m = pat.search(s, i)
        if not m:
            out.append(s[i:])
            break
        start = m.start()
        line = s.count("\n", 0, start) + 1
        try:
            j = _skip_ws(s, m.end())
            if s[j] not in "\"'`":
                raise ValueError("no literal")
            j, first = parse_literal(s, j)
            j = _skip_ws(s, j)
            sep = "," if not m.group().startswith("EN") else ":"
            if s[j] != sep:
                raise ValueError("not a pair")
            j = _skip_ws(s, j + 1)
            j, second = parse_literal(s, j)
            j = _skip_ws(s, j)
            if m.group().startswith("T("):
                if s[j] != ")":
                    raise ValueError("not a pair")
                zh, en, end, prefix = first, second, j + 1, ""
            elif m.group().startswith("=>"):
                if s[j] != "]":
                    raise ValueError("not a pair")
                zh, en, end, prefix = first, second, j + 1, "=> "
            else:
                zh, en, end, prefix = second, first, j, ""
            call = _call(zh, en, pairs, where)
            if call is None:
                raise ValueError("sides differ")
        except (ValueError, IndexError) as e:
            if m.group().startswith("T(") or m.group().startswith("EN"):
                left.append(f"{where}:{line}: {e}: {s[start:start + 100]!r}")
            out.append(s[i:m.end()])
            i = m.end()
            continue
        out.append(s[i:start] + prefix + call)
        n += 1
        i = end
    return "".join(out), n, left


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    cat = load_catalog()
    pairs = Pairs(cat)
    for f in args.files:
        f = f.resolve()
        new, n, left = convert_js(f, pairs)
        print(f"{_where(f)}: {n}")
        for x in left:
            print("by hand:", x, file=sys.stderr)
        if n and not args.dry_run:
            f.write_text(new, encoding="utf-8")
    for c in pairs.conflicts:
        print("conflict:", c, file=sys.stderr)
    if not args.dry_run:
        save_catalog(cat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
