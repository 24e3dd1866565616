"""Inspector matching, substitutions and swaps (docs/SPEC.md §D7 and §D8).

Why re-run rather than sanity-check: 双随机 means no one chooses who inspects whom.  The only
way to show that is to recompute every team from the seed and the committed pools, and to show
that every later change took *the next eligible candidate* of the same lazy keyed shuffle —
never a choice (000 三(三); 003 第十五条).

Data are plain JSON-shaped dicts, as the content and the substitution records carry them.
"""

from __future__ import annotations

import copy
import hashlib
import struct
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from .forking import parts_for, ranges, run_split
from .recipe import lp

__all__ = [
    "INSPECTOR_REASONS",
    "SUBJECT_REASONS",
    "MatchError",
    "Matcher",
    "Rule",
    "ShuffleOrder",
]

ORDER_TAG = b"spotcheck/draw/v1/inspector-order"
EXPERT_ORDER_TAG = b"spotcheck/draw/v1/expert-order"
INSPECTOR_REASONS = frozenset({"recusal_conflict", "cannot_attend", "certificate_lapsed", "left_department"})
SUBJECT_REASONS = frozenset({"deregistered", "not_operating", "out_of_scope"})
_U64 = 1 << 64


class MatchError(ValueError):
    """A recomputation that cannot proceed or a claim that does not hold; ``code`` is the finding code."""

    def __init__(self, code: str, message: str, expected: Any = None, actual: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.expected = expected
        self.actual = actual


class ShuffleOrder:
    """A subject's candidate order: the lazy keyed Fisher-Yates shuffle of §7.

    Only the swapped entries of the virtual array are kept, so reaching position j costs about
    j/4 hashes whatever the number of candidates.
    """

    __slots__ = ("_block", "_buf", "_m", "_off", "_out", "_p", "_prefix")

    def __init__(self, tag: bytes, seed: bytes, subject: str, m: int) -> None:
        self._prefix = hashlib.sha256(tag + b"\x00" + seed + lp(subject.encode("utf-8")))
        self._m = m
        self._block = 0
        self._buf = b""
        self._off = 32
        self._p: dict[int, int] = {}
        self._out: list[int] = []

    def _u64(self) -> int:
        if self._off >= 32:
            h = self._prefix.copy()
            h.update(struct.pack(">I", self._block))
            self._buf = h.digest()
            self._block += 1
            self._off = 0
        x = int.from_bytes(self._buf[self._off:self._off + 8], "big")
        self._off += 8
        return x

    def _uniform(self, r: int) -> int:
        limit = (_U64 // r) * r
        while True:
            x = self._u64()
            if x < limit:
                return x % r

    def at(self, j: int) -> int:
        """Index (into the id-sorted candidates) of the candidate at position ``j`` (< m)."""
        out, p, m = self._out, self._p, self._m
        while len(out) <= j:
            k = len(out)
            i = k + self._uniform(m - k)
            pk, pi = p.get(k, k), p.get(i, i)
            p[k], p[i] = pi, pk
            out.append(pi)
        return out[j]

    def blocks_used(self) -> int:
        return self._block


def first_positions(tag: bytes, seed: bytes, subject: str, m: int, t: int) -> list[int]:
    """``[ShuffleOrder(tag, seed, subject, m).at(j) for j in range(t)]`` (t <= m), in one tight call.

    Why: a million-subject draw matches ~85,000 subjects, most of them in one walk of exactly
    team-size positions; this is the same lazy keyed Fisher-Yates (the tests compare the two)
    without an object and its method calls per position.
    """
    return _positions(tag + b"\x00" + seed, subject, m, t)


_U32 = struct.Struct(">I").pack


def _positions(head: bytes, subject: str, m: int, t: int) -> list[int]:
    """first_positions with ``head`` = tag || 0x00 || seed (the same for every subject of a draw)."""
    sb = subject.encode("utf-8")
    pre = head + _U32(len(sb)) + sb
    sha256 = hashlib.sha256
    p: dict[int, int] = {}
    out: list[int] = []
    block = 0
    buf = b""
    off = 32
    for k in range(t):
        r = m - k
        limit = (_U64 // r) * r
        while True:
            if off >= 32:
                buf = sha256(pre + _U32(block)).digest()
                block += 1
                off = 0
            x = int.from_bytes(buf[off:off + 8], "big")
            off += 8
            if x < limit:
                break
        i = k + x % r
        pk, pi = p.get(k, k), p.get(i, i)
        p[k], p[i] = pi, pk
        out.append(pi)
    return out


@dataclass
class Rule:
    """The team rule of the prepared entry's parameters."""

    draw_date: str
    departments: list[str]
    team_size: int
    qualification: str | None = None
    max_assignments: int | None = None
    experts: int = 0
    expert_field: str | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Rule:
        return cls(str(d["draw_date"]), list(d["departments"]), int(d["team_size"]), d.get("qualification"),
                   d.get("max_assignments"), int(d.get("experts") or 0), d.get("expert_field"))


def _cert_valid(rec: Mapping[str, Any], day: str) -> bool:
    a, b = rec.get("cert_valid_from"), rec.get("cert_valid_until")
    return isinstance(a, str) and isinstance(b, str) and a <= day <= b


@dataclass
class Matcher:
    """Recomputes §7 and replays §8 over one draw's committed inputs."""

    seed: bytes
    rule: Rule
    inspectors: Sequence[Mapping[str, Any]]
    conflicts: Collection[tuple[str, str]] = ()
    prior_load: Mapping[str, int] = field(default_factory=dict)
    experts: Sequence[Mapping[str, Any]] = ()

    def __post_init__(self) -> None:
        r = self.rule
        self.ineligible: dict[str, str] = {}
        cands = []
        for rec in self.inspectors:
            reason = None
            if rec.get("department") not in r.departments:
                reason = "wrong_department"
            elif not _cert_valid(rec, r.draw_date):
                reason = "certificate_not_valid"
            elif r.qualification is not None and r.qualification not in (rec.get("qualifications") or []):
                reason = "missing_qualification"
            if reason:
                self.ineligible[rec["id"]] = reason
            else:
                cands.append(rec)
        ex = []
        for rec in self.experts:
            if r.expert_field is not None and r.expert_field not in (rec.get("qualifications") or []):
                self.ineligible[rec["id"]] = "missing_qualification"
            else:
                ex.append(rec)
        key = lambda rec: rec["id"].encode("utf-8")  # noqa: E731
        self.cands = [rec["id"] for rec in sorted(cands, key=key)]
        self.expert_cands = [rec["id"] for rec in sorted(ex, key=key)]
        recs = {rec["id"]: rec for rec in [*self.inspectors, *self.experts]}
        self.dept = {i: recs[i].get("department") for i in self.cands}
        self.cap: dict[str, int | None] = {}
        for i in [*self.cands, *self.expert_cands]:
            own = recs[i].get("max_assignments")
            self.cap[i] = own if own is not None else r.max_assignments
        self.conf = {(a, b) for a, b in self.conflicts}
        self._orders: dict[tuple[bool, str], ShuffleOrder] = {}

    # -- §7 ------------------------------------------------------------------------------
    def order(self, subject: str, expert: bool = False) -> ShuffleOrder:
        k = (expert, subject)
        o = self._orders.get(k)
        if o is None:
            o = self._orders[k] = ShuffleOrder(EXPERT_ORDER_TAG if expert else ORDER_TAG, self.seed, subject,
                                               len(self.expert_cands if expert else self.cands))
        return o

    def _walk(self, subject: str, expert: bool, start: int, team: list[str], size: int, load: dict[str, int],
              unavailable: Collection[str] = (), barred: Collection[str] = ()
              ) -> tuple[list[str], list[dict[str, str]], int]:
        cands = self.expert_cands if expert else self.cands
        order = self.order(subject, expert)
        depts = [] if expert else self.rule.departments
        missing = {d for d in depts if not any(self.dept.get(t) == d for t in team)}
        members = list(team)
        got: list[str] = []
        skipped: list[dict[str, str]] = []
        pos = start
        while len(members) < size:
            if pos >= len(cands):
                raise MatchError("MATCHING_MISMATCH", f"too few eligible {'experts' if expert else 'inspectors'} "
                                 f"for {subject} (TooFewInspectors)")
            c = cands[order.at(pos)]
            pos += 1
            if c in members:
                continue
            cap = self.cap.get(c)
            reason = None
            if c in barred:
                reason = "left_subject"
            elif (c, subject) in self.conf:
                reason = "conflict_declared"
            elif c in unavailable:
                reason = "unavailable"
            elif cap is not None and load.get(c, 0) >= cap:
                reason = "workload_cap"
            elif not expert and self.dept.get(c) not in missing and size - len(members) <= len(missing):
                reason = "department_quota"
            if reason:
                skipped.append({"inspector": c, "reason": reason})
                continue
            members.append(c)
            got.append(c)
            load[c] = load.get(c, 0) + 1
            missing.discard(self.dept.get(c))
        return got, skipped, pos

    def match_one(self, subject: str, load: dict[str, int]) -> dict[str, Any]:
        team, skipped, pos = self._walk(subject, False, 0, [], self.rule.team_size, load)
        ex, eskip, epos = ([], [], 0)
        if self.rule.experts:
            ex, eskip, epos = self._walk(subject, True, 0, [], self.rule.experts, load)
        return {"subject": subject, "team": team, "examined": pos, "skipped": skipped, "experts": ex,
                "experts_examined": epos, "experts_skipped": eskip}

    def match(self, subjects: Sequence[str]) -> dict[str, Any]:
        load = dict(self.prior_load)
        uncapped = self._uncapped()
        assignments = self._match_split(subjects) if uncapped else [self.match_one(s, load) for s in subjects]
        return {"assignments": assignments,
                "draw_ineligible": dict(sorted(self.ineligible.items(), key=lambda t: t[0].encode()))}

    def _uncapped(self) -> bool:
        """No candidate has a workload cap: then no walk depends on another's, only on its subject."""
        return all(self.cap.get(c) is None for c in [*self.cands, *self.expert_cands])

    def _match_split(self, subjects: Sequence[str]) -> list[dict[str, Any]]:
        """The walks of independent subjects, in parts over the cores (verifier.forking): each part
        sends its assignments back as JSON (orjson: strings, integers, lists and objects come back
        equal); a part that cannot (a lone surrogate in an id) is redone here, as is a part whose
        walk fails, which then raises the same MatchError, for the first subject it concerns."""
        plain = self._plain_walks()

        def part(lo: int, hi: int) -> list[dict[str, Any]]:
            if plain:
                return self._match_plain(subjects[lo:hi])
            return [self.match_one(s, {}) for s in subjects[lo:hi]]
        # a plain walk costs some 6 tickets, a walk past conflicts or across departments some 40: a
        # part's answer costs about a plain walk to read back, and a fork ~40 ms on a big heap
        spans = ranges(len(subjects), parts_for(len(subjects) * (1 if plain else 8)))
        if len(spans) <= 1:
            return part(0, len(subjects))
        raw = run_split([(lambda lo=lo, hi=hi: orjson.dumps(part(lo, hi))) for lo, hi in spans])
        return [a for r in raw for a in orjson.loads(r)]

    def _plain_walks(self) -> bool:
        """Is every walk without a conflict a plain walk: no cap, no expert, one department?

        Then a subject with no declared conflict takes exactly the first team-size positions
        of its order: the positions of a permutation are distinct candidates (ids unique,
        checked here), every candidate is of the one department (eligibility), so neither
        "already on the team", "workload_cap" nor "department_quota" can skip one."""
        r = self.rule
        return (not r.experts and len(r.departments) == 1 and 0 <= r.team_size <= len(self.cands)
                and len(set(self.cands)) == len(self.cands) and self._uncapped())

    def _match_plain(self, subjects: Sequence[str]) -> list[dict[str, Any]]:
        conflicted = {b for _, b in self.conf}
        cands, m, ts = self.cands, len(self.cands), self.rule.team_size
        head, positions = ORDER_TAG + b"\x00" + self.seed, _positions
        out = []
        for s in subjects:
            if s in conflicted:
                out.append(self.match_one(s, {}))  # uncapped: the load plays no part
                continue
            team = [cands[j] for j in positions(head, s, m, ts)]
            out.append({"subject": s, "team": team, "examined": ts, "skipped": [], "experts": [],
                        "experts_examined": 0, "experts_skipped": []})
        return out

    # -- §8 ------------------------------------------------------------------------------
    def current_load(self, assignments: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        load = dict(self.prior_load)
        for a in assignments:
            for i in [*a["team"], *a.get("experts", [])]:
                load[i] = load.get(i, 0) + 1
        return load

    def apply_inspector(self, matching: dict[str, Any], rec: Mapping[str, Any],
                        left: Sequence[str] | None = None) -> list[str]:
        """Check and apply an inspector substitution; returns the candidates skipped as 'unavailable'.

        ``left`` (v2; None under v1) = who left this subject by earlier inspector substitutions: they
        and the leaving inspector are never candidates for it again (§D8: a recusal cannot bring
        the recused inspector back, e.g. after a swap put them where the walk had not reached)."""
        if rec.get("reason") not in INSPECTOR_REASONS:
            raise MatchError("SUBSTITUTION_INVALID", f"reason {rec.get('reason')!r} is not an inspector reason",
                             sorted(INSPECTOR_REASONS), rec.get("reason"))
        a = _find(matching, rec.get("subject"))
        expert = bool(rec.get("expert"))
        tk, ek, sk = ("experts", "experts_examined", "experts_skipped") if expert else ("team", "examined", "skipped")
        leaving = rec.get("leaving")
        if leaving not in a[tk]:
            raise MatchError("SUBSTITUTION_INVALID", f"{leaving} is not on the team of {a['subject']}", a[tk], leaving)
        if rec.get("examined_from") != a[ek]:
            raise MatchError("SUBSTITUTION_NOT_NEXT", "the walk must continue from where it stopped (examined)",
                             a[ek], rec.get("examined_from"))
        slot = a[tk].index(leaving)
        rest = [x for x in a[tk] if x != leaving]
        others = [x for x in matching["assignments"] if x is not a]
        load = self.current_load([*others, {**a, tk: rest}])
        unavailable = [s.get("inspector") for s in rec.get("skipped") or [] if s.get("reason") == "unavailable"]
        size = self.rule.experts if expert else self.rule.team_size
        barred = () if left is None else {*left, leaving}
        got, skipped, pos = self._walk(a["subject"], expert, a[ek], rest, size, load, unavailable, barred)
        want = {"incoming": got[0] if got else None, "skipped": skipped, "examined_to": pos}
        claim = {"incoming": rec.get("incoming"), "skipped": rec.get("skipped"), "examined_to": rec.get("examined_to")}
        if want != claim:
            raise MatchError("SUBSTITUTION_NOT_NEXT", f"on {a['subject']} the incoming inspector is not the next "
                             "eligible candidate of the subject's order (NotNextEligible)", want, claim)
        a[tk][slot] = got[0]
        a[ek] = pos
        a[sk] = [*a[sk], *skipped]
        return [u for u in unavailable if u]

    def apply_subject(self, matching: dict[str, Any], rec: Mapping[str, Any], stratum_of: Mapping[str, str],
                      replacement: Sequence[str], ticket_of: Any, used: list[str]) -> None:
        """Check and apply a subject substitution (``replacement`` = the stratum's replacement order)."""
        if rec.get("reason") not in SUBJECT_REASONS:
            raise MatchError("SUBSTITUTION_INVALID", f"reason {rec.get('reason')!r} is not a subject reason",
                             sorted(SUBJECT_REASONS), rec.get("reason"))
        a = _find(matching, rec.get("leaving"))
        if stratum_of.get(a["subject"]) != rec.get("stratum"):
            raise MatchError("SUBSTITUTION_INVALID", "the stratum named is not the leaving subject's",
                             stratum_of.get(a["subject"]), rec.get("stratum"))
        drawn = {x["subject"] for x in matching["assignments"]}
        incoming = next((s for s in replacement if s not in drawn and s not in used), None)
        if incoming is None:
            raise MatchError("SUBSTITUTION_NOT_NEXT", "the stratum's replacement order is exhausted", None,
                             rec.get("incoming"))
        idx = matching["assignments"].index(a)
        others = [x for x in matching["assignments"] if x is not a]
        load = self.current_load(others)
        want = {"incoming": incoming, "incoming_ticket": ticket_of(incoming), "assignment": self.match_one(incoming, load)}
        claim = {k: rec.get(k) for k in want}
        if want != claim:
            raise MatchError("SUBSTITUTION_NOT_NEXT", "the incoming subject (or its team) is not the next of the "
                             "stratum's replacement order (NotNextEligible)", want, claim)
        matching["assignments"][idx] = want["assignment"]
        used += [a["subject"], incoming]

    def apply_swap(self, matching: dict[str, Any], rec: Mapping[str, Any]) -> None:
        ia, sa, ib, sb = (rec.get(k) for k in ("inspector_a", "subject_a", "inspector_b", "subject_b"))
        a, b = _find(matching, sa), _find(matching, sb)
        why = None
        if sa == sb:
            why = "the two subjects are the same"
        elif ia not in a["team"] or ib not in b["team"] or ia in b["team"] or ib in a["team"]:
            why = "each inspector must be on the named team and not on the other"
        elif (ia, sb) in self.conf or (ib, sa) in self.conf:
            why = "an inspector has a declared conflict with their new subject"
        else:
            ta = [ib if x == ia else x for x in a["team"]]
            tb = [ia if x == ib else x for x in b["team"]]
            for t in (ta, tb):
                if not set(self.rule.departments) <= {self.dept.get(x) for x in t}:
                    why = "a team would lose a participating department"
        if why:
            raise MatchError("SWAP_INVALID", f"swap {ia}@{sa} <-> {ib}@{sb}: {why} (SwapInvalid)")
        a["team"], b["team"] = ta, tb


def _find(matching: Mapping[str, Any], subject: Any) -> dict[str, Any]:
    for a in matching["assignments"]:
        if a["subject"] == subject:
            return a  # type: ignore[no-any-return]
    raise MatchError("SUBSTITUTION_INVALID", f"{subject} is not a drawn subject of the current matching")


def deep(x: Any) -> Any:
    return copy.deepcopy(x)
