"""One company's proof document: "was my company drawn fairly?" without the pool (SPEC §D15).

Why a separate document: the evidence bundle (§D12) carries every pool record, so a company
that asks about itself would download the whole pool (a province: millions of records). The
subject proof carries only what that one question needs — the draw's lifecycle entries with
their inclusion proofs in one signed checkpoint, the subject's pool record with its Merkle
inclusion proof in the committed pool root (§D4), the sealed content (selected tickets per
stratum and teams: its size grows with the number drawn, not with the pool), the small inputs
of the matching (inspectors, experts, conflicts, prior load, each checked against its
commitment) and the substitutions — plus the service's claim (stratum, ticket, cutoff, drawn
or not, team), which a verifier recomputes instead of trusting.

Two producers, one assembly (`_assemble`): `subject_proof_from_bundle` projects a published
bundle (the vectors in docs/vectors/subject-proof.json are written from a kept bundle), and
`build_subject_proof` reads the store directly (the endpoint: no registry scans, the subject
pool kept as columns and its Merkle path computed from cached subtree roots, so a large pool
is hashed once per process, not per request). A test checks both give the same document.
"""

from __future__ import annotations

import base64
import bisect
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from drawsvc.i18n import tr
from ledger import witnessing
from ledger.merkle import inclusion_plan, leaf_hash, node_hash, root_from_leaf_hashes, split_point
from ledger.schema import log_entries
from ledger.store import Ledger

from ..draw.pool import (
    SubjectPool,
    _plain_columns,
    _subject_leaf_hashes,
    canonical_leaves,
    member_proof,
)
from ..draw.tickets import subject_ticket
from . import schema
from .bundle import _chains_used, _note_with_cosignatures, draw_entry_seqs, public_checkpoint
from .service import DrawNotFound, load_pools, parse_secret

FORMAT = "spotcheck-subject-proof/1"
DRAW_TYPES = ("draw.prepared", "draw.seeded", "draw.drawn", "draw.substituted", "draw.published")
MATCHING_INPUTS = ("inspectors", "experts", "conflicts", "prior_load")
CHUNK = 1 << 14  # leaves per cached subtree root (a 20M pool: 1,221 roots, 39 KB per draw)

__all__ = ["FORMAT", "DrawNotFound", "DrawNotPublished", "SubjectNotInDraw", "build_subject_proof",
           "subject_proof_from_bundle"]


class SubjectNotInDraw(LookupError):
    """The code is in neither the draw's subject pool nor its excluded list (HTTP 404)."""


class DrawNotPublished(RuntimeError):
    """The draw is sealed or aborted: there is nothing a company may check yet (HTTP 409)."""


def _not_published(draw_id: str, status: str) -> DrawNotPublished:
    return DrawNotPublished(tr("抽签 %(draw_id)s 尚未公示（%(status)s），无可核验内容", draw_id=draw_id, status=status))


def _assemble(draw_id: str, code: str, log: dict[str, Any], entries: list[dict[str, Any]], chains: dict[str, Any],
              member: dict[str, Any], content: dict[str, Any], matching_inputs: dict[str, Any],
              substitutions: list[dict[str, Any]], current: Mapping[str, Any],
              witness_policy: dict[str, Any] | None = None) -> dict[str, Any]:
    """The §D15 document, with the service's claim computed from the published material. With a
    witness quorum it states the policy (§D12 form) beside the checkpoint, whose note carries the
    witnesses' cosignatures: a company then knows the answer is public, not the service's alone."""
    payload = {w["entry"]["type"]: w["entry"]["payload"] for w in entries}
    prepared, published = payload["draw.prepared"], payload["draw.published"]
    stratum = member["record"]["stratum"]
    selected = content["strata"].get(stratum, {}).get("selected", [])
    drawn = member["pool"] == "subjects" and any(s["id"] == code for s in selected)
    assignment = next((a for a in content["matching"]["assignments"] if a["subject"] == code), None)
    now = next((a for a in current["assignments"] if a["subject"] == code), None)
    claim = {
        "pool": member["pool"], "stratum": stratum,
        "ticket": subject_ticket(bytes.fromhex(published["seed"]), code).hex(),
        "n": prepared["pools"]["subjects"]["counts"].get(stratum, 0), "k": content["sizes"].get(stratum, 0),
        "cutoff": {"id": selected[-1]["id"], "ticket": selected[-1]["ticket"]} if selected else None,
        "drawn": drawn,
        "team": assignment and {"team": assignment["team"], "experts": assignment["experts"]},
        "current_team": now and {"team": now["team"], "experts": now["experts"]},
    }
    doc = {"format": FORMAT, "draw_id": draw_id, "subject": code, "log": log, "entries": entries, "chains": chains,
           "member": member, "content": content, "matching_inputs": matching_inputs,
           "substitutions": substitutions, "claim": claim}
    if witness_policy:
        doc["witness_policy"] = witness_policy
    return doc


