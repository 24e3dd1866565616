"""Serving and exporting the log as C2SP tlog-tiles (static-file friendly).

`sync_tiles` keeps a directory a static web server, a CDN origin or an object store can serve
as the log's tiles (docs/DEPLOY.md). It follows the C2SP tlog-tiles rules for a directory that
is read while it is written:

- every tile file is written once and never rewritten: a full tile never changes, and a
  partial tile `.p/W` holds a fixed prefix of its full tile, so it never changes either;
- a partial tile is written for every tree size a checkpoint was signed for (a reader may hold
  any of them), and removed only once its full tile is on disk (C2SP: "MAY delete any partial
  tile once the corresponding full tile is available"; readers then fall back to the full tile);
- the checkpoint is written last, after the tiles it needs are durable (one sync(2) per round),
  so no reader ever sees a checkpoint whose tiles are missing, even after a crash;
- every file is written to a temporary name in its directory and renamed (the checkpoint also
  fsynced), so a reader (or rsync) never sees half a file; temporary names and the lock file
  begin with "." so `rsync --exclude '.*'` skips them.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from .checkpoint import Checkpoint, CheckpointError
from .note import NoteError, parse_note
from .schema import checkpoints
from .store import Ledger, LedgerError, NotFound
from .tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    encode_entry_bundle,
    encode_index,
    entry_bundle_width,
    parse_tile_path,
    tile_path,
    tile_width,
)

LOCK_NAME = ".export-tiles.lock"


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


def _levels(size: int) -> Iterator[tuple[int | str, int]]:
    """(tile level or "entries", number of nodes at that level) for a tree of `size` leaves."""
    yield "entries", size
    tile_level = 0
    while (nodes := size >> (TILE_HEIGHT * tile_level)) > 0:
        yield tile_level, nodes
        tile_level += 1


def tiles_for(size: int, partial_sizes: set[int] | frozenset[int] = frozenset(), done: int = 0) -> list[str]:
    """Paths (below "tile/") a reader of a checkpoint of `size` may ask for, plus the partial
    tiles of the smaller checkpointed `partial_sizes` whose full tile does not exist yet, leaving
    out the full tiles of a tree of `done` leaves (already written).

    Full tiles first, lowest level first: a reader of the tree needs the entries and level 0
    before anything else, and a writer that stops half-way has then written the most useful part."""
    full, partial = [], []
    for level, nodes in _levels(size):
        shift = 0 if level == "entries" else TILE_HEIGHT * int(level)
        for index in range((done >> shift) // TILE_WIDTH, nodes // TILE_WIDTH):
            full.append(tile_path(level, index))
        right = nodes // TILE_WIDTH  # the index of the rightmost (partial) tile at this level
        widths = {(s >> shift) % TILE_WIDTH for s in {size, *partial_sizes}
                  if s <= size and (s >> shift) // TILE_WIDTH == right}
        partial += [tile_path(level, right, w) for w in sorted(widths) if w]
    return full + partial


@dataclass
class SyncResult:
    """What one `sync_tiles` round did (paths relative to the directory)."""

    size: int
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    checkpoint_written: bool = False

    def summary(self) -> str:
        tiles = len(self.written) - int(self.checkpoint_written)
        if not self.written and not self.removed:
            return f"size {self.size}: up to date"
        return (f"size {self.size}: wrote {tiles} tiles" + (" and the checkpoint" if self.checkpoint_written else "")
                + (f", removed {len(self.removed)} partial tiles superseded by full ones" if self.removed else ""))


def _write_atomic(path: Path, data: bytes, fsync: bool = True) -> None:
    """Write `data` to `path` so that no reader ever sees a partial file: a temporary file in the
    same directory, (fsynced,) then renamed over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One writer per directory: two exporters would race on the temporary names."""
    fd = os.open(out / LOCK_NAME, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LedgerError(f"another export-tiles is writing {out}") from None
        yield
    finally:
        os.close(fd)


def _exported_size(ledger: Ledger, out: Path) -> int:
    """Size of the checkpoint already in `out` (0 if none), after checking it is this log's."""
    path = out / "checkpoint"
    if not path.exists():
        return 0
    try:
        cp = Checkpoint.parse(parse_note(path.read_text(encoding="utf-8")).text)
    except (OSError, UnicodeDecodeError, NoteError, CheckpointError) as exc:
        raise LedgerError(f"{path} is not a checkpoint ({exc}); remove it to export afresh") from None
    if cp.origin != ledger.origin:
        raise LedgerError(f"{out} holds the tiles of log {cp.origin!r}, not of {ledger.origin!r}")
    current = ledger.size()
    if cp.size > current or ledger.root(cp.size) != cp.root:
        raise LedgerError(f"{out} holds a tree (size {cp.size}) that is not a prefix of this log's; "
                          "refusing to mix two trees in one directory")
    return cp.size


