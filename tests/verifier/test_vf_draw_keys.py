"""The draw verifier's key replay (verifier/draw.py reuses the log verifier's key rules) follows the
key lifecycle (SPEC §3 items 7-10) too: given only the genesis log key and a witness's first key, it
counts the witness's cosignature under its rotated key, refuses the rotated-away key's and the
revoked key's, and refuses a pending key entry signed by a revoked actor key."""

from __future__ import annotations

from typing import Any

import pytest
from nacl.signing import SigningKey
from pinned import drand_demo_now
from vf_drawkit import resign, run

WITNESS = "notary.example"


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from sqlalchemy import select

    from drawsvc.demo import create_demo
    from drawsvc.draws import schema
    from drawsvc.draws.bundle import build_bundle
    from ledger.note import ALG_COSIGNATURE_V1, NoteVerifier
    from ledger.rotation import register_witness, revoke_actor_key, rotate_witness, witness_rotation_statement

    base = tmp_path_factory.mktemp("vf_draw_keys")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
        mp.delenv("DATABASE_URL", raising=False)
        for attempt in range(5):  # the demo's random draw ids: see tests/verifier/conftest.py
            try:
                inst, _, _ = create_demo(base / f"i{attempt}", origin="test.example/log", now=drand_demo_now())
                break
            except Exception as exc:  # noqa: BLE001
                if attempt == 4 or type(exc).__name__ != "TooFewInspectors":
                    raise
        ledger = inst.ledger()
        w1, w2 = SigningKey.generate(), SigningKey.generate()
        register_witness(ledger, NoteVerifier(WITNESS, bytes(w1.verify_key), ALG_COSIGNATURE_V1).encode())
        rotate_witness(ledger, witness_rotation_statement(WITNESS, w1, w2))
        operator = inst.active_signer("user:op-scjg")
        revoke_actor_key(ledger, operator.actor_id, operator.key_id, "调离")
        # the bundle stands on the newest checkpoint (after the rotation and the revocation), not on
        # the newest one the demo's witness quorum cosigned
        newest = ledger.checkpoint().size
        from ledger.witnessing import push

        assert all(r.ok for r in push(ledger))  # the demo's witnesses cosign it: the bundle's policy is met
        with ledger.engine.connect() as conn:
            draw_id = conn.execute(select(schema.draws.c.id).where(schema.draws.c.status == "published")).scalar()
        vkey = inst.genesis_log_key.encode()
        bundle = build_bundle(ledger, draw_id, privileged=False, log_verifier_key=vkey, checkpoint_size=newest)
    return {"bundle": bundle, "log_key": vkey, "w1": w1, "w2": w2, "operator": operator,
            "policy": NoteVerifier(WITNESS, bytes(w1.verify_key), ALG_COSIGNATURE_V1).encode()}


def _cosigned(lc: dict[str, Any], *keys: SigningKey) -> dict[str, Any]:
    import copy

    from ledger.note import cosign

    b = copy.deepcopy(lc["bundle"])
    note = b["log"]["checkpoint"]["note"]
    text = note.split("\n\n")[0] + "\n"
    b["log"]["checkpoint"]["note"] = note + "".join(cosign(text, WITNESS, k, 1_700_000_000) for k in keys)
    return b


def test_key_entries_are_bundled_and_the_bundle_verifies(lifecycle: dict[str, Any]) -> None:
    types = {w["entry"]["type"] for w in lifecycle["bundle"]["entries"]}
    assert {"witness.key.registered", "witness.key.rotated", "actor.key.revoked"} <= types
    report, _ = run(lifecycle["bundle"], log_key=lifecycle["log_key"])
    assert report.ok, report.to_text()  # the draw's entries came before the revocation: still valid


def test_rotated_witness_key_counts_from_the_first_key_alone(lifecycle: dict[str, Any]) -> None:
    report, _ = run(_cosigned(lifecycle, lifecycle["w2"]), log_key=lifecycle["log_key"],
                    witnesses=[lifecycle["policy"]], min_witnesses=1)
    # the bundle checkpoint's quorum is met (the prepared checkpoint predates the witness: its
    # timing check rightly still rests on the service's clock)
    at_bundle = {f.code for f in report.findings if f.where == "log.checkpoint"}
    assert not at_bundle, report.to_text()
    assert [x.split("@")[0] for x in report.info["bundle_checkpoint_cosigned_by"]] == [WITNESS]


def test_rotated_away_witness_key_is_refused(lifecycle: dict[str, Any]) -> None:
    report, _ = run(_cosigned(lifecycle, lifecycle["w1"]), log_key=lifecycle["log_key"],
                    witnesses=[lifecycle["policy"]], min_witnesses=1)
    at_bundle = {f.code for f in report.findings if f.where == "log.checkpoint"}
    assert at_bundle == {"WITNESS_KEY_RETIRED"} and report.verdict == "failed", report.to_text()
    assert report.checks["bundle_checkpoint"].status == "failed"  # never masked as awaiting witnesses


def test_pending_entry_by_the_revoked_key_is_refused(lifecycle: dict[str, Any]) -> None:
    """The attack: after the revocation, the operator's stolen key signs a rotation to a key of the
    thief's, shown as a pending key entry."""
    import base64
    import copy
    import hashlib

    b = copy.deepcopy(lifecycle["bundle"])
    last = max(w["seq"] for w in b["entries"] + (b.get("pending_entries") or []))
    op = lifecycle["operator"]
    thief = SigningKey.generate()
    pub = base64.b64encode(bytes(thief.verify_key)).decode()
    payload = {"actor_id": op.actor_id, "old_key_id": op.key_id,
               "new_key_id": hashlib.sha256(bytes(thief.verify_key)).hexdigest()[:16], "new_public_key": pub}
    import rfc8785

    payload["new_key_sig"] = base64.b64encode(thief.sign(rfc8785.dumps(payload)).signature).decode()
    prev_entry = next(w["entry"] for w in b["entries"] + (b.get("pending_entries") or []) if w["seq"] == last)
    e = {"v": 1, "seq": last + 1, "time": prev_entry["time"], "type": "actor.key.rotated",
         "actor": {"id": op.actor_id, "key_id": op.key_id}, "payload": payload,
         "prev": hashlib.sha256(b"\x00" + rfc8785.dumps(prev_entry)).hexdigest(), "sig": ""}
    resign(e, op.signing_key)
    b["pending_entries"] = [*(b.get("pending_entries") or []), {"seq": last + 1, "entry": e}]
    report, _ = run(b, log_key=lifecycle["log_key"])
    assert "REVOKED_KEY" in report.codes(), report.to_text()
