"""RFC 8785 (JCS) canonical JSON: the one byte form every signature and hash covers."""

from __future__ import annotations

from typing import Any

import rfc8785


class EncodingError(ValueError):
    """A value cannot be canonicalised (floats beyond IEEE range, non-string keys, ...)."""


def canonical_bytes(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EncodingError(f"value cannot be canonicalised: {exc}") from None
