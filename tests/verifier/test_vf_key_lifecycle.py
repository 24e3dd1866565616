"""SPEC §3 items 7-10 from the vector text (docs/vectors/log-v1.json `key_lifecycle`): a verifier given
only the genesis log key and one witness key follows the witness's rotation and revocation and the
log key's revocation, and refuses what a revoked key signs afterwards — by name."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from verifier.log import LogOptions, verify_log

V = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "log-v1.json").read_text(encoding="utf-8"))
KL = V["key_lifecycle"]
ENTRIES = [e["entry"] for e in V["entries"]] + [e["entry"] for e in KL["entries"]]
LEAVES = [e["leaf_b64"] for e in V["entries"]] + [e["leaf_b64"] for e in KL["entries"]]
LOG_KEY = V["keys"]["log"]["verifier_key"]  # the genesis key: the only log key the verifier is given
WITNESS = V["keys"]["witness"]["verifier_key"]  # the policy names the witness's first key only


def opts(**kw: object) -> LogOptions:
    return LogOptions(log_key=LOG_KEY, witnesses=[WITNESS], min_witnesses=1, **kw)  # type: ignore[arg-type]


def notes(*sizes: int) -> list[str]:
    return [c["note"] for c in KL["checkpoints"] if c["size"] in sizes]


def test_leaves_are_the_entries_canonical_bytes() -> None:
    import base64

    raw = [base64.b64decode(x) for x in LEAVES]
    rep = verify_log(raw, notes(10, 12, 15), options=opts())
    assert "WITNESS_KEY_REVOKED" in rep.codes()
    assert rep.checks["canonical"].status == "passed"


@pytest.mark.parametrize("cp", KL["checkpoints"], ids=lambda c: f"size{c['size']}")
def test_each_checkpoint_counts_the_witness_key_in_force(cp: dict) -> None:
    rep = verify_log(ENTRIES, [cp["note"]], options=opts())
    assert rep.info.get("cosigned_by") == cp["cosigned_by"], rep.to_text()
    refused = sorted((f.code, f.actual) for f in rep.findings if f.code.startswith("WITNESS_KEY_"))
    assert refused == sorted(tuple(x) for x in cp["refused"]), rep.to_text()
    others = rep.codes() - {"WITNESS_KEY_REVOKED", "WITNESS_KEY_RETIRED", "WITNESS_QUORUM_NOT_MET"}
    assert not others, rep.to_text()
    # fewer valid cosignatures than k is awaiting witnesses; a refused (revoked / retired) one fails
    want = "failed" if cp["refused"] else "awaiting_witnesses" if not cp["cosigned_by"] else "verified"
    assert rep.verdict == want, rep.to_text()
    assert (rep.awaiting is not None) == (not cp["cosigned_by"])


def test_log_follows_the_log_key_revocation_from_the_genesis_key() -> None:
    rep = verify_log(ENTRIES, notes(10, 12, 15), options=LogOptions(log_key=LOG_KEY))
    assert rep.ok, rep.to_text()
    assert rep.checks["checkpoints"].detail == "3 of 3 checkpoints validly signed"
    revoked = rep.info["revoked_keys"]
    assert any(KL["keys"]["operator_2"]["key_id"] in x and "seq 11" in x for x in revoked)
    assert any("seq 13" in x for x in revoked) and len(rep.info["witness_keys"]) == 2
    assert any(KL["keys"]["log_after_revocation"]["verifier_key"] in k for k in rep.info["log_keys"])


def test_checkpoint_by_the_revoked_log_key_is_refused_by_name() -> None:
    bad = KL["refused"]["checkpoint_by_revoked_log_key"]
    rep = verify_log(ENTRIES, [bad["note"]], options=LogOptions(log_key=LOG_KEY))
    assert bad["code"] in rep.codes(), rep.to_text()


def test_entry_by_a_revoked_key_is_refused_even_backdated() -> None:
    bad = KL["refused"]["entry_by_revoked_key"]
    rep = verify_log([*ENTRIES, bad["entry"]], options=LogOptions(log_key=LOG_KEY))
    assert sorted(rep.codes()) == bad["codes"], rep.to_text()
    f = next(f for f in rep.findings if f.code == "REVOKED_KEY")
    assert f.seq == bad["entry"]["seq"]


def test_entries_before_the_revocation_stay_valid() -> None:
    """The revoked key's entry at seq 9 came before the revocation at seq 11: still valid."""
    rep = verify_log(ENTRIES[:11], options=LogOptions(log_key=LOG_KEY))
    assert rep.ok, rep.to_text()


def test_parallel_workers_agree() -> None:
    """Worker processes replay the revocation from the main process's key events."""
    bad = KL["refused"]["entry_by_revoked_key"]
    rep = verify_log([*ENTRIES, bad["entry"]], options=LogOptions(log_key=LOG_KEY, parallel=True, workers=2))
    assert "REVOKED_KEY" in rep.codes()


def _mutate(seq: int, change: dict) -> list[dict]:
    out = copy.deepcopy(ENTRIES)
    out[seq]["payload"].update(change)
    return out


@pytest.mark.parametrize(("seq", "change", "code"), [
    (11, {"actor_id": "system"}, "ENTRY_SIGNATURE_INVALID"),  # payload changed: the system signature fails
    (10, {"old_key_sig": KL["entries"][3]["entry"]["payload"]["new_key_sig"]}, "ENTRY_SIGNATURE_INVALID"),
])
def test_tampered_key_entries_are_not_applied(seq: int, change: dict, code: str) -> None:
    rep = verify_log(_mutate(seq, change), options=LogOptions(log_key=LOG_KEY))
    assert code in rep.codes()


