"""Tampering with a log we generate ourselves must give the right finding; the honest log none."""

import copy

import rfc8785
from nacl.signing import SigningKey
from vf_logkit import LogMaker, b64, honest_log, kid, lh, sign_entry, vkey

from verifier.log import LogOptions, verify_log


def run(lm, leaves=None, checkpoints=None, **opts):
    leaves = leaves if leaves is not None else lm.leaves()
    cps = checkpoints if checkpoints is not None else [lm.checkpoint(leaves=leaves)]
    return verify_log(leaves, cps, total=len(leaves), options=LogOptions(**opts))


def codes(report):
    return report.codes()


def relink(entries, sk_for, start=1):
    """Re-chain and re-sign from ``start`` on, like a server rewriting history would."""
    for i in range(start, len(entries)):
        e = dict(entries[i])
        e["seq"] = i
        e["prev"] = lh(rfc8785.dumps(entries[i - 1])).hex()
        entries[i] = sign_entry(e, sk_for(e))
    return entries


def test_honest_log_verifies_clean():
    lm = honest_log()
    r = run(lm, checkpoints=[lm.checkpoint(size=5), lm.checkpoint()])
    assert r.ok, r.to_text()
    statuses = {c.name: c.status for c in r.checks.values()}
    assert statuses["signatures"] == "passed" and statuses["tree"] == "passed" and statuses["consistency"] == "passed"
    assert statuses["witnesses"] == "not_checked"  # never a silent pass


def test_honest_log_parallel_pool():
    lm = honest_log(40)
    r = verify_log(lm.leaves(), [lm.checkpoint()], options=LogOptions(parallel=True, workers=2))
    assert r.ok, r.to_text()


def test_parallel_pool_reports_bad_signature():
    lm = honest_log(40)
    leaves = lm.leaves()
    e = copy.deepcopy(lm.entries[20])
    e["payload"]["idx"] = 999
    leaves[20] = rfc8785.dumps(e)
    r = verify_log(leaves, [], options=LogOptions(parallel=True, workers=2))
    assert "ENTRY_SIGNATURE_INVALID" in codes(r)
    assert any(f.seq == 20 for f in r.findings if f.code == "ENTRY_SIGNATURE_INVALID")


def test_json_entries_source_verifies_clean_canonical_not_checked():
    lm = honest_log()
    r = verify_log(lm.copy_entries(), [lm.checkpoint()])
    assert r.ok, r.to_text()
    assert r.checks["canonical"].status == "not_checked"


def test_edited_payload():
    lm = honest_log()
    entries = lm.copy_entries()
    entries[6]["payload"]["idx"] = 12345
    r = run(lm, leaves=lm.leaves(entries), checkpoints=[lm.checkpoint()])
    assert {"ENTRY_SIGNATURE_INVALID", "PREV_MISMATCH", "ROOT_MISMATCH"} <= codes(r)
    f = next(f for f in r.findings if f.code == "ENTRY_SIGNATURE_INVALID")
    assert f.seq == 6 and f.expected and f.actual


def test_dropped_entry():
    lm = honest_log()
    entries = lm.copy_entries()
    del entries[5]
    r = run(lm, leaves=lm.leaves(entries), checkpoints=[])
    assert {"SEQ_GAP", "PREV_MISMATCH"} <= codes(r)
    gap = next(f for f in r.findings if f.code == "SEQ_GAP")
    assert (gap.expected, gap.actual) == ("5", "6")


def test_dropped_entry_rewritten_chain_caught_by_checkpoint():
    lm = honest_log()
    old_cp = lm.checkpoint(size=8)
    entries = lm.copy_entries()
    del entries[5]
    relink(entries, lambda e: lm.actors[e["actor"]["id"]])
    leaves = lm.leaves(entries)
    r = run(lm, leaves=leaves, checkpoints=[old_cp, lm.checkpoint(leaves=leaves)])
    assert {"ROOT_MISMATCH", "INCONSISTENT_CHECKPOINTS"} <= codes(r)
    assert "ENTRY_SIGNATURE_INVALID" not in codes(r) and "SEQ_GAP" not in codes(r)


def test_reordered_entries():
    lm = honest_log()
    entries = lm.copy_entries()
    entries[5], entries[6] = entries[6], entries[5]
    r = run(lm, leaves=lm.leaves(entries), checkpoints=[lm.checkpoint()])
    assert {"SEQ_GAP", "PREV_MISMATCH", "ROOT_MISMATCH"} <= codes(r)


