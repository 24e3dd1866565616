"""One test per tampering the service could do to a real (demo) draw; each shows its finding."""

from __future__ import annotations

import base64
import copy
import hashlib
import os

import rfc8785
from nacl.signing import SigningKey
from vf_drawkit import codes, entry, key_id, resign, retime_prepared_checkpoint, run, sign_note

from verifier.matching import Matcher, Rule
from verifier.seal import seal


def test_edit_an_entry_payload(demo):
    b = demo.load("published")
    entry(b, "draw.drawn")["payload"]["sizes"]["A"] += 1
    got = codes(b)
    assert {"ENTRY_SIGNATURE_INVALID", "ENTRY_NOT_INCLUDED", "SIZES_MISMATCH"} <= got


def test_edit_a_plan_entry_is_caught(demo):
    b = demo.load("published")
    plan = next(w["entry"] for w in b["entries"] if w["entry"]["type"] == "registry.plan.approved")
    plan["payload"]["state"]["ratios_bp"]["A"] = 50
    got = codes(b)
    assert {"ENTRY_SIGNATURE_INVALID", "ENTRY_NOT_INCLUDED", "RULE_PLAN_MISMATCH"} <= got


def test_drop_an_entry(demo):
    b = demo.load("published")
    b["entries"] = [w for w in b["entries"] if w["entry"]["type"] != "draw.substituted"]
    got = codes(b)
    assert "LIFECYCLE_INCOMPLETE" in got
    b = demo.load("published")
    b["entries"] = [w for w in b["entries"] if w["entry"]["type"] != "draw.seeded"]
    assert "LIFECYCLE_INCOMPLETE" in codes(b)


def test_reorder_entries(demo):
    b = demo.load("published")
    ws = b["entries"]
    i = next(k for k, w in enumerate(ws) if w["entry"]["type"] == "draw.seeded")
    j = next(k for k, w in enumerate(ws) if w["entry"]["type"] == "draw.drawn")
    # claim the drawn entry came first: swap the seq numbers they are filed under
    ws[i]["seq"], ws[j]["seq"] = ws[j]["seq"], ws[i]["seq"]
    ws[i], ws[j] = ws[j], ws[i]
    got = codes(b)
    assert "ENTRY_SEQ_MISMATCH" in got and "ENTRY_NOT_INCLUDED" in got
    # an entry whose own seq is rewritten breaks its signature and its inclusion
    b = demo.load("published")
    e = entry(b, "draw.drawn")
    e["seq"] -= 1
    assert {"ENTRY_SEQ_MISMATCH", "ENTRY_SIGNATURE_INVALID", "ENTRY_NOT_INCLUDED"} <= codes(b)


def test_resign_with_another_key(demo):
    b = demo.load("published")
    other = SigningKey.generate()
    e = entry(b, "draw.published")
    resign(e, other)  # same key id, other key
    assert "ENTRY_SIGNATURE_INVALID" in codes(b)
    resign(e, other, key_id(other))  # a key nobody registered
    assert "UNKNOWN_KEY" in codes(b)


def test_change_the_pool_after_the_seed(demo):
    b = demo.load("published")
    b["pools"]["subjects"] = b["pools"]["subjects"][1:]  # quietly drop a subject
    got = codes(b)
    assert {"POOL_ROOT_MISMATCH", "POOL_COUNTS_MISMATCH"} <= got
    b = demo.load("published")
    b["pools"]["subjects"][0]["stratum"] = "A" if b["pools"]["subjects"][0]["stratum"] != "A" else "B"
    assert "POOL_ROOT_MISMATCH" in codes(b)
    b = demo.load("published")
    b["pools"]["excluded"].append(dict(b["pools"]["subjects"][0], reason="frequency_cap"))
    assert "POOL_OVERLAP" in codes(b)
    b = demo.load("published")
    b["pools"]["conflicts"] = []
    assert "CONFLICTS_MISMATCH" in codes(b)


def test_publish_different_content_than_sealed(demo):
    b = demo.load("published")
    strata = b["content"]["strata"]
    s = next(iter(strata))
    sel = {x["id"] for x in strata[s]["selected"]}
    swap_in = next(r["id"] for r in b["pools"]["subjects"] if r["stratum"] == s and r["id"] not in sel)
    strata[s]["selected"][0]["id"] = swap_in
    got = codes(b)
    assert {"SEAL_MISMATCH", "SELECTION_MISMATCH"} <= got


def test_wrong_nonce_and_seed(demo):
    b = demo.load("published")
    entry(b, "draw.published")["payload"]["nonce"] = "00" * 32
    assert "NONCE_MISMATCH" in codes(b)
    b = demo.load("published")
    entry(b, "draw.published")["payload"]["seed"] = "11" * 32
    assert "SEED_MISMATCH" in codes(b)


