"""SPEC §3 item 11 from the vector text (docs/vectors/sm2-v1.json `actor_sm2`): an entry by an actor
holding an SM2 key carries both signatures; the honest log verifies, and a stripped, forged or
wrong-key sm2_sig, or a registration without proof of possession, fails with its named finding."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from verifier.findings import CODES
from verifier.log import LogOptions, verify_log

V = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "sm2-v1.json").read_text(encoding="utf-8"))
A = V["actor_sm2"]
ENTRIES = V["entries"] + [e["entry"] for e in A["entries"]]
OPTS = LogOptions(log_key=V["keys"]["log"]["verifier_key"])


def test_honest_sm2_actor_entry_verifies_from_leaves_and_json() -> None:
    leaves = [base64.b64decode(e["leaf_b64"]) for e in A["entries"]]
    head = [json.dumps(e, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode() for e in V["entries"]]
    for items in (ENTRIES, head + leaves):
        rep = verify_log(items, [A["checkpoint"]["note"]], options=OPTS)
        assert rep.ok, rep.to_text()
    assert "sm2_sig" in A["entries"][-1]["entry"] and "sm2_sig" not in A["entries"][0]["entry"]


@pytest.mark.parametrize("m", A["mutations"], ids=lambda m: m["expect"] + ":" + m["why"][:30])
def test_each_mutation_fails_with_its_finding(m: dict) -> None:
    entries = list(ENTRIES)
    entries[m["seq"]] = m["entry"]
    rep = verify_log(entries, [], options=OPTS)
    assert not rep.ok
    assert m["expect"] in rep.codes(), rep.to_text()
    assert m["expect"] in CODES


def test_stripped_sm2_sig_fails_the_checkpointed_log_too() -> None:
    entries = list(ENTRIES)
    entries[5] = A["mutations"][0]["entry"]
    rep = verify_log(entries, [A["checkpoint"]["note"]], options=OPTS)
    assert {"ENTRY_SM2_SIGNATURE_MISSING", "ROOT_MISMATCH"} <= rep.codes()
    assert rep.checks["signatures"].status == "failed"


def test_sm2_sig_on_an_entry_by_an_actor_without_sm2_key_is_refused() -> None:
    # the system holds no SM2 entry key: an sm2_sig on its entry (copied from entry 5) is invalid
    entries = list(ENTRIES)
    entries[2] = {**entries[2], "sm2_sig": A["entries"][-1]["entry"]["sm2_sig"]}
    rep = verify_log(entries[:3], [], options=OPTS)
    assert "ENTRY_SM2_SIGNATURE_INVALID" in rep.codes(), rep.to_text()


def test_malformed_sm2_sig_member_is_refused() -> None:
    entries = list(ENTRIES)
    entries[5] = {**entries[5], "sm2_sig": 42}
    rep = verify_log(entries, [], options=OPTS)
    assert "ENTRY_MALFORMED" in rep.codes(), rep.to_text()
