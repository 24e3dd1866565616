"""The per-entry half of `drawsvc log audit` (ledger.audit), run in worker processes.

A task is a contiguous run of stored leaves, sent as one bytes blob and their lengths, with
the seq of the first, the hex leaf hash its `prev` must name, and the key state in force
(the auditing process folds the rare key entries in before it hands the run out). For
every leaf the worker checks, in the order the audit reports them:

  * chain: it parses, says the seq it is stored at and names the previous leaf's hash, and
    its actor's key is registered, its own and not retired (SPEC §2, §3);
  * form: RFC 8785 canonical, the entry shape of ledger.entry.Entry.from_json, and the
    Ed25519 signature over the leaf without `sig`.

and returns the run's leaf hashes joined in one bytes object (plus, for a run aligned on a
power of two, the complete subtrees above them, level by level), the findings, and any
key entry the auditing process did not fold in (which makes the audit start over with the
reference pass, so a missed key entry can only cost time).

The form check has a fast path and a reference path. The reference is the one the audit
always used: `json.loads`, `canonical_bytes` (the stdlib encoder, or rfc8785), and
`Entry.from_json`. The fast path accepts an entry only when the reference would: the
object orjson parsed re-encodes through orjson (sorted keys) to exactly the stored bytes,
it holds only values for which that encoding is provably JCS (`is_simple`: no floats, no
integer beyond ±(2^53-1), no key outside the Basic Multilingual Plane; orjson escapes
strings exactly as JCS does, which tests/ledger/test_led_audit_fast.py checks for every
code point), every member has the type `Entry.from_json` demands, the time is an ASCII
`YYYY-MM-DDTHH:MM:SS.mmmZ` that `datetime.fromisoformat` accepts (the same dates the
reference's `strptime` accepts, at a fortieth of the cost), and the signature verifies.
Anything else goes to the reference path, which also words the finding.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from binascii import a2b_base64
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from .canonical import _MAX_SAFE, canonical_bytes, is_simple
from .entry import Entry, EntryError, check_type

# KEY_TYPES: the types that change which key may sign what (ledger.keyrules.KeyState.apply).
from .keyrules import KEY_TYPES, KeyRuleError, KeyState

_FIELDS = frozenset({"v", "seq", "time", "type", "actor", "payload", "prev", "sig"})
_ACTOR_FIELDS = frozenset({"id", "key_id"})
_TIME_FAST = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z")
_SORT = orjson.OPT_SORT_KEYS
_good_types: set[str] = set()  # entry types already shown to pass check_type (few per log)
_GOOD_TYPES_MAX = 4096

# A task: (first seq, hex leaf hash before it, leaves joined, their lengths,
#          key-state timeline [(from seq, keys, retired), ...], key-entry seqs folded in by
#          the auditing process, subtree levels wanted above the leaves).
Task = tuple[int, str, bytes, list[int], list[tuple[int, dict[str, tuple[str, bytes]], frozenset[str]]], frozenset[int], int]
# A result: (hashes per level from 0, chain findings, form findings, missed key entries).
# (subtree levels, chain findings, form findings, missed key entries, (seq, time) of the run's
# first and last dated entries — for the time order across runs)
Result = tuple[list[bytes], list[tuple[int, str]], list[tuple[int, str]], list[int],
               tuple[int, str] | None, tuple[int, str] | None]


def loads(leaf: bytes) -> Any:
    """orjson where it can (several times faster); the standard parser for what it refuses
    (integers beyond 64 bits). The form check still uses the reference rules."""
    try:
        return orjson.loads(leaf)
    except orjson.JSONDecodeError:
        return json.loads(leaf)


def signing_bytes_of(leaf: bytes) -> bytes:
    """JCS(entry without "sig" [and "sm2_sig"]) cut out of a canonical leaf: drop those members.

    In a canonical leaf the members are sorted (actor, payload, prev, seq, sig, time, type,
    v); only time, type and v follow sig, and none can hold that byte string, so the last
    occurrence is the member itself; its base64 value holds no quote. Exact only for a leaf
    already checked canonical, which the caller does first.
    """
    i = leaf.rfind(b',"sig":"')
    j = leaf.index(b'"', i + 8)
    rest = leaf[j + 1 :]
    if rest.startswith(b',"sm2_sig":"'):  # SPEC §3 item 11: sig and sm2_sig sign the entry without both;
        rest = rest[rest.index(b'"', 12) + 1 :]  # sm2_sig sorts right after sig, its value holds no quote
    return leaf[:i] + rest


def check_form(seq: int, leaf: bytes, public_key: bytes) -> str | None:
    """The reference check of canonical form, shape and signature; the finding, or None."""
    obj: Any = None
    try:
        obj = json.loads(leaf)
        if canonical_bytes(obj) != leaf:
            raise EntryError(f"entry {seq}: leaf is not in RFC 8785 canonical form")
        entry = Entry.from_json(obj)
        crypto_sign_open(base64.b64decode(entry.sig, validate=True) + signing_bytes_of(leaf), public_key)
    except (EntryError, BadSignatureError, ValueError) as exc:
        if isinstance(exc, EntryError):
            return str(exc)
        actor = obj.get("actor") if isinstance(obj, dict) else None
        return f"entry {seq}: signature by {actor} does not verify"
    return None


def _type_ok(kind: str) -> bool:
    if kind in _good_types:
        return True
    check_type(kind)  # raises for a bad one: the reference path words it
    if len(_good_types) < _GOOD_TYPES_MAX:
        _good_types.add(kind)
    return True


def _payload_simple(payload: dict[str, Any], ascii_leaf: bool) -> bool:
    """is_simple(payload), with a short cut for the usual flat object of strings and small
    integers (in an ASCII leaf no key can lie outside the Basic Multilingual Plane)."""
    if ascii_leaf:
        for value in payload.values():
            kind = type(value)
            if kind is str or (kind is int and -_MAX_SAFE <= value <= _MAX_SAFE):
                continue
            return is_simple(payload)
        return True
    return is_simple(payload)


def form_ok_fast(leaf: bytes, obj: Any, public_key: bytes) -> bool:
    """True only if the entry is canonical, well-formed and validly signed (see the module
    docstring); False means "ask check_form", not "broken"."""
    try:
        actor = obj["actor"]
        v = obj["v"]
        seq = obj["seq"]
        when = obj["time"]
        sig = obj["sig"]
        kind = obj["type"]
        if not (type(obj) is dict and obj.keys() == _FIELDS
                and type(actor) is dict and actor.keys() == _ACTOR_FIELDS
                and type(actor["id"]) is str and type(actor["key_id"]) is str
                and type(v) is int and v == 1
                and type(seq) is int and 0 <= seq <= _MAX_SAFE
                and type(obj["prev"]) is str
                and type(sig) is str and len(sig) == 88
                and type(when) is str and _TIME_FAST.fullmatch(when)
                and type(kind) is str and (kind in _good_types or _type_ok(kind))
                and type(obj["payload"]) is dict and _payload_simple(obj["payload"], leaf.isascii())
                and orjson.dumps(obj, option=_SORT) == leaf):
            return False
        datetime.fromisoformat(when[:-1])  # a real date and time (the pattern fixed the form)
        # strict base64 accepts a subset of what b64decode(validate=True) accepts, to the same bytes
        raw = a2b_base64(sig, strict_mode=True)
        # the `,"sig":"…"` member of a canonical leaf: the last one, its value exactly `sig`
        i = leaf.rfind(b',"sig":"')
        signed = b"".join((raw, leaf[:i], leaf[i + 97:]))
        if _open is not None:
            return _open(signed, public_key)  # False: the reference path names the failure
        crypto_sign_open(signed, public_key)
    except Exception:  # noqa: BLE001 - any doubt goes to the reference path
        return False
    return True


def _sodium_open() -> Callable[[bytes, bytes], bool] | None:
    """libsodium's crypto_sign_open into one reused output buffer, or None if PyNaCl's layout moved.

    PyNaCl's ``crypto_sign_open`` allocates and zeroes an output buffer and copies the message
    out on every call — a few µs per entry, once per entry of the log; the verdict (0: valid) is
    the same. Only a True is trusted: any other answer goes to the reference check."""
    try:
        from nacl._sodium import ffi, lib  # the cffi module PyNaCl itself calls

        sodium_open = lib.crypto_sign_open
        out_len = ffi.new("unsigned long long *")
    except (ImportError, AttributeError):  # pragma: no cover - other PyNaCl layouts
        return None
    buf = [ffi.new("unsigned char[]", 1 << 17), 1 << 17]

    def ok(signed: bytes, public_key: bytes) -> bool:
        if len(public_key) != 32:
            return False
        if len(signed) > buf[1]:
            buf[:] = [ffi.new("unsigned char[]", len(signed)), len(signed)]
        return sodium_open(buf[0], out_len, signed, len(signed), public_key) == 0  # type: ignore[no-any-return]

    return ok


_open = _sodium_open()


def subtree_levels(hashes: list[bytes], levels: int) -> list[bytes]:
    """Level 0 (the given hashes) and up to `levels` levels of complete nodes above them,
    each joined into one bytes object; exact tree nodes when the run starts at a multiple
    of 2**levels."""
    sha = hashlib.sha256
    out = [b"".join(hashes)]
    cur = hashes
    for _ in range(levels):
        cur = [sha(b"\x01" + cur[j] + cur[j + 1]).digest() for j in range(0, len(cur) - 1, 2)]
        if not cur:
            break
        out.append(b"".join(cur))
    return out


def chain_step(obj: Any, seq: int, prev: str, keys: KeyState) -> bytes:
    """The key in force for a parsed entry stored at `seq` after a leaf hashing to `prev`.

    Raises EntryError (wrong seq or prev) or KeyRuleError (no such key); one definition for the
    workers' runs and the reference pass, so both name a break in the same words."""
    if obj.get("seq") != seq:
        raise EntryError(f"stored at seq {seq} but says seq {obj.get('seq')!r}")
    if obj.get("prev") != prev:
        raise EntryError(f"prev is {obj.get('prev')!r}, expected {prev}")
    return keys.resolve(obj)


