"""RFC 8785 (JCS) canonical JSON, with a fast path that is provably identical where it is used.

Why a fast path: the reference encoder (the ``rfc8785`` package) is pure Python and costs
~34 µs per entry, half of an Ed25519 verification; over a million-entry log that alone would
keep us below the required share of the signature-verification floor.  The standard library's
C encoder with ``sort_keys`` and compact separators produces exactly the JCS bytes whenever

* there are no floats (ES6 number formatting differs from ``repr`` for floats),
* every integer is within ±(2**53 - 1) (JCS only represents IEEE-754 doubles exactly), and
* no object key contains a character outside the Basic Multilingual Plane (JCS sorts keys by
  UTF-16 code units, Python by code points; the two orders agree on BMP-only keys; string
  *values* come out as the same UTF-8 either way, astral or not),

because both escape exactly ``"``, ``\\``, ``\\b \\f \\n \\r \\t`` and the other control characters
as lower-case ``\\u00xx`` and leave everything else as UTF-8.  Anything else goes to ``rfc8785``.
The tests cross-check both paths with hypothesis.  Stored leaves are first tried with orjson
(``_orjson_leaf``, same argument, same objects, ~2x faster), then with the standard library.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import rfc8785

__all__ = ["jcs", "loads_leaf", "message_without_sig"]

_SAFE_INT = 2**53 - 1
_NON_BMP = re.compile(rb"[\xf0-\xf4]")
_NON_BMP_STR = re.compile("[\U00010000-\U0010ffff]")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode
try:  # the C encoder, built once (JSONEncoder.encode rebuilds it on every call); same output
    from json.encoder import c_encode_basestring as _c_str
    from json.encoder import c_make_encoder as _c_make

    if _c_make is None or _c_str is None:
        raise ImportError
    _c_iter = _c_make(None, None, _c_str, None, ":", ",", True, False, False)

    def _encode_fast(obj: Any) -> str:
        return "".join(_c_iter(obj, 0))
except ImportError:  # pragma: no cover - pure-Python json
    _encode_fast = _encode


class _Unsafe(Exception):
    """The fast path does not apply; use the reference encoder."""


def _fast_safe(obj: Any) -> bool:
    stack = [obj]
    while stack:
        o = stack.pop()
        t = type(o)
        if t is str:
            continue
        elif t is dict:
            for k in o:
                if type(k) is not str or (not k.isascii() and _NON_BMP_STR.search(k)):
                    return False
            stack.extend(o.values())
        elif t is list:
            stack.extend(o)
        elif t is int:
            if o < -_SAFE_INT or o > _SAFE_INT:
                return False
        elif t is bool or o is None:
            continue
        else:
            return False
    return True


def jcs(obj: Any) -> bytes:
    """JCS bytes of ``obj``; raises ``ValueError`` when it has no JCS form (NaN, huge ints...)."""
    if _fast_safe(obj):
        return _encode(obj).encode("utf-8")
    try:
        return rfc8785.dumps(obj)
    except Exception as exc:  # the library raises its own error types
        raise ValueError(f"no RFC 8785 form: {exc}") from exc


def _flag_float(s: str) -> float:
    raise _Unsafe


def _checked_int(s: str) -> int:
    v = int(s)
    if v < -_SAFE_INT or v > _SAFE_INT:
        raise _Unsafe
    return v


def _int_or_double(s: str) -> int | float:
    v = int(s)
    return v if -_SAFE_INT <= v <= _SAFE_INT else float(v)


_ORJSON_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _has_float(o: Any) -> bool:
    """Is there a float anywhere in the values of dict / list ``o`` (at any depth)?"""
    for v in o.values() if type(o) is dict else o:
        t = type(v)
        if t is float:
            return True
        if (t is dict or t is list) and _has_float(v):
            return True
    return False


def _orjson_leaf(leaf: bytes) -> tuple[Any, bool] | None:
    """``loads_leaf`` for the common case, with orjson (~2x faster), or None if it does not apply.

    Taken only for an ASCII leaf (so no non-BMP key) that orjson parses, holding no float
    and (OPT_STRICT_INTEGER) no integer beyond ±(2**53 - 1).  orjson is strictly RFC 8259: it
    accepts no input the standard library rejects, and on what both accept it builds the same
    objects (duplicate keys: the last wins in both).  Its sorted compact output equals the
    standard encoder's (same escapes: ``\\" \\\\ \\b \\f \\n \\r \\t``, other controls as lower-case
    ``\\u00xx``, everything else as UTF-8; keys in code-point order), hence JCS, for such objects.
    """
    if not leaf.isascii():
        return None
    try:
        obj = orjson.loads(leaf)
        if _has_float(obj) if type(obj) is dict or type(obj) is list else type(obj) is float:
            return None
        return obj, orjson.dumps(obj, option=_ORJSON_SORTED) == leaf
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, RecursionError):
        return None


# Built once: json.loads() with hooks would construct a new decoder for every leaf.
_fast_decoder = json.JSONDecoder(parse_float=_flag_float, parse_int=_checked_int)
_fast_decode = _fast_decoder.decode
_scan_once = _fast_decoder.scan_once


def loads_leaf(leaf: bytes) -> tuple[Any, bool]:
    """Parse a stored leaf and tell whether it is in JCS form (re-encoding gives the same bytes).

    Returns ``(obj, canonical)``.  Raises ``ValueError`` if the bytes are not JSON at all.
    """
    fast = _orjson_leaf(leaf)
    return fast if fast is not None else _stdlib_leaf(leaf)


def _stdlib_leaf(leaf: bytes) -> tuple[Any, bool]:
    """``loads_leaf`` with the standard library and ``rfc8785`` only (the reference path)."""
    try:
        text = leaf.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("leaf is not UTF-8") from exc
    if leaf.isascii() or _NON_BMP.search(leaf) is None:
        try:
            # A canonical leaf is one JSON value with no surrounding whitespace: scan it directly;
            # anything else takes the full decoder (its exact result and error messages).
            try:
                obj, end = _scan_once(text, 0)
            except StopIteration:
                end = -1
            if end != len(text):
                obj = _fast_decode(text)
        except _Unsafe:
            obj = None
        else:
            return obj, _encode_fast(obj).encode("utf-8") == leaf
    # JCS numbers are IEEE-754 doubles: integers beyond 2**53 are read as doubles, so that a
    # leaf holding one that a double cannot represent exactly is (correctly) not canonical.
    obj = json.loads(text, parse_int=_int_or_double)
    try:
        return obj, rfc8785.dumps(obj) == leaf
    except Exception:
        return obj, False


def message_without_sig(leaf: bytes, sig_b64: str) -> bytes | None:
    """JCS(entry without ``sig``) cut out of a canonical leaf, or None if it cannot be.

    Why this is exact: in JCS the top-level members are sorted (actor, payload, prev, seq, sig,
    time, type, v), so the top-level ``"sig"`` member is the LAST occurrence of
    ``,"sig":"`` — the later members (time, type, v) and the sig value are validated to contain no
    quotes — and deleting one member of a canonical object leaves the canonical object
    without it.  The caller only uses this on leaves already proven canonical and valid, and
    falls back to encoding the entry when it gives None.
    """
    i = leaf.rfind(b',"sig":"')
    if i < 0:
        return None
    j = i + 8 + len(sig_b64)
    if leaf[j:j + 1] != b'"' or leaf[i + 8:j] != sig_b64.encode("ascii"):
        return None
    return leaf[:i] + leaf[j + 1:]
