"""The drawverify command: exit codes, bundles, a live (fake) server, the witness and a split view."""

import base64
import json

import pytest
import rfc8785
from click.testing import CliRunner
from vf_logkit import b64, honest_log, lh, serve_fake_log, sign_entry, vkey

from verifier.cli import cli
from verifier.merkle import consistency_proof, inclusion_proof


def invoke(*args):
    """drawverify in English (these tests read its English words; test_vf_words checks the Chinese)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"DRAWVERIFY_LANG": "en"})


class FakeLog:
    """Serves the decisions-file JSON API from a LogMaker; ``view`` can be swapped to fork."""

    def __init__(self, lm):
        self.lm = lm
        self.entries = lm.entries
        self.cosignatures: list[str] = []

    def leaves(self):
        return [rfc8785.dumps(e) for e in self.entries]

    def handle(self, path, q):
        hs = [lh(x) for x in self.leaves()]
        if path == "/checkpoint":
            return 200, self.lm.checkpoint(leaves=self.leaves()) + "".join(self.cosignatures), "text/plain"
        if path == "/api/v1/log/key":
            return 200, {"origin": self.lm.origin, "verifier_key": vkey(self.lm.origin, self.lm.log_sk),
                         "public_key": b64(bytes(self.lm.log_sk.verify_key)), "history": []}, None
        if path == "/api/v1/log/entries":
            s, e = int(q["start"][0]), int(q["end"][0])
            return 200, {"entries": self.entries[s:min(e, s + 1000)]}, None
        if path == "/api/v1/log/proof/consistency":
            o, n = int(q["old"][0]), int(q["new"][0])
            return 200, {"old": o, "new": n, "proof": [b64(p) for p in consistency_proof(hs[:n], o)]}, None
        if path == "/api/v1/log/proof/inclusion":
            i, n = int(q["index"][0]), int(q["size"][0])
            return 200, {"index": i, "size": n, "proof": [b64(p) for p in inclusion_proof(hs[:n], i)]}, None
        return 404, {"error": "not found"}, None


@pytest.fixture
def server():
    yield from serve_fake_log()


def test_bundle_honest_and_tampered(tmp_path):
    lm = honest_log()
    f = tmp_path / "log.json"
    f.write_text(json.dumps(lm.bundle()))
    r = invoke("log", "--file", str(f))
    assert r.exit_code == 0, r.output
    assert "VERIFIED" in r.output
    r = invoke("log", "--file", str(f), "--json")
    doc = json.loads(r.output)
    assert doc["result"] == "verified"
    entries = lm.copy_entries()
    entries[4]["payload"]["idx"] = -1
    f.write_text(json.dumps(lm.bundle(leaves=lm.leaves(entries))))
    r = invoke("log", "--file", str(f), "--json")
    assert r.exit_code == 1
    found = [x for c in json.loads(r.output)["checks"] for x in c["findings"]]
    sig = next(x for x in found if x["code"] == "ENTRY_SIGNATURE_INVALID")
    assert sig["seq"] == 4 and sig["where"] == "seq 4" and sig["expected"] and sig["actual"]


def test_unusable_input_exit_2(tmp_path):
    assert invoke("log", "--file", str(tmp_path / "missing.json")).exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = invoke("log", "--file", str(bad))
    assert r.exit_code == 2 and "not JSON" in r.output
    bad.write_text('{"leaves": ["***"]}')
    assert invoke("log", "--file", str(bad)).exit_code == 2
    r = invoke("log", "--server", "http://127.0.0.1:9")
    assert r.exit_code == 2 and "cannot reach" in r.output
    assert invoke("log").exit_code == 2


def test_live_server_honest_and_tampered(server):
    lm = honest_log()
    server["log"] = FakeLog(lm)
    r = invoke("log", "--server", server["url"], "--log-key", vkey(lm.origin, lm.log_sk), "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "[PASS] inclusion proofs" in r.output
    # The server edits an entry but keeps serving the old checkpoint.
    fl = FakeLog(lm)
    fl.entries = lm.copy_entries()
    fl.entries[3]["payload"]["idx"] = 42
    cp = lm.checkpoint()
    fl.handle_orig = fl.handle
    fl.handle = lambda p, q: (200, cp, "text/plain") if p == "/checkpoint" else fl.handle_orig(p, q)
    server["log"] = fl
    r = invoke("log", "--server", server["url"])
    assert r.exit_code == 1
    assert "ENTRY_SIGNATURE_INVALID" in r.output and "ROOT_MISMATCH" in r.output


def test_checkpoint_command(tmp_path):
    lm = honest_log()
    old = tmp_path / "old.cp"
    old.write_text(lm.checkpoint(size=5))
    new = tmp_path / "new.cp"
    new.write_text(lm.checkpoint())
    hs = [lh(x) for x in lm.leaves()]
    proof = tmp_path / "p.json"
    proof.write_text(json.dumps({"proof": [b64(p) for p in consistency_proof(hs, 5)]}))
    key = vkey(lm.origin, lm.log_sk)
    assert invoke("checkpoint", str(new), "--log-key", key).exit_code == 0
    r = invoke("checkpoint", str(new), "--log-key", key, "--old", str(old), "--proof", str(proof))
    assert r.exit_code == 0, r.output
    proof.write_text(json.dumps({"proof": [b64(b"\x01" * 32)]}))
    r = invoke("checkpoint", str(new), "--log-key", key, "--old", str(old), "--proof", str(proof))
    assert r.exit_code == 1 and "INCONSISTENT_CHECKPOINTS" in r.output
    r = invoke("checkpoint", str(new), "--log-key", vkey(lm.origin, __import__("nacl.signing").signing.SigningKey.generate()))
    assert r.exit_code == 1 and "CHECKPOINT_SIGNATURE_INVALID" in r.output


def test_keygen(tmp_path):
    r = invoke("keygen", "--name", "w.example/w1", "--out", str(tmp_path / "w.key"))
    assert r.exit_code == 0
    assert r.output.startswith("w.example/w1+")
    assert (tmp_path / "w.key").stat().st_mode & 0o077 == 0
    assert invoke("keygen", "--name", "w.example/w1", "--out", str(tmp_path / "w.key")).exit_code == 2


def test_witness_cosigns_extensions_and_refuses_a_split_view(server, tmp_path):
    """The split-view attack: the log shows the witness one history, then another."""
    lm = honest_log()
    server["log"] = FakeLog(lm)
    key = tmp_path / "w.key"
    wvk = invoke("keygen", "--name", "w.example/w1", "--out", str(key)).output.strip()
    state = tmp_path / "state"
    args = ["witness", "--server", server["url"], "--state", str(state), "--key", str(key), "--once"]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert server["posted"][0][0].startswith("text/plain")
    # The served checkpoint now carries the cosignature, and it verifies.
    cp_file = tmp_path / "cp"
    cp_file.write_text(server["log"].handle("/checkpoint", {})[1])
    r = invoke("checkpoint", str(cp_file), "--log-key", vkey(lm.origin, lm.log_sk), "--witness", wvk)
    assert r.exit_code == 0, r.output
    # An honest extension is cosigned.
    lm.event("operator:alice", idx=500)
    server["log"].cosignatures.clear()
    assert invoke(*args).exit_code == 0
    assert len(server["posted"]) == 2
    # A fork: entry 3 rewritten and the chain re-signed, more entries on top.
    forked = lm.copy_entries()
    forked[3]["payload"]["idx"] = 666
    for i in range(3, len(forked)):
        forked[i]["prev"] = lh(rfc8785.dumps(forked[i - 1])).hex()
        forked[i] = sign_entry(forked[i], lm.actors[forked[i]["actor"]["id"]])
    fl = FakeLog(lm)
    fl.entries = forked + [sign_entry({**forked[-1], "seq": len(forked),
                                       "prev": lh(rfc8785.dumps(forked[-1])).hex()}, lm.actors["operator:alice"])]
    server["log"] = fl
    r = invoke(*args)
    assert r.exit_code == 1
    assert "WITNESS REFUSES" in r.output and "FORK" in r.output
    ev = list((state / "evidence").iterdir())
    assert len(ev) == 1
    assert (ev[0] / "seen.checkpoint").read_text() != (ev[0] / "offered.checkpoint").read_text()
    assert len(server["posted"]) == 2  # nothing cosigned for the fork
    # Rollback to a smaller size is refused too.
    fl.entries = lm.entries[:5]
    assert invoke(*args).exit_code == 1


def test_draw_commands_unusable_input():
    r = invoke("draw")
    assert r.exit_code == 2  # missing --server / --id
    r = invoke("bundle", "/nonexistent/bundle.json")
    assert r.exit_code == 2 and "cannot read" in r.output
    _ = base64