def check_run(task: Task) -> Result:
    """Worker: chain and form of a contiguous run of leaves (see the module docstring)."""
    start, prev, blob, lengths, timeline, key_seqs, levels = task
    sha = hashlib.sha256
    states = [(from_seq, KeyState(keys=k, retired=set(r))) for from_seq, k, r in timeline]
    si = 0
    keys = states[0][1]
    next_from = states[1][0] if len(states) > 1 else None
    hashes: list[bytes] = []
    chain_bad: list[tuple[int, str]] = []
    form_bad: list[tuple[int, str]] = []
    missed: list[int] = []
    first: tuple[int, str] | None = None
    last: tuple[int, str] | None = None
    off = 0
    seq = start
    for n in lengths:
        leaf = blob[off:off + n]
        off += n
        h = sha(b"\x00" + leaf).digest()
        hashes.append(h)
        while next_from is not None and seq >= next_from:
            si += 1
            keys = states[si][1]
            next_from = states[si + 1][0] if si + 1 < len(states) else None
        try:
            obj = loads(leaf)
            public_key = chain_step(obj, seq, prev, keys)
        except (ValueError, KeyRuleError, AttributeError, TypeError) as exc:
            chain_bad.append((seq, str(exc)))
        else:
            t = obj.get("time")
            if type(t) is str:
                if last is not None and (bad := time_order_problem(last, t)):
                    chain_bad.append((seq, bad))
                last = (seq, t)
                first = first or last
            kind = obj.get("type")
            if type(kind) is str and kind in KEY_TYPES and seq not in key_seqs:
                missed.append(seq)
            if not form_ok_fast(leaf, obj, public_key):
                message = check_form(seq, leaf, public_key)
                if message is not None:
                    form_bad.append((seq, message))
        prev = h.hex()
        seq += 1
    return subtree_levels(hashes, levels), chain_bad, form_bad, missed, first, last


def time_order_problem(before: tuple[int, str], time: str) -> str | None:
    """Entry times never run backwards (docs/SPEC.md §2): the §1 form is fixed width, so text
    order is time order. The finding for an entry dated `time` after `before` = (seq, time)."""
    if time < before[1]:
        return f"dated {time}, before entry {before[0]} ({before[1]}): entry times never run backwards"
    return None
