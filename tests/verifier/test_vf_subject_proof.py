"""The verifier's side of docs/vectors/subject-proof.json (SPEC §D15): honest proofs verify,
every mutation a dishonest service could make fails with its named finding, and the CLI
answers from the proof document alone."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from vf_drawkit import mutate

from verifier.cli import cli
from verifier.subject_proof import ProofShapeError, verify_subject_proof

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "docs" / "vectors" / "subject-proof.json").read_text(encoding="utf-8"))
LOG_KEY = VECTORS["inputs"]["log_key"]


@pytest.mark.parametrize("name", ["drawn", "not_drawn", "drawn_witnessed"])
def test_honest_proof_verifies(name: str) -> None:
    doc = VECTORS["outputs"]["proofs"][name]
    report, facts = verify_subject_proof(copy.deepcopy(doc), log_key=LOG_KEY)
    assert report.verdict == "verified", report.to_text()
    wit = report.checks.pop("proof_witnesses")
    # without a policy the witness check says so plainly; with one, k valid cosignatures pass
    assert wit.status == ("passed" if "witness_policy" in doc else "not_checked"), report.to_text()
    assert all(c.status == "passed" for c in report.checks.values()), report.to_text()
    assert facts.drawn is name.startswith("drawn")
    assert facts.ticket == doc["claim"]["ticket"] and facts.cutoff == doc["claim"]["cutoff"]
    if name.startswith("drawn"):
        assert facts.team == doc["claim"]["team"] and facts.team["team"]
    else:
        # not drawn: its ticket is above its stratum's cutoff
        assert (facts.ticket, doc["subject"].encode()) > (facts.cutoff["ticket"], facts.cutoff["id"].encode())
        assert facts.team is None


def test_evidence_is_small() -> None:
    """A few KB, independent of the pool: the whole bundle is several times larger even here."""
    sizes = VECTORS["outputs"]["bytes"]
    assert max(sizes.values()) < 20_000
    assert VECTORS["outputs"]["bundle_bytes"] > 3 * max(sizes.values())


@pytest.mark.parametrize("m", VECTORS["mutations"], ids=[m["name"] for m in VECTORS["mutations"]])
def test_mutation_fails_with_its_finding(m: dict[str, Any]) -> None:
    doc = mutate(VECTORS["outputs"]["proofs"][m["proof"]], m)
    report, _ = verify_subject_proof(doc, log_key=LOG_KEY)
    assert report.verdict == m["verdict"], report.to_text()
    assert set(m["codes"]) <= report.codes(), (m["name"], report.codes())
    if m["verdict"] == "awaiting_witnesses":  # named: who is missing and how many more
        assert not report.findings and report.exit_code == 4
        assert report.awaiting == {"checkpoint_size": doc["log"]["checkpoint"]["size"], "k": 2,
                                   "cosigned_by": [f"{VECTORS['witnesses']['names'][0]}@"
                                                   f"{VECTORS['witnesses']['cosigned_at'][0]}"],
                                   "more_needed": 1, "missing": VECTORS["witnesses"]["names"][1:]}


def test_reader_policy_replaces_the_documents(tmp_path: Path) -> None:
    """`drawverify subject --witness-policy FILE`: the reader's own witnesses; exit 4 while they
    have not cosigned, 0 once k did, 1 for a forged line."""
    doc = VECTORS["outputs"]["proofs"]["drawn_witnessed"]
    f = tmp_path / "proof.json"
    f.write_text(json.dumps(doc))
    pol = tmp_path / "policy.json"
    keys = doc["witness_policy"]["witnesses"]
    for k, wits, code in ((2, keys[:2], 0), (1, keys[2:], 4), (2, keys[1:], 4)):
        pol.write_text(json.dumps({"k": k, "witnesses": wits}))
        r = CliRunner().invoke(cli, ["subject", doc["subject"], "--draw", doc["draw_id"], "--proof-file", str(f),
                                     "--log-key", LOG_KEY, "--witness-policy", str(pol), "--json"],
                               catch_exceptions=False)
        assert r.exit_code == code, r.output
    assert json.loads(r.output)["report"]["awaiting_witnesses"]["missing"] == [VECTORS["witnesses"]["names"][2]]
    r = CliRunner().invoke(cli, ["subject", doc["subject"], "--draw", doc["draw_id"], "--proof-file", str(f),
                                 "--log-key", LOG_KEY, "--witness-policy", str(pol)], catch_exceptions=False,
                           env={"DRAWVERIFY_LANG": "zh"})
    assert r.exit_code == 4 and r.output.startswith("等待见证") and "已被抽中" in r.output, r.output


def test_another_log_key_fails() -> None:
    """A proof signed by another log (or read with another pinned key) is not this log's."""
    import base64
    import hashlib

    from nacl.signing import SigningKey

    name = "fixture.example/log"
    pub = bytes(SigningKey(b"\x07" * 32).verify_key)
    kh = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
    other = name + "+" + kh.hex() + "+" + base64.b64encode(b"\x01" + pub).decode()
    report, _ = verify_subject_proof(copy.deepcopy(VECTORS["outputs"]["proofs"]["drawn"]), log_key=other)
    assert {"LOG_KEY_MISMATCH", "CHECKPOINT_SIGNATURE_INVALID"} <= report.codes()