def test_resigned_with_another_key_same_key_id():
    lm = honest_log()
    entries = lm.copy_entries()
    e = entries[7]
    e["payload"]["idx"] = 777
    entries[7] = sign_entry(e, SigningKey.generate())  # key_id still claims the real key
    r = run(lm, leaves=lm.leaves(entries), checkpoints=[])
    assert "ENTRY_SIGNATURE_INVALID" in codes(r)


def test_resigned_with_unregistered_key():
    lm = honest_log()
    rogue = SigningKey.generate()
    entries = lm.copy_entries()
    e = entries[7]
    e["actor"] = {"id": e["actor"]["id"], "key_id": kid(rogue)}
    entries[7] = sign_entry(e, rogue)
    r = run(lm, leaves=lm.leaves(entries), checkpoints=[])
    assert "UNKNOWN_KEY" in codes(r)


def test_non_canonical_leaf():
    lm = honest_log()
    leaves = lm.leaves()
    import json

    leaves[4] = json.dumps(lm.entries[4], ensure_ascii=True, indent=None).encode()  # spaces, \\u escapes
    r = run(lm, leaves=leaves, checkpoints=[lm.checkpoint(leaves=leaves)])
    assert "NOT_CANONICAL" in codes(r)
    assert codes(r) <= {"NOT_CANONICAL", "PREV_MISMATCH"}


def test_forked_checkpoints_same_size():
    lm = honest_log()
    honest = lm.checkpoint()
    forked = copy.deepcopy(lm.entries)
    forked[-1]["payload"]["idx"] = 5555
    forked[-1] = sign_entry(forked[-1], lm.actors[forked[-1]["actor"]["id"]])
    fork_cp = lm.checkpoint(leaves=lm.leaves(forked))
    r = run(lm, checkpoints=[honest, fork_cp])
    assert "INCONSISTENT_CHECKPOINTS" in codes(r)


def test_rewritten_history_older_checkpoint_inconsistent():
    lm = honest_log()
    old_cp = lm.checkpoint(size=6)
    entries = lm.copy_entries()
    entries[3]["payload"]["note"] = "rewritten"
    relink(entries, lambda e: lm.actors[e["actor"]["id"]], start=3)
    leaves = lm.leaves(entries)
    r = run(lm, leaves=leaves, checkpoints=[old_cp, lm.checkpoint(leaves=leaves)])
    assert "INCONSISTENT_CHECKPOINTS" in codes(r)
    assert "ROOT_MISMATCH" in codes(r)
    assert "ENTRY_SIGNATURE_INVALID" not in codes(r)  # the rewrite is internally valid: only checkpoints catch it


def test_bad_consistency_proof_in_bundle():
    lm = honest_log()
    leaves = lm.leaves()
    r = verify_log(leaves[:6], [lm.checkpoint(size=5), lm.checkpoint()],
                   options=LogOptions(consistency_proofs={(5, len(leaves)): [b"\x00" * 32]}))
    assert "INCONSISTENT_CHECKPOINTS" in codes(r)


def test_checkpoint_signed_by_wrong_key():
    lm = honest_log()
    r = run(lm, checkpoints=[lm.checkpoint(sk=SigningKey.generate())])
    assert "CHECKPOINT_SIGNATURE_INVALID" in codes(r)


def test_rotated_key_honoured_and_retired_key_refused():
    lm = honest_log(2)
    old, new = lm.rotate("operator:alice")
    lm.event("operator:alice", idx=100)  # signed by the new key: fine
    assert run(lm).ok
    # An entry after the rotation still signed by the old key is refused.
    lm.append("registry.subject.added", {"idx": 101}, actor="operator:alice", sk=old)
    r = run(lm)
    assert "RETIRED_KEY" in codes(r)
    f = next(f for f in r.findings if f.code == "RETIRED_KEY")
    assert f.seq == len(lm.entries) - 1


def test_rotation_with_bad_new_key_sig():
    lm = honest_log(2)
    old, new = lm.actors["operator:alice"], SigningKey.generate()
    p = {"actor_id": "operator:alice", "old_key_id": kid(old), "new_key_id": kid(new),
         "new_public_key": b64(bytes(new.verify_key)), "new_key_sig": b64(SigningKey.generate().sign(b"x").signature)}
    lm.append("actor.key.rotated", p, actor="operator:alice", sk=old)
    assert "NEW_KEY_SIG_INVALID" in codes(run(lm))


def test_registration_not_by_system():
    lm = honest_log(2)
    sk = SigningKey.generate()
    lm.append("actor.key.registered", {"actor_id": "x", "key_id": kid(sk), "public_key": b64(bytes(sk.verify_key))},
              actor="operator:alice")
    assert "KEY_RULE_VIOLATION" in codes(run(lm))


