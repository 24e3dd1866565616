"""Bounds on every input: one place that says how big a request may be and answers a clear 4xx.

Why: a single unbounded input (a year of 99999, a page size of a billion, a JSON body nested ten
thousand deep, an integer wider than SQLite's) must never reach code that loops, allocates or
overflows on it. Each bound below is checked before the view runs or where the value is parsed,
and the refusal names the limit, so a client can correct its request without reading the code.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request

from drawsvc.i18n import tr
from drawsvc.registry.io import MAX_IMPORT_ROWS  # noqa: F401  (rows of one import file)

from .errors import ApiError

YEAR_MIN = 2000          # the service keeps records of 双随机、一公开 inspections (begun 2015)
YEAR_MAX = 2100
MAX_PAGE = 1000          # rows per listing page (limit=)
DEFAULT_PAGE = 100       # rows per listing page when limit= is not given
MAX_INT = 2**53 - 1      # any integer parameter: fits SQLite/PostgreSQL BIGINT and JSON numbers
MAX_BODY = 16 * 1024 * 1024       # any request body (uploads, evidence)
MAX_IMPORT_BYTES = 5 * 1024 * 1024  # one registry import file, on the staff page and the API alike
MAX_JSON_BODY = 1024 * 1024       # a JSON body
MAX_JSON_DEPTH = 32               # nesting of a JSON body
MAX_QUERY_VALUE = 1000            # characters of one query-string value
MAX_PATH = 2048                   # characters of the URL path
MAX_SEARCH = 100                  # characters of a search text (q=)


def refuse(code: str, message: str, status: int = 400) -> ApiError:
    """A bound was exceeded: the 4xx that says which and by how much it may go."""
    return ApiError(status, code, message)


def check_year(year: int) -> int:
    """Years outside the service's range would make reports and calendars loop over centuries."""
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise refuse("out_of_range", tr("year 应在 %(YEAR_MIN)s–%(YEAR_MAX)s 之间", YEAR_MIN=YEAR_MIN, YEAR_MAX=YEAR_MAX))
    return year


def parse_int(name: str, raw: str, low: int = 0, high: int = MAX_INT) -> int:
    """A query or path integer within [low, high]; digits only (no sign, no spaces)."""
    if not raw.isascii() or not raw.isdigit():
        raise refuse("bad_parameter", tr("%(name)s 应为非负整数", name=name))
    if len(raw) > 16 or not low <= int(raw) <= high:
        raise refuse("out_of_range", tr("%(name)s 应在 %(low)s–%(high)s 之间", name=name, low=low, high=high))
    return int(raw)


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets nest deeper than `limit` outside strings; iterative, so a hostile body
    cannot exhaust the parser's recursion. Cheap when the body holds few brackets."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth, in_str, esc = 0, False, False
    for ch in raw:
        if in_str:
            if esc:
                esc = False
            elif ch == 0x5C:  # backslash
                esc = True
            elif ch == 0x22:
                in_str = False
        elif ch == 0x22:
            in_str = True
        elif ch in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif ch in (0x5D, 0x7D):
            depth -= 1
    return False


def _guard() -> Any:
    """Before every view: path, query values and JSON bodies within their bounds."""
    if len(request.path) > MAX_PATH:
        raise refuse("too_long", tr("URL 路径超过 %(MAX_PATH)s 字符", MAX_PATH=MAX_PATH), 414)
    for name, value in request.args.items(multi=True):
        if len(value) > MAX_QUERY_VALUE or len(name) > MAX_QUERY_VALUE:
            raise refuse("too_long", tr("查询参数 %(value)s 超过 %(MAX_QUERY_VALUE)s 字符", value=name[:50], MAX_QUERY_VALUE=MAX_QUERY_VALUE))
    if request.is_json:
        length = request.content_length
        if length is not None and length > MAX_JSON_BODY:
            raise refuse("too_large", tr("JSON 请求体超过 %(MAX_JSON_BODY)s 字节", MAX_JSON_BODY=MAX_JSON_BODY), 413)
        raw = request.get_data(cache=True)
        if len(raw) > MAX_JSON_BODY:
            raise refuse("too_large", tr("JSON 请求体超过 %(MAX_JSON_BODY)s 字节", MAX_JSON_BODY=MAX_JSON_BODY), 413)
        if json_depth_exceeds(raw):
            raise refuse("too_deep", tr("JSON 嵌套超过 %(MAX_JSON_DEPTH)s 层", MAX_JSON_DEPTH=MAX_JSON_DEPTH))
    g.body_within_limits = True
    return None


def page_args(default: int = DEFAULT_PAGE) -> tuple[int, int]:
    """`limit` (≤ MAX_PAGE) and `offset` (≤ MAX_INT) of a listing, refused naming the bound when
    exceeded: every list endpoint pages alike, so no listing returns an unbounded number of rows."""
    raw_limit, raw_offset = request.args.get("limit", ""), request.args.get("offset", "")
    limit = parse_int("limit", raw_limit, 0, MAX_PAGE) if raw_limit else default
    offset = parse_int("offset", raw_offset) if raw_offset else 0
    return limit, offset


def body_within_limits() -> bool:
    """Whether this request's body passed the guard (hooks that run even on a refused request,
    such as after_request, must not parse a body the guard refused)."""
    return bool(g.get("body_within_limits"))


def init_limits(app: Flask) -> None:
    """Install the request guard and the body size limit (the 413 names it: web.errors)."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.before_request_funcs.setdefault(None, []).insert(0, _guard)


def check_import_size(size: int | None, slack: int = 0) -> None:
    """An import file within MAX_IMPORT_BYTES (`slack`: room for multipart framing when `size` is the
    whole body's): a larger file would make one request hold far more than a fair share of memory."""
    if size is not None and size > MAX_IMPORT_BYTES + slack:
        raise refuse("too_large", tr("导入文件超过 %(limit)s 字节（%(mb)s MB）", limit=MAX_IMPORT_BYTES,
                                     mb=MAX_IMPORT_BYTES // 1024 // 1024), 413)


def lenient_int(raw: str, default: int, low: int = 0, high: int = MAX_INT) -> int:
    """For page forms: an out-of-range or malformed number means the default, never an overflow."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 16 or not low <= int(raw) <= high:
        return default
    return int(raw)
