"""Where the log comes from: an offline bundle file, or a live server's JSON API.

Every problem with the *input* (missing file, not JSON, unreachable server, HTTP error,
response of the wrong shape) raises :class:`SourceError`, which the CLI turns into exit 2
with a message — never a traceback.  Problems with the *log* are findings, not errors.

Bundle format (JSON object)::

    {"format": "drawverify-log/v1",
     "leaves": ["<base64 of the stored leaf bytes>", ...],   # or
     "entries": [{...entry...}, ...],
     "checkpoints": ["<signed note text>", ...],
     "consistency_proofs": [{"old": m, "new": n, "proof": ["<b64>", ...]}],   # optional
     "start": 0}                                                              # optional
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

__all__ = ["Bundle", "ServerClient", "SourceError", "load_bundle"]

PAGE = 1000
TILE_WIDTH = 256


def encode_index(n: int) -> str:
    """A tile index in 3-digit groups, all but the last prefixed x (1234067 -> x001/x234/067)."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


class SourceError(Exception):
    """The input cannot be used at all (exit code 2)."""


@dataclass
class Bundle:
    """An offline log: entries (raw leaves or parsed), checkpoints, optional proofs."""

    entries: list[Any]
    checkpoints: list[str]
    consistency_proofs: dict[tuple[int, int], list[bytes]] = field(default_factory=dict)
    start: int = 0


def _b64list(v: Any, what: str) -> list[bytes]:
    if not isinstance(v, list):
        raise SourceError(f"{what}: expected a list of base64 strings")
    try:
        return [base64.b64decode(x, validate=True) for x in v]
    except (binascii.Error, TypeError, ValueError) as exc:
        raise SourceError(f"{what}: bad base64 ({exc})") from exc


