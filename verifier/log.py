"""Verification of the log, re-implemented from docs/SPEC.md Part I.

The entries are checked in chunks of :data:`CHUNK`.  Everything about an entry that does not
depend on the entries before it — size, JSON, RFC 8785 form, v1 fields, leaf hash, the
``prev`` links inside the chunk, and, for ordinary entries, key rules and Ed25519 signatures —
is done by :class:`_ChunkWorker`, in worker processes on a big log (:class:`ChunkPool`).  The
main process keeps what is order-dependent: the key-management entries (entry 0, genesis,
registrations, rotations, log-key rotations; found by a byte search for their type names —
see :data:`_KEY_NEEDLES` — then parsed and applied in order, their registry changes replayed
by the workers before the entries that follow them), the seq numbers, the ``prev`` link
between chunks, and the RFC 9162 tree (whole aligned subtrees come hashed from the workers;
roots captured at every checkpoint size).  Each entry's findings are reported in the
order a one-entry-at-a-time pass would report them.  Then the checkpoints: signature by the
log key in force at their size, root, origin, consistency with each other, witness
cosignatures.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import sys
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate, islice
from typing import Any

import orjson
from tqdm import tqdm

from .canonical import _ORJSON_SORTED, _has_float, jcs, loads_leaf, message_without_sig
from .findings import Check, Finding, Report
from .merkle import EMPTY_ROOT, TreeBuilder, root_by_levels, verify_consistency, verify_inclusion
from .note import (
    Checkpoint,
    NoteError,
    SignedNote,
    VerifierKey,
    b64decode_strict,
    own_cosignature_key,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    verify_cosignature,
    verify_note,
)
from .parallel import ChunkPool, ed25519_failures, ed25519_ok
from .sm2 import ACTOR_ENTRY_TYPE as SM2_ACTOR_ENTRY_TYPE
from .sm2 import ENTRY_TYPE as SM2_ENTRY_TYPE
from .sm2 import Sm2Keys, entry_sm2_problem, parse_actor_sm2

__all__ = ["MAX_LEAF", "ZERO_PREV", "LogOptions", "actor_key_id", "validate_entry", "verify_log"]

MAX_LEAF = 65535
ZERO_PREV = "0" * 64
ENTRY_FIELDS = frozenset({"v", "seq", "time", "type", "actor", "payload", "prev", "sig"})
#: An entry by an actor holding an SM2 key also carries sm2_sig (SPEC §3 item 11).
ENTRY_FIELDS_SM2 = ENTRY_FIELDS | {"sm2_sig"}
SYSTEM = "system"
KEY_TYPES = frozenset({"log.genesis", "actor.key.registered", "actor.key.rotated", "log.key.rotated",
                       "actor.key.revoked", "log.key.revoked", "witness.key.registered", "witness.key.rotated",
                       "witness.key.revoked", SM2_ENTRY_TYPE, SM2_ACTOR_ENTRY_TYPE})
#: §3 items 7-10: a revocation's reason is 1 to this many characters.
MAX_REASON = 200
#: Below this many entries a worker pool costs more than it saves.
PARALLEL_THRESHOLD = 20000
#: Entries per chunk of work (a power of two: a worker hashes a whole aligned subtree).
CHUNK = 4096
#: A leaf whose type may be a key-management type holds one of these byte strings: each such
#: type name contains "genesis" or "key.r", and a JSON string can only spell it differently
#: with a backslash escape.  Leaves holding none of them are never key-management entries.
_KEY_NEEDLES = (b"genesis", b"key.r", b"\\")

_TYPE_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def actor_key_id(public_key: bytes) -> str:
    """key_id of an Ed25519 public key = hex(SHA-256(public key))[0:16]."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def _sig_bytes(s: Any) -> bytes | None:
    if type(s) is not str or len(s) != 88:
        return None
    try:
        raw = binascii.a2b_base64(s, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 64 else None


def validate_entry(e: Any) -> str | None:
    """Why ``e`` is not a well-formed v1 entry, or None if it is."""
    return _validate(e)[0]


#: Values already proven valid (few distinct ones in a log), so that most entries skip the
#: regular expressions and the date parse.  Bounded: a hostile log cannot grow them forever.
_GOOD_TYPES: set[str] = set()
_GOOD_KIDS: set[str] = set()
_GOOD_DATES: set[str] = set()
_GOOD_MINUTES: set[str] = set()  # "YYYY-MM-DDTHH:MM:" prefixes of times accepted without the date parse
_CACHE_MAX = 65536


_ACTOR_FIELDS = frozenset({"id", "key_id"})
_NO: Any = object()  # "not parsed yet"
_FLAT = frozenset({str, int, bool, type(None)})  # value types of a payload that holds no float and no container
orjson_loads, orjson_dumps = orjson.loads, orjson.dumps


def _validate(e: Any, known_prev: str | None = None) -> tuple[str | None, bytes | None]:
    """(why ``e`` is not a well-formed v1 entry or None, its signature bytes when well-formed).

    ``known_prev``: a string already known to be 64 lower-case hex digits (the previous leaf
    hash); a ``prev`` equal to it needs no second look.
    """
    if type(e) is not dict:
        return "entry is not a JSON object", None
    if e.keys() != ENTRY_FIELDS and (e.keys() != ENTRY_FIELDS_SM2 or type(e["sm2_sig"]) is not str):
        missing = sorted(ENTRY_FIELDS - e.keys())
        extra = sorted(e.keys() - ENTRY_FIELDS)
        return f"fields wrong (missing {missing}, unexpected {extra})", None
    v = e["v"]
    if type(v) is not int or v != 1:
        return f"v must be 1, got {v!r}", None
    seq = e["seq"]
    if type(seq) is not int or seq < 0:
        return f"seq must be a non-negative integer, got {seq!r}", None
    t = e["time"]
    # Fast accept: an ASCII date-time in a minute already accepted without the date parse, whose
    # seconds are two digits <= 59, then three digits and Z (what the full check accepts).  Digits
    # other than ASCII ones (\d matches them) always take the date parse, which refuses them.
    if type(t) is not str or not (t[:17] in _GOOD_MINUTES and len(t) == 24 and t[19] == "." and t[23] == "Z"
                                  and t[17:19] <= "59" and t.isascii() and t[17:19].isdecimal()
                                  and t[20:23].isdecimal()):
        if type(t) is not str or not _TIME_RE.fullmatch(t):
            return f"time must be RFC 3339 UTC with milliseconds, got {t!r}", None
        d = t[:10]
        if d not in _GOOD_DATES or t[11:13] > "23" or t[14:16] > "59" or t[17:19] > "59" or not t.isascii():
            try:
                datetime.fromisoformat(t[:-1])
            except ValueError:
                return f"time is not a valid date-time: {t!r}", None
            if len(_GOOD_DATES) < _CACHE_MAX:
                _GOOD_DATES.add(d)
        elif len(_GOOD_MINUTES) < _CACHE_MAX:
            _GOOD_MINUTES.add(t[:17])
    typ = e["type"]
    if type(typ) is not str or typ not in _GOOD_TYPES:
        if type(typ) is not str or not _TYPE_RE.fullmatch(typ):
            return f"type {typ!r} does not match ^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)+$", None
        if len(_GOOD_TYPES) < _CACHE_MAX:
            _GOOD_TYPES.add(typ)
    a = e["actor"]
    if type(a) is not dict or a.keys() != _ACTOR_FIELDS:
        return "actor must be {id, key_id}", None
    aid = a["id"]
    if type(aid) is not str or not aid:
        return "actor.id must be a non-empty string", None
    kid = a["key_id"]
    if type(kid) is not str or kid not in _GOOD_KIDS:
        if type(kid) is not str or not _HEX16.fullmatch(kid):
            return f"actor.key_id must be 16 lower-case hex digits, got {kid!r}", None
        if len(_GOOD_KIDS) < _CACHE_MAX:
            _GOOD_KIDS.add(kid)
    if type(e["payload"]) is not dict:
        return "payload must be an object", None
    prev = e["prev"]
    if (known_prev is None or prev != known_prev) and (type(prev) is not str or not _HEX64.fullmatch(prev)):
        return "prev must be 64 lower-case hex digits", None
    s = e["sig"]
    if type(s) is str and len(s) == 88:  # _sig_bytes, inlined
        try:
            sig = binascii.a2b_base64(s, strict_mode=True)
        except (binascii.Error, ValueError):
            sig = b""
        if len(sig) == 64:
            return None, sig
    return "sig must be base64 of a 64-byte Ed25519 signature", None


def _pub(s: Any) -> bytes | None:
    try:
        raw = b64decode_strict(s)
    except NoteError:
        return None
    return raw if len(raw) == 32 else None


@dataclass
class LogOptions:
    """What to trust and what else to fetch, beyond the entries and checkpoints."""

    start: int = 0
    log_key: str | None = None  # pinned verifier key (trust anchor)
    served_log_key: str | None = None  # what the server says its key is
    witnesses: Sequence[str] = ()
    min_witnesses: int | None = None
    consistency_proofs: dict[tuple[int, int], list[bytes]] | None = None
    fetch_consistency: Callable[[int, int], list[bytes]] | None = None
    fetch_inclusion: Callable[[int, int], list[bytes]] | None = None
    inclusion_samples: int = 8
    progress: bool = False
    parallel: bool | None = None  # None: decide by size
    workers: int | None = None


class _KeyRing:
    """Actor keys as registered by the log itself: (actor id, key_id) -> [public key, state],
    state 0 in force, 1 retired by a rotation, 2 revoked (§3 item 7).

    With ``record``, every change is also kept as an event ``(position, op, actor, key_id,
    public key)`` so that worker processes can replay the registry up to any entry.
    """

    def __init__(self, record: bool = False) -> None:
        self.keys: dict[tuple[str, str], list[Any]] = {}
        self.sm2: dict[str, bytes] = {}  # actor -> SM2 point in force (§3 item 11)
        self.events: list[tuple[int, str, str, str, bytes | None]] | None = [] if record else None
        self.at = 0  # position of the entry whose changes are being recorded

    def register(self, actor: str, kid: str, pub: bytes) -> None:
        self.keys[(actor, kid)] = [pub, 0]
        if self.events is not None:
            self.events.append((self.at, "reg", actor, kid, pub))

    def retire(self, actor: str, kid: str) -> None:
        if (actor, kid) in self.keys:
            self.keys[(actor, kid)][1] = max(self.keys[(actor, kid)][1], 1)
            if self.events is not None:
                self.events.append((self.at, "ret", actor, kid, None))

    def revoke(self, actor: str, kid: str) -> None:
        if (actor, kid) in self.keys:
            self.keys[(actor, kid)][1] = 2
            if self.events is not None:
                self.events.append((self.at, "rev", actor, kid, None))

    def sm2_register(self, actor: str, point: bytes) -> None:
        """§3 item 11: from the next entry on, the actor's entries carry sm2_sig by this key."""
        self.sm2[actor] = point
        if self.events is not None:
            self.events.append((self.at, "sm2", actor, "", point))

    def get(self, actor: str, kid: str) -> tuple[bytes | None, str | None]:
        """(public key, None) or (None, finding code)."""
        k = self.keys.get((actor, kid))
        if k is None:
            return None, "UNKNOWN_KEY"
        if k[1] == 2:
            return None, "REVOKED_KEY"
        if k[1]:
            return None, "RETIRED_KEY"
        return k[0], None


#: A finding as workers report it: (index in chunk, stage, check name, code, seq or position,
#: message, expected, actual).  Stages order one entry's findings as a sequential pass would:
_PARSE, _SEQ, _CHAIN, _ENTRY = 0, 1, 2, 3
Found = tuple[int, int, str, str, int | None, str, str | None, str | None]


def _s(v: Any) -> str | None:
    return None if v is None else str(v)


def _resolve(ring: _KeyRing, out: list[Found], idx: int, check: str, actor: str, kid: str, seq: int,
             what: str) -> bytes | None:
    """The registered, unretired key (actor, kid), or None with the reason appended to ``out``."""
    pub, err = ring.get(actor, kid)
    if err == "UNKNOWN_KEY":
        out.append((idx, _ENTRY, check, err, seq, f"{what} is signed by key ({actor}, {kid}) that no earlier entry "
                    "registered", "a key registered by an earlier entry", f"{actor}/{kid}"))
    elif err == "RETIRED_KEY":
        out.append((idx, _ENTRY, check, err, seq, f"{what} is signed by key ({actor}, {kid}), retired by an earlier "
                    "rotation", "the actor's current key", f"{actor}/{kid} (retired)"))
    elif err == "REVOKED_KEY":
        out.append((idx, _ENTRY, check, err, seq, f"{what} is signed by key ({actor}, {kid}), revoked by an earlier "
                    "actor.key.revoked entry: refused whatever time the entry claims", "a key in force",
                    f"{actor}/{kid} (revoked)"))
    return pub


class _Tree(TreeBuilder):
    """TreeBuilder that also takes a whole perfect subtree at an aligned size."""

    __slots__ = ()

    def append_subtree(self, height: int, h: bytes) -> None:
        """Add 2**height leaves at once, given their subtree root; the size must be a multiple of 2**height."""
        size = 1 << height
        assert self.size % size == 0
        peaks = self._peaks
        while peaks and peaks[-1][0] == height:
            h = hashlib.sha256(b"\x01" + peaks.pop()[1] + h).digest()
            height += 1
        peaks.append((height, h))
        self.size += size


class _ChunkWorker:
    """The checks of one chunk of entries that need no entry before the chunk (a worker process).

    For every entry: size, JSON, RFC 8785 form, v1 fields, leaf hash, ``prev`` against the
    previous entry of the chunk; for every entry that is not a key-management entry (those
    the main process checks, in order: ``special``), the key rules and the Ed25519 signatures
    against the key registry as it stands just before that entry — replayed from the main
    process's registry events.  Returns, compactly: the leaf hashes as one bytes object, the
    first entry's ``prev``, the seq numbers (or just the first when they run on by one), and
    the findings.
    """

    def __init__(self, full: bool) -> None:
        self.full = full
        self.ring = _KeyRing()
        self.events: list[tuple[int, str, str, str, bytes | None]] = []
        self.applied = 0

    def _replay(self, before: int) -> int:
        """Apply the registry events of entries before position ``before``; the next event's position."""
        ev, i, ring = self.events, self.applied, self.ring
        while i < len(ev) and ev[i][0] < before:
            _, op, actor, kid, pub = ev[i]
            if op == "reg":
                ring.register(actor, kid, pub)  # type: ignore[arg-type]
            elif op == "sm2":
                ring.sm2_register(actor, pub)  # type: ignore[arg-type]
            elif op == "rev":
                ring.revoke(actor, kid)
            else:
                ring.retire(actor, kid)
            i += 1
        self.applied = i
        return ev[i][0] if i < len(ev) else sys.maxsize

    def _parse(self, item: Any, i: int, pos: int, found: Callable[[Found], None]) -> tuple[Any, bytes, bool]:
        """(entry or None, leaf bytes, canonical?) of any item, with its parse-stage findings (the general path)."""
        canonical = False
        if isinstance(item, bytes | bytearray):
            leaf = item if type(item) is bytes else bytes(item)
            if len(leaf) > MAX_LEAF:
                found((i, _PARSE, "format", "ENTRY_TOO_LARGE", pos, "leaf exceeds the 65535-byte limit",
                       str(MAX_LEAF), str(len(leaf))))
            try:
                e, canonical = loads_leaf(leaf)
            except ValueError as exc:
                found((i, _PARSE, "format", "ENTRY_MALFORMED", pos, f"leaf is not JSON: {exc}", None, None))
                return None, leaf, False
            if not canonical:
                found((i, _PARSE, "canonical", "NOT_CANONICAL", pos,
                       "stored leaf is not the RFC 8785 encoding of its own content", _short(_safe_jcs(e)),
                       _short(leaf)))
            return e, leaf, canonical
        e = item
        try:
            leaf = jcs(e)
        except ValueError as exc:
            found((i, _PARSE, "format", "ENTRY_MALFORMED", pos, f"entry has no JCS form: {exc}", None, None))
            leaf = repr(e).encode()
        if len(leaf) > MAX_LEAF:
            found((i, _PARSE, "format", "ENTRY_TOO_LARGE", pos, "leaf exceeds the 65535-byte limit",
                   str(MAX_LEAF), str(len(leaf))))
        return e, leaf, False

    def __call__(self, task: tuple[Any, ...], wid: int) -> tuple[Any, ...]:
        pos0, items, special, ev_base, events, subtree = task
        if type(items) is tuple:  # (blob, end offsets): cheaper to send than many small objects
            blob, ends = items
            items = [blob[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
            raw = len(items)
        else:
            raw = sum(isinstance(x, bytes | bytearray) for x in items)
        have = len(self.events)
        if ev_base > have:
            raise RuntimeError("key registry events lost")
        self.events.extend(events[have - ev_base:])
        nxt = self._replay(pos0)
        full, keys, sm2_keys = self.full, self.ring.keys, self.ring.sm2
        out: list[Found] = []
        found = out.append
        lhs: list[bytes] = []
        keep = lhs.append
        seqs: list[int | None] = []
        keep_seq = seqs.append
        sha = hashlib.sha256
        checks: list[tuple[bytes, bytes, bytes, int, int, str, str, bool]] = []
        todo = checks.append
        loads, dumps, sort, flat, validate = orjson_loads, orjson_dumps, _ORJSON_SORTED, _FLAT, _validate
        first_prev: Any = None
        prev_hex: str | None = None
        first_time = last_time = None  # of the valid entries: times never run backwards (§2)
        for i, item in enumerate(items):
            pos = pos0 + i
            if pos > nxt:
                nxt = self._replay(pos)
            # The common case first: an ASCII leaf within the size limit that orjson reads as a valid
            # entry with no float (loads_leaf's fast path, and then _validate, inlined; a valid entry
            # can only hold a float in its payload).  Anything else takes the general path.
            e = _NO
            if type(item) is bytes and len(item) <= MAX_LEAF and item.isascii():
                try:
                    e = loads(item)
                    if type(e) is dict:
                        err, sig = validate(e, prev_hex)
                        if err is None and (flat.issuperset(map(type, e["payload"].values()))
                                            or not _has_float(e["payload"])):
                            canonical = dumps(e, option=sort) == item
                        else:
                            e = _NO
                    else:
                        e = _NO
                except (orjson.JSONDecodeError, orjson.JSONEncodeError, RecursionError):
                    e = _NO
            if e is not _NO:
                leaf = item
                if not canonical:
                    found((i, _PARSE, "canonical", "NOT_CANONICAL", pos,
                           "stored leaf is not the RFC 8785 encoding of its own content", _short(_safe_jcs(e)),
                           _short(leaf)))
                seq = e["seq"]
                prev = e["prev"]
            else:
                e, leaf, canonical = self._parse(item, i, pos, found)
                if type(e) is dict:
                    err, sig = validate(e, prev_hex)
                    seq = e.get("seq")
                    if type(seq) is not int:
                        seq = None
                    prev = e.get("prev")
                else:
                    err, sig = _validate(e) if e is not None else ("unparseable", None)
                    seq = prev = None
            lh = sha(b"\x00" + leaf).digest()
            keep(lh)
            keep_seq(seq)
            where = seq if seq is not None else pos
            if prev_hex is None:
                first_prev = prev
            elif prev != prev_hex:
                found((i, _CHAIN, "chain", "PREV_MISMATCH", where, "prev is not the leaf hash of the entry before it",
                       prev_hex, _s(prev)))
            prev_hex = lh.hex()
            if err is None:
                t = e["time"]  # valid: RFC 3339 ms UTC, fixed width, so text order is time order
                if last_time is None:
                    first_time = t
                elif t < last_time:
                    found((i, _CHAIN, "time_order", "ENTRY_TIME_DECREASING", where, "the entry is dated before the "
                           "entry before it: entry times never run backwards", f">= {last_time}", t))
                last_time = t
            if err is not None:
                if e is not None:
                    found((i, _ENTRY, "format", "ENTRY_MALFORMED", where, err, None, None))
                continue
            if not full:
                continue
            typ = e["type"]
            if pos == 0 or typ in KEY_TYPES:
                if i not in special:
                    raise RuntimeError(f"key-management entry at position {pos} was not routed to the main process")
                continue
            if special and i in special:
                raise RuntimeError(f"entry at position {pos} wrongly taken for a key-management entry")
            # message_without_sig, inlined: in a canonical valid leaf the last ',"sig":"' starts the
            # top-level sig member, whose value is the 88 characters after it, then '"'.
            msg = None
            if canonical:
                j = leaf.rfind(b',"sig":"')
                if j > 0 and leaf[j + 96:j + 97] == b'"':
                    msg = leaf[:j] + leaf[j + 97:]
            if msg is None:
                msg = _safe_jcs({k: v for k, v in e.items() if k != "sig"})
            actor = e["actor"]
            aid, kid = actor["id"], actor["key_id"]
            if typ.startswith("external."):
                if aid != SYSTEM:
                    found((i, _ENTRY, "keys", "KEY_RULE_VIOLATION", where,
                           "external.* entries must be signed by actor system", SYSTEM, aid))
                self._external(e, i, where, out, todo)
            k = keys.get((aid, kid))
            if k is None or k[1]:
                _resolve(self.ring, out, i, "signatures", aid, kid, where, "entry")
                continue
            if "sm2_sig" in e or aid in sm2_keys:  # §3 item 11: both signatures, over the same bytes
                msg = _safe_jcs({k: v for k, v in e.items() if k != "sig" and k != "sm2_sig"})
                bad = entry_sm2_problem(sm2_keys.get(aid), e.get("sm2_sig"), msg)
                if bad is not None:
                    found((i, _ENTRY, "signatures", bad[0], where, bad[1], f"SM2 signature by {aid}", "none"
                           if bad[0] == "ENTRY_SM2_SIGNATURE_MISSING" else "invalid"))
            todo((msg, sig, k[0], i, where, aid, kid, False))
        # The signatures last, in one tight loop (the crypto code stays hot in the CPU caches).
        for j in ed25519_failures(checks):
            _, _, _, i, where, aid, kid, client = checks[j]
            if client:
                found((i, _ENTRY, "client_signatures", "CLIENT_SIG_INVALID", where,
                       "client_sig does not verify over JCS({client, type, record})",
                       f"valid signature by {aid}/{kid}", "invalid signature"))
            else:
                found((i, _ENTRY, "signatures", "ENTRY_SIGNATURE_INVALID", where,
                       "Ed25519 signature does not verify over JCS(entry without sig)",
                       f"valid signature by {aid}/{kid}", "invalid signature"))
        n = len(items)
        s0 = seqs[0]
        run_on = type(s0) is int and seqs == list(range(s0, s0 + n))
        first_where = s0 if s0 is not None else pos0
        root = root_by_levels(lhs) if subtree else None
        return (b"".join(lhs), first_prev, first_where, s0, None if run_on else seqs, out, len(checks), raw,
                n - raw, root, len(self.events), first_time, last_time)

    def _external(self, e: dict[str, Any], i: int, seq: int, out: list[Found], todo: Callable[[Any], None]) -> None:
        """The client record of an external.* entry: its rules now, its signature queued in ``todo``."""
        p = e["payload"]
        if p.keys() != {"client", "client_key_id", "record", "client_sig"} or type(p["client"]) is not str \
                or type(p["client_key_id"]) is not str:
            out.append((i, _ENTRY, "client_signatures", "KEY_RULE_VIOLATION", seq,
                        "external payload must be {client, client_key_id, record, client_sig}", None, str(sorted(p))))
            return
        cid = "client:" + p["client"]
        ckid = p["client_key_id"]
        pub = _resolve(self.ring, out, i, "client_signatures", cid, ckid, seq, "client record")
        if pub is None:
            return
        cs = _sig_bytes(p["client_sig"])
        if cs is None:
            out.append((i, _ENTRY, "client_signatures", "CLIENT_SIG_INVALID", seq,
                        "client_sig is not base64 of a 64-byte signature", None, None))
            return
        body = _safe_jcs({"client": p["client"], "type": e["type"], "record": p["record"]})
        todo((body, cs, pub, i, seq, cid, ckid, True))


class _LogVerifier:
    def __init__(self, opts: LogOptions, report: Report) -> None:
        self.o = opts
        self.r = report
        c = report.check
        self.c_source = c("source", "entries read from the source")
        self.c_format = c("format", "entry fields and types (v1 schema, size <= 65535)")
        self.c_canon = c("canonical", "leaves in RFC 8785 canonical form")
        self.c_seq = c("sequence", "seq contiguous")
        self.c_chain = c("chain", "prev links (hash chain)")
        self.c_time = c("time_order", "entry times never run backwards")
        self.c_keys = c("keys", "key registry (genesis, registrations, rotations, retirements)")
        self.c_sigs = c("signatures", "entry signatures by registered, unretired actor keys")
        self.c_client = c("client_signatures", "external.* records signed by the client's registered key")
        self.c_cps = c("checkpoints", "checkpoints signed by the log key in force at their size")
        self.c_tree = c("tree", "Merkle root of the entries equals each checkpoint's root (RFC 9162)")
        self.c_cons = c("consistency", "checkpoints form one append-only history")
        self.c_incl = c("inclusion", "inclusion proofs served by the log")
        self.c_logkey = c("log_key", "log key matches the pinned / served key")
        self.c_wit = c("witnesses", "witness cosignatures (tlog-cosignature/v1)")
        self.ring = _KeyRing(record=True)
        self.log_keys: list[tuple[int, VerifierKey]] = []  # (in force from size, key)
        self.revoked_log_keys: dict[str, int] = {}  # verifier key -> seq of its log.key.revoked
        self.revocations: list[str] = []  # actor keys revoked on the log, for the report
        #: §3 item 9: witness name -> its key in force; every witness key the log named -> [name, first
        #: checkpoint size in force, last size in force or None, "rotated" / "revoked" / None,
        #: the key it was rotated from or None]
        self.witness_names: dict[str, str] = {}
        self.witness_keys: dict[str, list[Any]] = {}
        self.sm2 = Sm2Keys()  # the SM2 (国密) line each checkpoint must carry (verifier/sm2.py)
        self.origin: str | None = None
        self.tree = _Tree()
        self.sample_hashes: dict[int, bytes] = {}
        self._sink: list[Found] | None = None  # findings of a key-management entry, held for their turn
        self._idx = 0
        self.nsig = 0

    # -- findings helpers -------------------------------------------------------------
    def _f(self, check: Check, code: str, seq: int | None, msg: str, expected: Any = None, actual: Any = None) -> None:
        t = (self._idx, _ENTRY, check.name, code, seq, msg, _s(expected), _s(actual))
        if self._sink is not None:
            self._sink.append(t)
        else:
            self._emit(t)

    def _emit(self, t: Found) -> None:
        _, _, name, code, seq, msg, expected, actual = t
        self.r.checks[name].fail(Finding(code, f"seq {seq}" if seq is not None else "log", msg, expected, actual,
                                         seq=seq))

    def _resolve(self, check: Check, actor: str, kid: str, seq: int, what: str) -> bytes | None:
        out: list[Found] = []
        pub = _resolve(self.ring, out, self._idx, check.name, actor, kid, seq, what)
        for t in out:
            self._f(check, *t[3:])  # type: ignore[arg-type]
        return pub

    # -- the entries ------------------------------------------------------------------
    def run(self, entries: Iterable[Any], total: int | None, checkpoints: Sequence[str]) -> None:
        o = self.o
        cps = self._parse_checkpoints(checkpoints)
        self.wanted = sorted({cp.size for _, cp in cps})
        self.wanted_set = set(self.wanted)
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT}
        full = o.start == 0
        parallel = o.parallel if o.parallel is not None else (total or 0) >= PARALLEL_THRESHOLD
        self.samples = sorted(self._sample_indices(max((cp.size for _, cp in cps), default=0)))
        self.raw_seen = self.json_seen = 0
        self.expected_seq = o.start
        self.prev_hash: str | None = ZERO_PREV if full else None
        self.last_time: str | None = None
        pool = ChunkPool(_ChunkWorker, (full,), workers=o.workers, parallel=parallel)  # before any thread exists
        self.parallel = pool.parallel
        self.acks = [0] * pool.workers
        bar = tqdm(total=total, unit="entry", desc="verifying", file=sys.stderr, disable=not o.progress,
                   mininterval=0.5)
        pending: deque[tuple[int, int, list[Found]]] = deque()
        n = 0
        try:
            it = iter(entries)
            while True:
                items = list(islice(it, CHUNK))
                if not items:
                    break
                task, held = self._prepare(items, o.start + n, full)
                pending.append((o.start + n, len(items), held))
                n += len(items)
                for wid, res in pool.submit(task):
                    bar.update(self._absorb(pending.popleft(), wid, res))
            for wid, res in pool.finish():
                bar.update(self._absorb(pending.popleft(), wid, res))
        finally:
            bar.close()
            pool.close()
        self.count = n
        self._after_entries(n, self.raw_seen, self.json_seen, full)
        self._checkpoints(cps, self.roots, n, full)

    def _prepare(self, items: list[Any], pos0: int, full: bool) -> tuple[tuple[Any, ...], list[Found]]:
        """A chunk's task for a worker; key-management entries are checked here, now, in order."""
        raw = all(type(x) is bytes for x in items)
        payload: Any = items
        cands: list[int] = []
        if raw:
            blob = b"".join(items)
            ends = list(accumulate(map(len, items)))
            if self.parallel:
                payload = (blob, ends)
            if full:
                hits = set()
                for needle in _KEY_NEEDLES:
                    j = blob.find(needle)
                    while j >= 0:
                        k = bisect_right(ends, j)
                        hits.add(k)
                        j = blob.find(needle, ends[k]) if k < len(ends) else -1
                cands = sorted(hits)
        elif full:
            for k, x in enumerate(items):
                if isinstance(x, bytes | bytearray):
                    if any(nd in x for nd in _KEY_NEEDLES):
                        cands.append(k)
                elif type(x) is dict and type(x.get("type")) is str and x["type"] in KEY_TYPES:
                    cands.append(k)
        if full and pos0 == 0 and (not cands or cands[0] != 0):
            cands.insert(0, 0)
        special: set[int] = set()
        held: list[Found] = []
        for k in cands:
            if self._key_management(items[k], k, pos0 + k, held):
                special.add(k)
        n = len(items)
        t0 = pos0 - self.o.start
        subtree = (n == CHUNK and CHUNK & (CHUNK - 1) == 0 and t0 % CHUNK == 0
                   and bisect_right(self.wanted, t0) == bisect_left(self.wanted, t0 + n))
        base = min(self.acks)
        events = self.ring.events[base:]  # type: ignore[index]
        return (pos0, payload, special, base, events, subtree), held

    def _key_management(self, item: Any, idx: int, pos: int, held: list[Found]) -> bool:
        """Check ``item`` here if it is a well-formed key-management entry (or entry 0); whether it was."""
        canonical = False
        leaf = None
        if isinstance(item, bytes | bytearray):
            leaf = bytes(item)
            try:
                e, canonical = loads_leaf(leaf)
            except ValueError:
                return False
        else:
            e = item
        err, sig = _validate(e)
        if err is not None or not (pos == 0 or e["type"] in KEY_TYPES):
            return False
        seq = e["seq"]
        msg = message_without_sig(leaf, e["sig"]) if canonical and leaf is not None and "sm2_sig" not in e else None
        if msg is None:
            msg = _safe_jcs({k: v for k, v in e.items() if k != "sig" and k != "sm2_sig"})
        self._sink, self._idx, self.ring.at = held, idx, pos
        try:
            if pos == 0 or e["type"] == "log.genesis":
                self._genesis(e, seq, pos, msg, sig)  # type: ignore[arg-type]
            else:
                self._key_entry(e, seq, msg, sig)  # type: ignore[arg-type]
        finally:
            self._sink = None
        return True

    def _absorb(self, meta: tuple[int, int, list[Found]], wid: int, res: tuple[Any, ...]) -> int:
        """Fold a chunk's worker result in, in log order: seq, the chunk's first prev, tree, findings."""
        pos0, n, held = meta
        lhs, first_prev, first_where, s0, seqs, found, nsig, raw, js, root, ack, first_time, last_time = res
        self.acks[wid] = max(self.acks[wid], ack)
        self.nsig += nsig
        self.raw_seen += raw
        self.json_seen += js
        out: list[Found] = found + held if held else found
        if seqs is None:  # seq numbers run on by one from s0
            if s0 != self.expected_seq:
                out.append((0, _SEQ, "sequence", "SEQ_GAP", pos0, f"entry at position {pos0} has seq {s0}, expected "
                            f"{self.expected_seq}", str(self.expected_seq), _s(s0)))
            self.expected_seq = s0 + n
        else:
            expected = self.expected_seq
            for i, seq in enumerate(seqs):
                if seq != expected:
                    out.append((i, _SEQ, "sequence", "SEQ_GAP", pos0 + i, f"entry at position {pos0 + i} has seq "
                                f"{seq}, expected {expected}", str(expected), _s(seq)))
                    expected = seq + 1 if seq is not None else expected + 1
                else:
                    expected += 1
            self.expected_seq = expected
        if self.prev_hash is not None and first_prev != self.prev_hash:
            out.append((0, _CHAIN, "chain", "PREV_MISMATCH", first_where, "prev is not the leaf hash of the entry "
                        "before it", self.prev_hash, _s(first_prev)))
        self.prev_hash = lhs[-32:].hex()
        if first_time is not None:
            if self.last_time is not None and first_time < self.last_time:
                out.append((0, _CHAIN, "time_order", "ENTRY_TIME_DECREASING", first_where, "the entry is dated "
                            "before the entry before it: entry times never run backwards", f">= {self.last_time}",
                            first_time))
            self.last_time = last_time
        tree, wanted = self.tree, self.wanted_set
        if root is not None:
            tree.append_subtree(n.bit_length() - 1, root)
            if tree.size in wanted:
                self.roots[tree.size] = tree.root()
        else:
            for j in range(0, 32 * n, 32):
                tree.append(lhs[j:j + 32])
                if tree.size in wanted:
                    self.roots[tree.size] = tree.root()
        if self.samples:
            for s in self.samples[bisect_left(self.samples, pos0):bisect_left(self.samples, pos0 + n)]:
                self.sample_hashes[s] = lhs[32 * (s - pos0):32 * (s - pos0) + 32]
        if out:
            out.sort(key=lambda t: (t[0], t[1]))
            for t in out:
                self._emit(t)
        return n

    def _sample_indices(self, size: int) -> set[int]:
        if not self.o.fetch_inclusion or size == 0 or self.o.start:
            return set()
        k = self.o.inclusion_samples
        return {0, size - 1, size // 2, *(size * i // (k + 1) for i in range(1, k + 1))}

    def _genesis(self, e: dict[str, Any], seq: int, pos: int, msg: bytes, sig: bytes) -> None:
        ck = self.c_keys
        if pos != 0:
            self._f(ck, "GENESIS_INVALID", seq, "log.genesis may only be entry 0", 0, pos)
            return
        if e["type"] != "log.genesis":
            self._f(ck, "GENESIS_INVALID", seq, "entry 0 must be log.genesis", "log.genesis", e["type"])
            return
        p = e["payload"]
        if p.keys() != {"origin", "log_key", "system_key"} or type(p["origin"]) is not str:
            self._f(ck, "GENESIS_INVALID", seq, "genesis payload must be {origin, log_key, system_key}",
                    "origin, log_key, system_key", sorted(p.keys()))
            return
        self.origin = p["origin"]
        try:
            lk = parse_verifier_key(p["log_key"])
            if lk.alg != 0x01 or lk.name != p["origin"]:
                raise NoteError("log key must be an Ed25519 (0x01) key named after the origin")
        except NoteError as exc:
            self._f(ck, "GENESIS_INVALID", seq, f"genesis log_key unusable: {exc}", None, p.get("log_key"))
        else:
            self.log_keys.append((0, lk))
        pub = _pub(p["system_key"])
        if pub is None:
            self._f(ck, "GENESIS_INVALID", seq, "genesis system_key is not base64 of a 32-byte key")
            return
        if e["actor"]["id"] != SYSTEM:
            self._f(ck, "GENESIS_INVALID", seq, "genesis must be signed by actor system", SYSTEM, e["actor"]["id"])
        if e["actor"]["key_id"] != actor_key_id(pub):
            self._f(ck, "KEY_ID_MISMATCH", seq, "genesis actor.key_id is not the key_id of system_key",
                    actor_key_id(pub), e["actor"]["key_id"])
        if not ed25519_ok(msg, sig, pub):
            self._f(self.c_sigs, "ENTRY_SIGNATURE_INVALID", seq, "genesis is not signed by the system key it names",
                    "valid self-signature", "invalid signature")
        # Registered even if the above failed: the failure is reported once, here, rather than
        # as an UNKNOWN_KEY on every later entry.
        self.ring.register(SYSTEM, actor_key_id(pub), pub)

    def _key_entry(self, e: dict[str, Any], seq: int, msg: bytes, sig: bytes) -> None:
        ck = self.c_keys
        typ, p = e["type"], e["payload"]
        aid, kid = e["actor"]["id"], e["actor"]["key_id"]
        if typ == "actor.key.rotated":
            if p.keys() != {"actor_id", "old_key_id", "new_key_id", "new_public_key", "new_key_sig"} \
                    or not all(type(p[k]) is str for k in p):
                self._f(ck, "KEY_RULE_VIOLATION", seq, "actor.key.rotated payload fields wrong", None, sorted(p))
                return
            if (aid, kid) != (p["actor_id"], p["old_key_id"]):
                self._f(ck, "KEY_RULE_VIOLATION", seq, "a rotation must be signed by the OLD key of that actor",
                        f"{p['actor_id']}/{p['old_key_id']}", f"{aid}/{kid}")
                return
        elif aid != SYSTEM:
            self._f(ck, "KEY_RULE_VIOLATION", seq, f"{typ} must be signed by actor system", SYSTEM, aid)
            return
        pub = self._resolve(ck, aid, kid, seq, typ)
        if pub is None:
            return
        if not ed25519_ok(msg, sig, pub):
            self._f(self.c_sigs, "ENTRY_SIGNATURE_INVALID", seq, f"{typ} signature does not verify; not applied",
                    f"valid signature by {aid}/{kid}", "invalid signature")
            return
        bad = entry_sm2_problem(self.ring.sm2.get(aid), e.get("sm2_sig"), msg)
        if bad is not None:  # §3 item 11: a rotation by an SM2 actor carries both signatures too
            self._f(self.c_sigs, bad[0], seq, f"{typ}: {bad[1]}; not applied", f"SM2 signature by {aid}", "none"
                    if bad[0] == "ENTRY_SM2_SIGNATURE_MISSING" else "invalid")
            return
        if typ == "actor.key.registered":
            self._registered(p, seq)
        elif typ == "actor.key.rotated":
            self._rotated(p, seq)
        elif typ in ("log.key.rotated", "log.key.revoked"):
            self._log_rotated(p, seq, typ)
        elif typ == "actor.key.revoked":
            self._revoked(p, seq)
        elif typ.startswith("witness.key."):
            self._witness_entry(typ, p, seq)
        elif typ == SM2_ACTOR_ENTRY_TYPE:
            self._sm2_actor(p, seq)
        elif typ == SM2_ENTRY_TYPE:
            self.sm2.register(p, seq, lambda code, msg, exp, act: self._f(ck, code, seq, msg, exp, act), self.origin)

    def _sm2_actor(self, p: dict[str, Any], seq: int) -> None:
        """§3 item 11 actor.sm2_key.registered: the actor (holding an Ed25519 key in force) signs
        its later entries with this SM2 key too; a later registration replaces it."""
        got = parse_actor_sm2(p)
        if isinstance(got, str):
            self._f(self.c_keys, "SM2_ACTOR_KEY_INVALID", seq, f"{got}; not applied", None, _s(sorted(p)))
            return
        aid, point = got
        if aid == SYSTEM or not any(a == aid and st[1] == 0 for (a, _k), st in self.ring.keys.items()):
            self._f(self.c_keys, "SM2_ACTOR_KEY_INVALID", seq, "the actor holds no Ed25519 key in force (the SM2 "
                    "signature is a second signature, never the only one); not applied", "an actor with a key", aid)
            return
        self.ring.sm2_register(aid, point)

    def _registered(self, p: dict[str, Any], seq: int) -> None:
        ck = self.c_keys
        if p.keys() != {"actor_id", "key_id", "public_key"} or type(p["actor_id"]) is not str:
            self._f(ck, "KEY_RULE_VIOLATION", seq, "actor.key.registered payload must be {actor_id, key_id, public_key}",
                    None, sorted(p))
            return
        pub = _pub(p["public_key"])
        if pub is None:
            self._f(ck, "KEY_RULE_VIOLATION", seq, "public_key is not base64 of 32 bytes")
            return
        if p["key_id"] != actor_key_id(pub):
            self._f(ck, "KEY_ID_MISMATCH", seq, "key_id is not hex(SHA-256(public_key))[0:16]",
                    actor_key_id(pub), p["key_id"])
            return
        if self.ring.get(p["actor_id"], p["key_id"])[1] in ("RETIRED_KEY", "REVOKED_KEY"):
            self._f(ck, "RETIRED_KEY", seq, "a retired or revoked key may not be registered again",
                    "a fresh key", f"{p['actor_id']}/{p['key_id']} (retired)")
            return
        self.ring.register(p["actor_id"], p["key_id"], pub)

    def _rotated(self, p: dict[str, Any], seq: int) -> None:
        ck = self.c_keys
        new = _pub(p["new_public_key"])
        if new is None:
            self._f(ck, "KEY_RULE_VIOLATION", seq, "new_public_key is not base64 of 32 bytes")
            return
        if p["new_key_id"] != actor_key_id(new):
            self._f(ck, "KEY_ID_MISMATCH", seq, "new_key_id is not hex(SHA-256(new_public_key))[0:16]",
                    actor_key_id(new), p["new_key_id"])
            return
        nks = _sig_bytes(p["new_key_sig"])
        body = _safe_jcs({k: v for k, v in p.items() if k != "new_key_sig"})
        if nks is None or not ed25519_ok(body, nks, new):
            self._f(ck, "NEW_KEY_SIG_INVALID", seq, "new_key_sig does not verify with the new key; rotation not applied")
            return
        if self.ring.get(p["actor_id"], p["new_key_id"])[1] in ("RETIRED_KEY", "REVOKED_KEY"):
            self._f(ck, "RETIRED_KEY", seq, "rotation to a key that was already retired or revoked",
                    "a fresh key", f"{p['actor_id']}/{p['new_key_id']} (retired)")
            return
        self.ring.retire(p["actor_id"], p["old_key_id"])
        self.ring.register(p["actor_id"], p["new_key_id"], new)

    def _log_rotated(self, p: dict[str, Any], seq: int, typ: str = "log.key.rotated") -> None:
        ck = self.c_keys
        fields = {"old_log_key", "new_log_key", "new_key_sig"} | ({"reason"} if typ == "log.key.revoked" else set())
        if p.keys() != fields or not all(type(v) is str for v in p.values()):
            self._f(ck, "KEY_RULE_VIOLATION", seq, f"{typ} payload must be {{{', '.join(sorted(fields))}}} (strings)",
                    None, sorted(p))
            return
        if typ == "log.key.revoked" and not 1 <= len(p["reason"]) <= MAX_REASON:
            self._f(ck, "KEY_RULE_VIOLATION", seq, f"reason must be 1 to {MAX_REASON} characters", None,
                    len(p["reason"]))
            return
        if p["new_log_key"] in self.revoked_log_keys:
            self._f(ck, "REVOKED_KEY", seq, "rotation to a log key that was revoked", "a fresh key", p["new_log_key"])
            return
        current = str(self.log_keys[-1][1]) if self.log_keys else None
        if p["old_log_key"] != current:
            self._f(ck, "KEY_RULE_VIOLATION", seq, "old_log_key is not the log key in force", current, p["old_log_key"])
            return
        try:
            nk = parse_verifier_key(p["new_log_key"])
            if nk.alg != 0x01 or nk.name != self.origin:
                raise NoteError("new log key must be an Ed25519 (0x01) key named after the origin")
        except NoteError as exc:
            self._f(ck, "KEY_RULE_VIOLATION", seq, f"new_log_key unusable: {exc}", None, p["new_log_key"])
            return
        nks = _sig_bytes(p["new_key_sig"])
        body = _safe_jcs({k: v for k, v in p.items() if k != "new_key_sig"})
        if nks is None or not ed25519_ok(body, nks, nk.public_key):
            self._f(ck, "NEW_KEY_SIG_INVALID", seq, "new_key_sig does not verify with the new log key; not applied")
            return
        if typ == "log.key.revoked":
            self.revoked_log_keys[p["old_log_key"]] = seq
        self.log_keys.append((seq + 1, nk))

    def _revoked(self, p: dict[str, Any], seq: int) -> None:
        """§3 item 7 actor.key.revoked: from the next entry on, the key signs nothing valid."""
        ck = self.c_keys
        if p.keys() != {"actor_id", "key_id", "reason"} or not all(type(v) is str for v in p.values()):
            self._f(ck, "KEY_RULE_VIOLATION", seq, "actor.key.revoked payload must be {actor_id, key_id, reason} "
                    "(strings)", None, sorted(p))
            return
        if not 1 <= len(p["reason"]) <= MAX_REASON:
            self._f(ck, "KEY_RULE_VIOLATION", seq, f"reason must be 1 to {MAX_REASON} characters", None,
                    len(p["reason"]))
            return
        aid, kid = p["actor_id"], p["key_id"]
        if aid == SYSTEM:
            self._f(ck, "KEY_RULE_VIOLATION", seq, "the system key is replaced by a rotation, never revoked",
                    "an actor other than system", aid)
            return
        state = self.ring.get(aid, kid)[1]
        if state == "UNKNOWN_KEY":
            self._f(ck, "KEY_RULE_VIOLATION", seq, "revocation of a key no earlier entry registered for that actor",
                    "a registered key", f"{aid}/{kid}")
            return
        if state == "REVOKED_KEY":
            self._f(ck, "KEY_RULE_VIOLATION", seq, "the key was revoked already", "a key not yet revoked",
                    f"{aid}/{kid} (revoked)")
            return
        self.ring.revoke(aid, kid)
        self.revocations.append(f"{aid}/{kid} revoked at seq {seq}: {p['reason']}")

    def _witness_key(self, text: Any, name: str, seq: int, what: str) -> VerifierKey | None:
        try:
            k = parse_verifier_key(text) if type(text) is str else None
        except NoteError:
            k = None
        if k is None or k.alg != 0x04 or k.name != name:
            self._f(self.c_keys, "KEY_RULE_VIOLATION", seq, f"{what} must be a cosignature/v1 (0x04) verifier key "
                    f"named {name!r}", None, _s(text))
            return None
        return k

    def _witness_entry(self, typ: str, p: dict[str, Any], seq: int) -> None:
        """§3 item 9 witness.key.registered / rotated / revoked: which witness key counts at which size."""
        ck = self.c_keys
        fields = {"witness.key.registered": {"name", "verifier_key"},
                  "witness.key.rotated": {"name", "old_verifier_key", "new_verifier_key", "old_key_sig",
                                          "new_key_sig"},
                  "witness.key.revoked": {"name", "verifier_key", "reason"}}.get(typ)
        if fields is None or p.keys() != fields or not all(type(v) is str for v in p.values()) or not p["name"]:
            self._f(ck, "KEY_RULE_VIOLATION", seq, f"{typ} payload must be {{{', '.join(sorted(fields or ()))}}} "
                    "(non-empty strings)", None, sorted(p))
            return
        name = p["name"]
        if typ == "witness.key.registered":
            k = self._witness_key(p["verifier_key"], name, seq, "verifier_key")
            if k is None:
                return
            if name in self.witness_names or str(k) in self.witness_keys:
                self._f(ck, "KEY_RULE_VIOLATION", seq, "a witness name is registered while it has a key in force, "
                        "and a witness key once", "a new witness or a fresh key", name)
                return
            self.witness_names[name] = str(k)
            self.witness_keys[str(k)] = [name, seq + 1, None, None, None]
            return
        if typ == "witness.key.revoked":
            if not 1 <= len(p["reason"]) <= MAX_REASON:
                self._f(ck, "KEY_RULE_VIOLATION", seq, f"reason must be 1 to {MAX_REASON} characters", None,
                        len(p["reason"]))
                return
            if self.witness_names.get(name) != p["verifier_key"]:
                self._f(ck, "KEY_RULE_VIOLATION", seq, "verifier_key is not the witness's key in force",
                        self.witness_names.get(name), p["verifier_key"])
                return
            del self.witness_names[name]
            self.witness_keys[p["verifier_key"]][2:4] = [seq, "revoked"]
            return
        old = self._witness_key(p["old_verifier_key"], name, seq, "old_verifier_key")
        new = self._witness_key(p["new_verifier_key"], name, seq, "new_verifier_key")
        if old is None or new is None:
            return
        if self.witness_names.get(name) != str(old):
            self._f(ck, "KEY_RULE_VIOLATION", seq, "old_verifier_key is not the witness's key in force",
                    self.witness_names.get(name), str(old))
            return
        if str(new) in self.witness_keys:
            self._f(ck, "KEY_RULE_VIOLATION", seq, "rotation to a witness key the log named before", "a fresh key",
                    str(new))
            return
        body = _safe_jcs({k: v for k, v in p.items() if k not in ("old_key_sig", "new_key_sig")})
        for what, sig, key in (("old_key_sig", p["old_key_sig"], old), ("new_key_sig", p["new_key_sig"], new)):
            raw = _sig_bytes(sig)
            if raw is None or not ed25519_ok(body, raw, key.public_key):
                self._f(ck, "NEW_KEY_SIG_INVALID", seq, f"{what} does not verify with the {what[:3]} witness key; "
                        "rotation not applied")
                return
        self.witness_names[name] = str(new)
        self.witness_keys[str(old)][2:4] = [seq, "rotated"]
        self.witness_keys[str(new)] = [name, seq + 1, None, None, str(old)]

    def witness_chain(self, key: VerifierKey) -> list[str]:
        """The keys linked to ``key`` by rotations (each signed by its old and its new key), oldest
        first: a witness policy names a key once, the rotations carry it on. Never by name: a name
        the operator registers again after a revocation is a new witness, not this one."""
        here = str(key)
        if here not in self.witness_keys:
            return [here]
        while self.witness_keys[here][4] is not None:  # back to the first key
            here = self.witness_keys[here][4]
        successor = {r[4]: k for k, r in self.witness_keys.items() if r[4] is not None}
        chain = [here]
        while chain[-1] in successor:
            chain.append(successor[chain[-1]])
        return chain

    def witness_cosignatures(self, note: SignedNote, size: int, policy: Sequence[VerifierKey]
                             ) -> tuple[list[tuple[str, int]], list[tuple[str, str, str]]]:
        """(valid (name, time) per policy witness, refused (code, key, why)) for a checkpoint of ``size``.

        A key of the witness counts if no entry before ``size`` rotated or revoked it; a valid
        cosignature by a key rotated away (``WITNESS_KEY_RETIRED``) or revoked
        (``WITNESS_KEY_REVOKED``) before ``size`` is refused, whatever time it claims, and a line
        that does not verify is ``COSIGNATURE_INVALID``."""
        valid: list[tuple[str, int]] = []
        bad: list[tuple[str, str, str]] = []
        for pk in policy:
            counted = False
            for text in self.witness_chain(pk):
                k = pk if text == str(pk) else parse_verifier_key(text)
                ok, t = verify_cosignature(note, k)
                if ok is None:
                    continue
                if ok is False:
                    bad.append(("COSIGNATURE_INVALID", text, f"cosignature by {k.name} does not verify"))
                    continue
                rec = self.witness_keys.get(text)
                if rec is not None and rec[2] is not None and size > rec[2]:
                    code = "WITNESS_KEY_REVOKED" if rec[3] == "revoked" else "WITNESS_KEY_RETIRED"
                    bad.append((code, text, f"cosignature by {k.name} under a key {rec[3]} at seq {rec[2]}, before "
                                f"this checkpoint of size {size}: refused whatever time it claims ({t})"))
                    continue
                if not counted and t is not None:
                    valid.append((k.name, t))
                    counted = True
        return valid, bad

    # -- after the entries ------------------------------------------------------------
    def _after_entries(self, n: int, raw_seen: int, json_seen: int, full: bool) -> None:
        self.c_source.detail = f"{n} entries from seq {self.o.start}"
        self.r.info["entries"] = n
        if json_seen and not raw_seen:
            self.c_canon.skip("the source gave parsed JSON entries, not the stored leaf bytes; leaves were "
                              "re-encoded with JCS (the tree check still binds them to the checkpoints). "
                              "Use --tiles or a bundle with raw leaves to check stored bytes")
        elif json_seen:
            self.c_canon.detail = f"{raw_seen} raw leaves checked; {json_seen} parsed entries re-encoded"
        if not full:
            why = f"verification starts at seq {self.o.start}: keys registered earlier are unknown"
            for c in (self.c_keys, self.c_sigs, self.c_client):
                c.skip(why)
            self.c_chain.detail = f"the first entry's prev (seq {self.o.start - 1}) is not checked"
            self.c_time.detail = f"from seq {self.o.start}: the time of seq {self.o.start - 1} is not checked"
        else:
            self.c_sigs.detail = f"{self.nsig} Ed25519 signatures checked in batches"
            if n == 0:
                for c in (self.c_keys, self.c_sigs, self.c_client, self.c_seq, self.c_chain, self.c_format,
                          self.c_time):
                    c.skip("the log is empty")
            if self.origin is not None:
                self.r.info["origin"] = self.origin
        if self.log_keys:
            self.r.info["log_keys"] = [f"from size {s}: {k}" for s, k in self.log_keys]
        if self.revocations or self.revoked_log_keys:
            self.r.info["revoked_keys"] = self.revocations + [f"log key {k} revoked at seq {s}"
                                                              for k, s in self.revoked_log_keys.items()]
        if self.witness_keys:
            self.r.info["witness_keys"] = [f"{r[0]}: {k} in force for sizes {r[1]}..{'' if r[2] is None else r[2]}"
                                           + (f" ({r[3]} at seq {r[2]})" if r[3] else "")
                                           for k, r in self.witness_keys.items()]

    def _parse_checkpoints(self, notes: Sequence[str]) -> list[tuple[SignedNote, Checkpoint]]:
        out = []
        seen: set[str] = set()
        for i, text in enumerate(notes):
            if text in seen:
                continue
            seen.add(text)
            try:
                note = parse_note(text)
                out.append((note, parse_checkpoint(note.text)))
            except NoteError as exc:
                self.c_cps.fail(Finding("CHECKPOINT_MALFORMED", f"checkpoint #{i}", str(exc)))
        out.sort(key=lambda t: t[1].size)
        return out

    def _key_at(self, size: int) -> VerifierKey | None:
        key = None
        for frm, k in self.log_keys:
            if frm <= size:
                key = k
        return key

    def _checkpoints(self, cps: list[tuple[SignedNote, Checkpoint]], roots: dict[int, bytes], n: int,
                     full: bool) -> None:
        o = self.o
        pinned = None
        if o.log_key:
            try:
                pinned = parse_verifier_key(o.log_key)
            except NoteError as exc:
                raise ValueError(f"--log-key: {exc}") from exc
        if not self.log_keys and pinned is not None:
            self.log_keys.append((0, pinned))
            self.origin = self.origin or pinned.name
        # Trust anchor.
        history = [str(k) for _, k in self.log_keys]
        if pinned is not None:
            if full and str(pinned) not in history:
                self.c_logkey.fail(Finding("LOG_KEY_MISMATCH", "log", "the pinned log key is not one the log declares",
                                           " or ".join(history), str(pinned)))
            else:
                self.c_logkey.detail = "pinned key is in the log's own key history"
        elif full and self.log_keys:
            self.c_logkey.detail = "no key pinned: trusting the key the genesis entry declares (use --log-key)"
        else:
            self.c_logkey.skip("no log key pinned and no genesis entry read")
        if o.served_log_key is not None and self.log_keys:
            cur = str(self._key_at(cps[-1][1].size if cps else n))
            if o.served_log_key != cur:
                self.c_logkey.fail(Finding("LOG_KEY_MISMATCH", "GET /api/v1/log/key",
                                           "the key the server serves is not the key in force per the log",
                                           cur, o.served_log_key))
        if not cps:
            for c in (self.c_cps, self.c_tree, self.c_cons, self.c_wit, self.c_incl):
                c.skip("no checkpoint given")
            return
        good: list[Checkpoint] = []
        root_ok: dict[int, bool] = {}
        beyond = []
        for note, cp in cps:
            where = f"checkpoint size {cp.size}"
            if self.origin is not None and cp.origin != self.origin:
                self.c_cps.fail(Finding("CHECKPOINT_ORIGIN_MISMATCH", where, "origin line is not the log's origin",
                                        self.origin, cp.origin, checkpoint_size=cp.size))
                continue
            key = self._key_at(cp.size)
            if key is None:
                self.c_cps.skip("no log key known (no genesis and no --log-key)")
                continue
            ok = verify_note(note, key)
            if not ok:
                others = [str(k) for _, k in self.log_keys if k != key and verify_note(note, k)]
                msg = ("signature by the log key in force does not verify" if ok is False else
                       "no signature by the log key in force at this size")
                code = "CHECKPOINT_SIGNATURE_INVALID"
                if others:
                    msg += f"; signed instead by another log key ({others[0]}), not in force at this size"
                    if others[0] in self.revoked_log_keys and cp.size > self.revoked_log_keys[others[0]]:
                        code = "LOG_KEY_REVOKED"
                        msg += f": that key was revoked at seq {self.revoked_log_keys[others[0]]}"
                self.c_cps.fail(Finding(code, where, msg, f"signature by {key}",
                                        ", ".join(f"{s.name}/{s.key_hash.hex()}" for s in note.signatures),
                                        checkpoint_size=cp.size))
                continue
            own, t = verify_cosignature(note, own_cosignature_key(key))
            if own is False:
                self.c_cps.fail(Finding("CHECKPOINT_SIGNATURE_INVALID", where, "the log's own timestamped cosignature "
                                        "does not verify: its time was changed or the line forged",
                                        "valid cosignature/v1 by the log key", t, checkpoint_size=cp.size))
                continue
            self.sm2.check(note, cp.size, lambda code, msg, exp, act, w=where, size=cp.size: self.c_cps.fail(
                Finding(code, w, msg, _s(exp), _s(act), checkpoint_size=size)))
            good.append(cp)
            if full and cp.size <= n:
                root_ok[cp.size] = roots[cp.size] == cp.root
                if not root_ok[cp.size]:
                    self.c_tree.fail(Finding("ROOT_MISMATCH", where, "checkpoint root is not the Merkle root of "
                                             f"entries [0, {cp.size})", _b64(roots[cp.size]), _b64(cp.root),
                                             checkpoint_size=cp.size))
            elif full:
                beyond.append(cp.size)
        self.c_cps.detail = f"{len(good)} of {len(cps)} checkpoints validly signed"
        if self.sm2.keys:
            self.c_cps.detail += f"; {self.sm2.verified} carry the SM2 (国密) line the log requires"
        if not full:
            self.c_tree.skip(f"entries before seq {o.start} were not read")
        elif beyond:
            self.c_tree.skip(f"checkpoints of size {beyond} are beyond the {n} entries read")
        else:
            self.c_tree.detail = f"{len(root_ok)} checkpoint roots recomputed"
        if good:
            self.r.info["latest_checkpoint"] = f"size {good[-1].size}, root {_b64(good[-1].root)}"
        self._consistency(good, root_ok)
        self._inclusion(good, root_ok)
        self._witnesses(cps)

    def _consistency(self, good: list[Checkpoint], root_ok: dict[int, bool]) -> None:
        o = self.o
        c = self.c_cons
        if len(good) < 2:
            c.skip("fewer than two validly signed checkpoints")
            return
        unproven = []
        for a, b in zip(good, good[1:], strict=False):
            where = f"checkpoints {a.size} -> {b.size}"
            if a.size == b.size:
                if a.root != b.root:
                    c.fail(Finding("INCONSISTENT_CHECKPOINTS", where, "two signed checkpoints of the same size with "
                                   "different roots: the log forked", _b64(a.root), _b64(b.root),
                                   checkpoint_size=b.size))
                continue
            proof = (o.consistency_proofs or {}).get((a.size, b.size))
            if proof is None and o.fetch_consistency is not None:
                try:
                    proof = o.fetch_consistency(a.size, b.size)
                except Exception as exc:  # network / format problems are reported, not raised
                    c.fail(Finding("PROOF_INVALID", where, f"could not get a consistency proof: {exc}",
                                   checkpoint_size=b.size))
                    proof = None
            both = root_ok.get(a.size) is True and root_ok.get(b.size) is True
            if proof is not None and not verify_consistency(a.size, b.size, a.root, b.root, proof):
                if both:
                    c.fail(Finding("PROOF_INVALID", where, "the served consistency proof does not verify (the "
                                   "checkpoints themselves match the entries)", checkpoint_size=b.size))
                else:
                    c.fail(Finding("INCONSISTENT_CHECKPOINTS", where, "consistency proof fails: the newer "
                                   "checkpoint does not extend the older one", _b64(a.root), _b64(b.root),
                                   checkpoint_size=b.size))
                continue
            if proof is not None or both:
                continue
            if root_ok.get(a.size) is False and root_ok.get(b.size) is True:
                c.fail(Finding("INCONSISTENT_CHECKPOINTS", where, f"the newer checkpoint matches the entries but "
                               f"the older does not: history before size {a.size} was rewritten",
                               _b64(a.root), "a different tree", checkpoint_size=a.size))
                continue
            unproven.append(where)
        if unproven and c.status != "failed":
            c.skip(f"no proof and no entries to decide {', '.join(unproven[:5])}")
        elif c.status == "passed":
            c.detail = f"{len(good) - 1} successive pairs"

    def _inclusion(self, good: list[Checkpoint], root_ok: dict[int, bool]) -> None:
        c = self.c_incl
        fetch = self.o.fetch_inclusion
        if fetch is None:
            c.skip("no live server (all leaves were hashed into the tree instead)")
            return
        latest = good[-1] if good else None
        if latest is None or not self.sample_hashes:
            c.skip("no validly signed checkpoint covering the entries read")
            return
        checked = 0
        for idx, lh in sorted(self.sample_hashes.items()):
            if idx >= latest.size:
                continue
            where = f"inclusion of seq {idx} in size {latest.size}"
            try:
                proof = fetch(idx, latest.size)
            except Exception as exc:
                c.fail(Finding("PROOF_INVALID", where, f"could not get the proof: {exc}", seq=idx))
                continue
            if not verify_inclusion(idx, latest.size, lh, proof, latest.root):
                c.fail(Finding("PROOF_INVALID", where, "served inclusion proof does not verify", seq=idx))
            checked += 1
        c.detail = f"{checked} sampled proofs against the latest checkpoint"

    def _witnesses(self, cps: list[tuple[SignedNote, Checkpoint]]) -> None:
        o = self.o
        c = self.c_wit
        if not o.witnesses:
            c.skip("no witness policy given (--witness-policy FILE or --witness KEY): witness cosignatures not "
                   "checked")
            return
        keys = []
        for w in o.witnesses:
            try:
                k = parse_verifier_key(w)
            except NoteError as exc:
                raise ValueError(f"--witness {w!r}: {exc}") from exc
            if k.alg != 0x04:
                raise ValueError(f"--witness {w!r}: not a cosignature/v1 (0x04) key")
            keys.append(k)
        need = o.min_witnesses if o.min_witnesses is not None else len(keys)
        for note, cp in cps:
            got, bad = self.witness_cosignatures(note, cp.size, keys)
            for code, key, why in bad:
                c.fail(Finding(code, f"checkpoint size {cp.size}", why, "a witness key in force at this size", key,
                               checkpoint_size=cp.size))
            valid = [f"{name}@{t}" for name, t in got]
            if (note, cp) == cps[-1]:
                self.r.info["cosigned_by"] = valid
                if len(valid) < need:  # not yet public, not tampering: awaiting witnesses (exit 4)
                    have = {name for name, _ in got}
                    self.r.awaiting_witnesses(c, size=cp.size, k=need, valid=valid,
                                              missing=[k.name for k in keys if k.name not in have])
                else:
                    c.detail = f"{len(valid)} valid cosignatures on the latest checkpoint (need {need})"


def _b64(b: bytes) -> str:
    import base64

    return base64.b64encode(b).decode()


def _short(b: bytes | str) -> str:
    s = b.decode("utf-8", "replace") if isinstance(b, bytes) else b
    return s if len(s) <= 160 else s[:157] + "..."


def _safe_jcs(obj: Any) -> bytes:
    try:
        return jcs(obj)
    except ValueError:
        return b"<no JCS form>"


def verify_log(entries: Iterable[Any], checkpoints: Sequence[str] = (), *, total: int | None = None,
               options: LogOptions | None = None, subject: str = "log") -> Report:
    """Verify a log: ``entries`` are raw leaf bytes or parsed entry dicts, in order.

    Raises ``ValueError`` only for unusable *options* (a malformed pinned key); everything
    wrong with the log itself becomes a finding in the returned report.
    """
    report = Report(subject)
    _LogVerifier(options or LogOptions(), report).run(entries, total, checkpoints)
    return report