def test_log_key_rotation_followed():
    lm = honest_log(2)
    cp_old = lm.checkpoint()
    old_sk = lm.log_sk
    lm.rotate_log_key()
    lm.event("operator:alice")
    r = run(lm, checkpoints=[cp_old, lm.checkpoint()])
    assert r.ok, r.to_text()
    # After the rotation, a checkpoint signed with the old log key is refused.
    r = run(lm, checkpoints=[cp_old, lm.checkpoint(sk=old_sk)])
    assert "CHECKPOINT_SIGNATURE_INVALID" in codes(r)


def test_pinned_log_key():
    lm = honest_log(2)
    assert run(lm, log_key=vkey(lm.origin, lm.log_sk)).ok
    r = run(lm, log_key=vkey(lm.origin, SigningKey.generate()))
    assert "LOG_KEY_MISMATCH" in codes(r)


def test_external_entries():
    lm = honest_log(2)
    lm.add_client("citysys")
    lm.external("citysys", "inspection.result", {"case": "A-1", "outcome": "合格"})
    assert run(lm).ok
    lm.external("citysys", "inspection.result", {"case": "A-2"}, sk=SigningKey.generate())
    r = run(lm)
    assert "CLIENT_SIG_INVALID" in codes(r)
    assert codes(r) == {"CLIENT_SIG_INVALID"}


def test_external_unregistered_client():
    lm = honest_log(2)
    lm.clients["ghost"] = SigningKey.generate()
    lm.external("ghost", "x", {"a": 1})
    assert "UNKNOWN_KEY" in codes(run(lm))


def test_genesis_must_be_first_and_self_signed():
    lm = honest_log(2)
    entries = lm.copy_entries()
    entries[0]["payload"]["origin"] = "evil.example/log"
    r = run(lm, leaves=lm.leaves(entries), checkpoints=[])
    assert "ENTRY_SIGNATURE_INVALID" in codes(r) or "GENESIS_INVALID" in codes(r)


def test_malformed_entry():
    lm = honest_log(2)
    entries = lm.copy_entries()
    entries[3]["time"] = "yesterday"
    entries[3] = sign_entry(entries[3], lm.actors[entries[3]["actor"]["id"]])
    r = run(lm, leaves=lm.leaves(entries), checkpoints=[])
    assert "ENTRY_MALFORMED" in codes(r)


def test_witness_quorum():
    from verifier.note import cosign

    lm = honest_log(2)
    w = SigningKey.generate()
    cp = lm.checkpoint()
    text = cp.split("\n\n")[0] + "\n"
    line = cosign(text, "w.example/1", w, 1_800_000_000).line()
    wk = vkey("w.example/1", w, alg=4)
    assert run(lm, checkpoints=[cp + line], witnesses=[wk]).ok
    waiting = run(lm, checkpoints=[cp], witnesses=[wk])
    assert not waiting.findings and waiting.verdict == "awaiting_witnesses" and waiting.exit_code == 4
    assert waiting.awaiting == {"checkpoint_size": len(lm.leaves()), "k": 1, "cosigned_by": [], "more_needed": 1,
                                "missing": ["w.example/1"]}
    bad = cp + cosign(text.replace("\n", " \n", 1), "w.example/1", w, 1).line()
    assert "COSIGNATURE_INVALID" in codes(run(lm, checkpoints=[bad], witnesses=[wk]))


def test_empty_genesis_only_log():
    lm = LogMaker()
    assert run(lm).ok


def test_validate_entry_caches_do_not_hide_bad_values():
    from verifier.log import validate_entry

    good = {"v": 1, "seq": 0, "time": "2026-11-23T02:10:00.123Z", "type": "a.b", "actor": {"id": "x", "key_id": "0" * 16},
            "payload": {}, "prev": "0" * 64, "sig": "A" * 86 + "=="}
    assert validate_entry(good) is None
    assert validate_entry(good) is None  # now from the caches
    for time in ["2026-11-23T24:00:00.000Z", "2026-11-23T23:60:00.000Z", "2026-11-23T23:59:60.000Z",
                 "2026-02-30T00:00:00.000Z"]:
        assert validate_entry({**good, "time": time}) == f"time is not a valid date-time: {time!r}"
    assert validate_entry({**good, "time": "2026-11-23T23:59:59.999Z"}) is None
    assert "type" in validate_entry({**good, "type": ["a.b"]})
    assert "key_id" in validate_entry({**good, "actor": {"id": "x", "key_id": {"k": 1}}})
    assert "key_id" in validate_entry({**good, "actor": {"id": "x", "key_id": "0" * 15 + "G"}})
