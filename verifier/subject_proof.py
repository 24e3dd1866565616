"""Checks one company's proof document (docs/SPEC.md §D15) without the pool.

Why: a company asking "was I drawn fairly?" should not have to download a province's pool.
The proof document holds the draw's lifecycle entries (each with an inclusion proof in one
checkpoint signed by the pinned log key), the subject's pool record with its Merkle inclusion
proof in the pool root committed at prepare, the sealed content, the small matching inputs and
the substitutions. From these alone this module recomputes the seed, the subject's ticket, the
stratum sizes from the committed counts, its stratum's selected tickets and cutoff, drawn or
not, its team by the keyed shuffle, and its team after substitutions; the service's `claim` is
compared with what was recomputed, never believed.

What it cannot see (and says so): entry signatures (the checkpoint, signed by the pinned log
key, vouches for the entries), entries of the draw the service left out of the document (the
full `drawverify draw` reads the whole log), and the drand timing rules.
"""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass, field
from typing import Any

from .canonical import jcs
from .drand import PINNED_CHAINS, BeaconEncodingError, BeaconSignatureInvalid, Chain, verify_round
from .findings import Check, Finding, Report
from .matching import Matcher, MatchError, Rule
from .merkle import leaf_hash, verify_inclusion
from .note import (
    NoteError,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    parse_witness_policy,
    verify_cosignature,
    verify_note,
)
from .pools import commit, conflicts_sha256, prior_load_sha256
from .recipe import RecipeError, encode_source, hexbytes, nonce_commitment, seed_from
from .render import summary_lines, to_text
from .seal import seal
from .sizes import SizeError, stratum_sizes
from .tickets import subject_ticket

__all__ = ["FORMAT", "ProofShapeError", "SubjectFacts", "verify_subject_proof", "verify_text"]

FORMAT = "spotcheck-subject-proof/1"
ALGORITHM_V1 = "spotcheck-draw/1"
STEPS = ("draw.prepared", "draw.seeded", "draw.drawn", "draw.published")


class ProofShapeError(ValueError):
    """The document is not a subject proof at all (CLI exit 2, not a verdict)."""


@dataclass
class SubjectFacts:
    """What was established about the subject, for the plain-words answer."""

    subject: str
    draw_id: str
    pool: str | None = None
    stratum: str | None = None
    excluded_reason: str | None = None
    ticket: str | None = None
    n: int | None = None
    k: int | None = None
    cutoff: dict[str, str] | None = None
    drawn: bool | None = None
    team: dict[str, Any] | None = None
    current_team: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _shape(doc: Any) -> None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ProofShapeError(f"not a subject proof document (format must be {FORMAT!r})")
    for k, t in (("draw_id", str), ("subject", str), ("log", dict), ("entries", list), ("member", dict),
                 ("content", dict), ("matching_inputs", dict), ("substitutions", list), ("claim", dict)):
        if not isinstance(doc.get(k), t):
            raise ProofShapeError(f"subject proof: member {k!r} missing or not a {t.__name__}")


