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
    assert "WITNESS_QUORUM_NOT_MET" in codes(b)


def test_prepared_checkpoint_needs_the_quorum_before_the_round(demo):
    b = demo.load("published")
    assert any(s.get("type") == "drand" for s in
               next(w["entry"] for w in b["entries"] if w["entry"]["type"] == "draw.prepared")
               ["payload"]["seed_recipe"]["sources"])
    b["prepared_checkpoint"]["note"] = strip(b["prepared_checkpoint"]["note"], witness_names(b)[:2])
    assert "WITNESS_QUORUM_NOT_MET" in codes(b)


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
    assert "WITNESS_QUORUM_NOT_MET" in codes(b, witnesses=[other], min_witnesses=1)
    assert run(b, witnesses=b["witness_policy"]["witnesses"][:1], min_witnesses=1)[0].ok