def test_forged_beacon_signature(demo):
    b = demo.load("published")
    rev = next(r for r in entry(b, "draw.seeded")["payload"]["reveals"] if r["type"] == "drand")
    sig = bytearray(bytes.fromhex(rev["signature"]))
    sig[-1] ^= 1
    rev["signature"] = sig.hex()
    got = codes(b)
    assert got & {"BEACON_ENCODING_INVALID", "BEACON_SIGNATURE_INVALID"}


def test_witness_contribution_mismatch(demo):
    b = demo.load("published")
    rev = next(r for r in entry(b, "draw.seeded")["payload"]["reveals"] if r["type"] == "witness")
    rev["contribution"] = "ab" * 16
    assert "CONTRIBUTION_MISMATCH" in codes(b)


def _dishonest_substitution(demo):
    """Replace the substitution with a non-next candidate, re-seal with a new salt, re-sign with the
    operator's real key: the seal matches, the §8 check does not."""
    b = demo.load("published")
    w = b["substitutions"][0]
    rec = w["record"]
    assert rec["kind"] == "inspector"
    p = entry(b, "draw.prepared")["payload"]
    pools = b["pools"]
    m = Matcher(b"", Rule.from_json(p["parameters"]["team_rule"]), pools["inspectors"])
    a = next(x for x in b["content"]["matching"]["assignments"] if x["subject"] == rec["subject"])
    pick = next(c for c in m.cands if c not in a["team"] and c != rec["incoming"])
    rec["incoming"] = pick
    salt = os.urandom(32)
    w["salt"] = salt.hex()
    e = entry(b, "draw.substituted")
    e["payload"]["seal"] = seal(salt, rec).hex()
    resign(e, demo.operator.signing_key)
    pub = entry(b, "draw.published")
    pub["payload"]["substitution_salts"] = [salt.hex()]
    resign(pub, demo.operator.signing_key)
    for x in b["current_matching"]["assignments"]:
        if x["subject"] == rec["subject"]:
            x["team"] = [pick if t == rec["leaving"] else t for t in a["team"]]
    return b


def test_substitute_out_of_order(demo):
    b = _dishonest_substitution(demo)
    got = codes(b)
    assert "SUBSTITUTION_NOT_NEXT" in got
    assert "SUBSTITUTION_SEAL_MISMATCH" not in got and "ENTRY_SIGNATURE_INVALID" not in got
    # the log itself still shows the entries were rewritten (they are not the ones in the checkpoint)
    assert "ENTRY_NOT_INCLUDED" in got


def test_substitution_record_not_matching_its_seal(demo):
    b = demo.load("published")
    b["substitutions"][0]["record"]["reason"] = "recusal_conflict"
    assert "SUBSTITUTION_SEAL_MISMATCH" in codes(b)


def test_current_matching_edited(demo):
    b = demo.load("published")
    a = b["current_matching"]["assignments"][-1]
    a["team"] = list(reversed(a["team"]))
    assert "CURRENT_MATCHING_MISMATCH" in codes(b)


def test_fork_the_log(demo):
    """The service shows a prepared checkpoint of another history, validly signed by its log key."""
    b = demo.load("published")
    pc = b["prepared_checkpoint"]
    origin, size, _ = pc["note"].split("\n")[:3]
    fake_root = base64.b64encode(hashlib.sha256(b"another history").digest()).decode()
    pc["note"] = sign_note(f"{origin}\n{size}\n{fake_root}\n", origin, demo.log_signing_key)
    got = codes(b, log_key=demo.log_key)
    assert "INCONSISTENT_CHECKPOINTS" in got
    assert "PREPARED_CHECKPOINT_INVALID" not in got and "CHECKPOINT_SIGNATURE_INVALID" not in got


def test_checkpoint_signed_by_another_key(demo):
    b = demo.load("published")
    note = b["log"]["checkpoint"]["note"]
    text = note.split("\n\n")[0] + "\n"
    origin = text.split("\n")[0]
    b["log"]["checkpoint"]["note"] = sign_note(text, origin, SigningKey.generate())
    assert "CHECKPOINT_SIGNATURE_INVALID" in codes(b, log_key=demo.log_key)
    # a pinned key that is not the log's: the bundle's declared key and its genesis disagree with it
    sk = SigningKey.generate()
    pub = bytes(sk.verify_key)
    kh = hashlib.sha256(origin.encode() + b"\n\x01" + pub).digest()[:4]
    blob = base64.b64encode(b"\x01" + pub).decode()
    other = f"{origin}+{kh.hex()}+{blob}"
    assert "LOG_KEY_MISMATCH" in codes(demo.load("published"), log_key=other)


def test_prepared_checkpoint_removed(demo):
    b = demo.load("published")
    del b["prepared_checkpoint"]
    assert "PREPARED_CHECKPOINT_INVALID" in codes(b)


