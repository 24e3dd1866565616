"""C2SP tlog-tiles paths and contents.

A hash tile at level L, index N holds the hashes of tree level 8*L, nodes
256*N .. 256*N + W - 1 (W = 256 for a full tile, 1..255 for a partial ".p/W" one).
An entry bundle N holds entries 256*N .. 256*N + W - 1, each as uint16_be(length) || data.
An index is written in groups of three digits, all but the last prefixed "x":
1234067 -> "x001/x234/067".
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT

_TILE_PATH = re.compile(r"^(entries|\d+)/((?:x\d{3}/)*\d{3})(?:\.p/(\d+))?$")


class TileError(ValueError):
    """A tile path is malformed or names a tile the tree does not have."""


def encode_index(n: int) -> str:
    digits = f"{n:d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """The path below "tile/" of hash tile (level, index) or entry bundle ("entries", index)."""
    path = f"{level}/{encode_index(index)}"
    if width != TILE_WIDTH:
        path += f".p/{width}"
    return path


def parse_tile_path(path: str) -> tuple[str, int, int]:
    """("entries" or the decimal level, index, width) from a path below "tile/"."""
    m = _TILE_PATH.match(path)
    if not m:
        raise TileError(f"tile path {path!r} is malformed")
    level, index_text, width_text = m.groups()
    if level != "entries" and (int(level) > 63 or (level.startswith("0") and level != "0")):
        raise TileError(f"tile level {level!r} is out of range")
    index = int(index_text.replace("x", "").replace("/", ""))
    if encode_index(index) != index_text:
        raise TileError(f"tile index {index_text!r} is not in canonical form")
    width = TILE_WIDTH
    if width_text is not None:
        width = int(width_text)
        if not 1 <= width < TILE_WIDTH or str(width) != width_text:
            raise TileError(f"partial tile width {width_text!r} must be 1..255")
    return level, index, width


def level_width(tree_size: int, level: int) -> int:
    """How many nodes tree level `level` has for `tree_size` leaves (complete ones only)."""
    return tree_size >> level


def tile_width(tree_size: int, tile_level: int, index: int) -> int:
    """Width of hash tile (tile_level, index) in a tree of `tree_size`; 0 if it is beyond."""
    nodes = level_width(tree_size, TILE_HEIGHT * tile_level)
    return max(0, min(TILE_WIDTH, nodes - index * TILE_WIDTH))


def entry_bundle_width(tree_size: int, index: int) -> int:
    return max(0, min(TILE_WIDTH, tree_size - index * TILE_WIDTH))


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    out = bytearray()
    for data in entries:
        if len(data) > 0xFFFF:
            raise TileError("an entry bundle member exceeds 65535 bytes")
        out += struct.pack(">H", len(data)) + data
    return bytes(out)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise TileError("entry bundle is truncated")
        (n,) = struct.unpack_from(">H", data, pos)
        if pos + 2 + n > len(data):
            raise TileError("entry bundle is truncated")
        entries.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return entries