def _checkpoint_sizes(ledger: Ledger, after: int, upto: int) -> set[int]:
    with ledger.engine.connect() as conn:
        return set(conn.execute(select(checkpoints.c.size).where(
            checkpoints.c.size > after, checkpoints.c.size <= upto)).scalars())


def sync_tiles(ledger: Ledger, out: Path, repair: bool = False) -> SyncResult:
    """Bring `out` up to the newest checkpoint, writing only the files it does not hold yet.

    The full tiles of the checkpoint already in `out` are taken to be there (they were written
    before it), so a round costs in proportion to what is new, not to the log; with `repair`
    every file the checkpoint needs is looked for and any missing one written again.
    Idempotent: a second run with no new checkpoint writes nothing. Raises NotFound if the log
    has no checkpoint, LedgerError if `out` holds another log's tiles or another writer is busy."""
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        cp = ledger.latest_checkpoint()
        if cp is None:
            raise NotFound("the log has no checkpoint yet")
        size = cp.size
        before = _exported_size(ledger, out)
        if before > size:  # never move a published checkpoint backwards
            raise LedgerError(f"{out} holds a checkpoint of size {before}, newer than the log's newest ({size})")
        result = SyncResult(size)
        # Partial tiles of every checkpoint signed since the last export (earlier ones were
        # written by earlier rounds), as long as their full tile is not there yet.
        since = 0 if repair else before
        wanted = tiles_for(size, _checkpoint_sizes(ledger, since, size), done=since)
        for rel in wanted:
            path = out / "tile" / rel
            if path.exists():
                continue
            data, _ = tile_bytes(ledger, rel)
            _write_atomic(path, data, fsync=False)
            result.written.append("tile/" + rel)
        if result.written:
            # The tiles (data and renames) are durable before the checkpoint that needs them:
            # one sync(2) for the round, not an fsync per file (which was most of the time).
            os.sync()
        note = (cp.note + "".join(ledger.cosignature_lines(size))).encode()
        cp_path = out / "checkpoint"
        if not cp_path.exists() or cp_path.read_bytes() != note:
            _write_atomic(cp_path, note)
            _fsync_dir(out)
            result.checkpoint_written = True
            result.written.append("checkpoint")
        result.removed = _prune_partials(out, since, size)
        return result


def _prune_partials(out: Path, before: int, size: int) -> list[str]:
    """Remove the partial tiles whose full tile now exists (it became full after `before`)."""
    removed = []
    for level, nodes in _levels(size):
        shift = 0 if level == "entries" else TILE_HEIGHT * int(level)
        for index in range((before >> shift) // TILE_WIDTH, nodes // TILE_WIDTH):
            pdir = out / "tile" / f"{level}/{encode_index(index)}.p"
            if not pdir.is_dir() or not (out / "tile" / tile_path(level, index)).exists():
                continue
            for f in sorted(pdir.iterdir()):
                if f.name.isdigit():
                    f.unlink()
                    removed.append(f"tile/{level}/{encode_index(index)}.p/{f.name}")
            if not any(pdir.iterdir()):
                pdir.rmdir()
    return removed
