"""Draw evidence bundles (docs/SPEC.md §D11-§D12): every check of one draw, offline.

Why one bundle and not the whole log: an inspected company or an auditor should be able to
check one draw from one file.  The bundle carries the draw's entries, the plan and key entries,
each with an inclusion proof in a signed checkpoint, the checkpoint signed right after
*prepared*, the pools and (once published) the content and substitution records.  Nothing in
it is trusted: every claim is recomputed here from the spec text (seed §3, pools §4, sizes §5,
selection §6, matching §7, substitutions §8, seal §9).

Each check ends passed, failed (typed findings) or not checked with the reason — a sealed draw
reports what cannot be checked until publication, never a pass.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import gc
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from .canonical import jcs
from .drand import PINNED_CHAINS, BeaconEncodingError, BeaconSignatureInvalid, Chain, round_time, verify_round
from .findings import Check, Finding, Report
from .log import KEY_TYPES, LogOptions, _LogVerifier, _sig_bytes, validate_entry
from .matching import Matcher, MatchError, Rule
from .merkle import leaf_hash, verify_consistency, verify_inclusion
from .note import (
    NoteError,
    own_cosignature_key,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    parse_witness_policy,
    verify_cosignature,
    verify_note,
)
from .parallel import ed25519_ok
from .poolparts import PartsSelection, PoolParts, check_description, stream_pool
from .pools import EXCLUDED_REASONS, PoolError, commit_with, conflicts_sha256, prior_load_sha256
from .recipe import RecipeError, encode_source, hexbytes, nonce_commitment, seed_from
from .seal import seal
from .sizes import SizeError, parse_ratio, stratum_sizes
from .sm2 import entry_sm2_problem
from .sources import SourceError, read_json_file
from .tickets import Selection, subject_ticket, thresholds, ticket_rows

__all__ = ["BUNDLE_FORMAT", "DrawOptions", "DrawState", "load_draw_bundle", "verify_bundle"]

BUNDLE_FORMAT = "spotcheck-draw-bundle/3"
DRAW_TYPES = ("draw.prepared", "draw.seeded", "draw.drawn", "draw.substituted", "draw.published", "draw.aborted")
ALGORITHM = "spotcheck-draw/3"
# Every published version keeps verifying (evidence already handed out): v1 bundles and draws
# are checked by v1's rules, except that their drand parameters must be pinned or trusted too;
# v2 draws by v3's selection and matching rules, their prepared checkpoint's time unsigned.
ALGORITHM_V1 = "spotcheck-draw/1"
ALGORITHM_V2 = "spotcheck-draw/2"
BUNDLE_FORMATS = {"spotcheck-draw-bundle/1": ALGORITHM_V1, "spotcheck-draw-bundle/2": ALGORITHM_V2,
                  BUNDLE_FORMAT: ALGORITHM}


def load_draw_bundle(path: str | Path) -> dict[str, Any]:
    """Read a bundle file; an unusable file raises SourceError (exit 2)."""
    doc = read_json_file(path)
    check_bundle_shape(doc, str(path))
    return doc  # type: ignore[no-any-return]


def part_reader(directory: str | Path) -> Callable[[int], bytes]:
    """read(n): part n of the subject pool from a bundle directory (``pool/subjects-NNNNNN.jsonl``, §D12.1)."""
    base = Path(directory)

    def read(n: int) -> bytes:
        return (base / "pool" / f"subjects-{n:06d}.jsonl").read_bytes()
    return read


def load_draw_source(path: str | Path) -> tuple[dict[str, Any], Callable[[int], bytes] | None]:
    """A bundle file, or a bundle directory (``bundle.json`` and the pool's parts under ``pool/``):
    the bundle and the reader of its parts (a file's parts are looked for beside it)."""
    p = Path(path)
    doc = load_draw_bundle(p / "bundle.json" if p.is_dir() else p)
    return doc, part_reader(p if p.is_dir() else p.parent) if "pool_parts" in doc else None


def check_bundle_shape(doc: Any, where: str) -> None:
    """The minimum a bundle needs to be read at all; anything less is unusable input."""
    if not isinstance(doc, dict) or doc.get("format") not in BUNDLE_FORMATS:
        raise SourceError(f"{where}: not a draw evidence bundle (format must be one of {sorted(BUNDLE_FORMATS)})")
    if not isinstance(doc.get("draw_id"), str) or not isinstance(doc.get("entries"), list):
        raise SourceError(f"{where}: a bundle needs draw_id and an entries list")
    log = doc.get("log")
    if not isinstance(log, dict) or not isinstance(log.get("checkpoint"), dict) \
            or not isinstance(log["checkpoint"].get("note"), str):
        raise SourceError(f"{where}: a bundle needs log.checkpoint.note")
    for i, w in enumerate(doc["entries"]):
        if not isinstance(w, dict) or type(w.get("seq")) is not int or not isinstance(w.get("entry"), dict) \
                or not isinstance(w.get("inclusion_proof"), list):
            raise SourceError(f"{where}: entries[{i}] must be {{seq, entry, inclusion_proof}}")
    pending = doc.get("pending_entries", [])
    if not isinstance(pending, list):
        raise SourceError(f"{where}: pending_entries must be a list")
    for i, w in enumerate(pending):
        if not isinstance(w, dict) or type(w.get("seq")) is not int or not isinstance(w.get("entry"), dict):
            raise SourceError(f"{where}: pending_entries[{i}] must be {{seq, entry}}")


@dataclass
class DrawOptions:
    """Trust anchors and extra evidence for a bundle check."""

    log_key: str | None = None  # pinned log verifier key; default: the bundle's (said so in the report)
    witnesses: Sequence[str] = ()
    min_witnesses: int | None = None
    full_log: Sequence[dict[str, Any]] | None = None  # every entry of the log, to find hidden draws
    full_log_label: str = "the full log"
    trusted_chains: Sequence[Chain] = ()  # drand networks trusted beyond the pinned ones (--trust-chain)
    pool_part: Callable[[int], bytes] | None = None  # part n of a subject pool given in parts (§D12.1)
    find_subjects: Sequence[str] = ()  # ids whose pool membership (and stratum) a pool in parts is asked for


def _unix(t: str) -> float:
    """RFC 3339 ms UTC (§1) to Unix seconds."""
    dt = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(dt.timetuple()) + dt.microsecond / 1e6


def _short(v: Any, n: int = 300) -> str:
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)
    return s if len(s) <= n else s[:n - 3] + "..."


def _first_diff(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON values first differ (for a readable finding)."""
    if type(a) is not type(b):
        return path or "/"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b or a[k] != b[k]:
                return _first_diff(a.get(k), b.get(k), f"{path}/{k}")
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path} (length {len(a)} vs {len(b)})"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_diff(x, y, f"{path}/{i}")
    return path or "/"


@dataclass
class DrawState:
    """What the verification established, shared with the subject report."""

    draw_id: str
    status: str
    prepared: dict[str, Any] | None = None
    prepared_seq: int | None = None
    seed: bytes | None = None
    seed_source: str | None = None  # "published" | "sealed (privileged reader)"
    pools: dict[str, Any] | None = None
    pools_ok: bool = False
    sizes: dict[str, int] | None = None
    selection: Selection | None = None
    content: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    substitutions: list[dict[str, Any]] = field(default_factory=list)
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    pool_parts: PoolParts | None = None  # the subject pool as read in parts (§D12.1), if so given


class _Bundle:
    """Runs the checks in order; each later step only uses what an earlier step verified."""

    def __init__(self, b: dict[str, Any], o: DrawOptions) -> None:
        self.b = b
        self.o = o
        self.r = Report(f"draw {b['draw_id']} (bundle status {b.get('status')!r})")
        self.st = DrawState(b["draw_id"], str(b.get("status")))
        self.published = False
        self.algorithm = BUNDLE_FORMATS[b["format"]]  # the rules the bundle's format stands for

    @property
    def v2(self) -> bool:
        """Whether the v2 rules apply: chains, experts and prior loads committed; §D8 bars leavers."""
        return self.algorithm != ALGORITHM_V1

    @property
    def v3(self) -> bool:
        """Whether the v3 rules apply: entry times in log order, the prepared checkpoint's time signed."""
        return self.algorithm not in (ALGORITHM_V1, ALGORITHM_V2)

    # -- helpers --------------------------------------------------------------------------
    def fail(self, c: Check, code: str, where: str, msg: str, expected: Any = None, actual: Any = None,
             seq: int | None = None) -> None:
        c.fail(Finding(code, where, msg, None if expected is None else _short(expected),
                       None if actual is None else _short(actual), seq=seq))

    # -- 1. log level ---------------------------------------------------------------------
    def log_level(self) -> None:
        b, o = self.b, self.o
        c = self.r.check("bundle_log", "bundled entries: canonical, signed by registered keys, in the checkpoint")
        ck = self.r.check("bundle_checkpoint", "bundle checkpoint signed by the pinned log key")
        declared = b["log"].get("verifier_key")
        pinned_s = o.log_key or declared
        if o.log_key and declared and declared != o.log_key:
            self.fail(ck, "LOG_KEY_MISMATCH", "log.verifier_key", "the bundle names another log key than the "
                      "pinned one", o.log_key, declared)
        try:
            pinned = parse_verifier_key(pinned_s) if pinned_s else None
        except NoteError as exc:
            raise SourceError(f"log key unusable: {exc}") from exc
        if o.log_key is None:
            ck.detail = "no --log-key pinned: trusting the key the bundle and its genesis entry declare"
        try:
            self.note = parse_note(b["log"]["checkpoint"]["note"])
            self.cp = parse_checkpoint(self.note.text)
        except NoteError as exc:
            self.fail(ck, "CHECKPOINT_MALFORMED", "log.checkpoint", str(exc))
            self.cp = None
        # key replay, through the log verifier's own key rules (one source of truth in verifier/)
        scratch = Report("scratch")
        lv = _LogVerifier(LogOptions(), scratch)
        prev_seq = -1
        lhs: dict[int, bytes] = {}
        for w in b["entries"]:
            seq, e = w["seq"], w["entry"]
            where = f"seq {seq}"
            if seq <= prev_seq:
                self.fail(c, "ENTRY_SEQ_MISMATCH", where, "bundle entries must be sorted by seq, without repeats",
                          f"> {prev_seq}", seq, seq)
            prev_seq = max(prev_seq, seq)
            err = validate_entry(e)
            if err:
                self.fail(c, "ENTRY_MALFORMED", where, err, seq=seq)
                continue
            if e["seq"] != seq:
                self.fail(c, "ENTRY_SEQ_MISMATCH", where, "the entry's own seq is not the seq it is filed under",
                          seq, e["seq"], seq)
            try:
                leaf = jcs(e)
            except ValueError as exc:
                self.fail(c, "ENTRY_MALFORMED", where, f"no JCS form: {exc}", seq=seq)
                continue
            lh = leaf_hash(leaf)
            lhs[seq] = lh
            self.st.entries[seq] = e
            if self.cp is not None:
                try:
                    proof = [base64.b64decode(x, validate=True) for x in w["inclusion_proof"]]
                except (binascii.Error, TypeError, ValueError):
                    proof = None
                if proof is None or not verify_inclusion(seq, self.cp.size, lh, proof, self.cp.root):
                    self.fail(c, "ENTRY_NOT_INCLUDED", where, "the inclusion proof of JCS(entry) does not lead to "
                              f"the checkpoint root (size {self.cp.size}): the entry is not the one the log holds",
                              base64.b64encode(self.cp.root).decode(), "another root", seq)
            if seq - 1 in lhs and e["prev"] != lhs[seq - 1].hex():
                self.fail(c, "PREV_MISMATCH", where, "prev is not the leaf hash of the bundled entry before it",
                          lhs[seq - 1].hex(), e["prev"], seq)
            sig = _sig_bytes(e["sig"])
            assert sig is not None
            msg = jcs({k: v for k, v in e.items() if k != "sig" and k != "sm2_sig"})  # §2: what both signatures sign
            if seq == 0 or e["type"] == "log.genesis":
                lv._genesis(e, seq, seq, msg, sig)
            elif e["type"] in KEY_TYPES:
                lv._key_entry(e, seq, msg, sig)
            else:
                pub = lv._resolve(lv.c_sigs, e["actor"]["id"], e["actor"]["key_id"], seq, "entry")
                if pub is not None and not ed25519_ok(msg, sig, pub):
                    self.fail(c, "ENTRY_SIGNATURE_INVALID", where, "Ed25519 signature does not verify over "
                              "JCS(entry without sig)", f"valid signature by {e['actor']['id']}/{e['actor']['key_id']}",
                              "invalid signature", seq)
                self._sm2_entry(c, lv, e, msg, where, seq)
        self.pending: dict[int, dict[str, Any]] = {}
        self._pending_entries(c, lv, dict(lhs))
        self._time_order(c)
        for f in scratch.findings:
            c.fail(f)
        if 0 not in lhs:
            self.fail(c, "GENESIS_INVALID", "bundle", "the bundle lacks the genesis entry (seq 0): keys cannot be "
                      "followed from the trust anchor")
        self.lhs = lhs
        self.lv = lv  # its witness key history (§3 item 9) decides which witness keys count at which size
        self.log_keys = lv.log_keys
        self.sm2 = lv.sm2
        if lv.log_keys and pinned is not None and str(lv.log_keys[0][1]) != str(pinned):
            self.fail(ck, "LOG_KEY_MISMATCH", "seq 0", "the genesis log key is not the pinned log key",
                      str(pinned), str(lv.log_keys[0][1]))
        if not lv.log_keys and pinned is not None:
            self.log_keys = [(0, pinned)]
        c.detail = f"{len(lhs)} entries; prev links checked where neighbours are bundled; key entries replayed " \
                   "(the bundle must hold every key entry below the checkpoint: completeness rests on the bundle)"
        self.cp_own_time: int | None = None
        if self.cp is not None:
            self._check_note(ck, self.note, self.cp, "log.checkpoint")
            self.cp_own_time = getattr(self, "own_time", None)  # unset when the note did not verify
            self._witness_quorum(ck, self.note, "log.checkpoint")

    def _pending_entries(self, c: Check, lv: _LogVerifier, lhs: dict[int, bytes]) -> None:
        """Entries shown beyond the checkpoint (§D12 `pending_entries`): this draw's own steps
        not yet in a signed checkpoint, and key entries after it. Each is checked as far as it
        can be without a proof (form, signature, prev links); a seq the checkpoint covers is
        `ENTRY_UNPROVEN`: such an entry must come with its inclusion proof."""
        size = self.cp.size if self.cp is not None else None
        prev_seq = max(lhs, default=-1)
        for w in self.b.get("pending_entries") or []:
            seq, e = w["seq"], w["entry"]
            where = f"pending seq {seq}"
            err = validate_entry(e)
            if err:
                self.fail(c, "ENTRY_MALFORMED", where, err, seq=seq)
                continue
            if e["seq"] != seq or seq <= prev_seq:
                self.fail(c, "ENTRY_SEQ_MISMATCH", where, "pending entries follow the bundled ones, sorted by seq, "
                          "each filed under its own seq", f"> {prev_seq}", e["seq"], seq)
            prev_seq = max(prev_seq, seq)
            if size is not None and seq < size:
                self.fail(c, "ENTRY_UNPROVEN", where, f"the checkpoint (size {size}) covers this seq: the entry "
                          "must be bundled with its inclusion proof, not shown as pending", f">= {size}", seq, seq)
            own = e["type"] in DRAW_TYPES and e["payload"].get("draw_id") == self.st.draw_id
            if not own and e["type"] not in KEY_TYPES:
                self.fail(c, "DRAW_ENTRY_MALFORMED", where, "only this draw's own entries and key entries may be "
                          "pending", "draw.* of this draw or a key entry", e["type"], seq)
                continue
            try:
                leaf = jcs(e)
            except ValueError as exc:
                self.fail(c, "ENTRY_MALFORMED", where, f"no JCS form: {exc}", seq=seq)
                continue
            lh = leaf_hash(leaf)
            if seq - 1 in lhs and e["prev"] != lhs[seq - 1].hex():
                self.fail(c, "PREV_MISMATCH", where, "prev is not the leaf hash of the entry before it",
                          lhs[seq - 1].hex(), e["prev"], seq)
            lhs[seq] = lh
            sig = _sig_bytes(e["sig"])
            assert sig is not None
            msg = jcs({k: v for k, v in e.items() if k != "sig" and k != "sm2_sig"})  # §2: what both signatures sign
            if e["type"] in KEY_TYPES:
                lv._key_entry(e, seq, msg, sig)
                continue
            pub = lv._resolve(lv.c_sigs, e["actor"]["id"], e["actor"]["key_id"], seq, "entry")
            if pub is not None and not ed25519_ok(msg, sig, pub):
                self.fail(c, "ENTRY_SIGNATURE_INVALID", where, "Ed25519 signature does not verify over "
                          "JCS(entry without sig)", f"valid signature by {e['actor']['id']}", "invalid signature", seq)
                continue
            if not self._sm2_entry(c, lv, e, msg, where, seq):
                continue
            self.pending[seq] = e

    def _sm2_entry(self, c: Check, lv: Any, e: dict[str, Any], msg: bytes, where: str, seq: int) -> bool:
        """§3 item 11: an entry by an actor holding an SM2 key (as the bundled key entries say) carries
        a valid sm2_sig over the bytes its Ed25519 sig signs; whether it does (or needs none)."""
        bad = entry_sm2_problem(lv.ring.sm2.get(e["actor"]["id"]), e.get("sm2_sig"), msg)
        if bad is not None:
            self.fail(c, bad[0], where, bad[1], f"SM2 signature by {e['actor']['id']}",
                      "none" if bad[0] == "ENTRY_SM2_SIGNATURE_MISSING" else "invalid", seq)
        return bad is None

    def _time_order(self, c: Check) -> None:
        """§2: entry times never run backwards along seq — so any two entries of the bundle, proven
        or pending, are dated in log order. Binding from v3 (earlier services did not clamp)."""
        last: tuple[int, str] | None = None
        for seq in sorted({**self.st.entries, **self.pending}):
            e = self.st.entries.get(seq) or self.pending[seq]
            if last is not None and e["time"] < last[1]:
                if self.v3:
                    self.fail(c, "ENTRY_TIME_DECREASING", f"seq {seq}", f"dated before seq {last[0]} although "
                              "it comes after it in the log: entry times never run backwards", f">= {last[1]}",
                              e["time"], seq)
                else:
                    self.r.info["time_order"] = (f"seq {seq} is dated before seq {last[0]} (allowed before "
                                                 "spotcheck-draw/3)")
            last = (seq, e["time"])

    def key_at(self, size: int) -> Any:
        key = None
        for frm, k in self.log_keys:
            if frm <= size:
                key = k
        return key

    def _check_note(self, ck: Check, note: Any, cp: Any, where: str) -> bool:
        key = self.key_at(cp.size)
        if key is None:
            ck.skip("no log key known")
            return False
        if cp.origin != key.name:
            self.fail(ck, "CHECKPOINT_ORIGIN_MISMATCH", where, "origin is not the log's", key.name, cp.origin)
            return False
        if not verify_note(note, key):
            self.fail(ck, "CHECKPOINT_SIGNATURE_INVALID", where, "not validly signed by the log key in force at "
                      f"size {cp.size}", str(key), ", ".join(f"{s.name}/{s.key_hash.hex()}" for s in note.signatures))
            return False
        ok, t = verify_cosignature(note, own_cosignature_key(key))
        self.own_time = t if ok else None  # the signed time of the note last checked (§5), or None
        if ok is False:
            self.fail(ck, "CHECKPOINT_SIGNATURE_INVALID", where, "the log's own timestamped cosignature does not "
                      "verify: its time was changed or the line forged", "valid cosignature/v1 by the log key", t)
            return False
        sm2 = self.sm2.key_at(cp.size) is not None and self.sm2.check(
            note, cp.size, lambda code, msg, exp, act: self.fail(ck, code, where, msg, exp, act))
        if ck.status == "passed":
            ck.detail = (ck.detail + "; " if ck.detail else "") + f"size {cp.size} signed by {key.name}" + (
                " (and its SM2 国密 line)" if sm2 else "") + (f" at {t} (timestamped)" if ok else "")
        return True



    def _witness_keys(self) -> list[Any]:
        keys = []
        for w in self.o.witnesses:
            try:
                k = parse_verifier_key(w)
            except NoteError as exc:
                raise SourceError(f"--witness {w!r}: {exc}") from exc
            if k.alg != 0x04:
                raise SourceError(f"--witness {w!r}: not a cosignature/v1 (0x04) key")
            keys.append(k)
        return keys

    def _policy(self, c: Check) -> tuple[list[Any], int | None, str] | None:
        """Whose witnesses, and how many must cosign: --witness/--min-witnesses when given (they
        override), else the bundle's `witness_policy` {k, witnesses} (§D12), else None. A policy
        names k of n cosignature/v1 keys, none of them the log's own (its timestamped line is not
        a witness). `need` None means "all given" for the bundle checkpoint, 0 for the prepared one."""
        if hasattr(self, "_pol"):
            return self._pol
        pol: tuple[list[Any], int | None, str] | None = None
        if self.o.witnesses:
            pol = (self._witness_keys(), self.o.min_witnesses, "--witness")
        elif "witness_policy" in self.b:
            wp = self.b["witness_policy"]
            log_pubs = {bytes(k.public_key) for _, k in self.log_keys}
            keys, why = parse_witness_policy(wp, log_pubs, self.cp.origin if self.cp is not None else None)
            if why is not None:
                ck = self.r.check("witness_policy", "the bundle's witness policy (k of n witnesses)")
                self.fail(ck, "WITNESS_POLICY_INVALID", "witness_policy", why)
                pol = ([], 1, "bundle")  # a stated policy that cannot be met is not met
            else:
                pol = (keys, wp["k"], "bundle")
                self.r.info["witness_policy"] = f"{wp['k']} of {', '.join(k.name for k in keys)} (stated by the " \
                                                "bundle; --witness overrides)"
        self._pol = pol
        return pol

    def _cosigs(self, c: Check, note: Any, where: str, size: int | None = None) -> list[tuple[str, int]]:
        pol = self._policy(c)
        lv = getattr(self, "lv", None)
        if pol and lv is not None and size is not None:  # follow the witnesses' rotations / revocations on the log
            valid, bad = lv.witness_cosignatures(note, size, pol[0])
            for code, key, why in bad:
                self.fail(c, code, where, why, "a witness key in force at this size", key)
            return valid  # type: ignore[no-any-return]
        out = []
        for k in pol[0] if pol else []:
            ok, t = verify_cosignature(note, k)
            if ok is False:
                self.fail(c, "COSIGNATURE_INVALID", where, f"cosignature by {k.name} does not verify")
            elif ok and t is not None:
                out.append((k.name, t))
        return out

    def _witness_quorum(self, c: Check, note: Any, where: str) -> None:
        """k of the policy's witnesses must have cosigned the bundle checkpoint. Fewer (and no
        line that fails to verify) is not tampering: the checkpoint is not yet public, and the
        verdict is awaiting_witnesses, naming who is missing; invalid lines are failures."""
        pol = self._policy(c)
        if pol is None:
            c.detail = (c.detail + "; " if c.detail else "") + "witness cosignatures not checked: no witness " \
                       "policy given (the bundle states none; --witness-policy FILE)"
            return
        size = self.cp.size if getattr(self, "cp", None) is not None else None
        valid = self._cosigs(c, note, where, size)
        need = pol[1] if pol[1] is not None else len(pol[0])
        self.r.info["bundle_checkpoint_cosigned_by"] = [f"{n}@{t}" for n, t in valid]
        if len(valid) < need:
            have = {n for n, _ in valid}
            self.r.awaiting_witnesses(c, size=size, k=need, valid=[f"{n}@{t}" for n, t in valid],
                                      missing=[k.name for k in pol[0] if k.name not in have])
        elif pol[2] == "bundle":
            c.detail = (c.detail + "; " if c.detail else "") + f"witnessed: {len(valid)} of the policy's " \
                       f"{len(pol[0])} witnesses cosigned (k = {need})"

    # -- 2. lifecycle ---------------------------------------------------------------------
    def lifecycle(self) -> dict[str, Any]:
        """§D11 order and completeness over the proven entries and the pending ones together.

        The status is the service's claim; each entry it needs must be proven (in the
        checkpoint) or shown as pending (beyond it). One in neither is dropped: a failure.
        A pending entry is named as such (check `checkpoint_coverage`), never as dropped."""
        c = self.r.check("lifecycle", "draw entries: complete, in order, consistent with the status")
        cov = self.r.check("checkpoint_coverage", "every entry of the draw is in a signed checkpoint")
        did = self.st.draw_id
        mine: dict[str, list[tuple[int, dict[str, Any]]]] = {t: [] for t in DRAW_TYPES}  # proven
        every: dict[str, list[tuple[int, dict[str, Any]]]] = {t: [] for t in DRAW_TYPES}  # proven + pending
        for seq, e in sorted(self.st.entries.items()):
            if e["type"] in mine and e["payload"].get("draw_id") == did:
                mine[e["type"]].append((seq, e))
                every[e["type"]].append((seq, e))
        for seq, e in sorted(self.pending.items()):
            if e["type"] in every and e["payload"].get("draw_id") == did:
                every[e["type"]].append((seq, e))
        for t in ("draw.prepared", "draw.seeded", "draw.drawn", "draw.published", "draw.aborted"):
            if len(every[t]) > 1:
                self.fail(c, "LIFECYCLE_ORDER", f"{t} of {did}", f"{t} appears {len(every[t])} times (e.g. seeded "
                          "twice)", 1, [s for s, _ in every[t]])
        one = {t: (mine[t][0] if mine[t] else None) for t in mine}
        seen = {t: (every[t][0] if every[t] else None) for t in every}
        self.pending_types = {t for t in DRAW_TYPES if any(s in self.pending for s, _ in every[t])}
        status = self.st.status
        need = {"prepared": ["draw.prepared"], "seeded": ["draw.prepared", "draw.seeded"],
                "drawn": ["draw.prepared", "draw.seeded", "draw.drawn"],
                "published": ["draw.prepared", "draw.seeded", "draw.drawn", "draw.published"],
                "aborted": ["draw.prepared", "draw.aborted"]}.get(status)
        if need is None:
            self.fail(c, "LIFECYCLE_ORDER", "status", f"unknown bundle status {status!r}",
                      "prepared|seeded|drawn|published|aborted", status)
            need = ["draw.prepared"]
        size = self.cp.size if self.cp is not None else "?"
        for t in need:
            if seen[t] is None:
                self.fail(c, "LIFECYCLE_INCOMPLETE", f"draw {did}", f"status {status!r} needs a {t} entry; it is "
                          f"neither in the checkpoint (size {size}) nor shown as pending: a dropped entry", t, "absent")
        later = {"aborted": ("draw.seeded", "draw.drawn", "draw.published"),
                 "drawn": ("draw.published", "draw.aborted"), "seeded": ("draw.drawn", "draw.published", "draw.aborted"),
                 "prepared": ("draw.seeded", "draw.drawn", "draw.published", "draw.aborted"),
                 "published": ("draw.aborted",)}.get(status, ())
        for t in later:
            if seen[t] is not None and not (status == "aborted" and t == "draw.seeded"):
                self.fail(c, "LIFECYCLE_ORDER", f"seq {seen[t][0]}", f"a {t} entry contradicts status {status!r}",
                          None, t, seen[t][0])
        if seen["draw.aborted"] is not None and (seen["draw.drawn"] or seen["draw.published"]):
            self.fail(c, "LIFECYCLE_ORDER", f"seq {seen['draw.aborted'][0]}", "a drawn draw cannot be aborted")
        order = [seen[t][0] for t in ("draw.prepared", "draw.seeded", "draw.drawn", "draw.published",
                                              "draw.aborted") if seen[t]]
        subs = every["draw.substituted"]
        if order != sorted(order):
            self.fail(c, "LIFECYCLE_ORDER", f"draw {did}", "prepared < seeded < drawn < published (or prepared "
                      "[< seeded] < aborted) does not hold", sorted(order), order)
        early = [s for s, _ in subs if seen["draw.drawn"] is None or s < seen["draw.drawn"][0]]
        if early:  # a substitution follows the drawn entry, before or after publication
            self.fail(c, "LIFECYCLE_ORDER", f"seq {early[0]}", "a substitution before the draw was drawn",
                      f"> {seen['draw.drawn'][0] if seen['draw.drawn'] else 'a drawn entry'}", early[0], early[0])
        ns = [e["payload"].get("n") for _, e in subs]
        if ns != list(range(len(ns))):
            self.fail(c, "LIFECYCLE_INCOMPLETE", f"draw {did}", "substitution entries must be numbered 0, 1, ... "
                      "without gaps", list(range(len(ns))), ns)
        if seen["draw.seeded"] and seen["draw.prepared"] \
                and seen["draw.seeded"][1]["payload"].get("prepared_seq") != seen["draw.prepared"][0]:
            self.fail(c, "LIFECYCLE_ORDER", f"seq {seen['draw.seeded'][0]}", "seeded.prepared_seq is not the "
                      "prepared entry's seq", seen["draw.prepared"][0],
                      seen["draw.seeded"][1]["payload"].get("prepared_seq"))
        if seen["draw.published"]:
            # one salt per substitution made before publication; a later one (the draw is public
            # by then) is opened by the bundle's record and salt against its own seal
            pseq = seen["draw.published"][0]
            before = [s for s, _ in subs if s < pseq]
            salts = seen["draw.published"][1]["payload"].get("substitution_salts")
            if not isinstance(salts, list) or len(salts) != len(before):
                self.fail(c, "LIFECYCLE_INCOMPLETE", f"seq {pseq}", "the published entry reveals a salt per "
                          "substitution made before it; the counts differ (a substitution entry dropped or added?)",
                          len(salts) if isinstance(salts, list) else "a list", len(before))
        if seen["draw.aborted"]:
            self._abort_record(c, seen["draw.aborted"], seen["draw.seeded"], one["draw.aborted"] is not None)
        self._dropped_from_bundle(c, every)
        if one["draw.prepared"]:
            self.st.prepared_seq, pe = one["draw.prepared"]
            self.st.prepared = pe["payload"]
            alg = pe["payload"].get("algorithm")
            if alg != self.algorithm:
                self.fail(c, "DRAW_ENTRY_MALFORMED", f"seq {self.st.prepared_seq}", f"the prepared entry's algorithm "
                          f"is not the one bundle format {self.b['format']!r} carries (a draw is checked by the rules "
                          "it was prepared under, and cannot choose older ones)", self.algorithm, alg,
                          self.st.prepared_seq)
        self.published = one["draw.published"] is not None
        c.detail = ", ".join(f"{t.split('.')[1]} @ {[s for s, _ in every[t]]}" for t in DRAW_TYPES if every[t])
        pend = sorted((s, e["type"]) for t in DRAW_TYPES for s, e in every[t] if s in self.pending)
        if pend:
            cov.pend(", ".join(f"{t}@{s}" for s, t in pend) + f" not yet in a signed checkpoint (the bundle's "
                     f"checkpoint has size {size}): shown by the service, signature checked, not yet provable — "
                     "not a dropped entry; verify again later")
            self.r.info["pending_entries"] = [f"{t}@{s}" for s, t in pend]
        else:
            n = sum(len(v) for v in every.values())
            cov.detail = f"all {n} entries of the draw are in the checkpoint of size {size}"
        self.mine = mine
        return one

    def _abort_record(self, c: Check, aborted: tuple[int, dict[str, Any]], seeded: Any, proven: bool) -> None:
        """Who aborted, when, why, at which stage (§D11.6): the verdict ABORTED when proven."""
        seq, e = aborted
        ap = e["payload"]
        stage = ap.get("stage")
        want = "seeded" if seeded is not None else "prepared"
        if stage != want:
            self.fail(c, "LIFECYCLE_ORDER", f"seq {seq}", "the abort's stage is not the draw's last step before it",
                      want, stage, seq)
        if not isinstance(ap.get("reason"), str) or not ap["reason"].strip():
            self.fail(c, "DRAW_ENTRY_MALFORMED", f"seq {seq}", "an abort needs a reason", "a reason", ap.get("reason"))
        line = f"at stage {stage!r}, {e['time']} by {e['actor']['id']} (seq {seq}): {ap.get('reason')}"
        self.r.info["aborted"] = line + ("" if proven else " — not yet in a signed checkpoint")
        if proven:
            self.r.aborted = line

    def _dropped_from_bundle(self, c: Check, every: dict[str, list[tuple[int, dict[str, Any]]]]) -> None:
        """With the full log: an entry of this draw the log holds below the checkpoint that the
        bundle leaves out is dropped (the bundle hides a step)."""
        if self.o.full_log is None or self.cp is None:
            return
        shown = {s for t in every.values() for s, _ in t}
        for e in self.o.full_log:
            if not isinstance(e, dict) or e.get("type") not in DRAW_TYPES or type(e.get("seq")) is not int:
                continue
            if (e.get("payload") or {}).get("draw_id") == self.st.draw_id and e["seq"] < self.cp.size \
                    and e["seq"] not in shown:
                self.fail(c, "LIFECYCLE_INCOMPLETE", f"seq {e['seq']}", f"{self.o.full_log_label} holds "
                          f"{e['type']} of this draw at seq {e['seq']}; the bundle leaves it out (dropped)",
                          e["type"], "absent", e["seq"])

    def _wait_or_skip(self, c: Check, typ: str, why: str) -> None:
        """Not checked because `typ` is missing: pending if the service shows it beyond the
        checkpoint, else not checked for `why`."""
        if typ in getattr(self, "pending_types", ()):
            c.pend(f"the {typ} entry is not yet in a signed checkpoint")
        else:
            c.skip(why)

    # -- 3. prepared checkpoint and timing --------------------------------------------------
    def prepared_checkpoint(self, one: dict[str, Any]) -> None:
        c = self.r.check("prepared_checkpoint", "checkpoint signed right after prepare, consistent with the "
                         "bundle checkpoint")
        pc = self.b.get("prepared_checkpoint")
        self.pcp = self.pnote = None
        self.p_own_time: int | None = None
        if self.st.prepared_seq is None:
            self._wait_or_skip(c, "draw.prepared", "no prepared entry")
            return
        if not isinstance(pc, dict) or not isinstance(pc.get("note"), str):
            self.fail(c, "PREPARED_CHECKPOINT_INVALID", "prepared_checkpoint", "the bundle has no checkpoint "
                      "covering the prepared entry: nothing shows the inputs were fixed before the seed")
            return
        try:
            note = parse_note(pc["note"])
            cp = parse_checkpoint(note.text)
        except NoteError as exc:
            self.fail(c, "PREPARED_CHECKPOINT_INVALID", "prepared_checkpoint", f"malformed: {exc}")
            return
        if not self._check_note(c, note, cp, "prepared_checkpoint"):
            return
        self.pcp, self.pnote = cp, note
        ps = self.st.prepared_seq
        self.p_own_time = own = self.own_time  # _check_note just verified it
        pe = self.st.entries.get(ps)
        if own is not None:
            if pe is not None and own < int(_unix(pe["time"])):
                self.fail(c, "PREPARED_CHECKPOINT_INVALID", "prepared_checkpoint", "the log's timestamped "
                          "cosignature is dated before the prepared entry it covers", f">= {pe['time']}", own)
            c.detail = (c.detail or "") + f"; time {own} signed by the log"
        elif self.v3:
            self.fail(c, "PREPARED_CHECKPOINT_UNTIMED", "prepared_checkpoint", "the prepared checkpoint carries no "
                      "timestamped cosignature by the log (required from spotcheck-draw/3): nothing signed says "
                      "when the inputs were fixed")
        if cp.size <= ps:
            self.fail(c, "PREPARED_CHECKPOINT_INVALID", "prepared_checkpoint", "it does not cover the prepared "
                      "entry", f"size > {ps}", cp.size)
        if self.cp is not None:
            try:
                proof = [base64.b64decode(x, validate=True) for x in pc.get("consistency_proof") or []]
            except (binascii.Error, TypeError, ValueError):
                proof = []
            if cp.origin != self.cp.origin or not verify_consistency(cp.size, self.cp.size, cp.root, self.cp.root,
                                                                     proof):
                self.fail(c, "INCONSISTENT_CHECKPOINTS", f"prepared_checkpoint {cp.size} -> {self.cp.size}",
                          "the bundle checkpoint is not an append-only extension of the prepared checkpoint: the "
                          "log was forked or rewritten after prepare",
                          f"extension of size {cp.size} root {base64.b64encode(cp.root).decode()}",
                          f"size {self.cp.size} root {base64.b64encode(self.cp.root).decode()}")
        seeded = one.get("draw.seeded")
        if seeded and seeded[0] < cp.size:
            self.fail(c, "LIFECYCLE_ORDER", f"seq {seeded[0]}", "the seeded entry is inside the prepared "
                      "checkpoint: the reveals existed before the inputs were fixed", f">= {cp.size}", seeded[0])
        gap = cp.size - 1 - ps
        c.detail = (c.detail or "") + f"; covers prepared seq {ps}" + (f" ({gap} later entries in it)" if gap else "")

    def timing(self, one: dict[str, Any]) -> None:
        c = self.r.check("timing", "inputs fixed before the beacon round existed")
        p = self.st.prepared
        if p is None:
            self._wait_or_skip(c, "draw.prepared", "no prepared entry")
            return
        chains = self.chains()
        rounds = []
        unknown = []
        for s in (p.get("seed_recipe") or {}).get("sources") or []:
            if isinstance(s, dict) and s.get("type") == "drand":
                ch = chains.get(str(s.get("chain_hash", "")).lower())
                if ch is not None and type(s.get("round")) is int:
                    rounds.append((s["round"], round_time(ch, s["round"]), ch))
                else:
                    unknown.append(str(s.get("chain_hash")))
        if unknown:
            c.skip(f"no trusted parameters for drand chain(s) {', '.join(unknown)} (see chains): the round time "
                   "cannot be established")
            return
        nb = p.get("not_before")
        if not rounds:
            if nb is not None:
                self.fail(c, "DRAW_ENTRY_MALFORMED", f"seq {self.st.prepared_seq}", "not_before without a drand "
                          "source", None, nb)
            c.skip("no drand round declared: unpredictability rests on the dice / lottery / witness reveals, "
                   "which come after the prepared checkpoint (see prepared_checkpoint)")
            self._prepared_quorum_without_round()
            return
        latest = max(t for _, t, _ in rounds)
        if nb != latest:
            self.fail(c, "DRAW_ENTRY_MALFORMED", f"seq {self.st.prepared_seq}", "not_before is not the time of "
                      "the latest declared round", latest, nb)
        pe = self.st.entries[self.st.prepared_seq]  # type: ignore[index]
        earliest = min(t for _, t, _ in rounds)
        if _unix(pe["time"]) >= earliest:
            self.fail(c, "PREPARED_TOO_LATE", f"seq {self.st.prepared_seq}", "the prepared entry is dated at or "
                      "after a declared round's time (BeaconRoundInPast)", f"< {earliest}", pe["time"])
        seeded = one.get("draw.seeded")
        if seeded and _unix(seeded[1]["time"]) < latest:
            self.fail(c, "SEEDED_TOO_EARLY", f"seq {seeded[0]}", "seeded before the declared round existed",
                      f">= {latest}", seeded[1]["time"])
        pc = self.b.get("prepared_checkpoint") or {}
        signed_at = pc.get("signed_at")
        clock = []
        own = self.p_own_time
        if own is not None:  # signed (v3): the bare signed_at is not read
            if own >= earliest:
                self.fail(c, "PREPARED_TOO_LATE", "prepared_checkpoint", "the log's timestamped cosignature on the "
                          "prepared checkpoint is at or after the round's time", f"< {earliest}", own)
            clock.append(f"the log's timestamped cosignature {own}")
        elif isinstance(signed_at, str):  # v1, v2: an unsigned field, checked for what it is worth
            try:
                if _unix(signed_at) >= earliest:
                    self.fail(c, "PREPARED_TOO_LATE", "prepared_checkpoint", "the prepared checkpoint was signed "
                              "at or after the round's time", f"< {earliest}", signed_at)
                clock.append(f"checkpoint signed_at {signed_at} (unsigned)")
            except ValueError:
                self.fail(c, "DRAW_ENTRY_MALFORMED", "prepared_checkpoint.signed_at", "not an RFC 3339 ms time",
                          None, signed_at)
        clock.append(f"prepared entry time {pe['time']}")
        in_time: list[str] = []
        pol = self._policy(c)
        if self.pnote is not None and pol is not None:
            size = self.pcp.size if self.pcp is not None else None
            for name, t in self._cosigs(c, self.pnote, "prepared_checkpoint", size):
                if t < earliest:
                    in_time.append(f"{name}@{t}")
            need = pol[1] if pol[1] is not None else 0
            if len(in_time) < need:
                names = {x.rsplit("@", 1)[0] for x in in_time}
                missing = [k.name for k in pol[0] if k.name not in names]
                past = self._time_passed(earliest)
                if past is not None:
                    self.fail(c, "PREPARED_NOT_WITNESSED", "prepared_checkpoint", f"only {len(in_time)} of the "
                              f"{need} witnesses needed cosigned the prepared checkpoint before the round's time "
                              f"{earliest}, and that time has passed ({past}): it can never become valid; not in "
                              f"time: {', '.join(missing)}", f">= {need} cosignatures dated < {earliest}",
                              len(in_time))
                else:  # the round is still ahead: the cosignatures may still come
                    self.r.awaiting_witnesses(c, size=size, k=need, valid=in_time, missing=missing)
        self.r.info["not_before"] = f"{latest} (drand round {', '.join(str(r) for r, _, _ in rounds)})"
        if in_time:
            c.detail = (f"witness-vouched: {', '.join(in_time)} cosigned the prepared checkpoint before {earliest}; "
                        f"and the service's clock: {'; '.join(clock)}")
        else:
            extra = len(self.pnote.signatures) - (1 if own is None else 2) if self.pnote is not None else 0
            why = (f"{extra} cosignature line(s) present but no --witness key given to check them" if extra
                   and pol is None else "no witness cosigned the prepared checkpoint in time")
            c.detail = (f"RESTS ON THE SERVICE'S OWN CLOCK ({'; '.join(clock)} < round time {earliest}): {why}")
            self.r.info["timing"] = "rests on the service's own clock"

    def _prepared_quorum_without_round(self) -> None:
        """Without a drand round (§D12: "without one: on prepared_checkpoint") k of the policy's
        witnesses must have cosigned the prepared checkpoint, at any time; fewer, none forged, is
        awaiting witnesses (no deadline has passed), as on the page."""
        pol = self._policy(self.r.check("timing", "inputs fixed before the beacon round existed"))
        if self.pnote is None or pol is None or pol[2] != "bundle" and pol[1] is None:
            return
        c = self.r.check("prepared_checkpoint", "checkpoint signed right after prepare, consistent with the "
                         "bundle checkpoint")
        size = self.pcp.size if self.pcp is not None else None
        valid = self._cosigs(c, self.pnote, "prepared_checkpoint", size)
        need = pol[1] if pol[1] is not None else len(pol[0])
        if c.status != "failed" and len(valid) < need:
            have = {n for n, _ in valid}
            self.r.awaiting_witnesses(c, size=size, k=need, valid=[f"{n}@{t}" for n, t in valid],
                                      missing=[k.name for k in pol[0] if k.name not in have])

    def _time_passed(self, t: int) -> str | None:
        """Evidence in the bundle that the time `t` (Unix s) has passed, or None. Why evidence and
        not the clock: a verdict must not depend on when it is computed; the log itself shows the
        round is behind it by a seeded entry, an entry dated at or after `t`, or a signed time
        (the log's own timestamp on the bundle checkpoint, a cosignature) at or after it."""
        for seq, e in sorted({**self.st.entries, **{q: w for q, w in self.pending.items()}}.items()):
            if e.get("type") == "draw.seeded" and (e.get("payload") or {}).get("draw_id") == self.st.draw_id:
                return f"the draw was seeded (seq {seq})"
            try:
                if isinstance(e.get("time"), str) and _unix(e["time"]) >= t:
                    return f"entry seq {seq} is dated {e['time']}"
            except ValueError:
                continue
        if self.cp_own_time is not None and self.cp_own_time >= t:
            return f"the log signed its checkpoint at {self.cp_own_time}"
        pol = self._policy(self.r.check("timing", "inputs fixed before the beacon round existed"))
        for note in (self.pnote, self.note):
            if note is None or pol is None:
                continue
            for k in pol[0]:
                ok, when = verify_cosignature(note, k)
                if ok and when is not None and when >= t:
                    return f"{k.name} cosigned at {when}"
        return None

    def chains(self) -> dict[str, Chain]:
        """The drand networks whose rounds may be checked: only trusted parameters, never the bundle's
        word.  A network is trusted if it is pinned in this verifier (League of Entropy default and
        quicknet) or given with --trust-chain; the bundle's parameters must hash to their chain hash
        (drand's ChainInfo.Hash) and equal the trusted ones, and from v2 on equal what the prepared
        entry committed.  Why: a key the service owns, filed under quicknet's hash, would otherwise
        let it sign any "round" it likes."""
        if hasattr(self, "_chains"):
            return self._chains
        out: dict[str, Chain] = {}
        c = self.r.check("chains", "drand chain parameters: hash to their chain hash, pinned or trusted, committed")
        trusted = {**PINNED_CHAINS, **{ch.chain_hash: ch for ch in self.o.trusted_chains}}
        given = self.b.get("chains") or {}
        if not isinstance(given, dict):
            self.fail(c, "CHAIN_PARAMS_INVALID", "chains", "chains must be an object {chain_hash: parameters}")
            given = {}
        for h, d in given.items():
            where = f"chains/{h}"
            try:
                ch = Chain.from_json(d)
                computed = ch.computed_hash()
            except ValueError as exc:
                self.fail(c, "CHAIN_PARAMS_INVALID", where, str(exc))
                continue
            if ch.chain_hash != h.lower():
                self.fail(c, "CHAIN_PARAMS_INVALID", where, "filed under another chain hash", h, ch.chain_hash)
                continue
            if computed != ch.chain_hash:
                self.fail(c, "CHAIN_HASH_MISMATCH", where, "the parameters (period, genesis time, public key, "
                          "genesis seed, beacon id) do not hash to the chain hash: they are not that network's",
                          ch.chain_hash, computed)
                continue
            t = trusted.get(ch.chain_hash)
            if t is None:
                self.fail(c, "CHAIN_UNTRUSTED", where, "a drand network this verifier does not know: neither "
                          "pinned (League of Entropy default, quicknet) nor given with --trust-chain FILE", None,
                          ch.beacon_id or ch.chain_hash)
                continue
            if t.to_json() != ch.to_json():
                at = _first_diff(t.to_json(), ch.to_json())
                self.fail(c, "CHAIN_UNTRUSTED", f"{where}{at}", "the parameters differ from the trusted ones",
                          _dig(t.to_json(), at), _dig(ch.to_json(), at))
                continue
            out[ch.chain_hash] = t
        p = self.st.prepared or {}
        declared = sorted({str(s.get("chain_hash", "")).lower() for s in (p.get("seed_recipe") or {}).get("sources")
                           or [] if isinstance(s, dict) and s.get("type") == "drand"})
        for h in declared:
            if h not in given:
                self.fail(c, "CHAIN_PARAMS_INVALID", f"chains/{h}", "a declared drand source's chain has no "
                          "parameters in the bundle")
        if self.v2 and self.st.prepared is not None:
            self._chains_committed(c, p, given, declared)
        if not declared and not given:
            c.skip("no drand source declared")
        elif c.status == "passed":
            names = ", ".join(f"{x.beacon_id or h[:12]} ({x.scheme})" for h, x in out.items())
            how = "committed at prepare; " if self.v2 else "not committed in v1 bundles; "
            c.detail = f"{names}: {how}" + ", ".join(
                "pinned" if h in PINNED_CHAINS and PINNED_CHAINS[h] == out[h] else "--trust-chain" for h in out)
        self._chains = out
        return out

    def _chains_committed(self, c: Check, p: dict[str, Any], given: dict[str, Any], declared: list[str]) -> None:
        """v2: the prepared entry commits the parameters of every declared chain (so the log signature
        binds them), and the bundle's are exactly those."""
        committed = p.get("chains")
        where = f"seq {self.st.prepared_seq} chains"
        if not isinstance(committed, dict):
            self.fail(c, "CHAIN_NOT_COMMITTED", where, "a v2 prepared entry commits the drand parameters it uses",
                      "{chain_hash: parameters}", committed)
            return
        if sorted(committed) != declared:
            self.fail(c, "CHAIN_NOT_COMMITTED", where, "the committed chains are not the declared sources' chains",
                      declared, sorted(committed))
        for h in declared:
            if h in committed and h in given and committed[h] != given[h]:
                at = _first_diff(committed[h], given[h])
                self.fail(c, "CHAIN_NOT_COMMITTED", f"chains/{h}{at}", "the bundle's parameters are not the ones "
                          "the prepared entry committed to", _dig(committed[h], at), _dig(given[h], at))

    # -- 4. recipe and seed ---------------------------------------------------------------
    def recipe(self, one: dict[str, Any]) -> None:
        cr = self.r.check("reveals", "public reveals: drand signatures, witness contributions, dice, lottery")
        cs = self.r.check("seed", "nonce matches its commitment; the seed recomputes")
        p = self.st.prepared
        if p is None or one.get("draw.seeded") is None:
            typ, why = ("draw.seeded", "the draw was never seeded") if p is not None else \
                ("draw.prepared", "no prepared entry")
            self._wait_or_skip(cr, typ, why)
            self._wait_or_skip(cs, typ, why)
            return
        recipe = p.get("seed_recipe") or {}
        decls = recipe.get("sources") or []
        reveals = one["draw.seeded"][1]["payload"].get("reveals") or []
        where = f"seq {one['draw.seeded'][0]}"
        public = [d for d in decls if isinstance(d, dict) and d.get("type") != "server_nonce"]
        if sum(1 for d in decls if isinstance(d, dict) and d.get("type") == "server_nonce") != 1 or not public:
            self.fail(cr, "REVEAL_MISMATCH", f"seq {self.st.prepared_seq}", "the recipe needs exactly one "
                      "server_nonce and at least one other source", None, [d.get("type") for d in decls])
        if len(reveals) != len(public) or any(not isinstance(r, dict) or r.get("type") != d.get("type")
                                              for r, d in zip(reveals, public, strict=False)):
            self.fail(cr, "REVEAL_MISMATCH", where, "reveals must match the declared public sources one to one, "
                      "same order and type", [d.get("type") for d in public],
                      [r.get("type") if isinstance(r, dict) else r for r in reveals])
            cs.skip("the reveals do not match the recipe")
            return
        chains = self.chains()
        encs: dict[int, bytes] = {}
        rev_iter = iter(reveals)
        ok = True
        for i, d in enumerate(decls):
            if d.get("type") == "server_nonce":
                continue
            r = next(rev_iter)
            rnd = None
            try:
                if d.get("type") == "drand":
                    rnd = self._drand(cr, where, d, r, chains)
                    if rnd is None:
                        ok = False
                        continue
                encs[i] = encode_source(d, r, randomness=rnd)
            except RecipeError as exc:
                self.fail(cr, exc.code, where, str(exc))
                ok = False
        cr.detail = f"{len(public)} public source(s): " + ", ".join(str(d.get("type")) for d in public)
        # the seed needs the nonce, revealed only at publication (or to a privileged reader)
        pub = one.get("draw.published")
        sealed = self.b.get("sealed") if isinstance(self.b.get("sealed"), dict) else None
        if pub is not None:
            nonce_hex, claimed, src = pub[1]["payload"].get("nonce"), pub[1]["payload"].get("seed"), "published"
        elif sealed is not None and sealed.get("nonce"):
            nonce_hex, claimed, src = sealed.get("nonce"), sealed.get("seed"), "sealed (privileged reader)"
        else:
            self._wait_or_skip(cs, "draw.published", "not yet published: the server nonce is revealed only at "
                               "publication (before that a public seed would disclose the secret drawn list, 002 八)")
            return
        try:
            nonce = hexbytes(nonce_hex, "nonce", 32)
        except RecipeError as exc:
            self.fail(cs, "NONCE_MISMATCH", "nonce", str(exc))
            return
        if nonce_commitment(nonce).hex() != str(recipe.get("nonce_commitment", "")).lower():
            self.fail(cs, "NONCE_MISMATCH", "nonce", "H(nonce-commitment tag, nonce) is not the committed value",
                      recipe.get("nonce_commitment"), nonce_commitment(nonce).hex())
            return
        if not ok:
            cs.skip("a public reveal failed; the seed cannot be recomputed")
            return
        seq_list = []
        for i, d in enumerate(decls):
            seq_list.append(encode_source(d, {}, nonce=nonce) if d.get("type") == "server_nonce" else encs[i])
        seed = seed_from(self.lhs[self.st.prepared_seq], seq_list)  # type: ignore[index]
        if claimed is not None and str(claimed).lower() != seed.hex():
            self.fail(cs, "SEED_MISMATCH", "seed", "the seed recomputed from the prepared leaf hash, the nonce and "
                      "the reveals is not the one stated", seed.hex(), claimed)
        self.st.seed, self.st.seed_source = seed, src
        cs.detail = f"seed {seed.hex()} ({src})"
        self.r.info["seed"] = f"{seed.hex()} ({src})"

    def _drand(self, c: Check, where: str, d: dict[str, Any], r: dict[str, Any], chains: dict[str, Chain]) -> bytes | None:
        h = str(d.get("chain_hash", "")).lower()
        ch = chains.get(h)
        if ch is None:
            self.fail(c, "CHAIN_UNTRUSTED", where, f"no trusted parameters for drand chain {h} (see the chains "
                      "check): its round cannot be verified")
            return None
        try:
            sig = hexbytes(r.get("signature"), "drand signature")
            prev = hexbytes(r["previous_signature"], "previous_signature") if r.get("previous_signature") else None
            rnd = verify_round(ch, int(d.get("round", 0)), sig, prev)
        except RecipeError as exc:
            self.fail(c, exc.code, where, str(exc))
            return None
        except BeaconEncodingError as exc:
            self.fail(c, "BEACON_ENCODING_INVALID", where, f"drand round {d.get('round')}: {exc}")
            return None
        except BeaconSignatureInvalid as exc:
            self.fail(c, "BEACON_SIGNATURE_INVALID", where, str(exc))
            return None
        if r.get("randomness") is not None and str(r["randomness"]).lower() != rnd.hex():
            self.fail(c, "BEACON_RANDOMNESS_MISMATCH", where, "stated randomness is not SHA-256(signature)",
                      rnd.hex(), r["randomness"])
            return None
        return rnd

    # -- 5. pools and sizes ---------------------------------------------------------------
    def pools(self) -> None:
        c = self.r.check("pools", "pool roots and counts recompute from the records; excluded disjoint; conflicts")
        p = self.st.prepared
        pools = self.b.get("pools")
        if p is None:
            self._wait_or_skip(c, "draw.prepared", "no prepared entry")
            return
        if not isinstance(pools, dict):
            c.skip("not yet published: pool records are given to the public only at publication")
            return
        committed = p.get("pools") or {}
        ok = True
        for kind in ("subjects", "inspectors", "excluded", "experts"):
            if kind not in committed and kind not in pools and not (self.v2 and kind == "experts"):
                continue
            recs = pools.get(kind)
            want = committed.get(kind) or {}
            if kind == "subjects" and recs is None and "pool_parts" in self.b:
                parts = self._subjects_in_parts(c, want, pools)
                if parts is None:
                    ok = False
                    continue
                got = parts.commitment()
            elif not isinstance(recs, list):
                self.fail(c, "POOL_INVALID", f"pools/{kind}", "records missing from the bundle")
                ok = False
                continue
            else:
                try:
                    got, more = commit_with(kind, recs, self._ticket_rows() if kind == "subjects" else None)
                except PoolError as exc:
                    self.fail(c, "POOL_INVALID", f"pools/{kind}", str(exc))
                    ok = False
                    continue
                if more is not None:
                    self.ticket_pre = (more, got["counts"])
            if got["root"] != str(want.get("root", "")).lower():
                self.fail(c, "POOL_ROOT_MISMATCH", f"pools/{kind}", "the records do not hash to the root committed "
                          "at prepare (a record was added, removed or edited after the commitment)",
                          want.get("root"), got["root"])
                ok = False
            if got["size"] != want.get("size") or got["counts"] != want.get("counts") or want.get("kind") != kind:
                self.fail(c, "POOL_COUNTS_MISMATCH", f"pools/{kind}", "size / counts differ from the commitment",
                          {k: want.get(k) for k in ("kind", "size", "counts")},
                          {k: got[k] for k in ("kind", "size", "counts")})
                ok = False
        exc_ids = [r.get("id") for r in pools.get("excluded") or [] if isinstance(r, dict)]
        # the pool can be a million records: look the (few) excluded ids up in it, not the other way
        wanted = {i for i in exc_ids if isinstance(i, str)}
        if self.st.pool_parts is not None:
            subj = set(self.st.pool_parts.found) & wanted
        else:
            subj = {i for r in pools.get("subjects") or [] if isinstance(r, dict)
                    and isinstance(i := r.get("id"), str) and i in wanted} if wanted else set()
        both = sorted(i for i in exc_ids if i in subj)
        if both:
            self.fail(c, "POOL_OVERLAP", "pools/excluded", "subjects both in the pool and excluded", [], both)
            ok = False
        bad = sorted({r.get("reason") for r in pools.get("excluded") or [] if isinstance(r, dict)} - EXCLUDED_REASONS)
        if bad:
            self.fail(c, "POOL_INVALID", "pools/excluded", "unknown exclusion reasons", sorted(EXCLUDED_REASONS), bad)
        conf = pools.get("conflicts", [])
        want_c = committed.get("conflicts_sha256")
        try:
            got_c = conflicts_sha256(conf)
        except ValueError:
            got_c = None
        if got_c != want_c:
            self.fail(c, "CONFLICTS_MISMATCH", "pools/conflicts", "conflicts do not hash to conflicts_sha256",
                      want_c, got_c)
            ok = False
        elif isinstance(conf, list) and conf != sorted(conf):
            self.fail(c, "CONFLICTS_MISMATCH", "pools/conflicts", "conflicts must be sorted")
        ok = self._prior_load(c, committed, pools) and ok
        self.st.pools = pools
        self.st.pools_ok = ok and c.status != "failed"
        c.detail = ", ".join(f"{k} {len(v)}" for k, v in pools.items() if isinstance(v, list))
        if self.st.pool_parts is not None:
            c.detail = f"subjects {self.st.pool_parts.size} in {self.st.pool_parts.parts} part(s), " + c.detail

    def _subjects_in_parts(self, c: Check, want: dict[str, Any], pools: dict[str, Any]) -> PoolParts | None:
        """The subject pool given in parts (§D12.1): each part read once, its findings named; None if
        the parts cannot be read at all (a malformed description)."""
        desc = self.b["pool_parts"].get("subjects") if isinstance(self.b["pool_parts"], dict) else None
        why = check_description(desc)
        if why is not None:
            self.fail(c, "POOL_PARTS_INVALID", "pool_parts/subjects", why)
            return None
        if self.o.pool_part is None:
            raise SourceError("the bundle gives the subject pool in parts (pool_parts): give the bundle directory "
                              "(bundle.json and pool/), or --server")
        p = self.st.prepared or {}
        par = p.get("parameters") or {}
        counts = want.get("counts") if isinstance(want.get("counts"), dict) else None
        try:
            k = stratum_sizes(counts or {}, par.get("ratios") or {}, par.get("floor", "0.05"),
                              bool(par.get("key_item")))
        except (SizeError, TypeError, ValueError):
            k = None
        subs = self.b.get("substitutions")
        extra = sum(1 for w in subs if isinstance(w, dict) and isinstance(w.get("record"), dict)
                    and w["record"].get("kind") == "subject") if isinstance(subs, list) else 0
        wanted = {r.get("id") for r in pools.get("excluded") or [] if isinstance(r, dict)}
        wanted |= {w["entry"].get("payload", {}).get("id") for w in self.b.get("entries") or []
                   if str(w["entry"].get("type", "")).startswith("registry.subject.")
                   and isinstance(w["entry"].get("payload"), dict)}
        wanted |= set(self.o.find_subjects)
        res = stream_pool(desc, self.o.pool_part, self.st.seed, k, counts, extra,
                          {i for i in wanted if isinstance(i, str)})
        for code, where, msg, exp, act in res.problems:
            self.fail(c, code, where, msg, exp, act)
        self.st.pool_parts = res
        return res

    def _prior_load(self, c: Check, committed: dict[str, Any], pools: dict[str, Any]) -> bool:
        """The prior workloads the §D7 cap reads must be the ones committed at prepare (v2). A v1
        draw committed none, so a v1 bundle may not bring any in (they would be the bundle's word)."""
        given = pools.get("prior_load")
        if not self.v2:
            if given:
                self.fail(c, "PRIOR_LOAD_MISMATCH", "pools/prior_load", "a v1 prepared entry commits no prior "
                          "load: a bundle cannot add one", {}, given)
                return False
            return True
        want = committed.get("prior_load_sha256")
        try:
            got = prior_load_sha256(given)
        except ValueError as exc:
            self.fail(c, "PRIOR_LOAD_MISMATCH", "pools/prior_load", str(exc), None, given)
            return False
        if got != want:
            self.fail(c, "PRIOR_LOAD_MISMATCH", "pools/prior_load", "the prior workloads do not hash to "
                      "prior_load_sha256 committed at prepare", want, got)
            return False
        return True

    def _ticket_rows(self) -> Any:
        """The ticket search to run with the subject pool's commitment (one pass over the records), or
        None.  Its thresholds come from the prepared entry's counts and expected sizes, unchecked
        here: they only decide how many tickets are kept for the selection check, which recomputes
        a stratum in full whenever fewer than needed were kept (tickets.Selection)."""
        p = self.st.prepared or {}
        es = p.get("expected_sizes")
        counts = ((p.get("pools") or {}).get("subjects") or {}).get("counts")
        if self.st.seed is None or not isinstance(es, dict) or not isinstance(counts, dict):
            return None
        return ticket_rows(self.st.seed, thresholds(es, counts))

    def sizes(self, one: dict[str, Any]) -> None:
        c = self.r.check("sizes", "stratum sizes (§5) = expected_sizes = drawn sizes")
        p = self.st.prepared
        if p is None:
            self._wait_or_skip(c, "draw.prepared", "no prepared entry")
            return
        par = p.get("parameters") or {}
        counts = ((p.get("pools") or {}).get("subjects") or {}).get("counts") or {}
        try:
            k = stratum_sizes(counts, par.get("ratios") or {}, par.get("floor", "0.05"), bool(par.get("key_item")))
        except SizeError as exc:
            self.fail(c, "SIZES_MISMATCH", f"seq {self.st.prepared_seq}", f"the rule refuses these inputs: {exc}")
            return
        self.st.sizes = k
        if p.get("expected_sizes") != k:
            self.fail(c, "SIZES_MISMATCH", f"seq {self.st.prepared_seq}", "expected_sizes is not §5 of the "
                      "committed counts and the parameters", k, p.get("expected_sizes"))
        drawn = one.get("draw.drawn")
        if drawn and drawn[1]["payload"].get("sizes") != k:
            self.fail(c, "SIZES_MISMATCH", f"seq {drawn[0]}", "the drawn entry's sizes are not §5's", k,
                      drawn[1]["payload"].get("sizes"))
        c.detail = ", ".join(f"{s}: {v} of {counts.get(s)}" for s, v in sorted(k.items()))

    # -- 6. selection, matching, seal -----------------------------------------------------
    def draw_content(self, one: dict[str, Any]) -> None:
        csel = self.r.check("selection", "tickets and selection (§6) recompute and equal the content")
        cmat = self.r.check("matching", "inspector matching (§7) recomputes and equals the content")
        cseal = self.r.check("seal", "the content matches the drawn seal with the salt")
        drawn = one.get("draw.drawn")
        if drawn is None:
            for c in (csel, cmat, cseal):
                self._wait_or_skip(c, "draw.drawn", "the draw was never drawn")
            return
        content = self.b.get("content")
        pub = one.get("draw.published")
        sealed = self.b.get("sealed") if isinstance(self.b.get("sealed"), dict) else None
        salt_hex = pub[1]["payload"].get("salt") if pub else (sealed or {}).get("salt")
        if not isinstance(content, dict) or salt_hex is None:
            why = "not yet published: the content and its salt are revealed at publication (sealed, 002 八)"
            for c in (csel, cmat, cseal):
                self._wait_or_skip(c, "draw.published", why)
            return
        self.st.content = content
        try:
            salt = hexbytes(salt_hex, "salt", 32)
            got = seal(salt, content)
        except (RecipeError, ValueError) as exc:
            self.fail(cseal, "SEAL_MISMATCH", "salt", str(exc))
        else:
            if got.hex() != str(drawn[1]["payload"].get("seal", "")).lower():
                self.fail(cseal, "SEAL_MISMATCH", f"seq {drawn[0]}", "H(seal tag, salt || JCS(content)) is not the "
                          "seal committed at draw time: the content shown is not the content drawn",
                          drawn[1]["payload"].get("seal"), got.hex())
            elif not pub:
                cseal.detail = "checked with the sealed salt (privileged reader); public check at publication"
        if content.get("algorithm") != self.algorithm:
            self.fail(csel, "SELECTION_MISMATCH", "content.algorithm", "not the algorithm the draw was prepared "
                      "under", self.algorithm, content.get("algorithm"))
        seed, pools, k = self.st.seed, self.st.pools, self.st.sizes
        if "pool_parts" in self.b and self.st.pool_parts is None and pools is not None:
            why = "the subject pool's parts could not be read (see the pools check)"
            csel.skip(why)
            cmat.skip(why)
            return
        if seed is None or pools is None or k is None:
            why = "the seed, the pools or the sizes could not be established (see those checks)"
            csel.skip(why)
            cmat.skip(why)
            return
        if content.get("sizes") != k:
            self.fail(csel, "SIZES_MISMATCH", "content.sizes", "the content's sizes are not §5's", k,
                      content.get("sizes"))
        committed = ((self.st.prepared or {}).get("pools") or {}).get("subjects") or {}
        sel: Selection
        if self.st.pool_parts is not None:  # read in parts: the kept tickets are the k smallest and more
            sel = PartsSelection(seed, self.st.pool_parts.kept, self.st.pool_parts.counts, k)
        else:
            if self.st.pools_ok:  # every record was checked to be an object with a string id and stratum
                subjects = pools.get("subjects") or []
            else:
                subjects = [r for r in pools.get("subjects") or []
                            if isinstance(r, dict) and "id" in r and "stratum" in r]
            expect = committed.get("counts") if isinstance(committed.get("counts"), dict) else None
            pre = getattr(self, "ticket_pre", None) if self.st.pools_ok else None  # over these very records
            sel = Selection(seed, subjects, k, expect, pre)  # expect: only sets the tickets' cut thresholds
        self.st.selection = sel
        want = sel.strata_content()
        if content.get("strata") != want:
            at = _first_diff(want, content.get("strata"))
            self.fail(csel, "SELECTION_MISMATCH", f"content.strata{at}", "the selection is not the recomputed one",
                      _dig(want, at), _dig(content.get("strata"), at))
        else:
            csel.detail = f"{sum(sel.counts.values())} tickets; " + ", ".join(
                f"{s}: {len(v)}" for s, v in sorted(sel.selected.items()))
        self.match(cmat, content, sel)

    def matcher(self) -> Matcher | None:
        p, pools = self.st.prepared or {}, self.st.pools or {}
        tr = (p.get("parameters") or {}).get("team_rule")
        if not isinstance(tr, dict):
            return None
        return Matcher(self.st.seed or b"", Rule.from_json(tr), pools.get("inspectors") or [],
                       [tuple(x) for x in pools.get("conflicts") or []], pools.get("prior_load") or {},
                       pools.get("experts") or [])

    def match(self, c: Check, content: dict[str, Any], sel: Selection) -> None:
        try:
            m = self.matcher()
        except (KeyError, TypeError, ValueError) as exc:
            self.fail(c, "DRAW_ENTRY_MALFORMED", f"seq {self.st.prepared_seq}", f"team_rule unusable: {exc}")
            return
        if m is None:
            self.fail(c, "DRAW_ENTRY_MALFORMED", f"seq {self.st.prepared_seq}", "parameters.team_rule missing")
            return
        if m.rule.experts and not (self.st.pools or {}).get("experts"):
            c.skip("the rule asks for experts but the bundle carries no expert pool")
            return
        self.m = m
        try:
            want = m.match(sel.matching_order())
        except MatchError as exc:
            self.fail(c, exc.code, "content.matching", str(exc))
            return
        if content.get("matching") != want:
            at = _first_diff(want, content.get("matching"))
            self.fail(c, "MATCHING_MISMATCH", f"content.matching{at}", "the teams are not the recomputed ones",
                      _dig(want, at), _dig(content.get("matching"), at))
        else:
            c.detail = f"{len(want['assignments'])} teams; {len(m.cands)} candidates, {len(m.ineligible)} ineligible"
        if not self.v2 and m.rule.max_assignments is not None:
            c.detail = (c.detail or "") + "; v1 commits no prior load: taken as zero"

    # -- 7. substitutions ------------------------------------------------------------------
    def substitutions(self, one: dict[str, Any]) -> None:
        c = self.r.check("substitutions", "each substitution matches its seal and is the next eligible candidate (§8)")
        cc = self.r.check("current_matching", "current matching = content + substitutions in order")
        subs = self.mine.get("draw.substituted", []) if hasattr(self, "mine") else []
        records = self.b.get("substitutions")
        content = self.st.content
        if one.get("draw.drawn") is None:
            self._wait_or_skip(c, "draw.drawn", "the draw was never drawn")
            self._wait_or_skip(cc, "draw.drawn", "the draw was never drawn")
            return
        if content is None or not isinstance(records, list):
            why = "not yet published: substitution records and salts are revealed at publication"
            self._wait_or_skip(c, "draw.published", why)
            self._wait_or_skip(cc, "draw.published", why)
            return
        if "draw.substituted" in getattr(self, "pending_types", ()):
            for x in (c, cc):
                x.pend("a draw.substituted entry is not yet in a signed checkpoint: the records are checked once "
                       "every substitution is proven")
            return
        pub = one.get("draw.published")
        salts = pub[1]["payload"].get("substitution_salts") if pub else None
        if len(records) != len(subs):
            self.fail(c, "LIFECYCLE_INCOMPLETE", "substitutions", "one record per draw.substituted entry",
                      len(subs), len(records))
        # a copy to apply the records to (none to apply: the content's own matching, read only)
        current = json.loads(json.dumps(content.get("matching") or {})) if subs or records \
            else content.get("matching") or {}
        m = getattr(self, "m", None)
        sel = self.st.selection
        stratum_map: dict[str, Any] = {}

        def stratum_of() -> dict[str, Any]:  # a million-subject pool: built only for a subject substitution
            if not stratum_map and isinstance(sel, PartsSelection):
                stratum_map.update(sel.strata_of_kept())
            elif not stratum_map:
                stratum_map.update((r["id"], r["stratum"]) for r in (self.st.pools or {}).get("subjects") or []
                                   if isinstance(r, dict) and "id" in r)
            return stratum_map
        used: list[str] = []
        unavailable_all: list[str] = []
        left: dict[str, list[str]] = {}  # subject -> who left it by an inspector substitution (v2 §D8)
        replay = m is not None and sel is not None and self.st.seed is not None
        for i, ((seq, e), w) in enumerate(zip(subs, records, strict=False)):
            where = f"seq {seq} (substitution {i})"
            rec, salt_hex = (w.get("record"), w.get("salt")) if isinstance(w, dict) else (None, None)
            if salts is not None and pub is not None and seq < pub[0] and (i >= len(salts) or salts[i] != salt_hex):
                self.fail(c, "SUBSTITUTION_SEAL_MISMATCH", where, "the salt is not the one the published entry "
                          "reveals", salts[i] if i < len(salts) else None, salt_hex, seq)
            try:
                got = seal(hexbytes(salt_hex, "salt", 32), rec)
            except (RecipeError, ValueError) as exc:
                self.fail(c, "SUBSTITUTION_SEAL_MISMATCH", where, str(exc), seq=seq)
                continue
            if got.hex() != str(e["payload"].get("seal", "")).lower():
                self.fail(c, "SUBSTITUTION_SEAL_MISMATCH", where, "the record with its salt does not match the seal "
                          "committed when the substitution was made", e["payload"].get("seal"), got.hex(), seq)
            if not isinstance(rec, dict) or rec.get("kind") != e["payload"].get("kind"):
                self.fail(c, "SUBSTITUTION_INVALID", where, "record kind differs from the entry's kind",
                          e["payload"].get("kind"), rec.get("kind") if isinstance(rec, dict) else rec, seq)
                continue
            if not replay:
                continue
            assert m is not None and sel is not None and self.st.seed is not None
            seed = self.st.seed
            try:
                if rec["kind"] == "inspector":
                    subj = str(rec.get("subject"))
                    unavailable_all += m.apply_inspector(current, rec, left.get(subj, []) if self.v2 else None)
                    left.setdefault(subj, []).append(str(rec.get("leaving")))
                elif rec["kind"] == "subject":
                    m.apply_subject(current, rec, stratum_of(), sel.replacement_order(str(rec.get("stratum"))),
                                    lambda x, s=seed: subject_ticket(s, x).hex(), used)  # type: ignore[misc]
                elif rec["kind"] == "swap":
                    m.apply_swap(current, rec)
                else:
                    raise MatchError("SUBSTITUTION_INVALID", f"unknown kind {rec['kind']!r}")
            except MatchError as exc:
                self.fail(c, exc.code, where, str(exc), exc.expected, exc.actual, seq)
                replay = False  # later records apply to a state we can no longer reproduce
        if not replay and c.status != "failed" and subs:
            c.skip("the content's matching could not be recomputed; seals checked only")
        detail = f"{len(subs)} substitution(s)"
        if unavailable_all:
            detail += f"; candidates passed over as declared unavailable (a claim, not drawn): {unavailable_all}"
        c.detail = detail
        self.st.current = current
        self.st.substitutions = [w for w in records if isinstance(w, dict)]
        cm = self.b.get("current_matching")
        if cm is None:
            cc.skip("no current_matching in the bundle")
        elif not replay:
            cc.skip("substitutions could not be replayed")
        elif cm != current:
            at = _first_diff(current, cm)
            self.fail(cc, "CURRENT_MATCHING_MISMATCH", f"current_matching{at}", "not the content with the "
                      "substitutions applied", _dig(current, at), _dig(cm, at))

    # -- 8. rules -------------------------------------------------------------------------
    def rules(self) -> None:
        c = self.r.check("rules", "rules: team size, joint coverage, plan parameters, general-item floor")
        p = self.st.prepared
        if p is None:
            self._wait_or_skip(c, "draw.prepared", "no prepared entry")
            return
        par = p.get("parameters") or {}
        tr = par.get("team_rule") or {}
        depts = tr.get("departments") or []
        ts = tr.get("team_size")
        if type(ts) is not int or ts < max(2, len(depts)):
            self.fail(c, "RULE_TEAM_SIZE", "parameters.team_rule", "team_size must be >= max(2, departments) "
                      "(002 九(四): at least 2 inspectors per check)", f">= {max(2, len(depts))}", ts)
        if par.get("joint") and len(depts) < 2:
            self.fail(c, "RULE_JOINT_COVERAGE", "parameters", "a joint check with fewer than 2 departments",
                      ">= 2", depts)
        if depts and depts[0] != p.get("department"):
            self.fail(c, "RULE_PLAN_MISMATCH", "parameters.team_rule.departments", "the initiating department "
                      "comes first", p.get("department"), depts[0])
        if not par.get("key_item"):
            try:
                fl = parse_ratio(par.get("floor", "0.05"))
            except SizeError:
                fl = Fraction(-1)
            if fl < Fraction(5, 100):
                self.fail(c, "RULE_FLOOR", "parameters.floor", "a general item's ratio is never below 5% (000 二(二))",
                          ">= 0.05", par.get("floor"))
            counts = ((p.get("pools") or {}).get("subjects") or {}).get("counts") or {}
            n = sum(counts.values())
            if self.st.sizes is not None and n and sum(self.st.sizes.values()) * 20 < n:
                self.fail(c, "RULE_FLOOR", "expected_sizes", "fewer than 5% of the pool drawn for a general item",
                          f">= {n / 20}", sum(self.st.sizes.values()))
        dept_of = {r["id"]: r.get("department") for r in (self.st.pools or {}).get("inspectors") or []
                   if isinstance(r, dict) and "id" in r}
        for label, mt in (("content", (self.st.content or {}).get("matching")), ("current", self.st.current)):
            for a in (mt or {}).get("assignments") or []:
                team = a.get("team") or []
                if len(team) < 2 or (type(ts) is int and len(team) != ts):
                    self.fail(c, "RULE_TEAM_SIZE", f"{label} matching / {a.get('subject')}", "team size",
                              ts, len(team))
                if dept_of and par.get("joint"):
                    miss = [d for d in depts if d not in {dept_of.get(x) for x in team}]
                    if miss:
                        self.fail(c, "RULE_JOINT_COVERAGE", f"{label} matching / {a.get('subject')}",
                                  "a joint check's team must include every participating department", depts, miss)
        self._plan(c, p, par)
        if not (self.st.content or self.st.current):
            c.detail = "teams not checked: content not available until publication"

    def _plan(self, c: Check, p: dict[str, Any], par: dict[str, Any]) -> None:
        plan_entries = [(s, e) for s, e in sorted(self.st.entries.items())
                        if e["type"].startswith("registry.plan.") and e["payload"].get("id") == p.get("plan")
                        and s < (self.st.prepared_seq or 0)]
        self.plan_entries = plan_entries
        if not plan_entries:
            self.fail(c, "RULE_PLAN_MISMATCH", f"plan {p.get('plan')}", "the bundle holds no entry of the plan "
                      "before prepare: the parameters' origin cannot be checked")
            return
        seq, e = plan_entries[-1]
        st = e["payload"].get("state") or {}
        where = f"plan {p.get('plan')} @ seq {seq}"
        if st.get("status") not in ("approved", "published"):  # published: approved, then made public
            self.fail(c, "RULE_PLAN_MISMATCH", where, "the plan was not approved when the draw was prepared",
                      "approved", st.get("status"))
        rb = st.get("ratios_bp")
        if isinstance(rb, dict):
            try:
                mine = {k: parse_ratio(v) for k, v in (par.get("ratios") or {}).items()}
            except SizeError:
                mine = {}
            plan = {k: Fraction(v, 10000) for k, v in rb.items()}
            if mine != plan:
                self.fail(c, "RULE_PLAN_MISMATCH", where, "the draw's ratios are not the plan's",
                          {k: str(v) for k, v in plan.items()}, {k: str(v) for k, v in mine.items()})
        tr = par.get("team_rule") or {}
        for key, got in (("departments", tr.get("departments")), ("team_size", tr.get("team_size")),
                         ("frequency_cap", par.get("frequency_cap")), ("joint", par.get("joint")),
                         ("sublibraries", par.get("sublibraries")), ("filter", par.get("filter"))):
            want = st.get(key)
            if key in st and key == "team_size" and type(got) is int and type(want) is int and got >= want:
                continue
            if key in st and (sorted(want) if isinstance(want, list) and key != "departments" else want) != \
                    (sorted(got) if isinstance(got, list) and key != "departments" else got):
                self.fail(c, "RULE_PLAN_MISMATCH", where, f"{key} differs from the plan", want, got)
        if "exemptions" in st and sorted(st["exemptions"]) != sorted(par.get("exemptions") or []):
            self.fail(c, "RULE_PLAN_MISMATCH", where, "exemptions differ from the plan", st["exemptions"],
                      par.get("exemptions"))
        codes = [i.get("code") for i in p.get("items") or [] if isinstance(i, dict)]
        if "items" in st and sorted(st["items"]) != sorted(codes):
            self.fail(c, "RULE_PLAN_MISMATCH", where, "items differ from the plan", st["items"], codes)
        if c.status == "passed":
            c.detail = f"parameters agree with plan {p.get('plan')} (seq {seq})"

    # -- 9. other draws, hidden draws, pool changes ------------------------------------------
    def other_draws(self) -> None:
        c = self.r.check("other_draws", "other draws of the same plan (aborted / re-run)")
        p = self.st.prepared
        if p is None:
            self._wait_or_skip(c, "draw.prepared", "no prepared entry")
            return
        plan, did = p.get("plan"), self.st.draw_id
        seen: dict[str, dict[str, Any]] = {}
        for s, e in sorted(self.st.entries.items()):
            if e["type"] in DRAW_TYPES and e["payload"].get("draw_id") != did:
                d = seen.setdefault(e["payload"].get("draw_id"), {"plan": None, "steps": []})
                d["steps"].append(f"{e['type'].split('.')[1]}@{s}")
                if e["type"] == "draw.prepared":
                    d["plan"] = e["payload"].get("plan")
                if e["type"] == "draw.aborted":
                    d["aborted"] = f"aborted {e['time']} by {e['actor']['id']}: {e['payload'].get('reason')}"
        others = [f"{k}: {', '.join(v['steps'])}" + (f" ({v['aborted']})" if v.get("aborted") else "")
                  for k, v in seen.items() if v["plan"] in (plan, None)]
        aborted = [f"{k}: {v['aborted']}" for k, v in seen.items() if v.get("aborted") and v["plan"] in (plan, None)]
        if aborted:
            self.r.info["aborted_draws_of_plan"] = aborted
        lines = list(others)
        mine_seq = self.st.prepared_seq or 0
        for h, d in seen.items():
            if d["plan"] == plan and _abandoned_after_seed(d["steps"], mine_seq):
                self.fail(c, "RERUN_AFTER_SEED", f"draw {h}", f"draw {h} of plan {plan} was seeded and then "
                          "abandoned before this draw was prepared: this draw is a re-run made after an earlier "
                          "seed could be known", "no abandoned seeded draw of the plan", ", ".join(d["steps"]))
        if self.o.full_log is not None:
            info: dict[str, dict[str, Any]] = {}
            for e in self.o.full_log:
                if not isinstance(e, dict) or e.get("type") not in DRAW_TYPES:
                    continue
                pl = e.get("payload") or {}
                d = info.setdefault(pl.get("draw_id"), {"plan": None, "steps": []})
                d["steps"].append(f"{e['type'].split('.')[1]}@{e.get('seq')}")
                if e["type"] == "draw.prepared":
                    d["plan"] = pl.get("plan")
            for h, d in info.items():
                shown = seen.get(h, {}).get("steps", [])
                missing = [x for x in d["steps"] if x not in shown and not x.startswith("substituted@")]
                if d["plan"] != plan or h == did or not missing:
                    continue
                lines.append(f"{h}: {', '.join(missing)} (not in the bundle; from {self.o.full_log_label})")
                if _abandoned_after_seed(d["steps"], mine_seq) and not _abandoned_after_seed(shown, mine_seq):
                    self.fail(c, "HIDDEN_DRAW", f"draw {h}", f"{self.o.full_log_label} holds draw {h} of plan {plan}, "
                              "seeded and abandoned before this draw was prepared, and the bundle does not show it: "
                              "a re-run after the seed was known, hidden", "listed and explained",
                              ", ".join(d["steps"]))
        self.r.info["other_draws_of_plan"] = lines or "none visible"
        if self.o.full_log is None:
            c.detail = ("none in the bundle" if not others else "; ".join(others)) + \
                " (a bundle shows only what the service put in it: give --full-log or --server to look for draws " \
                "of this plan it left out)"
        elif c.status == "passed":
            c.detail = ("; ".join(lines) if lines else "none") + f" — {self.o.full_log_label} searched"

    def pool_changes(self) -> None:
        c = self.r.check("pool_changes", "subjects removed / changed between the plan and prepare")
        p = self.st.prepared
        if p is None:
            self._wait_or_skip(c, "draw.prepared", "no prepared entry")
            return
        rep = pool_change_report(self.st, getattr(self, "plan_entries", []))
        self.r.info["pool_changes"] = rep
        if not rep:
            c.detail = "no registry.subject.* entries in the bundle between the plan and prepare"
            return
        drawn = [x for x in rep if x.get("would_have_been_drawn") is True]
        c.detail = f"{len(rep)} change(s); {len(drawn)} of the changed subjects would have been drawn: " + \
            ", ".join(f"{x['subject']} by {x['actor']}" for x in drawn)
        if self.st.seed is None:
            c.detail += " (tickets need the seed: after publication)"

    def publication(self) -> None:
        c = self.r.check("publication", "draw published (content, nonce and salts revealed)")
        if self.published:
            c.detail = "published"
            return
        if self.st.status == "aborted":
            c.skip("the draw was aborted: nothing was drawn")
            return
        if "draw.published" in getattr(self, "pending_types", ()):
            c.pend("the published entry is not yet in a signed checkpoint")
            return
        c.skip("not yet published: seed, pools, selection, matching, seal and substitutions can only be checked "
               "by the public once the nonce, content and salts are revealed"
               + ("; a privileged bundle's sealed values were used where given" if self.b.get("sealed") else ""))

    def run(self) -> Report:
        self.r.info["draw_id"] = self.st.draw_id
        self.log_level()
        one = self.lifecycle()
        if self.st.prepared is not None:
            p = self.st.prepared
            self.r.info["plan"] = f"{p.get('plan')} ({p.get('department')}), draw_date {p.get('draw_date')}"
        self.prepared_checkpoint(one)
        self.timing(one)
        self.recipe(one)
        self.pools()
        self.sizes(one)
        self.draw_content(one)
        self.substitutions(one)
        self.rules()
        self.other_draws()
        self.pool_changes()
        self.publication()
        return self.r


def _abandoned_after_seed(steps: list[str], before: int) -> bool:
    """Prepared before ``before``, seeded, and never published (aborted after the seed, or left open)."""
    kinds = {x.split("@")[0]: int(x.split("@")[1]) for x in steps if x.split("@")[1].isdigit()}
    return kinds.get("prepared", before) < before and "seeded" in kinds and "published" not in kinds \
        and "drawn" not in kinds


def stratum_of_state(st: dict[str, Any]) -> str | None:
    """Stratum rule of SPEC §D11.1: credit class, raised to D for a risky subject."""
    cc = st.get("credit_class")
    if not isinstance(cc, str):
        return None
    if st.get("abnormal") or st.get("serious_dishonest") or st.get("penalized_on") or (st.get("complaints") or 0) >= 3:
        return "D"
    return cc


def pool_change_report(st: DrawState, plan_entries: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every registry.subject.* entry after the plan's last entry and before prepare, with its ticket."""
    if st.prepared_seq is None:
        return []
    since = max((s for s, _ in plan_entries), default=-1)
    sel = st.selection
    pool_ids: set[Any] | None = None  # a million ids: gathered only if a change is to be reported
    out = []
    for s, e in sorted(st.entries.items()):
        if not (since < s < st.prepared_seq and e["type"].startswith("registry.subject.")):
            continue
        if pool_ids is None and st.pool_parts is not None:  # read in parts: the changed ids were looked up
            pool_ids = set(st.pool_parts.found)
        elif pool_ids is None:
            pool_ids = {r["id"] for r in (st.pools or {}).get("subjects") or [] if isinstance(r, dict) and "id" in r}
        pl = e["payload"]
        sid = pl.get("id")
        stt = pl.get("state") if isinstance(pl.get("state"), dict) else {}
        row: dict[str, Any] = {"seq": s, "type": e["type"], "actor": e["actor"]["id"], "time": e["time"],
                               "subject": sid, "removed": bool(pl.get("removed")), "reason": pl.get("reason"),
                               "changed": pl.get("changed"), "in_pool": (sid in pool_ids) if pool_ids or st.pool_parts is not None else None}
        stratum = stratum_of_state(stt) if stt else None
        row["stratum"] = stratum
        if st.seed is not None and isinstance(sid, str):
            t = subject_ticket(st.seed, sid)
            row["ticket"] = t.hex()
            if sel is not None:
                key = (t, sid.encode("utf-8"))
                if stratum is not None:
                    cut = sel.cutoff(stratum)
                    row["cutoff_ticket"] = cut[0].hex() if cut else None
                    row["would_have_been_drawn"] = cut is not None and key <= cut
                else:
                    row["would_have_been_drawn_in"] = sorted(x for x in sel.selected if (c := sel.cutoff(x))
                                                             and key <= c)
                    row["would_have_been_drawn"] = bool(row["would_have_been_drawn_in"])
        out.append(row)
    return out


def _dig(v: Any, path: str) -> Any:
    for part in path.split(" ")[0].strip("/").split("/"):
        if not part:
            continue
        if isinstance(v, dict):
            v = v.get(part)
        elif isinstance(v, list) and part.isdigit() and int(part) < len(v):
            v = v[int(part)]
        else:
            break
    return v


def verify_bundle(bundle: dict[str, Any], options: DrawOptions | None = None) -> tuple[Report, DrawState]:
    """Run every check on a bundle; raises SourceError only for unusable input."""
    check_bundle_shape(bundle, "bundle")
    t0 = time.perf_counter()
    v = _Bundle(bundle, options or DrawOptions())
    # A million-record bundle is millions of live objects: every automatic full collection would
    # walk them all (seconds, for nothing: the checks make no reference cycles worth collecting).
    gc_was = gc.isenabled()
    gc.disable()
    try:
        rep = v.run()
    finally:
        if gc_was:
            gc.enable()
    rep.info["seconds"] = round(time.perf_counter() - t0, 3)
    return rep, v.st
