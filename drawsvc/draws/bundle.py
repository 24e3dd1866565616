"""The evidence bundle of a draw (docs/SPEC.md §11): everything a verifier needs, offline.

It carries the draw's log entries and every key entry, each with an inclusion proof in one
signed checkpoint; the checkpoint signed right after *prepared* with a consistency proof to
it (so the inputs provably existed before the seed); the pools as records (their roots are
recomputed by the verifier); the chain parameters of the beacons used; and, once published,
the drawn content and the substitution records with their salts. Before publication only a
privileged reader (operators of the department, auditors) gets the sealed parts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from drawsvc.draw.codec import ALGORITHM, ALGORITHM_V1, ALGORITHM_V2
from drawsvc.i18n import tr
from ledger import witnessing
from ledger.entry import Entry
from ledger.keyrules import KEY_TYPES as _KEY_TYPES
from ledger.schema import log_entries
from ledger.store import Ledger, StoredCheckpoint

from . import schema
from .pool_parts import describe, subject_parts, valid_part_size
from .service import NETWORKS_FILE, DrawNotFound, load_pools, parse_secret

# A bundle's format names the rules its draw was prepared under (docs/SPEC.md §D13).
FORMATS = {ALGORITHM_V1: "spotcheck-draw-bundle/1", ALGORITHM_V2: "spotcheck-draw-bundle/2",
           ALGORITHM: "spotcheck-draw-bundle/3"}
# every key entry (a verifier follows keys from genesis, SPEC §3) and the SM2 key registrations (§5.1,
# §3 item 11: which actors' entries carry an SM2 signature too)
KEY_TYPES = tuple(sorted(_KEY_TYPES | {"log.sm2_key.registered", "actor.sm2_key.registered"}))


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _note_with_cosignatures(ledger: Ledger, cp: StoredCheckpoint) -> str:
    return cp.note + "".join(ledger.cosignature_lines(cp.size))


def draw_entry_seqs(row: Any) -> list[int]:
    seqs = [row.prepared_seq, row.seeded_seq, row.drawn_seq, row.published_seq, row.aborted_seq]
    return [s for s in seqs if s is not None]


def plan_draw_seqs(conn: Any, row: Any) -> set[int]:
    """Every lifecycle entry of the other draws of this draw's plan (an aborted attempt, a
    re-run): the bundle shows them so its reader sees the plan's whole history (§D11.6)."""
    others = conn.execute(select(schema.draws).where(schema.draws.c.plan == row.plan,
                                                     schema.draws.c.id != row.id)).all()
    return {s for o in others for s in draw_entry_seqs(o)}


def public_checkpoint(ledger: Ledger) -> StoredCheckpoint | None:
    """The checkpoint evidence stands on. With a witness quorum (docs/SPEC.md §D12
    `witness_policy`) the newest one k witnesses cosigned: what is beyond it is not yet public and
    shows as pending; else the newest checkpoint."""
    policy = witnessing.policy(ledger.engine)
    witnessed = witnessing.witnessed_checkpoint(ledger, policy["k"]) if policy else None
    return witnessed or ledger.latest_checkpoint()


