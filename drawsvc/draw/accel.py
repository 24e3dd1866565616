"""The optional C accelerator of the draw's bulk hashing, or None (the pure-Python path).

Why: at a province's size the pool commitment and the tickets are tens of millions of
SHA-256 calls, and through hashlib each costs several times the hashing itself in
interpreter work. `_fasthash` (drawsvc/draw/_fasthash.c, built by `pip install` where a C
compiler and OpenSSL's headers exist, skipped otherwise) runs the same loops in C over
OpenSSL's SHA-256 and gives the same bytes; every function of it returns None where the
input is not the plain case it handles, and the caller then takes the Python path.
DRAWSVC_PURE_PYTHON=1 disables it (tests set `FAST = None` to run the fallback).
"""

from __future__ import annotations

import os
from types import ModuleType

# every loop the callers use (drawsvc/draw/_fasthash.c's method table)
FUNCTIONS = ("first_positions", "increasing", "subject_root", "subject_leaves", "subject_part_leaves",
             "merkle_root", "tickets_below")


def _load() -> ModuleType | None:
    if os.environ.get("DRAWSVC_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from . import _fasthash  # type: ignore[attr-defined]
    except ImportError:
        return None
    # a build left from an older checkout (not rebuilt since) lacks newer loops: not used at all
    return _fasthash if all(hasattr(_fasthash, f) for f in FUNCTIONS) else None


FAST: ModuleType | None = _load()
