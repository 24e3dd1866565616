"""The seal (docs/SPEC.md §D9): H(seal tag, salt || JCS(content)).

Why salted: the drawn list is secret until publication (002 八); a 32-byte salt stops anyone
guessing a small content from its commitment, and revealing the salt later lets anyone check
the published content is the one committed at draw time.
"""

from __future__ import annotations

from typing import Any

from .fastjcs import jcs_bytes
from .recipe import TAGS, hash_tagged

__all__ = ["seal"]


def seal(salt: bytes, content: Any) -> bytes:
    return hash_tagged(TAGS["seal"], salt + jcs_bytes(content))