def test_prepared_checkpoint_time_is_signed(demo):
    """v3: the prepared checkpoint's time is the log's timestamped cosignature, not the bare
    signed_at; moving signed_at proves nothing, a cosignature at or after the round is too late,
    a changed time breaks the cosignature, and a missing one is named."""
    b = demo.load("published")
    assert b["format"] == "spotcheck-draw-bundle/3"
    assert run(b, log_key=demo.log_key)[0].ok
    moved = copy.deepcopy(b)
    moved["prepared_checkpoint"]["signed_at"] = "2030-01-01T00:00:00.000Z"  # unsigned: not read in v3
    assert run(moved, log_key=demo.log_key)[0].ok
    name = demo.log_key.split("+")[0]
    sk = demo.log_signing_key
    if b["prepared_checkpoint"] and "drand" in str(entry(b, "draw.prepared")["payload"]["seed_recipe"]):
        late = copy.deepcopy(b)
        nb = entry(b, "draw.prepared")["payload"]["not_before"]
        retime_prepared_checkpoint(late, name, sk, nb)
        assert "PREPARED_TOO_LATE" in codes(late, log_key=demo.log_key)
    early = copy.deepcopy(b)  # cosigned before the entry it covers existed
    retime_prepared_checkpoint(early, name, sk, 1_000_000_000)
    assert "PREPARED_CHECKPOINT_INVALID" in codes(early, log_key=demo.log_key)
    untimed = copy.deepcopy(b)
    retime_prepared_checkpoint(untimed, name, sk, None)
    assert "PREPARED_CHECKPOINT_UNTIMED" in codes(untimed, log_key=demo.log_key)
    changed = copy.deepcopy(b)  # the time bytes changed without the key: the cosignature breaks
    pc = changed["prepared_checkpoint"]
    text, _, sigs = pc["note"].rpartition("\n\n")
    lines = [ln for ln in sigs.split("\n") if ln]
    own_hash = hashlib.sha256(name.encode() + b"\n" + b"\x04" + bytes(sk.verify_key)).digest()[:4]
    i = next(i for i, ln in enumerate(lines) if base64.b64decode(ln.split(" ")[2])[:4] == own_hash)
    raw = bytearray(base64.b64decode(lines[i].split(" ")[2]))
    raw[11] ^= 1  # the last byte of the signed time
    lines[i] = " ".join(lines[i].split(" ")[:2] + [base64.b64encode(bytes(raw)).decode()])
    pc["note"] = text + "\n\n" + "".join(ln + "\n" for ln in lines)
    assert "CHECKPOINT_SIGNATURE_INVALID" in codes(changed, log_key=demo.log_key)


def test_entry_dated_before_an_earlier_entry(demo):
    """Entry times never run backwards along seq: an entry re-signed by its own actor with an
    earlier time than the entry before it is named (besides breaking its inclusion)."""
    b = demo.load("published")
    e = entry(b, "draw.drawn")
    e["time"] = entry(b, "draw.prepared")["time"][:4] + "-01-01T00:00:00.000Z"
    resign(e, demo.signers[e["actor"]["id"]])
    assert {"ENTRY_TIME_DECREASING", "ENTRY_NOT_INCLUDED"} <= codes(b, log_key=demo.log_key)


def test_rerun_and_hide_the_first(demo):
    """A draw of the same plan, seeded (its seed could be known) then aborted, and re-run: the bundle
    of the re-run does not show it; reading the full log does. Limit: a draw never written to the
    log at all cannot be found by any reader of the log (see docs/VERIFIER.md)."""
    b = demo.load("sealed")
    log = copy.deepcopy(demo.full_log)
    aborted_id = demo.ids["aborted"]
    ab = next(e for e in log if e["type"] == "draw.aborted" and e["payload"]["draw_id"] == aborted_id)
    ab["payload"]["stage"] = "seeded"
    log.insert(log.index(ab), {"type": "draw.seeded", "seq": ab["seq"], "payload": {"draw_id": aborted_id}})
    report, _ = run(b, full_log=log)
    assert "HIDDEN_DRAW" in report.codes()
    # without the full log, the limit is said plainly
    report, _ = run(b)
    assert "--full-log" in report.checks["other_draws"].detail
    # the honest log: the earlier attempt was aborted before any seed existed -> listed, not a finding
    report, _ = run(b, full_log=demo.full_log)
    assert report.ok and any(aborted_id in x for x in report.info["other_draws_of_plan"])


def test_bad_rules_are_findings(demo):
    b = demo.load("published")
    p = entry(b, "draw.prepared")["payload"]
    p["parameters"]["team_rule"]["team_size"] = 1
    p["parameters"]["key_item"] = False
    p["parameters"]["floor"] = "0.01"
    got = codes(b)
    assert {"RULE_TEAM_SIZE", "RULE_FLOOR"} <= got


def test_jcs_of_bundle_entries_is_what_is_proved(demo):
    """Sanity: the inclusion check hashes JCS(entry); the service's stored leaves are JCS."""
    b = demo.load("published")
    e = entry(b, "draw.drawn")
    assert rfc8785.dumps(e) == rfc8785.dumps(copy.deepcopy(e))