def subject_proof_from_bundle(bundle: dict[str, Any], code: str) -> dict[str, Any]:
    """Project a published draw's public bundle onto one subject (§D15)."""
    if bundle.get("status") != "published" or "content" not in bundle:
        raise _not_published(str(bundle.get("draw_id")), str(bundle.get("status")))
    draw_id, pools = bundle["draw_id"], bundle["pools"]
    entries = [w for w in bundle["entries"] if w["entry"]["type"] in DRAW_TYPES
               and w["entry"]["payload"].get("draw_id") == draw_id]
    pool = next((k for k in ("subjects", "excluded") if any(r["id"] == code for r in pools[k])), None)
    if pool is None:
        raise SubjectNotInDraw(f"{code} is in neither the pool nor the excluded list of draw {draw_id}")
    member = {"pool": pool, **member_proof(pools[pool], code, pool).to_json()}
    inputs = {k: pools.get(k, {} if k == "prior_load" else []) for k in MATCHING_INPUTS}
    return _assemble(draw_id, code, bundle["log"], entries, bundle.get("chains", {}), member, bundle["content"],
                     inputs, bundle.get("substitutions", []), bundle.get("current_matching", bundle["content"]["matching"]),
                     bundle.get("witness_policy"))


# --- the direct producer ---------------------------------------------------------------------

