"""A log read only from its C2SP tlog-tiles files: `/checkpoint`, `/tile/entries/...` and the
hash tiles `/tile/<L>/...` (docs/SPEC.md §6), as a static web server, a CDN or an object store
serves them after `drawsvc log export-tiles`; no JSON API.

The entries are checked as every log source's are (verifier/log.py). The hash tiles are checked
too, since a client that computes its proofs from them trusts them: every node of every tile
(full and partial, every level) is recomputed from the entries and compared (TILE_MISMATCH), and
a tile the checkpoint requires but the host does not serve is a finding as well (TILE_MISSING).

C2SP lets a log delete a partial tile once the full one is available; a reader of an older
checkpoint then reads the first W entries or hashes of the full tile instead, as done here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import requests

from .findings import Finding, Report
from .merkle import root_by_levels
from .sources import TILE_WIDTH, SourceError, encode_index

__all__ = ["HashTileChecker", "TileSource"]

TILE_HEIGHT = 8


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    return f"tile/{level}/{encode_index(index)}" + ("" if width == TILE_WIDTH else f".p/{width}")


class TileSource:
    """Reads the files of a tiled log from an http(s) URL prefix or a local directory."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        self.http = base.startswith(("http://", "https://"))
        if not self.http and not Path(base).is_dir():
            raise SourceError(f"--tiles must be an http(s) URL prefix or a directory, got {base!r}")
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session() if self.http else None

    def fetch(self, rel: str) -> bytes | None:
        """The file at `rel` below the prefix; None if the host says it does not exist."""
        if not self.http:
            try:
                return (Path(self.base) / rel).read_bytes()
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise SourceError(f"cannot read {self.base}/{rel}: {exc}") from exc
        url = f"{self.base}/{rel}"
        assert self.session is not None
        try:
            r = self.session.get(url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SourceError(f"cannot reach {url}: {exc.__class__.__name__}: {exc}") from exc
        if r.status_code in (403, 404, 410):  # static hosts and object stores say "absent" either way
            return None
        if r.status_code != 200:
            raise SourceError(f"GET {url} answered HTTP {r.status_code}: {r.text[:200]}")
        return r.content

    def checkpoint(self) -> str:
        data = self.fetch("checkpoint")
        if data is None:
            raise SourceError(f"{self.base}/checkpoint does not exist: not a tiled log")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceError(f"{self.base}/checkpoint is not UTF-8") from exc

    def tile(self, level: int | str, index: int, width: int) -> tuple[bytes | None, str]:
        """The tile (level, index) of `width`, and the path it was read from; (None, path) if
        neither the partial tile nor its full tile is served. Hash tiles are cut to `width`
        hashes here; an entry bundle read from its full tile is cut by the caller."""
        path = tile_path(level, index, width)
        data = self.fetch(path)
        if data is None and width < TILE_WIDTH:
            full = self.fetch(tile_path(level, index))
            if full is not None:
                path = tile_path(level, index)
                data = full if level == "entries" else full[: 32 * width]
        return data, path

    def leaves(self, size: int, missing: list[str]) -> Iterator[bytes]:
        """The stored leaves [0, size) from the entry bundles. A bundle that is absent or does not
        decode into its number of leaves ends the stream (the verifier reports the shortfall);
        its path is added to `missing`."""
        for index in range(-(-size // TILE_WIDTH)):
            width = min(TILE_WIDTH, size - index * TILE_WIDTH)
            data, path = self.tile("entries", index, width)
            leaves = None if data is None else _decode_bundle(data, width)
            if leaves is None:
                missing.append(path)
                return
            yield from leaves


def _decode_bundle(data: bytes, width: int) -> list[bytes] | None:
    """The first `width` leaves of an entry bundle; None if it holds fewer or is malformed."""
    out, pos = [], 0
    while pos < len(data) and len(out) < width:
        if pos + 2 > len(data):
            return None
        n = int.from_bytes(data[pos:pos + 2], "big")
        if pos + 2 + n > len(data):
            return None
        out.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    if len(out) != width or (width == TILE_WIDTH and pos != len(data)):
        return None
    return out


class HashTileChecker:
    """Recomputes every hash tile of a tree from its leaves as they stream past, and compares
    each with the tile the host serves. Memory: at most 256 hashes per level."""

    def __init__(self, source: TileSource, size: int) -> None:
        self.source = source
        self.size = size
        self.levels: list[list[bytes]] = []
        self.index: list[int] = []
        self.checked = 0
        self.mismatched: list[str] = []
        self.missing: list[str] = []

    def wrap(self, leaves: Iterator[bytes]) -> Iterator[bytes]:
        """Pass the leaves through, hashing each into level 0."""
        sha = hashlib.sha256
        for leaf in leaves:
            self._push(0, sha(b"\x00" + leaf).digest())
            yield leaf

    def _push(self, level: int, h: bytes) -> None:
        if level == len(self.levels):
            self.levels.append([])
            self.index.append(0)
        buf = self.levels[level]
        buf.append(h)
        if len(buf) == TILE_WIDTH:
            self._compare(level, self.index[level], buf)
            self.levels[level] = []
            self.index[level] += 1
            self._push(level + 1, root_by_levels(buf))

    def _compare(self, level: int, index: int, hashes: list[bytes]) -> None:
        data, path = self.source.tile(level, index, len(hashes))
        self.checked += 1
        if data is None:
            self.missing.append(path)
        elif data != b"".join(hashes):
            self.mismatched.append(path)

    def finish(self, leaves_read: int, report: Report) -> None:
        """Compare the partial tiles and record the outcome as the report's `hash_tiles` check."""
        check = report.check("hash_tiles", "hash tiles match the entries")
        if leaves_read != self.size:
            check.skip(f"only {leaves_read} of the {self.size} entries could be read from the entry bundles")
            return
        for level, buf in enumerate(self.levels):
            if buf:
                self._compare(level, self.index[level], buf)
        for path in self.mismatched:
            check.fail(Finding("TILE_MISMATCH", path, "the hash tile is not the tree's hashes recomputed from the "
                               "entries: a client computing proofs from it would be misled"))
        for path in self.missing:
            check.fail(Finding("TILE_MISSING", path, f"a tile a checkpoint of size {self.size} requires is not served"))
        check.detail = f"{self.checked} hash tiles recomputed from the entries"
