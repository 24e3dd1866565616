"""The bundle's witness policy (docs/SPEC.md §D12 `witness_policy`): a bundle that states k of n
witnesses must carry k valid cosignatures on its checkpoint and, when a beacon round is
declared, on the prepared checkpoint before that round. Attacked by stripping, forging and
misstating; an older bundle without a policy is checked as before."""

from __future__ import annotations

import base64

from nacl.signing import SigningKey
from vf_drawkit import codes, run

from verifier.note import ALG_COSIGNATURE_V1, VerifierKey, key_id, own_cosignature_key, parse_verifier_key

DASH = "\u2014"


def strip(note: str, names: list[str]) -> str:
    return "".join(line for line in note.splitlines(keepends=True)
                   if not any(line.startswith(f"{DASH} {n} ") for n in names))


def witness_names(b: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(parse_verifier_key(k).name for k in b["witness_policy"]["witnesses"])


def test_demo_bundle_states_and_meets_two_of_three(demo):
    b = demo.load("published")
    assert b["witness_policy"]["k"] == 2 and len(b["witness_policy"]["witnesses"]) == 3
    report, _ = run(b)
    assert report.ok, report.to_text()
    assert "2 of" in report.info["witness_policy"]
    assert len(report.info["bundle_checkpoint_cosigned_by"]) == 3


def test_one_missing_witness_is_tolerated_two_are_not(demo):
    b = demo.load("published")
    names = witness_names(b)
    b["log"]["checkpoint"]["note"] = strip(b["log"]["checkpoint"]["note"], names[:1])
    assert run(b)[0].ok
    b["log"]["checkpoint"]["note"] = strip(b["log"]["checkpoint"]["note"], names[:2])
    report, _ = run(b)
    # honest but not yet cosigned by k: not tampering, not yet public (等待见证, exit 4)
    assert not report.findings and report.verdict == "awaiting_witnesses", report.to_text()
    assert report.exit_code == 4 and report.checks["bundle_checkpoint"].status == "awaiting_witnesses"
    assert report.awaiting is not None
    assert report.awaiting["more_needed"] == 1 and sorted(report.awaiting["missing"]) == names[:2]
    assert "1 more" in report.checks["bundle_checkpoint"].reason and "RESULT: AWAITING WITNESSES" in report.to_text()


def test_prepared_checkpoint_needs_the_quorum_before_the_round(demo):
    b = demo.load("published")
    assert any(s.get("type") == "drand" for s in
               next(w["entry"] for w in b["entries"] if w["entry"]["type"] == "draw.prepared")
               ["payload"]["seed_recipe"]["sources"])
    b["prepared_checkpoint"]["note"] = strip(b["prepared_checkpoint"]["note"], witness_names(b)[:2])
    report, _ = run(b)
    # the round's time has passed (the draw was seeded): the cosignatures can never come in time
    assert report.codes() == {"PREPARED_NOT_WITNESSED"} and report.verdict == "failed", report.to_text()
    f = report.findings[0]
    assert f.actual == "1" and all(n in f.message for n in witness_names(b)[:2]) and "seeded" in f.message


def test_a_forged_cosignature_is_caught(demo):
    b = demo.load("published")
    name = witness_names(b)[0]
    lines = b["log"]["checkpoint"]["note"].splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(f"{DASH} {name} "):
            raw = bytearray(base64.b64decode(line.split(" ")[2]))
            raw[-1] ^= 1
            lines[i] = f"{DASH} {name} {base64.b64encode(bytes(raw)).decode()}\n"
    b["log"]["checkpoint"]["note"] = "".join(lines)
    assert "COSIGNATURE_INVALID" in codes(b)
    assert run(b)[0].verdict == "failed"  # a forged line is never merely "awaiting witnesses"


def test_a_forged_cosignature_among_too_few_is_still_failed(demo):
    b = demo.load("published")
    names = witness_names(b)
    note = strip(b["log"]["checkpoint"]["note"], names[1:])
    lines = note.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(f"{DASH} {names[0]} "):
            raw = bytearray(base64.b64decode(line.split(" ")[2]))
            raw[-1] ^= 1
            lines[i] = f"{DASH} {names[0]} {base64.b64encode(bytes(raw)).decode()}\n"
    b["log"]["checkpoint"]["note"] = "".join(lines)
    report, _ = run(b)
    assert report.verdict == "failed" and "COSIGNATURE_INVALID" in report.codes(), report.to_text()


def test_a_misstated_policy_is_invalid(demo):
    b = demo.load("published")
    own = str(own_cosignature_key(parse_verifier_key(b["log"]["verifier_key"])))
    for bad in ({"k": 1, "witnesses": [own]},  # the log is not its own witness
                {"k": 4, "witnesses": b["witness_policy"]["witnesses"]},
                {"k": 0, "witnesses": b["witness_policy"]["witnesses"]},
                {"k": "2", "witnesses": b["witness_policy"]["witnesses"]},
                {"k": 1, "witnesses": ["not a key"]},
                {"k": 1, "witnesses": [b["witness_policy"]["witnesses"][0]] * 2},
                [1, 2]):
        b2 = {**b, "witness_policy": bad}
        assert "WITNESS_POLICY_INVALID" in codes(b2), bad


def test_a_bundle_without_a_policy_is_checked_as_before(demo):
    b = demo.load("published")
    del b["witness_policy"]
    b["log"]["checkpoint"]["note"] = strip(b["log"]["checkpoint"]["note"], witness_names(demo.load("published")))
    assert run(b)[0].ok


def test_witness_options_override_the_stated_policy(demo):
    b = demo.load("published")
    sk = SigningKey.generate()
    pub = bytes(sk.verify_key)
    other = str(VerifierKey("other.example/w", key_id("other.example/w", ALG_COSIGNATURE_V1, pub),
                            ALG_COSIGNATURE_V1, pub))
    report, _ = run(b, witnesses=[other], min_witnesses=1)
    # the reader's witness never cosigned: the bundle checkpoint awaits it, and the prepared
    # checkpoint (the draw is seeded: its round is past) can never be witnessed in time
    assert report.codes() == {"PREPARED_NOT_WITNESSED"}, report.to_text()
    assert report.checks["bundle_checkpoint"].status == "awaiting_witnesses"
    assert report.awaiting is not None and report.awaiting["missing"] == ["other.example/w"]
    assert run(b, witnesses=b["witness_policy"]["witnesses"][:1], min_witnesses=1)[0].ok
