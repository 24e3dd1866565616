"""Caching of the public portal (issue 13): published data is immutable, so pages are cacheable.

Why: on publication day every inspected company and the press open the same few pages; each
render reads registries and published draws. Every public page is a function of the database,
and every change to public data is a log entry, so the log's size — with the newest checkpoint,
the cosignatures and the witness list, which change without an entry — is a version of
everything the portal shows (`public_version`). Anonymous GETs of the public pages are therefore:

- answered from an in-process cache keyed by (path and query, language, version) — a new
  entry (a publication, a registry change) changes the version and so misses the cache;
- sent with `ETag` (the same key, hashed) and `Cache-Control: public, max-age=…`, and a
  conditional request with a matching `If-None-Match` gets `304` without rendering, so a CDN or
  nginx in front can serve and revalidate them.

Logged-in staff (a session cookie) and API clients with a token are never served from or stored into the cache, and pages
are sent to them `private, no-store`. Only 200 answers without Set-Cookie are stored.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request, session
from sqlalchemy import text

T = TypeVar("T")

CACHEABLE = {
    "pages.public.home", "pages.public.items", "pages.public.inspectors", "pages.public.plans",
    "pages.public.draws", "pages.public.draw", "pages.public.search", "pages.public.company",
    "pages.public.result_categories", "pages.public.checkpoint",
    "draws.bundle",  # a draw's verification bundle: what anonymous readers get is fixed by the log
    "tiles.tile", "tiles.checkpoint",  # log tiles and the signed checkpoint (C2SP tlog-tiles)
}
VIEW_CACHE_CONTROL = {"tiles.tile", "tiles.checkpoint"}  # views whose own Cache-Control is kept
MAX_AGE = 60            # seconds a CDN may serve a page without revalidating
MAX_ENTRIES = 2000      # pages kept per worker process
MAX_BODY = 512 * 1024   # bigger pages are not kept


class PageCache:
    """A bounded LRU of rendered pages; thread-safe (gthread workers)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._data: OrderedDict[str, tuple[bytes, str, str | None]] = OrderedDict()

    def get(self, key: str) -> tuple[bytes, str, str | None] | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, key: str, body: bytes, mimetype: str, cache_control: str | None = None) -> None:
        with self._lock:
            self._data[key] = (body, mimetype, cache_control)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)


VERSION_SQL = text(
    "SELECT (SELECT size FROM log_head WHERE id = 1), (SELECT max(size) FROM checkpoints), "
    "(SELECT max(id) FROM cosignatures), (SELECT count(*) FROM witnesses), "
    "(SELECT value FROM ledger_config WHERE name = 'witness_quorum')")


def public_version() -> str:
    """The version of everything public, in one indexed read: the log's size, plus what changes
    without a log entry — the newest checkpoint (signed a moment after its entries), witness
    cosignatures, the witness list and the quorum k (which decide what is public yet: 等待见证).

    With `PUBLIC_VERSION_TTL` > 0 (what `drawsvc serve` sets, 1 s by default) a worker reuses the
    version it read for that long instead of reading it for every request — on PostgreSQL that
    read is a round trip, the only one a cached page costs. A change made through this worker
    drops the kept version at once (`_after`); another worker's change is seen within the TTL, which
    is far below the `max-age` a CDN may already serve a page for."""
    ttl = float(current_app.config.get("PUBLIC_VERSION_TTL") or 0)
    kept = current_app.extensions.get("public_version_kept")
    now = time.monotonic()
    if ttl > 0 and kept is not None and now - kept[1] < ttl:
        return kept[0]  # type: ignore[no-any-return]
    engine = current_app.extensions["engine"]
    with engine.connect() as conn:
        row = conn.execute(VERSION_SQL).one()
    version = ".".join(str(x or 0) for x in row)
    if ttl > 0:
        current_app.extensions["public_version_kept"] = (version, now)
    return version


def _anonymous() -> bool:
    """No bearer token and no logged-in session: what is shown depends on the log alone."""
    if "Authorization" in request.headers:
        return False
    return "session" not in request.cookies or not session.get("account")


def _key(version: str) -> str:
    from .i18n import current_lang

    return f"{version}\x1f{current_lang()}\x1f{request.full_path}"


def _etag(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _before() -> Any:
    if request.method != "GET" or request.endpoint not in CACHEABLE or not _anonymous():
        return None
    key = _key(public_version())
    g.public_version = key.split("\x1f", 1)[0]
    tag = _etag(key)
    request.environ["spotcheck.cache_key"] = key
    if tag in request.if_none_match:
        return _headers(Response(status=304), tag)
    hit = current_app.extensions["page_cache"].get(key)
    if hit is None:
        return None
    body, mimetype, cache_control = hit
    resp = _headers(Response(body, mimetype=mimetype), tag, cache_control)
    resp.headers["X-Cache"] = "hit"
    return resp


def _headers(resp: Response, tag: str, cache_control: str | None = None) -> Response:
    """ETag, and the view's own Cache-Control if it set one (a full tile is immutable, the
    checkpoint is always revalidated), else a public page's."""
    resp.set_etag(tag)
    resp.headers["Cache-Control"] = cache_control or f"public, max-age={MAX_AGE}"
    resp.headers["Vary"] = "Cookie"
    return resp


def _after(resp: Response) -> Response:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        current_app.extensions.pop("public_version_kept", None)  # this worker may have changed public data
    key = request.environ.get("spotcheck.cache_key")
    if key is None:
        if request.endpoint in CACHEABLE and request.method == "GET":
            resp.headers["Cache-Control"] = "private, no-store"
        return resp
    if resp.status_code == 200 and "Set-Cookie" not in resp.headers and not resp.direct_passthrough \
            and not session.modified and resp.headers.get("X-Cache") != "hit":
        body = resp.get_data()
        own = resp.headers.get("Cache-Control") if request.endpoint in VIEW_CACHE_CONTROL else None
        if len(body) <= MAX_BODY:
            current_app.extensions["page_cache"].put(key, body, resp.mimetype or "text/html", own)
        _headers(resp, _etag(key), own)
    return resp


def init_cache(app: Flask) -> None:
    """Install the page cache (before the other hooks: a hit answers at once)."""
    app.extensions["page_cache"] = PageCache()
    app.before_request(_before)
    app.after_request(_after)


def per_version(name: str, build: Callable[[], T]) -> T:
    """A value derived from public data alone (names, a published draw's assignments), kept per
    worker until the public version changes: rendering a page that is not cached yet then costs
    only what is particular to it. Callers must not mutate the value."""
    version = g.get("public_version")
    if version is None:
        version = g.public_version = public_version()
    memo = current_app.extensions.setdefault("public_memo", {})
    hit = memo.get(name)
    if hit is not None and hit[0] == version:
        return hit[1]  # type: ignore[no-any-return]
    value = build()
    if len(memo) > 10_000:
        memo.clear()
    memo[name] = (version, value)
    return value
