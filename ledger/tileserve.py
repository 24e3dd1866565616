"""Serving and exporting the log as C2SP tlog-tiles (static-file friendly)."""

from __future__ import annotations

from pathlib import Path

from .store import Ledger, NotFound
from .tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    encode_entry_bundle,
    entry_bundle_width,
    parse_tile_path,
    tile_path,
    tile_width,
)


def tile_bytes(ledger: Ledger, path: str) -> tuple[bytes, bool]:
    """Contents of tile `path` (below "tile/") and whether it is full (immutable)."""
    level, index, width = parse_tile_path(path)
    size = ledger.size()
    if level == "entries":
        available = entry_bundle_width(size, index)
        if available < width:
            raise NotFound(f"entry bundle {path} is beyond the log (size {size})")
        leaves = ledger.leaves(index * TILE_WIDTH, index * TILE_WIDTH + width)
        return encode_entry_bundle(leaves), width == TILE_WIDTH
    tile_level = int(level)
    if tile_width(size, tile_level, index) < width:
        raise NotFound(f"tile {path} is beyond the tree (size {size})")
    hashes = ledger.tile_hashes(TILE_HEIGHT * tile_level, index * TILE_WIDTH, width)
    return b"".join(hashes), width == TILE_WIDTH


def export_tiles(ledger: Ledger, out: Path) -> int:
    """Write checkpoint and every tile for the newest checkpoint's size; returns files written."""
    cp = ledger.latest_checkpoint()
    if cp is None:
        raise NotFound("the log has no checkpoint yet")
    size = cp.size
    written = 0

    def write(rel: str, data: bytes) -> None:
        nonlocal written
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written += 1

    note = cp.note + "".join(ledger.cosignature_lines(size))
    for index in range(-(-size // TILE_WIDTH)):
        width = entry_bundle_width(size, index)
        data, _ = tile_bytes(ledger, tile_path("entries", index, width))
        write("tile/" + tile_path("entries", index, width), data)
    tile_level = 0
    while (size >> (TILE_HEIGHT * tile_level)) > 0:
        nodes = size >> (TILE_HEIGHT * tile_level)
        for index in range(-(-nodes // TILE_WIDTH)):
            width = tile_width(size, tile_level, index)
            data, _ = tile_bytes(ledger, tile_path(tile_level, index, width))
            write("tile/" + tile_path(tile_level, index, width), data)
        tile_level += 1
    write("checkpoint", note.encode())
    return written