def test_not_a_proof_is_unusable_input() -> None:
    with pytest.raises(ProofShapeError):
        verify_subject_proof({"format": "spotcheck-draw-bundle/2"})


def test_cli_proof_file(tmp_path: Path) -> None:
    for name, want in (("drawn", "已被抽中"), ("not_drawn", "未被抽中")):
        doc = VECTORS["outputs"]["proofs"][name]
        f = tmp_path / f"{name}.json"
        f.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        r = CliRunner().invoke(cli, ["subject", doc["subject"], "--draw", doc["draw_id"], "--proof-file", str(f),
                                     "--log-key", LOG_KEY])
        assert r.exit_code == 0, r.output
        assert want in r.output and "核验通过" in r.output
    bad = mutate(VECTORS["outputs"]["proofs"]["drawn"], VECTORS["mutations"][0])
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    r = CliRunner().invoke(cli, ["subject", bad["subject"], "--draw", bad["draw_id"], "--proof-file", str(f),
                                 "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["result"] == "failed"
    r = CliRunner().invoke(cli, ["subject", "91150222MA00000000", "--draw", bad["draw_id"], "--proof-file", str(f)])
    assert r.exit_code == 2 and "not 91150222MA00000000" in r.output


def _paths(x: Any, path: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if depth < 5 and isinstance(x, dict):
        for k, v in x.items():
            out += _paths(v, (*path, k), depth + 1)
    elif depth < 5 and isinstance(x, list) and x:
        out += _paths(x[0], (*path, 0), depth + 1)
        if len(x) > 1:
            out += _paths(x[-1], (*path, -1), depth + 1)
    return out


@pytest.mark.timeless
def test_wrong_types_anywhere_fail_or_are_unusable_never_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every member replaced by a value of another type: a FAILED report or ProofShapeError
    (CLI exit 2), never another exception, never VERIFIED (an empty list or object read as
    absent excepted). The drand round is verified once and remembered (its BLS pairing costs
    0.4 s; the value checked is the same each time)."""
    import verifier.subject_proof as sp

    seen: dict[Any, bytes] = {}
    real = sp.verify_round

    def remembered(chain: Any, rnd: int, sig: bytes, prev: bytes | None = None) -> bytes:
        k = (chain.chain_hash, rnd, sig, prev)
        if k not in seen:
            seen[k] = real(chain, rnd, sig, prev)
        return seen[k]

    monkeypatch.setattr(sp, "verify_round", remembered)
    base = VECTORS["outputs"]["proofs"]["drawn"]
    for path in _paths(base):
        for bad in (None, 7, "x"):
            doc = copy.deepcopy(base)
            at: Any = doc
            for k in path[:-1]:
                at = at[k]
            was = at[path[-1]]
            if was == bad or (not was and not bad):
                continue
            at[path[-1]] = bad
            try:
                report, _ = verify_subject_proof(doc, log_key=LOG_KEY)
            except ProofShapeError:
                continue
            assert report.verdict == "failed", (path, bad)
