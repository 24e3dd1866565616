"""等待见证 on the command line: `--witness-policy FILE` on `drawverify log` / `checkpoint` /
`bundle`; an honest checkpoint with fewer than k valid cosignatures is awaiting witnesses
(exit 4, naming who is missing and how many more), cosigned by k it is VERIFIED (exit 0), a
forged cosignature is FAILED (exit 1), and a file that is not a policy is exit 2."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from nacl.signing import SigningKey
from vf_logkit import honest_log, vkey

from verifier.cli import cli
from verifier.note import cosign

T = 1_800_000_000


def invoke(*args: str, lang: str = "en") -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"DRAWVERIFY_LANG": lang})


def setup(tmp_path: Path, k: int = 2) -> tuple[Any, list[SigningKey], list[str], Path]:
    lm = honest_log(3)
    sks = [SigningKey(bytes([i + 1]) * 32) for i in range(3)]
    names = [f"w{i}.example/witness" for i in range(3)]
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"k": k, "witnesses": [vkey(n, sk, alg=4) for n, sk in zip(names, sks, strict=True)]}))
    return lm, sks, names, policy


def cosigned(lm: Any, sks: list[SigningKey], names: list[str], which: list[int]) -> str:
    cp = lm.checkpoint()
    text = cp.split("\n\n")[0] + "\n"
    return cp + "".join(cosign(text, names[i], sks[i], T + i).line() for i in which)


def check(tmp_path: Path, lm: Any, note: str, policy: Path, *extra: str, lang: str = "en") -> Any:
    f = tmp_path / "cp.note"
    f.write_text(note)
    return invoke("checkpoint", str(f), "--log-key", vkey(lm.origin, lm.log_sk), "--witness-policy", str(policy),
                  *extra, lang=lang)


def test_checkpoint_cosigned_by_k_is_verified(tmp_path: Path) -> None:
    lm, sks, names, policy = setup(tmp_path)
    r = check(tmp_path, lm, cosigned(lm, sks, names, [0, 2]), policy, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["result"] == "verified"


def test_honest_checkpoint_short_of_k_awaits_witnesses(tmp_path: Path) -> None:
    lm, sks, names, policy = setup(tmp_path)
    r = check(tmp_path, lm, cosigned(lm, sks, names, [1]), policy, "--json")
    assert r.exit_code == 4, r.output
    rep = json.loads(r.output)
    assert rep["result"] == "awaiting_witnesses"
    assert rep["awaiting_witnesses"]["more_needed"] == 1 and rep["awaiting_witnesses"]["missing"] == [names[0], names[2]]
    assert not [f for c in rep["checks"] for f in c["findings"]]
    zh = check(tmp_path, lm, cosigned(lm, sks, names, []), policy, lang="zh")
    assert zh.exit_code == 4 and "等待见证" in zh.output and "还需要 2 个" in zh.output, zh.output
    assert all(n in zh.output for n in names)
    en = check(tmp_path, lm, cosigned(lm, sks, names, []), policy)
    assert "AWAITING WITNESSES" in en.output and "2 more" in en.output, en.output


def test_forged_cosignature_fails_even_when_short_of_k(tmp_path: Path) -> None:
    lm, sks, names, policy = setup(tmp_path)
    note = cosigned(lm, sks, names, [0])
    line = note.splitlines()[-1]
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[-1] ^= 1
    forged = note.replace(line, f"{line.split(' ')[0]} {names[0]} {base64.b64encode(bytes(raw)).decode()}")
    r = check(tmp_path, lm, forged, policy, "--json")
    assert r.exit_code == 1, r.output
    assert "COSIGNATURE_INVALID" in r.output


def test_no_policy_says_not_checked(tmp_path: Path) -> None:
    lm, sks, names, _ = setup(tmp_path)
    f = tmp_path / "cp.note"
    f.write_text(cosigned(lm, sks, names, []))
    r = invoke("checkpoint", str(f), "--log-key", vkey(lm.origin, lm.log_sk), "--json")
    assert r.exit_code == 0
    wit = next(c for c in json.loads(r.output)["checks"] if c["name"] == "witnesses")
    assert wit["status"] == "not_checked" and "no witness policy given" in wit["reason"]


def test_log_with_a_witness_policy(tmp_path: Path) -> None:
    lm, sks, names, policy = setup(tmp_path)
    for which, code in (([0, 1], 0), ([2], 4), ([], 4)):
        b = tmp_path / "log.json"
        b.write_text(json.dumps({"entries": lm.entries, "checkpoints": [cosigned(lm, sks, names, which)]}))
        r = invoke("log", "--file", str(b), "--log-key", vkey(lm.origin, lm.log_sk), "--witness-policy", str(policy),
                   "--json")
        assert r.exit_code == code, r.output
    assert json.loads(r.output)["awaiting_witnesses"]["more_needed"] == 2


def test_a_bad_policy_file_is_exit_2(tmp_path: Path) -> None:
    lm, sks, names, policy = setup(tmp_path)
    keys = json.loads(policy.read_text())["witnesses"]
    for bad in ("not json", json.dumps({"k": 4, "witnesses": keys}), json.dumps({"k": 1, "witnesses": [keys[0]] * 2}),
                json.dumps({"k": 1, "witnesses": [vkey(lm.origin, lm.log_sk)]}), json.dumps([1])):
        policy.write_text(bad)
        r = check(tmp_path, lm, cosigned(lm, sks, names, []), policy)
        assert r.exit_code == 2 and "--witness-policy" in r.output, (bad, r.output)
    r = check(tmp_path, lm, cosigned(lm, sks, names, []), policy, "--witness", keys[0])
    assert r.exit_code == 2
