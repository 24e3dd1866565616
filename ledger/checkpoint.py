"""C2SP tlog-checkpoint bodies: "<origin>\\n<size>\\n<base64 root>\\n" plus optional
extension lines, carried as the text of a signed note."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass


class CheckpointError(ValueError):
    """A checkpoint body is malformed."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint needs origin, size and root hash lines")
        origin, size_text, root_text, *ext = lines
        if not origin:
            raise CheckpointError("checkpoint origin is empty")
        if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
            raise CheckpointError(f"checkpoint size {size_text!r} is not a decimal number")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error:
            raise CheckpointError("checkpoint root hash is not base64") from None
        if len(root) != 32:
            raise CheckpointError("checkpoint root hash is not 32 bytes")
        if any(not e for e in ext):
            raise CheckpointError("checkpoint has an empty extension line")
        return cls(origin, int(size_text), root, tuple(ext))