class _Proof:
    def __init__(self, doc: dict[str, Any], log_key: str | None, trusted_chains: list[Chain],
                 witness_policy: dict[str, Any] | None = None) -> None:
        self.d = doc
        self.log_key = log_key
        self.reader_policy = witness_policy
        self.trusted = {**PINNED_CHAINS, **{c.chain_hash: c for c in trusted_chains}}
        self.r = Report(f"subject {doc['subject']} in draw {doc['draw_id']} (subject proof)")
        self.f = SubjectFacts(doc["subject"], doc["draw_id"])
        self.steps: dict[str, tuple[int, dict[str, Any], bytes]] = {}
        self.subs: list[tuple[int, dict[str, Any]]] = []
        self.seed: bytes | None = None
        self.sizes: dict[str, int] | None = None

    def fail(self, c: Check, code: str, where: str, msg: str, expected: Any = None, actual: Any = None) -> None:
        c.fail(Finding(code, where, msg, None if expected is None else str(expected)[:300],
                       None if actual is None else str(actual)[:300]))

    # -- the log: one checkpoint, the draw's entries in it ---------------------------------
    def log(self) -> bool:
        c = self.r.check("proof_checkpoint", "the checkpoint is signed by the pinned log key")
        ce = self.r.check("proof_entries", "the draw's entries are in that checkpoint; its lifecycle is complete")
        lg = self.d["log"]
        declared = lg.get("verifier_key")
        if self.log_key and declared != self.log_key:
            self.fail(c, "LOG_KEY_MISMATCH", "log.verifier_key", "not the pinned log key", self.log_key, declared)
        try:
            vkey = parse_verifier_key(self.log_key or str(declared))
            note = parse_note(lg["checkpoint"]["note"])
            cp = parse_checkpoint(note.text)
        except (NoteError, KeyError, TypeError, ValueError) as exc:
            self.fail(c, "CHECKPOINT_MALFORMED", "log.checkpoint", str(exc))
            ce.skip("no usable checkpoint")
            return False
        if verify_note(note, vkey) is not True:
            self.fail(c, "CHECKPOINT_SIGNATURE_INVALID", "log.checkpoint", "not signed by the log key")
        if lg["checkpoint"].get("size") != cp.size:
            self.fail(c, "CHECKPOINT_MALFORMED", "log.checkpoint.size", "not the size the note signs", cp.size,
                      lg["checkpoint"].get("size"))
        if cp.origin != lg.get("origin"):
            self.fail(c, "CHECKPOINT_ORIGIN_MISMATCH", "log.checkpoint", "another log's checkpoint", lg.get("origin"),
                      cp.origin)
        if not self.log_key:
            c.detail = "log key taken from the document: pin it with --log-key to rule out another log"
        self.witnesses(note, cp, vkey)
        for i, w in enumerate(self.d["entries"]):
            where = f"entries[{i}]"
            try:
                e, seq = w["entry"], int(w["seq"])
                lh = leaf_hash(jcs(e))
                proof = [base64.b64decode(p, validate=True) for p in w["inclusion_proof"]]
            except (KeyError, TypeError, ValueError, binascii.Error) as exc:
                self.fail(ce, "DRAW_ENTRY_MALFORMED", where, f"unusable entry: {exc}")
                continue
            if e.get("seq") != seq or not verify_inclusion(seq, cp.size, lh, proof, cp.root):
                self.fail(ce, "ENTRY_NOT_INCLUDED", f"seq {seq}", "the entry is not in the checkpoint at this seq")
                continue
            typ, payload = e.get("type"), e.get("payload") or {}
            if payload.get("draw_id") != self.d["draw_id"]:
                self.fail(ce, "DRAW_ENTRY_MALFORMED", f"seq {seq}", "an entry of another draw", self.d["draw_id"],
                          payload.get("draw_id"))
            elif typ in STEPS:
                if typ in self.steps:
                    self.fail(ce, "LIFECYCLE_ORDER", f"seq {seq}", f"{typ} appears twice")
                self.steps[typ] = (seq, payload, lh)
            elif typ == "draw.substituted":
                self.subs.append((seq, payload))
        missing = [t for t in STEPS if t not in self.steps]
        if missing:
            self.fail(ce, "LIFECYCLE_INCOMPLETE", "entries", "a published draw's steps are each needed", list(STEPS),
                      sorted(self.steps))
            return False
        seqs = [self.steps[t][0] for t in STEPS]
        if seqs != sorted(seqs) or any(s <= seqs[2] for s, _ in self.subs):
            self.fail(ce, "LIFECYCLE_ORDER", "entries", "prepared < seeded < drawn < published, substitutions after "
                      "drawn", None, seqs)
        self.subs.sort()
        if [p.get("n") for _, p in self.subs] != list(range(len(self.subs))):
            self.fail(ce, "LIFECYCLE_INCOMPLETE", "substitutions", "substitutions numbered 0, 1, ... without a gap",
                      list(range(len(self.subs))), [p.get("n") for _, p in self.subs])
        before = sum(1 for s, _ in self.subs if s < self.steps["draw.published"][0])
        salts = self.steps["draw.published"][1].get("substitution_salts") or []
        if len(salts) != before:
            self.fail(ce, "LIFECYCLE_INCOMPLETE", "draw.published", "one salt per substitution before publication",
                      len(salts), before)
        ce.detail = f"checkpoint size {cp.size}; seqs {seqs}, {len(self.subs)} substitution(s)"
        ce.reason = None
        return ce.status != "failed" and c.status != "failed"

    def witnesses(self, note: Any, cp: Any, log_vkey: Any) -> None:
        """§D15 step 1b: k of the policy's witnesses cosigned the checkpoint. The policy is the
        reader's (--witness-policy) or the document's `witness_policy`; fewer valid cosignatures
        is awaiting witnesses (not yet public), a line that does not verify is a failure.
        The document carries no key entries, so the policy's keys are taken as the ones in
        force at the checkpoint (the bundle's `drawverify draw` follows rotations on the log)."""
        c = self.r.check("proof_witnesses", "witness cosignatures on the checkpoint (k of the witness policy)")
        wp = self.reader_policy if self.reader_policy is not None else self.d.get("witness_policy")
        whose = "--witness-policy" if self.reader_policy is not None else "the document's witness_policy"
        if wp is None:
            c.skip("no witness policy given (the document states none; --witness-policy FILE): witness "
                   "cosignatures not checked")
            return
        keys, why = parse_witness_policy(wp, {bytes(log_vkey.public_key)}, cp.origin)
        if why is not None:
            self.fail(c, "WITNESS_POLICY_INVALID", "witness_policy", why)
            return
        valid: list[str] = []
        missing: list[str] = []
        for k in keys:
            ok, t = verify_cosignature(note, k)
            if ok is False:
                self.fail(c, "COSIGNATURE_INVALID", "log.checkpoint", f"cosignature by {k.name} does not verify")
            elif ok and t is not None:
                valid.append(f"{k.name}@{t}")
            else:
                missing.append(k.name)
        self.r.info["witness_policy"] = f"{wp['k']} of {', '.join(k.name for k in keys)} ({whose})"
        self.r.info["checkpoint_cosigned_by"] = valid
        if c.status == "failed":
            return
        if len(valid) < wp["k"]:
            self.r.awaiting_witnesses(c, size=cp.size, k=wp["k"], valid=valid, missing=missing)
        else:
            c.detail = f"witnessed: {len(valid)} of the {len(keys)} witnesses cosigned (k = {wp['k']})"

    @property
    def prepared(self) -> dict[str, Any]:
        return self.steps["draw.prepared"][1]

    @property
    def v1(self) -> bool:
        return self.prepared.get("algorithm") == ALGORITHM_V1

    # -- seed --------------------------------------------------------------------------------
    def seed_check(self) -> None:
        c = self.r.check("proof_seed", "the seed recomputes from the committed nonce and the public reveals")
        recipe = self.prepared.get("seed_recipe") or {}
        decls = recipe.get("sources") or []
        reveals = iter(self.steps["draw.seeded"][1].get("reveals") or [])
        pub = self.steps["draw.published"][1]
        committed = self.prepared.get("chains")
        chains = self.d.get("chains") or {}
        encs = []
        try:
            nonce = hexbytes(pub.get("nonce"), "nonce", 32)
            if nonce_commitment(nonce).hex() != str(recipe.get("nonce_commitment", "")).lower():
                self.fail(c, "NONCE_MISMATCH", "draw.published nonce", "not the committed nonce")
                return
            for d in decls:
                if d.get("type") == "server_nonce":
                    encs.append(encode_source(d, {}, nonce=nonce))
                    continue
                r = next(reveals)
                rnd = None
                if d.get("type") == "drand":
                    h = str(d.get("chain_hash", "")).lower()
                    ch = self.trusted.get(h)
                    if ch is None or (isinstance(committed, dict) and committed.get(h) != ch.to_json()) or \
                            (not isinstance(committed, dict) and chains.get(h) != ch.to_json()):
                        self.fail(c, "CHAIN_UNTRUSTED", f"chain {h}", "no trusted (pinned or --trust-chain) "
                                  "parameters equal to the committed ones")
                        return
                    prev = hexbytes(r["previous_signature"], "previous_signature") if r.get("previous_signature") \
                        else None
                    rnd = verify_round(ch, int(d.get("round", 0)), hexbytes(r.get("signature"), "signature"), prev)
                encs.append(encode_source(d, r, randomness=rnd))
        except StopIteration:
            self.fail(c, "REVEAL_MISMATCH", "draw.seeded", "fewer reveals than declared sources")
            return
        except RecipeError as exc:
            self.fail(c, exc.code, "seed recipe", str(exc))
            return
        except (BeaconEncodingError, BeaconSignatureInvalid) as exc:
            self.fail(c, "BEACON_SIGNATURE_INVALID", "drand reveal", str(exc))
            return
        seed = seed_from(self.steps["draw.prepared"][2], encs)
        if str(pub.get("seed", "")).lower() != seed.hex():
            self.fail(c, "SEED_MISMATCH", "draw.published seed", "not the recomputed seed", seed.hex(), pub.get("seed"))
            return
        self.seed = seed
        c.detail = f"seed {seed.hex()}"

    # -- the subject's record in the committed pool ----------------------------------------
    def member(self) -> None:
        c = self.r.check("proof_member", "the subject's record is in the pool committed at prepare (Merkle proof)")
        m = self.d["member"]
        pool = m.get("pool")
        committed = (self.prepared.get("pools") or {}).get(pool) if pool in ("subjects", "excluded") else None
        rec = m.get("record")
        if committed is None or not isinstance(rec, dict):
            self.fail(c, "SUBJECT_NOT_IN_POOL", "member", "names no committed pool or no record", None, pool)
            return
        try:
            ok = verify_inclusion(int(m["index"]), int(m["size"]), leaf_hash(jcs(rec)),
                                  [bytes.fromhex(p) for p in m["proof"]], bytes.fromhex(committed["root"]))
        except (KeyError, TypeError, ValueError) as exc:
            self.fail(c, "SUBJECT_NOT_IN_POOL", "member", f"unusable proof: {exc}")
            return
        if not ok or m["size"] != committed.get("size"):
            self.fail(c, "SUBJECT_NOT_IN_POOL", f"member ({pool})", "the record with its inclusion proof does not "
                      "lead to the committed root: the record or the proof was altered", committed.get("root"))
            return
        if rec.get("id") != self.d["subject"]:
            self.fail(c, "SUBJECT_NOT_IN_POOL", "member.record.id", "the proven record is another subject's",
                      self.d["subject"], rec.get("id"))
            return
        self.f.pool, self.f.stratum = pool, rec.get("stratum")
        self.f.excluded_reason = rec.get("reason") if pool == "excluded" else None
        c.detail = f"{pool}[{m['index']}] of {m['size']}, stratum {rec.get('stratum')}"

    # -- sizes from the committed counts ---------------------------------------------------
    def sizes_check(self) -> None:
        c = self.r.check("proof_sizes", "stratum sizes (§D5) from the committed counts = expected = drawn = content")
        par = self.prepared.get("parameters") or {}
        counts = ((self.prepared.get("pools") or {}).get("subjects") or {}).get("counts") or {}
        try:
            k = stratum_sizes(counts, par.get("ratios") or {}, par.get("floor", "0.05"), bool(par.get("key_item")))
        except SizeError as exc:
            self.fail(c, "SIZES_MISMATCH", "draw.prepared", f"the rule refuses the committed inputs: {exc}")
            return
        for where, got in (("draw.prepared expected_sizes", self.prepared.get("expected_sizes")),
                           ("draw.drawn sizes", self.steps["draw.drawn"][1].get("sizes")),
                           ("content.sizes", self.d["content"].get("sizes"))):
            if got != k:
                self.fail(c, "SIZES_MISMATCH", where, "not §D5 of the committed counts", k, got)
        self.sizes = k
        if self.f.stratum is not None:
            self.f.n, self.f.k = counts.get(self.f.stratum, 0), k.get(self.f.stratum, 0)
        c.detail = ", ".join(f"{s}: {v} of {counts.get(s)}" for s, v in sorted(k.items()))

    # -- content: seal, every stratum's selected tickets, the cutoff ------------------------
    def content(self) -> bool:
        c = self.r.check("proof_seal", "the content matches the drawn seal with the published salt")
        cs = self.r.check("proof_selection", "every selected ticket recomputes, in (ticket, id) order, k per stratum")
        content = self.d["content"]
        try:
            got = seal(hexbytes(self.steps["draw.published"][1].get("salt"), "salt", 32), content)
        except (RecipeError, ValueError) as exc:
            self.fail(c, "SEAL_MISMATCH", "salt", str(exc))
            return False
        if got.hex() != str(self.steps["draw.drawn"][1].get("seal", "")).lower():
            self.fail(c, "SEAL_MISMATCH", "content", "the content is not the one sealed at draw time",
                      self.steps["draw.drawn"][1].get("seal"), got.hex())
            return False
        if self.seed is None or self.sizes is None:
            cs.skip("the seed or the sizes could not be established")
            return False
        strata = content.get("strata") or {}
        for s, k in self.sizes.items():
            sel = (strata.get(s) or {}).get("selected") or []
            keys = []
            for x in sel:
                t = subject_ticket(self.seed, str(x.get("id")))
                if t.hex() != x.get("ticket"):
                    self.fail(cs, "SELECTION_MISMATCH", f"content.strata.{s}", "a selected ticket does not recompute",
                              t.hex(), x.get("ticket"))
                keys.append((t, str(x.get("id")).encode()))
            if len(sel) != k or keys != sorted(keys) or len(set(keys)) != len(keys):
                self.fail(cs, "SELECTION_MISMATCH", f"content.strata.{s}", "k selected, by (ticket, id)", k, len(sel))
        if set(strata) - set(self.sizes):
            self.fail(cs, "SELECTION_MISMATCH", "content.strata", "a stratum without a size", sorted(self.sizes),
                      sorted(strata))
        return cs.status != "failed"

    # -- the subject: ticket, cutoff, drawn or not ------------------------------------------
    def subject(self, selection_ok: bool) -> None:
        ct = self.r.check("proof_ticket", "the subject's ticket recomputes from the seed")
        cc = self.r.check("proof_cutoff", "its stratum's n, k and cutoff are the committed ones")
        cd = self.r.check("proof_drawn", "drawn iff its (ticket, id) is at or below the cutoff")
        claim, code = self.d["claim"], self.d["subject"]
        if self.seed is None or self.f.stratum is None or not selection_ok:
            for x in (ct, cc, cd):
                x.skip("the seed, the subject's record or the selection could not be established")
            return
        t = subject_ticket(self.seed, code)
        self.f.ticket = t.hex()
        if claim.get("ticket") != t.hex():
            self.fail(ct, "SUBJECT_TICKET_MISMATCH", "claim.ticket", "not H(ticket tag, seed || id)", t.hex(),
                      claim.get("ticket"))
        ct.detail = t.hex()
        sel = (self.d["content"]["strata"].get(self.f.stratum) or {}).get("selected") or []
        cutoff = {"id": sel[-1]["id"], "ticket": sel[-1]["ticket"]} if sel else None
        self.f.cutoff = cutoff
        want = {"pool": self.f.pool, "stratum": self.f.stratum, "n": self.f.n, "k": self.f.k, "cutoff": cutoff}
        got = {x: claim.get(x) for x in want}
        if got != want:
            self.fail(cc, "SUBJECT_CUTOFF_MISMATCH", "claim", "the stratum, its n, k or cutoff are not the committed "
                      "ones", want, got)
        cc.detail = f"stratum {self.f.stratum}: k={self.f.k} of n={self.f.n}; cutoff " + \
            (f"{cutoff['ticket']} ({cutoff['id']})" if cutoff else "none (k = 0)")
        below = cutoff is not None and (t, code.encode()) <= (bytes.fromhex(cutoff["ticket"]), cutoff["id"].encode())
        listed = any(x.get("id") == code for x in sel)
        drawn = listed if self.f.pool == "subjects" else False
        if self.f.pool == "subjects" and below != listed:
            self.fail(cd, "SUBJECT_DRAWN_MISMATCH", f"content.strata.{self.f.stratum}", "a pool member is drawn iff "
                      "its ticket is at or below the cutoff", below, listed)
        if claim.get("drawn") is not drawn:
            self.fail(cd, "SUBJECT_DRAWN_MISMATCH", "claim.drawn", "the answer given is not what the tickets say",
                      drawn, claim.get("drawn"))
        self.f.drawn = drawn
        cd.detail = ("drawn" if drawn else "not drawn") + ("" if self.f.pool == "subjects" else
                                                          f" (excluded: would {'' if below else 'not '}have been)")

    # -- the team by the keyed shuffle, then after substitutions ---------------------------
    def matcher(self, c: Check) -> Matcher | None:
        mi, pools = self.d["matching_inputs"], self.prepared.get("pools") or {}
        insp, ex = mi.get("inspectors") or [], mi.get("experts") or []
        conflicts, prior = mi.get("conflicts") or [], mi.get("prior_load") or {}
        try:
            checks = [("inspectors", commit("inspectors", insp)["root"], (pools.get("inspectors") or {}).get("root")),
                      ("conflicts", conflicts_sha256(conflicts), pools.get("conflicts_sha256"))]
            if not self.v1:
                checks += [("experts", commit("experts", ex)["root"], (pools.get("experts") or {}).get("root")),
                           ("prior_load", prior_load_sha256(prior), pools.get("prior_load_sha256"))]
        except (ValueError, TypeError, KeyError) as exc:
            self.fail(c, "POOL_INVALID", "matching_inputs", str(exc))
            return None
        codes = {"inspectors": "POOL_ROOT_MISMATCH", "experts": "POOL_ROOT_MISMATCH",
                 "conflicts": "CONFLICTS_MISMATCH", "prior_load": "PRIOR_LOAD_MISMATCH"}
        for name, got, want in checks:
            if got != want:
                self.fail(c, codes[name], f"matching_inputs.{name}", "not what the prepared entry committed", want, got)
        if self.v1 and prior:
            self.fail(c, "PRIOR_LOAD_MISMATCH", "matching_inputs.prior_load", "v1 commits no prior load")
        if c.status == "failed" or self.seed is None:
            return None
        tr = (self.prepared.get("parameters") or {}).get("team_rule")
        try:
            return Matcher(self.seed, Rule.from_json(tr), insp, [tuple(x) for x in conflicts], prior, ex)
        except (KeyError, TypeError, ValueError) as exc:
            self.fail(c, "DRAW_ENTRY_MALFORMED", "parameters.team_rule", str(exc))
            return None

    def team(self, selection_ok: bool) -> None:
        c = self.r.check("proof_team", "its team recomputes by the keyed shuffle (§D7), walking from the first drawn")
        cc = self.r.check("proof_current_team", "its team after the substitutions (§D8)")
        claim, code, content = self.d["claim"], self.d["subject"], self.d["content"]
        if not selection_ok or self.f.drawn is None:
            c.skip("the selection could not be established")
            cc.skip("the selection could not be established")
            return
        m = self.matcher(c)
        if m is None:
            c.skip("the matching inputs could not be established")
            cc.skip("the matching inputs could not be established")
            return
        order = sorted((bytes.fromhex(x["ticket"]), x["id"].encode(), x["id"]) for st in content["strata"].values()
                        for x in st.get("selected") or [])
        assignments = (content.get("matching") or {}).get("assignments") or []
        if [a.get("subject") for a in assignments] != [x[2] for x in order]:
            self.fail(c, "MATCHING_MISMATCH", "content.matching", "the teams are not in matching order (§D6)")
            cc.skip("the matching order is wrong")
            return
        mine = next((i for i, a in enumerate(assignments) if a.get("subject") == code), None)
        if mine is None:
            if claim.get("team") is not None or claim.get("current_team") is not None:
                self.fail(c, "SUBJECT_TEAM_MISMATCH", "claim.team", "a team for a subject that was not drawn", None,
                          claim.get("team"))
            c.detail = "not drawn: no team"
        else:
            if m.rule.experts and not m.expert_cands and self.v1:
                c.skip("a v1 draw commits no expert pool")
                cc.skip("a v1 draw commits no expert pool")
                return
            load = dict(m.prior_load)
            try:
                for a in assignments[:mine + 1]:  # the walks before it set the workloads it meets
                    want = m.match_one(a["subject"], load)
                    if want != a:
                        self.fail(c, "SUBJECT_TEAM_MISMATCH", f"content.matching[{a['subject']}]", "not the team the "
                                  "keyed shuffle gives", want, a)
                        break
            except MatchError as exc:
                self.fail(c, "SUBJECT_TEAM_MISMATCH", "content.matching", str(exc))
            a = assignments[mine]
            self.f.team = {"team": a["team"], "experts": a["experts"]}
            if claim.get("team") != self.f.team:
                self.fail(c, "SUBJECT_TEAM_MISMATCH", "claim.team", "not the team in the sealed content", self.f.team,
                          claim.get("team"))
            c.detail = f"team {a['team']}" + (f", experts {a['experts']}" if a["experts"] else "") + \
                f"; {mine + 1} walk(s) of {len(m.cands)} candidates"
        self.current(cc, m, copy.deepcopy(content.get("matching") or {}), mine is not None)

    def current(self, c: Check, m: Matcher, current: dict[str, Any], drawn: bool) -> None:
        claim, code = self.d["claim"], self.d["subject"]
        records = self.d["substitutions"]
        pub_seq = self.steps["draw.published"][0]
        salts = self.steps["draw.published"][1].get("substitution_salts") or []
        if len(records) != len(self.subs):
            self.fail(c, "LIFECYCLE_INCOMPLETE", "substitutions", "one record per draw.substituted entry",
                      len(self.subs), len(records))
            return
        left: dict[str, list[str]] = {}
        replay = True
        for i, ((seq, e), w) in enumerate(zip(self.subs, records, strict=True)):
            rec, salt = (w.get("record"), w.get("salt")) if isinstance(w, dict) else (None, None)
            try:
                ok = seal(hexbytes(salt, "salt", 32), rec).hex() == str(e.get("seal", "")).lower()
            except (RecipeError, ValueError):
                ok = False
            if not ok or (seq < pub_seq and (i >= len(salts) or salts[i] != salt)):
                self.fail(c, "SUBSTITUTION_SEAL_MISMATCH", f"seq {seq}", "the record with its salt is not the sealed one")
                return
            if not isinstance(rec, dict) or rec.get("kind") != e.get("kind"):
                self.fail(c, "SUBSTITUTION_INVALID", f"seq {seq}", "record kind differs from the entry's kind")
                return
            if rec["kind"] == "subject":
                replay = False  # its incoming subject comes from the stratum's replacement order: the whole pool
                continue
            if not replay:
                continue
            try:
                if rec["kind"] == "inspector":
                    subj = str(rec.get("subject"))
                    m.apply_inspector(current, rec, None if self.v1 else left.get(subj, []))
                    left.setdefault(subj, []).append(str(rec.get("leaving")))
                else:
                    m.apply_swap(current, rec)
            except MatchError as exc:
                self.fail(c, exc.code, f"seq {seq}", str(exc), exc.expected, exc.actual)
                return
        subject_subs = [w["record"] for w in records if w["record"].get("kind") == "subject"]
        mine = next((a for a in current.get("assignments") or [] if a.get("subject") == code), None)
        if not replay:
            involved = [r for r in subject_subs if code in (r.get("leaving"), r.get("incoming"))]
            self.f.notes.append("subject substitution: " + ", ".join(f"{r.get('leaving')} -> {r.get('incoming')} "
                                                                    f"({r.get('reason')})" for r in involved or subject_subs))
            c.skip("a subject substitution takes the next of the stratum's replacement order, which needs the whole "
                   "pool: run drawverify draw")
            return
        self.f.current_team = mine and {"team": mine["team"], "experts": mine["experts"]}
        if claim.get("current_team") != self.f.current_team:
            self.fail(c, "SUBJECT_TEAM_MISMATCH", "claim.current_team", "not the team after the sealed substitutions",
                      self.f.current_team, claim.get("current_team"))
        c.detail = f"{len(records)} substitution(s) replayed" + (f"; team now {mine['team']}" if mine else "")
        if not drawn and mine is None:
            c.detail += "; not drawn"

    def run(self) -> Report:
        if not self.log():
            for name, title in (("proof_seed", "the seed"), ("proof_member", "the subject's record")):
                self.r.check(name, title).skip("the draw's entries could not be established")
            return self.r
        self.seed_check()
        self.member()
        self.sizes_check()
        ok = self.content()
        self.subject(ok)
        self.team(ok)
        self.r.info["evidence_bytes"] = len(jcs(self.d))
        return self.r


