"""JCS (RFC 8785) of large plain JSON values, exactly and fast (the draw content, pool records).

Why: the seal of a million-subject draw is over JCS of a content of ~10 MB; the reference
encoder path takes most of a second there.  For a *plain* value — objects with string keys
inside the Basic Multilingual Plane, arrays, strings, integers within ±(2**53 - 1), booleans
and null, no float anywhere — JCS is the sorted, compact JSON that orjson writes: keys in
code-point order (= UTF-16 code-unit order inside the BMP), the same escapes (``\\" \\\\ \\b \\f \\n
\\r \\t``, other controls as lower-case ``\\u00xx``, everything else as UTF-8: the tests compare
every code point with the standard library's encoder), integers as decimal.  orjson refuses a
lone surrogate (JCS has no form for it either); then, and for anything not plain, the
reference :func:`verifier.canonical.jcs` decides (and raises ``ValueError`` where it must).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from .canonical import jcs

__all__ = ["is_plain", "jcs_bytes"]

_SAFE_INT = 2**53 - 1
_NON_BMP = re.compile("[\U00010000-\U0010ffff]")
_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def is_plain(obj: Any) -> bool:
    """Only dict (str keys in the BMP), list, str, int within ±(2**53 - 1), bool and None, at any depth."""
    stack = [obj]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        o = pop()
        t = type(o)
        if t is str or t is bool or o is None:
            continue
        if t is dict:
            for k, v in o.items():
                if type(k) is not str or (not k.isascii() and _NON_BMP.search(k)):
                    return False
                tv = type(v)
                if tv is str:
                    continue
                push(v)
        elif t is list:
            extend(o)
        elif t is int:
            if o < -_SAFE_INT or o > _SAFE_INT:
                return False
        else:
            return False
    return True


def jcs_bytes(obj: Any) -> bytes:
    """JCS bytes of ``obj`` (``ValueError`` when it has none), the same bytes as canonical.jcs."""
    if is_plain(obj):
        try:
            return orjson.dumps(obj, option=_OPTS)
        except orjson.JSONEncodeError:
            pass  # e.g. a lone surrogate: the reference path gives the answer (an error)
    return jcs(obj)
