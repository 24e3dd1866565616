"""Typed findings and the report: every check ends passed, failed (with findings), not checked,
or pending (what it needs is on the log but not yet in a signed checkpoint).

Why: an auditor must be able to tell "verified" from "not looked at", and "not yet provable"
from "missing".  A check that could not run says so and why; it never silently counts as a
pass, and an entry still waiting for its checkpoint is never reported as dropped.

The verdict is VERIFIED, FAILED, ABORTED (a draw whose log evidence verifies and shows it
was aborted: neither a verified draw nor a failure), or AWAITING_WITNESSES (等待见证: everything
verifies, but fewer than k of the witness policy's witnesses have validly cosigned the newest
checkpoint yet — not tampering, "not yet public"; re-check later). Why a verdict of its own: a
reader must not take an honest, not-yet-witnessed checkpoint for a forgery (FAILED) nor for
public evidence (VERIFIED). A cosignature that does not verify, or one by a revoked key, is
still FAILED; so is a checkpoint that had to be witnessed by a time now past.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["CODES", "Check", "Finding", "Report"]

Status = Literal["passed", "failed", "not_checked", "pending", "awaiting_witnesses"]
Verdict = Literal["verified", "failed", "aborted", "awaiting_witnesses"]
#: exit codes of each verdict (2 is unusable input)
EXIT_CODES: dict[str, int] = {"verified": 0, "failed": 1, "aborted": 3, "awaiting_witnesses": 4}

#: Every finding code the verifier can emit, with what it means.
CODES: dict[str, str] = {
    "ENTRY_MALFORMED": "an entry is not valid JSON or lacks / mistypes a required field",
    "ENTRY_TOO_LARGE": "a leaf is larger than 65535 bytes",
    "NOT_CANONICAL": "a stored leaf is not in RFC 8785 (JCS) canonical form",
    "SEQ_GAP": "an entry's seq is not the next one (dropped, repeated or reordered entries)",
    "PREV_MISMATCH": "an entry's prev is not the leaf hash of the entry before it",
    "ENTRY_TIME_DECREASING": "an entry is dated before an entry that comes earlier in the log: entry times never run backwards",
    "ENTRY_SIGNATURE_INVALID": "an entry's Ed25519 signature does not verify with its actor key",
    "UNKNOWN_KEY": "an entry (or client record) is signed by a key never registered before it",
    "RETIRED_KEY": "an entry (or client record) is signed by a key retired by a rotation",
    "REVOKED_KEY": "an entry (or client record, or rotation) is signed by a key an earlier actor.key.revoked entry "
                   "revoked: refused whatever time it claims",
    "LOG_KEY_REVOKED": "a checkpoint beyond a log.key.revoked entry is signed by the revoked log key",
    "WITNESS_KEY_REVOKED": "a witness cosignature on a checkpoint beyond the witness key's revocation on the log",
    "WITNESS_KEY_RETIRED": "a witness cosignature on a checkpoint beyond the rotation that retired that witness key",
    "KEY_ID_MISMATCH": "a key_id is not hex(SHA-256(public key))[0:16]",
    "KEY_RULE_VIOLATION": "a key-management or external entry signed by the wrong actor or malformed",
    "NEW_KEY_SIG_INVALID": "a rotation's new_key_sig does not verify with the new key",
    "CLIENT_SIG_INVALID": "an external.* record's client_sig does not verify",
    "GENESIS_INVALID": "entry 0 is not a valid self-signed log.genesis (or a genesis appears later)",
    "LOG_KEY_MISMATCH": "the log key pinned or served is not the log's key",
    "ROOT_MISMATCH": "a checkpoint's root hash is not the Merkle root of the entries",
    "CHECKPOINT_MALFORMED": "a checkpoint is not a valid signed note / tlog-checkpoint",
    "CHECKPOINT_ORIGIN_MISMATCH": "a checkpoint's origin is not the log's origin",
    "CHECKPOINT_SIGNATURE_INVALID": "a checkpoint is not validly signed by the log key in force at its size",
    "CHECKPOINT_BEYOND_LOG": "a checkpoint is larger than the entries available",
    "INCONSISTENT_CHECKPOINTS": "two checkpoints are not one append-only history (fork or rewrite)",
    "PROOF_INVALID": "an inclusion or consistency proof served by the log does not verify",
    "COSIGNATURE_INVALID": "a witness cosignature line does not verify",
    "SM2_KEY_INVALID": "a log.sm2_key.registered entry is malformed or its key_sig (SM2 proof of possession) does not verify",
    "SM2_SIGNATURE_MISSING": "a checkpoint the log requires to carry an SM2 (国密) line has none by the registered SM2 key",
    "SM2_SIGNATURE_INVALID": "a checkpoint's SM2 (国密) line does not verify (SM2 with SM3, user id 1234567812345678)",
    "SM2_ACTOR_KEY_INVALID": "an actor.sm2_key.registered entry is malformed, names an actor without a key in force, or its key_sig (SM2 proof of possession) does not verify",
    "ENTRY_SM2_SIGNATURE_MISSING": "an entry by an actor holding an SM2 key on the log carries no sm2_sig (both signatures are required)",
    "ENTRY_SM2_SIGNATURE_INVALID": "an entry's sm2_sig does not verify with its actor's SM2 key (SM3, user id 1234567812345678), or the actor holds none",
    "WITNESS_QUORUM_NOT_MET": "fewer valid witness cosignatures than required (reports of earlier versions; "
                              "now the verdict awaiting_witnesses, or PREPARED_NOT_WITNESSED once too late)",
    "PREPARED_NOT_WITNESSED": "the prepared checkpoint was not cosigned by k of the policy's witnesses before the "
                              "beacon round's time, and that time has passed: it can never become valid",
    "WITNESS_POLICY_INVALID": "a bundle's witness_policy is malformed, names the log's own key, or a k it cannot meet",
    "SOURCE_INCOMPLETE": "the source returned fewer entries than its checkpoint covers",
    "TILE_MISMATCH": "a hash tile served is not the tree's hashes recomputed from the entries",
    "TILE_MISSING": "a tile (entry bundle or hash tile) a checkpoint requires is absent or does not decode",
    # -- draw bundles (docs/SPEC.md Part II) --
    "ENTRY_SEQ_MISMATCH": "a bundled entry's seq is not the seq the bundle files it under, or entries are not sorted / repeat",
    "ENTRY_NOT_INCLUDED": "a bundled entry's inclusion proof does not lead to the bundle checkpoint's root",
    "PREPARED_CHECKPOINT_UNTIMED": "the prepared checkpoint carries no timestamped cosignature by the log (required from spotcheck-draw/3)",
    "PREPARED_CHECKPOINT_INVALID": "the prepared checkpoint is missing, not signed by the log key, or does not cover the prepared entry",
    "PREPARED_TOO_LATE": "the prepared entry or its checkpoint is not before the declared beacon round's time",
    "SEEDED_TOO_EARLY": "the seeded entry is dated before a declared beacon round existed",
    "LIFECYCLE_INCOMPLETE": "an entry the draw's status requires is neither in the checkpoint nor listed as pending, "
                            "or a later entry is there without an earlier one, or the log holds an entry of the "
                            "draw the bundle leaves out (dropped entry, substitution count)",
    "ENTRY_UNPROVEN": "an entry is shown as not yet checkpointed although the checkpoint covers its seq (it should "
                      "carry an inclusion proof)",
    "LIFECYCLE_ORDER": "draw entries out of order, repeated, or contradicting each other (e.g. seeded twice)",
    "DRAW_ENTRY_MALFORMED": "a draw entry's payload lacks or mistypes a field the spec requires",
    "HIDDEN_DRAW": "the log holds an earlier draw of the same plan, seeded then abandoned, that the bundle does not show",
    "RERUN_AFTER_SEED": "an earlier draw of the same plan was seeded and abandoned: this draw re-runs it after its seed",
    "CHAIN_PARAMS_INVALID": "drand chain parameters missing from the bundle, unusable, or not matching the chain hash",
    "CHAIN_HASH_MISMATCH": "drand chain parameters do not hash to the chain hash they are filed under (drand's ChainInfo.Hash)",
    "CHAIN_UNTRUSTED": "a drand network that is neither pinned in the verifier nor given with --trust-chain, or whose parameters differ from the trusted ones",
    "CHAIN_NOT_COMMITTED": "the bundle's drand parameters are not the ones the prepared entry committed to (v2)",
    "PRIOR_LOAD_MISMATCH": "the prior workloads in the bundle do not hash to the prior_load_sha256 committed at prepare (v2)",
    "BEACON_ENCODING_INVALID": "a drand key or signature is not a valid point of the prime-order subgroup",
    "BEACON_SIGNATURE_INVALID": "a drand round's BLS signature does not verify against the network key",
    "BEACON_RANDOMNESS_MISMATCH": "a stated drand randomness is not SHA-256(signature)",
    "REVEAL_MISMATCH": "the reveals do not match the declared sources one to one (type, order, chain, round, witness)",
    "NONCE_MISMATCH": "the revealed server nonce does not match the nonce commitment",
    "CONTRIBUTION_MISMATCH": "a witness contribution does not match its commitment",
    "DICE_DIGITS_INVALID": "the dice digits are not enough ASCII decimal digits",
    "LOTTERY_INVALID": "the lottery numbers are not lists of non-negative integers",
    "SEED_MISMATCH": "the seed recomputed from the nonce and the reveals is not the published seed",
    "POOL_INVALID": "pool records repeat an id, lack an id or group field, or name an unknown exclusion reason",
    "POOL_ROOT_MISMATCH": "the Merkle root of the pool records is not the root committed at prepare",
    "POOL_COUNTS_MISMATCH": "the pool's size or per-group counts are not those committed at prepare",
    "POOL_OVERLAP": "a subject is both in the pool and excluded",
    "POOL_PARTS_INVALID": "the subject pool in parts is malformed: part size not a power of two, a part over the "
                          "part size, or a part other than the last not full (SPEC §D12.1)",
    "POOL_PART_MISMATCH": "a part of the subject pool is missing, or its bytes are not those the bundle describes "
                          "(SHA-256, record count)",
    "CONFLICTS_MISMATCH": "the declared conflicts do not hash to conflicts_sha256, or are not sorted",
    "SIZES_MISMATCH": "stratum sizes (§5) differ between the rule, expected_sizes, the drawn entry and the content",
    "SELECTION_MISMATCH": "the selected subjects / tickets (§6) are not the recomputed ones",
    "MATCHING_MISMATCH": "the inspector matching (§7) is not the recomputed one",
    "SEAL_MISMATCH": "the published content with its salt does not match the drawn entry's seal",
    # -- subject proofs (docs/SPEC.md §D15) --
    "SUBJECT_NOT_IN_POOL": "a subject proof's pool record with its Merkle inclusion proof does not lead to the pool root committed at prepare (altered record, index or proof)",
    "SUBJECT_TICKET_MISMATCH": "a subject proof states a ticket that is not H(ticket tag, seed || id)",
    "SUBJECT_CUTOFF_MISMATCH": "a subject proof states a stratum, n, k or cutoff that is not the committed one",
    "SUBJECT_DRAWN_MISMATCH": "a subject proof says drawn / not drawn against what the ticket and the cutoff say",
    "SUBJECT_TEAM_MISMATCH": "a subject's team is not the one the keyed shuffle (or the sealed content) gives",
    "SUBSTITUTION_SEAL_MISMATCH": "a substitution record with its salt does not match its entry's seal",
    "SUBSTITUTION_NOT_NEXT": "a substitution did not take the next eligible candidate (§8 NotNextEligible)",
    "SUBSTITUTION_INVALID": "a substitution names a reason, subject or inspector the rules do not allow",
    "SWAP_INVALID": "a swap of targets breaks a §8 condition (SwapInvalid)",
    "CURRENT_MATCHING_MISMATCH": "the current matching is not the content with every substitution applied in order",
    "RULE_TEAM_SIZE": "a team has fewer than 2 members or not the rule's team size",
    "RULE_JOINT_COVERAGE": "a joint check's team lacks a participating department",
    "RULE_PLAN_MISMATCH": "the draw's parameters differ from the approved plan's entries (ratios, departments, ...)",
    "RULE_FLOOR": "a general item's floor is below 5% or the total drawn is below it",
    # -- inspections and results (docs/SPEC.md Part III) --
    "RESULT_ENTRY_MALFORMED": "an inspection.* entry lacks or mistypes a payload field §R3/§R4 require",
    "RESULT_SEAL_MISMATCH": "a published result's content with its salt does not match the commitment entered for that version",
    "TASK_SEAL_MISMATCH": "a not-random task's opening does not match the seal of its task.created entry (or is missing)",
    "RESULT_COMMITMENT_MISMATCH": "a confirmed/returned entry names another commitment than the version entered",
    "RESULT_CONFIRMED_BY_ENTERER": "a result version was confirmed or returned by the account that entered it",
    "RESULT_PUBLISHED_UNCONFIRMED": "a result version was published without an earlier confirmation of that version",
    "RESULT_ORDER": "an inspection step out of the §R4 state machine's order (version skipped, review of a non-pending result, step before publication...)",
    "RESULT_ACTOR_NOT_ALLOWED": "a step signed by an account not on the task's team nor an operator of the department (per the log's account entries)",
    "RESULT_CATEGORY_INVALID": "a published result's categories break §R5 (unknown, 未发现问题 not exclusive, sub-item without parent, labels, follow-up)",
    "RESULT_TASK_MISMATCH": "a published result's content disagrees with its task or entry (subject, task, department, items, kind)",
    "RESULT_DATE_MISMATCH": "a published_date is not the China (UTC+8) day of its entry's time",
    "RESULT_PUBLISHED_LATE": "a result was first published after its working-day publication deadline",
    "RESULT_REPORT_LATE": "a result was first entered more than report_days working days after the check",
    "PENALTY_PUBLISHED_LATE": "penalty information published after its working-day deadline",
    "TASK_NOT_FROM_DRAW": "a random task names a draw that was not published before it",
    "TASK_DRAW_MISMATCH": "a random task's subject, team or experts differ from its draw's verified matching, or a subject has two tasks",
}


@dataclass(frozen=True)
class Finding:
    """One verification failure: what (code, message), where, expected and actual values."""

    code: str
    where: str
    message: str
    expected: str | None = None
    actual: str | None = None
    seq: int | None = None
    checkpoint_size: int | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code}")

    def render(self) -> str:
        out = f"{self.code} at {self.where}: {self.message}"
        if self.expected is not None or self.actual is not None:
            out += f"\n      expected: {self.expected}\n      actual:   {self.actual}"
        return out


@dataclass
class Check:
    """One named check and its outcome.

    Findings are capped (``limit``) to keep memory bounded on a corrupted million-entry log;
    ``omitted`` counts the rest so the total is never hidden.
    """

    name: str
    title: str
    status: Status = "passed"
    reason: str | None = None
    detail: str | None = None
    findings: list[Finding] = field(default_factory=list)
    omitted: int = 0
    limit: int = 200

    def fail(self, finding: Finding) -> None:
        self.status = "failed"
        if len(self.findings) < self.limit:
            self.findings.append(finding)
        else:
            self.omitted += 1

    def skip(self, reason: str) -> None:
        """Mark as not checked (unless it already failed: a failure is never masked)."""
        if self.status != "failed":
            self.status = "not_checked"
        self.reason = reason

    def await_witnesses(self, reason: str) -> None:
        """Mark as awaiting witnesses (等待见证): all that is wrong is that fewer than k valid
        witness cosignatures are on the newest checkpoint yet; they may still come. Never a
        failure, never a pass. A failure is never masked."""
        if self.status != "failed":
            self.status = "awaiting_witnesses"
        self.reason = reason

    def pend(self, reason: str) -> None:
        """Mark as pending: its input is on the log but not yet in a signed checkpoint (never
        a failure, never a pass; re-check later). A failure is never masked."""
        if self.status != "failed":
            self.status = "pending"
        self.reason = reason


class Report:
    """An ordered list of checks; exit code 0 if verified, 1 failed, 3 aborted, 4 awaiting witnesses."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.checks: dict[str, Check] = {}
        self.info: dict[str, Any] = {}
        self.aborted: str | None = None  # set (to a one-line account) when the evidence shows an abort
        #: what the newest checkpoint still lacks (set with a check's await_witnesses): checkpoint
        #: size, k, the valid cosigners, how many more and which policy witnesses are missing
        self.awaiting: dict[str, Any] | None = None

    def check(self, name: str, title: str) -> Check:
        if name not in self.checks:
            self.checks[name] = Check(name, title)
        return self.checks[name]

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.checks.values() for f in c.findings]

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    @property
    def ok(self) -> bool:
        return all(c.status != "failed" for c in self.checks.values())

    def awaiting_witnesses(self, c: Check, *, size: int | None, k: int, valid: list[str],
                           missing: list[str]) -> None:
        """The newest checkpoint lacks k valid witness cosignatures (and nothing else is wrong
        with them): `c` awaits witnesses, and the report says who is missing and how many more."""
        more = max(0, k - len(valid))
        if self.awaiting is not None:  # the first named (the newest checkpoint's) stays the headline
            c.await_witnesses(f"awaiting witnesses: {len(valid)} of the {k} needed cosigned checkpoint size {size}; "
                              f"{more} more needed from: {', '.join(missing) or '-'}")
            return
        self.awaiting = {"checkpoint_size": size, "k": k, "cosigned_by": valid, "more_needed": more,
                         "missing": missing}
        c.await_witnesses(f"awaiting witnesses: {len(valid)} of the {k} needed cosigned checkpoint size {size}; "
                          f"{more} more needed from: {', '.join(missing) or '-'}")

    @property
    def verdict(self) -> Verdict:
        """FAILED if any check failed; else AWAITING_WITNESSES if the newest checkpoint still
        lacks k cosignatures (the evidence, an abort too, is not public yet); else ABORTED for a
        verified abort; else VERIFIED."""
        if not self.ok:
            return "failed"
        if any(c.status == "awaiting_witnesses" for c in self.checks.values()):
            return "awaiting_witnesses"
        return "aborted" if self.aborted is not None else "verified"

    @property
    def pending(self) -> list[str]:
        return [c.name for c in self.checks.values() if c.status == "pending"]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "result": self.verdict,
            "aborted": self.aborted,
            "awaiting_witnesses": self.awaiting,
            "pending_checks": self.pending,
            "info": self.info,
            "checks": [
                {
                    "name": c.name,
                    "title": c.title,
                    "status": c.status,
                    "reason": c.reason,
                    "detail": c.detail,
                    "findings": [asdict(f) for f in c.findings],
                    "omitted_findings": c.omitted,
                }
                for c in self.checks.values()
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def to_text(self) -> str:
        mark = {"passed": "PASS", "failed": "FAIL", "not_checked": "SKIP", "pending": "PEND",
                "awaiting_witnesses": "WAIT"}
        lines = [f"drawverify: {self.subject}"]
        for k, v in self.info.items():
            lines.append(f"  {k}: {v}")
        for c in self.checks.values():
            line = f"[{mark[c.status]}] {c.title}"
            if c.detail:
                line += f" — {c.detail}"
            if c.status == "not_checked" and c.reason:
                line += f" (not checked: {c.reason})"
            if c.status == "pending" and c.reason:
                line += f" (pending: {c.reason})"
            if c.status == "awaiting_witnesses" and c.reason:
                line += f" ({c.reason})"
            lines.append(line)
            for f in c.findings:
                lines.append("    " + f.render())
            if c.omitted:
                lines.append(f"    ... and {c.omitted} more findings of this check")
        if not self.ok:
            lines.append(f"RESULT: FAILED ({len(self.findings)} findings shown)")
        elif self.verdict == "awaiting_witnesses":
            a = self.awaiting or {}
            lines.append(f"RESULT: AWAITING WITNESSES (等待见证) — not yet public: {a.get('more_needed', '?')} more "
                         f"cosignature(s) needed, from {', '.join(a.get('missing') or []) or '-'}; nothing else is wrong")
        else:
            head = f"ABORTED — {self.aborted}" if self.aborted is not None else "VERIFIED"
            if self.pending:
                head += " (so far: " + ", ".join(self.pending) + " pending — not yet in a signed checkpoint)"
            lines.append("RESULT: " + head)
        return "\n".join(lines)