def test_a_rotation_the_witness_did_not_sign_is_refused() -> None:
    """The operator cannot swap a witness's key for its own: the old witness key must sign the rotation."""
    import base64

    from nacl.signing import SigningKey

    from ledger.canonical import canonical_bytes  # the test builds a hostile log with the server's encoder
    from ledger.entry import make_entry, parse_time
    from ledger.note import ALG_COSIGNATURE_V1, NoteVerifier

    system = SigningKey(base64.b64decode(V["keys"]["system"]["seed"]))
    mine = SigningKey(bytes(32))
    base = ENTRIES[:10]
    stmt = {"name": "witness.example", "old_verifier_key": WITNESS,
            "new_verifier_key": NoteVerifier("witness.example", bytes(mine.verify_key), ALG_COSIGNATURE_V1).encode()}
    sig = base64.b64encode(mine.sign(canonical_bytes(stmt)).signature).decode()
    stmt = {**stmt, "old_key_sig": sig, "new_key_sig": sig}
    from ledger import merkle
    from ledger.entry import Entry

    prev = merkle.leaf_hash(Entry.from_json(base[-1]).leaf()).hex()
    e = make_entry(seq=10, moment=parse_time(ENTRIES[10]["time"]), entry_type="witness.key.rotated",
                   actor_id="system", signing_key=system, payload=stmt, prev=prev)
    rep = verify_log([*base, e.to_json()], options=LogOptions(log_key=LOG_KEY))
    assert "NEW_KEY_SIG_INVALID" in rep.codes(), rep.to_text()


def test_drawverify_witness_rotate_statement(tmp_path: Path) -> None:
    """The witness's side of §3 item 9: both of its keys sign the statement the operator logs."""
    import base64

    from click.testing import CliRunner

    from verifier.canonical import jcs
    from verifier.cli import cli
    from verifier.note import parse_verifier_key
    from verifier.parallel import ed25519_ok

    runner = CliRunner()
    for name, file in (("notary", "old.key"), ("notary", "new.key"), ("other", "other.key")):
        assert runner.invoke(cli, ["keygen", "--name", name, "--out", str(tmp_path / file)]).exit_code == 0
    res = runner.invoke(cli, ["witness-rotate", "--key", str(tmp_path / "old.key"), "--new-key", str(tmp_path / "new.key")])
    assert res.exit_code == 0, res.output
    stmt = json.loads(res.output)
    assert stmt["old_verifier_key"] == (tmp_path / "old.key.pub").read_text().strip()
    body = jcs({k: stmt[k] for k in ("name", "old_verifier_key", "new_verifier_key")})
    for key, sig in (("old_verifier_key", "old_key_sig"), ("new_verifier_key", "new_key_sig")):
        assert ed25519_ok(body, base64.b64decode(stmt[sig]), parse_verifier_key(stmt[key]).public_key)
    bad = runner.invoke(cli, ["witness-rotate", "--key", str(tmp_path / "old.key"), "--new-key",
                              str(tmp_path / "other.key")])
    assert bad.exit_code == 2 and "keeps its name" in bad.output
    same = runner.invoke(cli, ["witness-rotate", "--key", str(tmp_path / "old.key"), "--new-key",
                               str(tmp_path / "old.key")])
    assert same.exit_code == 2


def test_a_name_registered_again_is_not_the_policy_witness() -> None:
    """The attack: the operator revokes the honest witness and registers the same name with a key of
    its own. A verifier holding the witness's first key follows rotations only — never the name."""
    import base64

    from nacl.signing import SigningKey

    from ledger import merkle
    from ledger.checkpoint import Checkpoint
    from ledger.entry import make_entry, parse_time
    from ledger.note import ALG_COSIGNATURE_V1, NoteSigner, NoteVerifier, cosign, sign_note

    system = SigningKey(base64.b64decode(V["keys"]["system"]["seed"]))
    log_key = SigningKey(base64.b64decode(KL["keys"]["log_after_revocation"]["seed"]))
    mine = SigningKey(bytes(range(7, 39)))
    entries = [e for e in ENTRIES]
    payload = {"name": "witness.example",
               "verifier_key": NoteVerifier("witness.example", bytes(mine.verify_key), ALG_COSIGNATURE_V1).encode()}
    from ledger.entry import Entry

    prev = Entry.from_json(entries[-1]).leaf_hash().hex()
    e = make_entry(seq=len(entries), moment=parse_time(entries[-1]["time"]), entry_type="witness.key.registered",
                   actor_id="system", signing_key=system, payload=payload, prev=prev)
    entries.append(e.to_json())
    hashes = [Entry.from_json(x).leaf_hash() for x in entries]
    text = Checkpoint(V["origin"], len(entries), merkle.root_from_leaf_hashes(hashes)).body()
    note = sign_note(text, [NoteSigner(V["origin"], log_key)]) + cosign(text, "witness.example", mine, 1_800_000_000)
    rep = verify_log(entries, [note], options=opts())
    assert rep.checks["keys"].status == "passed", rep.to_text()  # the re-registration itself is lawful
    assert rep.info.get("cosigned_by") == [] and rep.verdict == "awaiting_witnesses", rep.to_text()
