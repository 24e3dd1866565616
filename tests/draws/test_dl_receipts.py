"""Every draw step, through `drawsvc draw`, answers with a receipt that checks at once (a signed
checkpoint covering the entry and its inclusion proof); the aborted draw's bundle then verifies
as ABORTED (exit 3), and a bundle against the checkpoint before the last step shows that step
pending — never dropped."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from drawsvc.demo import create_demo
from drawsvc.draws.cli import draw
from drawsvc.instance import Instance
from drawsvc.registry.service import Registry
from verifier.canonical import jcs
from verifier.cli import cli as drawverify
from verifier.merkle import leaf_hash, verify_inclusion
from verifier.note import parse_checkpoint, parse_note, parse_verifier_key, verify_note


class _Ctx:
    def __init__(self, instance: Any) -> None:
        self.instance = instance


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    os.environ.setdefault("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    inst, _, _ = create_demo(tmp_path_factory.mktemp("receipts") / "instance", origin="test.example/log")
    return inst


def run_draw(demo: Instance, *args: str) -> dict[str, Any]:
    @click.group()
    @click.pass_context
    def root(ctx: click.Context) -> None:
        ctx.obj = _Ctx(demo)

    root.add_command(draw)
    r = CliRunner().invoke(root, ["draw", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.output) if r.output.startswith("{") else {"output": r.output}


def check_receipt(demo: Instance, rc: dict[str, Any], typ: str) -> None:
    """What an operator's client does with the answer: the entry the log serves hashes to the
    leaf hash, whose proof leads to a checkpoint signed by the log key that covers it."""
    e = demo.ledger().entry(rc["seq"])
    assert e.type == rc["type"] == typ
    lh = leaf_hash(jcs(e.to_json()))
    assert base64.b64decode(rc["leaf_hash"]) == lh
    note = parse_note(rc["checkpoint"])
    cp = parse_checkpoint(note.text)
    assert verify_note(note, parse_verifier_key(demo.genesis_log_key.encode()))
    assert cp.size == rc["tree_size"] > rc["seq"]
    assert verify_inclusion(rc["seq"], cp.size, lh, [base64.b64decode(x) for x in rc["inclusion_proof"]], cp.root)
    forged = bytearray(lh)
    forged[0] ^= 1
    assert not verify_inclusion(rc["seq"], cp.size, bytes(forged), [base64.b64decode(x) for x in rc["inclusion_proof"]],
                                cp.root)


def test_cli_steps_answer_with_receipts_and_abort_verifies_as_aborted(demo: Instance, tmp_path: Path) -> None:
    plan = Registry(demo.ledger(), demo.passphrase()).list("plan")[0]
    d = run_draw(demo, "prepare", "--as", "op-scjg", "--plan", plan["code"], "--department", plan["departments"][0],
                 "--sources", '[{"type": "dice", "min_digits": 20}]', "--draw-date", plan["window_start"])
    check_receipt(demo, d["receipt"], "draw.prepared")
    s = run_draw(demo, "seed", "--as", "op-scjg", d["id"], "--reveals", '[{"type": "dice", "digits": "31415926535897932384"}]')
    check_receipt(demo, s["receipt"], "draw.seeded")
    a = run_draw(demo, "abort", "--as", "op-scjg", d["id"], "--reason", "见证人未到场")
    check_receipt(demo, a["receipt"], "draw.aborted")
    key = demo.genesis_log_key.encode()
    out = tmp_path / "aborted.json"
    run_draw(demo, "bundle", d["id"], "--out", str(out))
    r = CliRunner().invoke(drawverify, ["bundle", str(out), "--log-key", key])
    assert r.exit_code == 3, r.output
    last = r.stdout.strip().splitlines()[-1]
    # in Chinese by default: the verdict opens the report and closes it
    assert last.startswith("结论：已中止") and "见证人未到场" in last and "op-scjg" in last, last
    assert r.stdout.splitlines()[0] == last
    # the same bundle against the checkpoint signed with the seed: the abort is pending, not dropped
    old = tmp_path / "before-abort.json"
    run_draw(demo, "bundle", d["id"], "--out", str(old), "--checkpoint", str(s["receipt"]["tree_size"]))
    r = CliRunner().invoke(drawverify, ["bundle", str(old), "--log-key", key, "--json"])
    rep = json.loads(r.stdout)
    assert r.exit_code == 0 and rep["result"] == "verified" and rep["pending_checks"] == ["checkpoint_coverage"], r.output
    assert rep["info"]["pending_entries"] == [f"draw.aborted@{a['receipt']['seq']}"]
    # dropped instead of pending: FAILED, named as dropped
    doc = json.loads(old.read_text(encoding="utf-8"))
    doc["pending_entries"] = []
    old.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = CliRunner().invoke(drawverify, ["bundle", str(old), "--log-key", key, "--json"])
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["result"] == "failed"
    found = [f for c in rep["checks"] for f in c["findings"]]
    assert [f["code"] for f in found] == ["LIFECYCLE_INCOMPLETE"] and "dropped" in found[0]["message"]
    # a checkpoint that was never issued: a clear error, exit 2
    r = CliRunner().invoke(draw, ["bundle", d["id"], "--out", str(old), "--checkpoint", "999999"],
                           obj=_Ctx(demo))
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_pending_entries_are_attacked(demo: Instance, tmp_path: Path) -> None:
    """What a dishonest service could do with `pending_entries`: show a covered entry without its
    proof, edit a pending entry, slip another draw's entry in — each is FAILED, by name."""
    from verifier.draw import DrawOptions, verify_bundle
    from web import create_app

    plan = Registry(demo.ledger(), demo.passphrase()).list("plan")[0]
    admin = create_app(demo, {"TESTING": True}).test_client()  # a plan of its own: no earlier draw of it
    tok = admin.post("/api/v1/session", json={"account": "admin", "password": "demo-admin-2026"}).get_json()
    admin.environ_base["HTTP_X_CSRF_TOKEN"] = tok["csrf_token"]
    copy = {**admin.get(f"/api/v1/plans/{plan['code']}").get_json(), "code": "ATTACK-1", "status": "draft"}
    assert admin.post("/api/v1/plans", json=copy).status_code in (200, 201)
    assert admin.post("/api/v1/plans/ATTACK-1/submit").status_code == 200
    ops = create_app(demo, {"TESTING": True}).test_client()  # the four-eyes rule: another person approves
    tok = ops.post("/api/v1/session", json={"account": "op-scjg", "password": "demo-pass-2026"}).get_json()
    ops.environ_base["HTTP_X_CSRF_TOKEN"] = tok["csrf_token"]
    assert ops.post("/api/v1/plans/ATTACK-1/approve").status_code == 200
    d = run_draw(demo, "prepare", "--as", "op-scjg", "--plan", "ATTACK-1", "--department", plan["departments"][0],
                 "--sources", '[{"type": "dice", "min_digits": 20}]', "--draw-date", plan["window_start"])
    s = run_draw(demo, "seed", "--as", "op-scjg", d["id"], "--reveals", '[{"type": "dice", "digits": "27182818284590452353"}]')
    out = tmp_path / "b.json"
    run_draw(demo, "bundle", d["id"], "--out", str(out), "--checkpoint", str(d["receipt"]["tree_size"]))
    honest = json.loads(out.read_text(encoding="utf-8"))
    opts = DrawOptions(log_key=demo.genesis_log_key.encode())
    report, _ = verify_bundle(json.loads(json.dumps(honest)), opts)
    assert report.verdict == "verified" and report.pending == ["checkpoint_coverage", "reveals", "seed"]
    assert [p["seq"] for p in honest["pending_entries"]] == [s["receipt"]["seq"]]

    def codes(mutate: Any) -> set[str]:
        b = json.loads(json.dumps(honest))
        mutate(b)
        rep, _ = verify_bundle(b, opts)
        assert rep.verdict == "failed", rep.to_text()
        return rep.codes()

    def unprove(b: dict[str, Any]) -> None:  # the prepared entry, covered, shown without its proof
        w = next(w for w in b["entries"] if w["entry"]["type"] == "draw.prepared" and w["entry"]["payload"]["draw_id"] == d["id"])
        b["entries"].remove(w)
        b["pending_entries"].insert(0, {"seq": w["seq"], "entry": w["entry"]})
    assert "ENTRY_UNPROVEN" in codes(unprove)

    def edit(b: dict[str, Any]) -> None:  # the pending seed's digits changed after the fact
        b["pending_entries"][0]["entry"]["payload"]["reveals"][0]["digits"] = "1" * 20
    assert "ENTRY_SIGNATURE_INVALID" in codes(edit)

    def foreign(b: dict[str, Any]) -> None:  # a pending entry of another draw
        led = demo.ledger()
        other = next(e for e in led.entries(0, led.size()) if e.type == "draw.prepared" and e.payload["draw_id"] != d["id"])
        b["pending_entries"].append({"seq": other.seq, "entry": other.to_json()})
    assert {"DRAW_ENTRY_MALFORMED"} <= codes(foreign)

    def claim_aborted(b: dict[str, Any]) -> None:  # the status says aborted; no abort entry anywhere
        b["status"] = "aborted"
    assert "LIFECYCLE_INCOMPLETE" in codes(claim_aborted) or "LIFECYCLE_ORDER" in codes(claim_aborted)