def read_json_file(path: str | Path) -> Any:
    """A JSON file's content; an unreadable or non-JSON file is unusable input (exit 2)."""
    p = Path(path)
    try:
        return json.loads(p.read_bytes())
    except OSError as exc:
        raise SourceError(f"cannot read {p}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{p} is not JSON: {exc}") from exc


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle file (see the module docstring)."""
    p = Path(path)
    doc = read_json_file(p)
    if isinstance(doc, list):
        doc = {"entries": doc}
    if not isinstance(doc, dict):
        raise SourceError(f"{p}: expected a JSON object")
    if "leaves" in doc:
        entries: list[Any] = _b64list(doc["leaves"], "leaves")
    elif "entries" in doc and isinstance(doc["entries"], list):
        entries = doc["entries"]
    else:
        raise SourceError(f"{p}: no 'leaves' or 'entries' list")
    cps = doc.get("checkpoints", [])
    if not isinstance(cps, list) or not all(isinstance(c, str) for c in cps):
        raise SourceError(f"{p}: 'checkpoints' must be a list of signed-note strings")
    proofs: dict[tuple[int, int], list[bytes]] = {}
    for cp in doc.get("consistency_proofs", []) or []:
        try:
            proofs[(int(cp["old"]), int(cp["new"]))] = _b64list(cp["proof"], "consistency_proofs")
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"{p}: malformed consistency proof entry") from exc
    start = doc.get("start", 0)
    if type(start) is not int or start < 0:
        raise SourceError(f"{p}: 'start' must be a non-negative integer")
    return Bundle(entries, cps, proofs, start)


class ServerClient:
    """The JSON endpoints of docs/SPEC.md Part I, read with ``requests``."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        if not base.startswith(("http://", "https://")):
            raise SourceError(f"--server must be an http(s) URL, got {base!r}")
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        url = self.base + path
        try:
            r = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SourceError(f"cannot reach {url}: {exc.__class__.__name__}: {exc}") from exc
        if r.status_code != 200:
            raise SourceError(f"GET {r.url} answered HTTP {r.status_code}: {r.text[:200]}")
        return r

    def _json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        r = self._get(path, params)
        try:
            return r.json()
        except ValueError as exc:
            raise SourceError(f"GET {r.url} did not return JSON") from exc

    def checkpoint(self) -> str:
        """GET /checkpoint: the latest signed note (with any cosignatures).

        Decoded as UTF-8 whatever the Content-Type says: signed notes are UTF-8 by definition,
        and ``requests`` would otherwise guess ISO-8859-1 for text/plain and mangle the em dash.
        """
        r = self._get("/checkpoint")
        try:
            return r.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceError(f"GET {r.url}: checkpoint is not UTF-8") from exc

    def log_key(self) -> dict[str, Any]:
        """GET /api/v1/log/key."""
        doc = self._json("/api/v1/log/key")
        if not isinstance(doc, dict) or not isinstance(doc.get("verifier_key"), str):
            raise SourceError("/api/v1/log/key: no verifier_key")
        return doc

    def checkpoints(self) -> list[str]:
        """GET /api/v1/log/checkpoints: every stored checkpoint; [] if the server has none to give."""
        try:
            doc = self._json("/api/v1/log/checkpoints", {"after": 0})
        except SourceError:
            return []
        items = doc.get("checkpoints", []) if isinstance(doc, dict) else doc
        out = []
        for it in items if isinstance(items, list) else []:
            if isinstance(it, str):
                out.append(it)
            elif isinstance(it, dict):
                for k in ("note", "checkpoint", "text", "signed_note"):
                    if isinstance(it.get(k), str):
                        out.append(it[k])
                        break
        return out

    def entries(self, start: int, end: int) -> Iterator[dict[str, Any]]:
        """Entries [start, end) in pages of at most 1000."""
        pos = start
        while pos < end:
            hi = min(end, pos + PAGE)
            doc = self._json("/api/v1/log/entries", {"start": pos, "end": hi})
            page = doc.get("entries") if isinstance(doc, dict) else None
            if not isinstance(page, list):
                raise SourceError(f"/api/v1/log/entries?start={pos}: no 'entries' list")
            if not page:
                return
            yield from page
            pos += len(page)

    def tile_entries(self, index: int, width: int = TILE_WIDTH) -> list[bytes]:
        """GET /tile/entries/<N>[.p/<W>] (C2SP tlog-tiles, docs/SPEC.md §6): the stored leaves
        256N … 256N+W-1, each framed as uint16_be(len) || leaf."""
        path = "/tile/entries/" + encode_index(index) + ("" if width == TILE_WIDTH else f".p/{width}")
        data = self._get(path).content
        out, pos = [], 0
        while pos < len(data):
            if pos + 2 > len(data):
                raise SourceError(f"GET {path}: truncated entry bundle")
            n = int.from_bytes(data[pos:pos + 2], "big")
            if pos + 2 + n > len(data):
                raise SourceError(f"GET {path}: truncated entry bundle")
            out.append(data[pos + 2:pos + 2 + n])
            pos += 2 + n
        if len(out) != width:
            raise SourceError(f"GET {path}: entry bundle holds {len(out)} leaves, expected {width}")
        return out

    def leaves(self, start: int, end: int) -> Iterator[bytes]:
        """Raw stored leaves [start, end) of a tree of size ``end``, read from the entry tiles."""
        first = start // TILE_WIDTH
        for t in range(first, (end + TILE_WIDTH - 1) // TILE_WIDTH):
            width = min(TILE_WIDTH, end - t * TILE_WIDTH)
            leaves = self.tile_entries(t, width)
            skip = start - t * TILE_WIDTH if t == first else 0
            yield from leaves[skip:]

    def tiles_available(self, size: int) -> str | None:
        """None if the entry tiles can be read, else why not (for the report)."""
        if size == 0:
            return "empty log"
        try:
            self.tile_entries(0, min(TILE_WIDTH, size))
        except SourceError as exc:
            return str(exc)
        return None

    def draw_bundle(self, draw_id: str, parts: bool = False) -> Any:
        """GET /api/v1/draws/<id>/bundle: a draw's evidence bundle (docs/SPEC.md §D12); with
        ``parts``, asking for the subject pool in parts (§D12.1; a service before it ignores the ask)."""
        from urllib.parse import quote

        return self._json(f"/api/v1/draws/{quote(draw_id, safe='')}/bundle", {"pool": "parts"} if parts else None)

    def pool_part(self, draw_id: str, n: int) -> bytes:
        """GET /api/v1/draws/<id>/pool/subjects/<n>: part n of the subject pool (§D12.1).

        A request of its own, not the session's: parts are fetched in forked children, and a
        connection shared across a fork would mix their answers."""
        from urllib.parse import quote

        url = f"{self.base}/api/v1/draws/{quote(draw_id, safe='')}/pool/subjects/{n}"
        try:
            r = requests.get(url, timeout=max(self.timeout, 300.0))
        except requests.RequestException as exc:
            raise SourceError(f"cannot reach {url}: {exc.__class__.__name__}: {exc}") from exc
        if r.status_code != 200:
            raise SourceError(f"GET {url} answered HTTP {r.status_code}: {r.text[:200]}")
        return r.content

    def consistency(self, old: int, new: int) -> list[bytes]:
        doc = self._json("/api/v1/log/proof/consistency", {"old": old, "new": new})
        return _b64list(doc.get("proof") if isinstance(doc, dict) else None, "consistency proof")

    def inclusion(self, index: int, size: int) -> list[bytes]:
        doc = self._json("/api/v1/log/proof/inclusion", {"index": index, "size": size})
        return _b64list(doc.get("proof") if isinstance(doc, dict) else None, "inclusion proof")

    def post_cosignature(self, line: str) -> None:
        """POST /api/v1/log/cosignatures with the cosignature line (text/plain)."""
        url = self.base + "/api/v1/log/cosignatures"
        try:
            r = self.session.post(url, data=line.encode(), headers={"Content-Type": "text/plain; charset=utf-8"},
                                  timeout=self.timeout)
        except requests.RequestException as exc:
            raise SourceError(f"cannot reach {url}: {exc}") from exc
        if r.status_code >= 300:
            raise SourceError(f"POST {url} answered HTTP {r.status_code}: {r.text[:200]}")
