"""The demo's operator holds an SM2 key (SPEC §3 item 11): its draw entries carry both signatures,
drawverify passes them, and a bundle whose entry lost or forged its sm2_sig fails by name."""

from __future__ import annotations

import base64

from vf_drawkit import codes


def _sm2_entries(b: dict) -> list[dict]:
    return [w["entry"] for w in b["entries"] if "sm2_sig" in w["entry"]]


def test_published_draw_has_sm2_signed_entries_and_verifies(demo):
    b = demo.load("published")
    signed = _sm2_entries(b)
    assert signed and all(e["actor"]["id"] == "user:op-scjg" for e in signed)
    assert any(w["entry"]["type"] == "actor.sm2_key.registered" for w in b["entries"])
    assert not codes(b)


def test_stripped_sm2_sig_fails(demo):
    b = demo.load("published")
    del _sm2_entries(b)[0]["sm2_sig"]  # the Ed25519 sig still verifies: only the SM2 rule catches it
    assert "ENTRY_SM2_SIGNATURE_MISSING" in codes(b)


def test_forged_sm2_sig_fails(demo):
    b = demo.load("published")
    e = _sm2_entries(b)[0]
    raw = bytearray(base64.b64decode(e["sm2_sig"]))
    raw[-1] ^= 1
    e["sm2_sig"] = base64.b64encode(bytes(raw)).decode()
    assert "ENTRY_SM2_SIGNATURE_INVALID" in codes(b)