def build_bundle(ledger: Ledger, draw_id: str, *, privileged: bool, log_verifier_key: str,
                 checkpoint_size: int | None = None, part_size: int | None = None,
                 part_sink: Callable[[int, bytes], None] | None = None) -> dict[str, Any]:
    """The bundle against the newest checkpoint, or the stored one of `checkpoint_size` (the
    bundle as a reader holding that checkpoint saw it): this draw's entries beyond it are
    listed in `pending_entries`, without proof (§D12).

    With `part_size` (a power of two) the subject pool is not in `pools` but described in
    `pool_parts` (§D12.1): its parts are read one at a time (each given to `part_sink`, the
    bundle directory's writer), never the whole pool."""
    if part_size is not None and not valid_part_size(part_size):
        raise ValueError("the part size is a power of two")
    with ledger.engine.connect() as conn:
        row = conn.execute(select(schema.draws).where(schema.draws.c.id == draw_id)).one_or_none()
        if row is None:
            raise DrawNotFound(tr("没有抽签 %(draw)s", draw=draw_id))
        doc, secret = json.loads(row.doc), parse_secret(row.secret)
        reveal = row.status == "published" or privileged
        split = part_size is not None and reveal
        secret["pools"] = load_pools(conn, draw_id, subjects="none" if split else "records")
        draw_types = ("draw.prepared", "draw.seeded", "draw.drawn", "draw.substituted", "draw.published",
                      "draw.aborted")
        # every entry of this draw: the lifecycle rows plus substitutions (found by type and draw id)
        seqs = set(draw_entry_seqs(row))
        for seq, leaf in conn.execute(select(log_entries.c.seq, log_entries.c.leaf).where(
                log_entries.c.type.in_(draw_types), log_entries.c.seq >= row.prepared_seq)):
            if json.loads(leaf)["payload"].get("draw_id") == draw_id:
                seqs.add(seq)
        own = set(seqs)
        # and every plan entry of this draw's plan up to prepare (the parameters' origin)
        for seq, leaf in conn.execute(select(log_entries.c.seq, log_entries.c.leaf).where(
                log_entries.c.type.like("registry.plan.%"), log_entries.c.seq < row.prepared_seq)):
            if json.loads(leaf)["payload"].get("id") == row.plan:
                seqs.add(seq)
        # subjects removed or changed between the plan's last entry and prepare, that are not in
        # the pool: the verifier asks of each "would it have been drawn?" (pool changes report)
        plan_seqs = [q for q in seqs if q < row.prepared_seq]
        since = max(plan_seqs) if plan_seqs else 0
        changes = [(seq, json.loads(leaf)["payload"].get("id")) for seq, leaf in conn.execute(
            select(log_entries.c.seq, log_entries.c.leaf).where(
                log_entries.c.type.like("registry.subject.%"), log_entries.c.seq > since,
                log_entries.c.seq < row.prepared_seq))]
        parts_desc, pool_ids = None, set()
        if split:
            assert part_size is not None
            parts_desc, pool_ids = describe(subject_parts(conn, draw_id, part_size), part_size,
                                            {i for _, i in changes if isinstance(i, str)}, part_sink)
        elif reveal:
            pool_ids = {r["id"] for r in secret["pools"]["subjects"]}
        for seq, sid in changes:
            if reveal and sid not in pool_ids:
                seqs.add(seq)
        key_seqs = set(conn.execute(select(log_entries.c.seq).where(log_entries.c.type.in_(KEY_TYPES))).scalars())
        others = plan_draw_seqs(conn, row)
    policy = witnessing.policy(ledger.engine)
    cp = ledger.checkpoint_at(checkpoint_size) if checkpoint_size is not None else public_checkpoint(ledger)
    assert cp is not None
    wanted = sorted(s for s in seqs | key_seqs | others if s < cp.size)
    # this draw's steps beyond the checkpoint, and the key entries among them (their signers)
    pending = [{"seq": s, "entry": ledger.entry(s).to_json()} for s in sorted(own | key_seqs) if s >= cp.size]
    entries = []
    for seq in wanted:
        e: Entry = ledger.entry(seq)
        entries.append({"seq": seq, "entry": e.to_json(),
                        "inclusion_proof": [_b64(h) for h in ledger.inclusion_proof(seq, cp.size)]})
    prepared_cp = witnessing.witnessed_covering(ledger, row.prepared_seq, policy["k"]) if policy else None
    if prepared_cp is None or prepared_cp.size > cp.size:
        prepared_cp = ledger.checkpoint_covering(row.prepared_seq)
    bundle: dict[str, Any] = {
        "format": FORMATS[doc.get("algorithm", ALGORITHM_V1)],
        "draw_id": draw_id,
        "status": row.status,
        "log": {"origin": ledger.origin, "verifier_key": log_verifier_key,
                "checkpoint": {"size": cp.size, "note": _note_with_cosignatures(ledger, cp)}},
        "entries": entries,
        "pending_entries": pending,
        "chains": _chains_used(doc),
    }
    if policy:
        bundle["witness_policy"] = policy
    if prepared_cp is not None and prepared_cp.size <= cp.size:
        bundle["prepared_checkpoint"] = {
            "size": prepared_cp.size, "note": _note_with_cosignatures(ledger, prepared_cp),
            "consistency_proof": [_b64(h) for h in ledger.consistency_proof(prepared_cp.size, cp.size)],
            "signed_at": prepared_cp.signed_at,
        }
    if reveal:
        bundle["pools"] = secret["pools"]
        if parts_desc is not None:
            bundle["pool_parts"] = {"subjects": parts_desc}
        if "content" in secret:
            bundle["content"] = secret["content"]
            bundle["substitutions"] = [{"record": s["record"], "salt": s["salt"]} for s in secret["substitutions"]]
            bundle["current_matching"] = secret["matching"]
    if privileged and row.status != "published":
        bundle["sealed"] = {"nonce": secret["nonce"], "seed": secret.get("seed"), "salt": secret.get("salt")}
    return bundle


def _chains_used(doc: dict[str, Any]) -> dict[str, Any]:
    """The drand parameters of the draw: from v2 on exactly those its prepared entry commits to."""
    if "chains" in doc:
        return dict(doc["chains"])
    hashes = {s["chain_hash"] for s in doc["seed_recipe"]["sources"] if s.get("type") == "drand"}
    if not hashes:
        return {}
    data = json.loads(NETWORKS_FILE.read_text(encoding="utf-8"))
    out = {}
    for chain in data["chains"].values():
        if chain["chain_hash"] in hashes:
            out[chain["chain_hash"]] = {k: chain[k] for k in ("beacon_id", "scheme", "chain_hash", "public_key",
                                                                "genesis_time", "period", "genesis_seed")}
    return out
