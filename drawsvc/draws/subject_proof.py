"""One company's proof document: "was my company drawn fairly?" without the pool (SPEC §D15).

Why a separate document: the evidence bundle (§D12) carries every pool record, so a company
that asks about itself would download the whole pool (a province: millions of records). The
subject proof carries only what that one question needs — the draw's lifecycle entries with
their inclusion proofs in one signed checkpoint, the subject's pool record with its Merkle
inclusion proof in the committed pool (§D4), the sealed content (selected tickets per
stratum and teams: its size grows with the number drawn, not with the pool), the small inputs
of the matching (inspectors, experts, conflicts, prior load, each checked against its
commitment) and the substitutions — plus the service's claim (stratum, ticket, cutoff,
drawn or not, team), which a verifier recomputes instead of trusting.

It is built from the bundle (one definition of "which entries prove a draw"), as a pure
projection, so the same function writes the vectors in docs/vectors/subject-proof.json.
"""

from __future__ import annotations

from typing import Any

from ledger.store import Ledger

from ..draw.pool import member_proof
from ..draw.tickets import subject_ticket
from .bundle import build_bundle
from .service import DrawNotFound

FORMAT = "spotcheck-subject-proof/1"
DRAW_TYPES = ("draw.prepared", "draw.seeded", "draw.drawn", "draw.substituted", "draw.published")

__all__ = ["FORMAT", "DrawNotPublished", "SubjectNotInDraw", "build_subject_proof", "subject_proof_from_bundle"]


class SubjectNotInDraw(LookupError):
    """The code is in neither the draw's subject pool nor its excluded list (HTTP 404)."""


class DrawNotPublished(RuntimeError):
    """The draw is sealed or aborted: there is nothing a company may check yet (HTTP 409)."""


def subject_proof_from_bundle(bundle: dict[str, Any], code: str) -> dict[str, Any]:
    """Project a published draw's public bundle onto one subject (§D15)."""
    if bundle.get("status") != "published" or "content" not in bundle:
        raise DrawNotPublished(f"draw {bundle.get('draw_id')} is {bundle.get('status')}: not published")
    draw_id = bundle["draw_id"]
    entries = [w for w in bundle["entries"] if w["entry"]["type"] in DRAW_TYPES
               and w["entry"]["payload"].get("draw_id") == draw_id]
    pools = bundle["pools"]
    pool_name = next((k for k in ("subjects", "excluded") if any(r["id"] == code for r in pools[k])), None)
    if pool_name is None:
        raise SubjectNotInDraw(f"{code} is in neither the pool nor the excluded list of draw {draw_id}")
    mp = member_proof(pools[pool_name], code, pool_name)
    content = bundle["content"]
    prepared = next(w["entry"]["payload"] for w in entries if w["entry"]["type"] == "draw.prepared")
    published = next(w["entry"]["payload"] for w in entries if w["entry"]["type"] == "draw.published")
    seed = bytes.fromhex(published["seed"])
    stratum = mp.record["stratum"]
    selected = content["strata"].get(stratum, {}).get("selected", [])
    ticket = subject_ticket(seed, code).hex()
    cutoff = {"id": selected[-1]["id"], "ticket": selected[-1]["ticket"]} if selected else None
    drawn = any(s["id"] == code for s in selected) if pool_name == "subjects" else False
    assignment = next((a for a in content["matching"]["assignments"] if a["subject"] == code), None)
    current = next((a for a in bundle.get("current_matching", content["matching"])["assignments"]
                    if a["subject"] == code), None)
    claim = {
        "pool": pool_name, "stratum": stratum, "ticket": ticket,
        "n": prepared["pools"]["subjects"]["counts"].get(stratum, 0),
        "k": content["sizes"].get(stratum, 0), "cutoff": cutoff, "drawn": drawn,
        "team": assignment and {"team": assignment["team"], "experts": assignment["experts"]},
        "current_team": current and {"team": current["team"], "experts": current["experts"]},
    }
    return {
        "format": FORMAT,
        "draw_id": draw_id,
        "subject": code,
        "log": bundle["log"],
        "entries": entries,
        "chains": bundle.get("chains", {}),
        "member": {"pool": pool_name, **mp.to_json()},
        "content": content,
        "matching_inputs": {k: pools.get(k, {} if k == "prior_load" else []) for k in
                            ("inspectors", "experts", "conflicts", "prior_load")},
        "substitutions": bundle.get("substitutions", []),
        "claim": claim,
    }


def build_subject_proof(ledger: Ledger, draw_id: str, code: str, *, log_verifier_key: str) -> dict[str, Any]:
    """The proof document of `code` in the published draw `draw_id`, against the newest checkpoint.

    Raises DrawNotFound, DrawNotPublished (sealed or aborted: 002 八, nothing is public before
    publication) or SubjectNotInDraw."""
    bundle = build_bundle(ledger, draw_id, privileged=False, log_verifier_key=log_verifier_key)
    if bundle["status"] != "published":
        raise DrawNotPublished(f"抽签 {draw_id} 尚未公示（{bundle['status']}），无可核验内容 / draw {draw_id} is "
                               f"{bundle['status']}, not published: there is nothing to check yet")
    return subject_proof_from_bundle(bundle, code)


_ = DrawNotFound  # re-exported for callers mapping errors to HTTP answers