def verify_subject_proof(doc: Any, *, log_key: str | None = None, trusted_chains: list[Chain] | None = None,
                         witness_policy: dict[str, Any] | None = None) -> tuple[Report, SubjectFacts]:
    """Verify a §D15 subject proof. Raises ProofShapeError if `doc` is not one at all.
    `witness_policy` ({k, witnesses}) replaces the document's own."""
    _shape(doc)
    p = _Proof(doc, log_key, trusted_chains or [], witness_policy)
    try:
        return p.run(), p.f
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        # a member of the wrong type deep inside: unusable input (exit 2), never a traceback
        raise ProofShapeError(f"unusable subject proof: {type(exc).__name__}: {exc}") from exc




def answer_lines(f: SubjectFacts, lang: str = "zh") -> list[str]:
    """The company's question answered in plain words, only from what was verified."""
    zh = lang == "zh"
    out = []
    if f.drawn is None:
        return ["无法判断是否抽中（见下方未通过或未检查的项目）。" if zh else
                "Whether it was drawn cannot be established (see the checks below)."]
    cut = f.cutoff["ticket"] if f.cutoff else ("无" if zh else "none")
    if zh:
        out.append(f"企业 {f.subject}：{'已排除（' + str(f.excluded_reason) + '）' if f.pool == 'excluded' else '在对象库中'}，"
                   f"第 {f.stratum} 层，本层 {f.n} 户抽取 {f.k} 户。")
        out.append(f"签号 {f.ticket}；截止签号 {cut}。")
        out.append("结论：已被抽中（签号不大于本层截止签号）。" if f.drawn else "结论：未被抽中（签号大于本层截止签号）。"
                   if f.pool == "subjects" else "结论：抽签前已排除，未参加抽取。")
        if f.team:
            out.append(f"检查组（按本企业的加密洗牌顺序）：{'、'.join(f.team['team'])}" +
                       (f"；专家：{'、'.join(f.team['experts'])}" if f.team["experts"] else ""))
        if f.current_team and f.current_team != f.team:
            out.append(f"递补后的检查组：{'、'.join(f.current_team['team'])}")
    else:
        out.append(f"Subject {f.subject}: {'excluded (' + str(f.excluded_reason) + ')' if f.pool == 'excluded' else 'in the pool'}, "
                   f"stratum {f.stratum}, {f.k} drawn of {f.n}.")
        out.append(f"Ticket {f.ticket}; cutoff {cut}.")
        out.append("Answer: drawn (its ticket is at or below the stratum's cutoff)." if f.drawn else
                   "Answer: not drawn (its ticket is above the stratum's cutoff)." if f.pool == "subjects" else
                   "Answer: excluded before the draw; not drawn.")
        if f.team:
            out.append(f"Team (by its keyed shuffle): {', '.join(f.team['team'])}" +
                       (f"; experts: {', '.join(f.team['experts'])}" if f.team["experts"] else ""))
        if f.current_team and f.current_team != f.team:
            out.append(f"Team after substitutions: {', '.join(f.current_team['team'])}")
    out += [("注：" if zh else "Note: ") + n for n in f.notes]
    return out


def verify_text(report: Report, f: SubjectFacts, lang: str = "zh") -> str:
    """The answer first, then the usual verdict summary and every check."""
    head = answer_lines(f, lang) if report.ok else []
    if head and report.verdict == "awaiting_witnesses":  # computed, but not yet public evidence
        head.insert(0, "等待见证：见证者联署尚不足，此结论暂未公开，请稍后再核验。" if lang == "zh" else
                    "Awaiting witnesses: too few witness cosignatures so far; this answer is not yet public, "
                    "check again later.")
    body = to_text(report.to_dict(), "zh") if lang == "zh" else \
        "\n".join(summary_lines(report.to_dict(), "en")) + "\n\n" + report.to_text()
    return "\n".join([*head, "", body]) if head else body
