"""RFC 8785 (JCS) canonical JSON: the one byte form every signature and hash covers.

The `rfc8785` package is the reference. For the values the service writes — objects,
arrays, strings, booleans, null and integers within ±2^53, with no object key outside the
Basic Multilingual Plane — the standard library's sorted, compact, non-ASCII-escaping
encoder produces exactly the same bytes: JCS sorts keys by UTF-16 code units, which equals
code-point order for BMP keys; both escape only '"', '\\\\' and control characters, with the
same short forms and lower-case \\u00xx; integers print the same. Anything else (floats,
big integers, astral keys) goes to `rfc8785`. A property test checks the equivalence.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import rfc8785

_MAX_SAFE = 2**53 - 1  # rfc8785 refuses beyond the IEEE-754 safe integers
_encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
simple_encode = _encoder.encode  # JCS text of a value known to be simple (is_simple); callers encode UTF-8


class EncodingError(ValueError):
    """A value cannot be canonicalised (floats beyond IEEE range, non-string keys, ...)."""


def is_simple(value: Any) -> bool:
    """True when the stdlib encoding of `value` is provably its JCS encoding."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if -_MAX_SAFE <= v <= _MAX_SAFE:
                continue
            return False
        if t is dict:
            for k in v:
                if type(k) is not str or (not k.isascii() and any(ord(c) > 0xFFFF for c in k)):
                    return False
            stack.extend(v.values())
            continue
        if t is list or t is tuple:
            stack.extend(v)
            continue
        return False  # floats, big ints, other types: the reference encoder decides
    return True


def canonical_bytes(value: Any, *, known_simple: bool = False) -> bytes:
    """JCS bytes of `value`. `known_simple` skips the walk when the caller has shown is_simple().

    A simple value is written by orjson with sorted keys: for these values its bytes are the
    stdlib encoder's, hence JCS (tests/ledger/test_led_audit_fast.py checks every code point and
    the key order), several times faster on a large value (a drawn result's seal)."""
    if known_simple or is_simple(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError) as exc:  # a lone surrogate, a non-str key
            raise EncodingError(f"value cannot be canonicalised: {exc}") from None
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EncodingError(f"value cannot be canonicalised: {exc}") from None