class _SortedSubjects:
    """A published draw's subject pool in id order, with the roots of its CHUNK-leaf subtrees.

    Why: a Merkle path needs the MTH of ranges covering the whole pool; hashing every leaf per
    request would cost a province's pool each time. The chunk roots are computed once (a
    published pool never changes) and a path then hashes one chunk's leaves plus node hashes."""

    def __init__(self, pool: SubjectPool) -> None:
        ids = pool.ids
        in_order = all(a < b for a, b in zip(ids, ids[1:], strict=False))
        order = range(len(ids)) if in_order else sorted(range(len(ids)), key=ids.__getitem__)
        self.ids = [ids[i] for i in order] if not in_order else ids
        self.names = [pool.names[i] for i in order] if not in_order else pool.names
        self.strata = [pool.strata[i] for i in order] if not in_order else list(pool.strata)
        self.plain = _plain_columns(self.ids, self.names, self.strata)
        n = len(self.ids)
        self.chunks = [root_from_leaf_hashes(self._leaves(a, min(n, a + CHUNK))) for a in range(0, n, CHUNK)]

    def _leaves(self, lo: int, hi: int) -> list[bytes]:
        if self.plain:
            return _subject_leaf_hashes(self.ids[lo:hi], self.names[lo:hi], self.strata[lo:hi])
        return [leaf_hash(leaf) for _, leaf, _ in canonical_leaves(
            [{"id": i, "name": m, "stratum": s} for i, m, s in
             zip(self.ids[lo:hi], self.names[lo:hi], self.strata[lo:hi], strict=True)], "subjects")]

    def range_root(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) by its definition (split at the largest power of two below the size),
        reading an aligned whole chunk from the cache."""
        if hi - lo == CHUNK and lo % CHUNK == 0:
            return self.chunks[lo // CHUNK]
        if hi - lo <= CHUNK:
            return root_from_leaf_hashes(self._leaves(lo, hi))
        k = split_point(hi - lo)
        return node_hash(self.range_root(lo, lo + k), self.range_root(lo + k, hi))

    def member(self, code: str) -> dict[str, Any] | None:
        i = bisect.bisect_left(self.ids, code)
        if i == len(self.ids) or self.ids[i] != code:
            return None
        proof = [self.range_root(lo, hi).hex() for lo, hi in inclusion_plan(i, len(self.ids))]
        record = {"id": code, "name": self.names[i], "stratum": self.strata[i]}
        return {"pool": "subjects", "record": record, "index": i, "size": len(self.ids), "proof": proof}


_CACHE: OrderedDict[str, _SortedSubjects] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_DRAWS = 4  # published pools kept per process (a 20M pool's columns: a few GB; keep few)


def _subjects_of(conn: Any, draw_id: str) -> _SortedSubjects:
    with _CACHE_LOCK:
        hit = _CACHE.get(draw_id)
        if hit is not None:
            _CACHE.move_to_end(draw_id)
            return hit
    pools = load_pools(conn, draw_id, subjects="pool")
    built = _SortedSubjects(pools["subjects"])
    with _CACHE_LOCK:
        _CACHE[draw_id] = built
        while len(_CACHE) > _CACHE_DRAWS:
            _CACHE.popitem(last=False)
    return built


def build_subject_proof(ledger: Ledger, draw_id: str, code: str, *, log_verifier_key: str) -> dict[str, Any]:
    """The proof document of `code` in the published draw `draw_id`, against the newest checkpoint.

    Raises DrawNotFound, DrawNotPublished (sealed or aborted: 002 八, nothing is public before
    publication) or SubjectNotInDraw."""
    with ledger.engine.connect() as conn:
        row = conn.execute(select(schema.draws).where(schema.draws.c.id == draw_id)).one_or_none()
        if row is None:
            raise DrawNotFound(tr("没有抽签 %(draw)s", draw=draw_id))
        if row.status != "published":
            raise _not_published(draw_id, row.status)
        doc, secret = json.loads(row.doc), parse_secret(row.secret)
        small = load_pools(conn, draw_id, subjects="none")
        member = _subjects_of(conn, draw_id).member(code)
        if member is None:
            rec = next((r for r in small["excluded"] if r["id"] == code), None)
            if rec is None:
                raise SubjectNotInDraw(f"{code} is in neither the pool nor the excluded list of draw {draw_id}")
            member = {"pool": "excluded", **member_proof(small["excluded"], code, "excluded").to_json()}
        seqs = set(draw_entry_seqs(row))
        for seq, leaf in conn.execute(select(log_entries.c.seq, log_entries.c.leaf).where(
                log_entries.c.type == "draw.substituted", log_entries.c.seq > row.drawn_seq)):
            if json.loads(leaf)["payload"].get("draw_id") == draw_id:
                seqs.add(seq)
    cp = public_checkpoint(ledger)  # the bundle's: with a witness quorum, the newest witnessed one
    assert cp is not None
    entries = [{"seq": s, "entry": ledger.entry(s).to_json(),
                "inclusion_proof": [base64.b64encode(h).decode() for h in ledger.inclusion_proof(s, cp.size)]}
               for s in sorted(seqs) if s < cp.size]
    log = {"origin": ledger.origin, "verifier_key": log_verifier_key,
           "checkpoint": {"size": cp.size, "note": _note_with_cosignatures(ledger, cp)}}
    inputs = {k: small.get(k, {} if k == "prior_load" else []) for k in MATCHING_INPUTS}
    subs = [{"record": s["record"], "salt": s["salt"]} for s in secret["substitutions"]]
    return _assemble(draw_id, code, log, entries, _chains_used(doc), member, secret["content"], inputs, subs,
                     secret["matching"], witnessing.policy(ledger.engine))
