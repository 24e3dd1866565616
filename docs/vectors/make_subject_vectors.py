"""Generate docs/vectors/subject-proof.json (docs/SPEC.md §D15): subject proof documents.

    .venv/bin/python docs/vectors/make_subject_vectors.py          # write the file
    .venv/bin/python docs/vectors/make_subject_vectors.py --check  # fail if it would change

Input: the published bundle kept in tests/verifier/fixtures/bundle-v1-published.json (a real
demo draw: drand quicknet round, dice, a witness, one inspector substitution; a
`spotcheck-draw/1` draw, so the vectors also show that evidence already handed out can be
checked one company at a time). Outputs: the proof of a drawn subject and of a subject not
drawn, each with its size in bytes (JCS); `drawn_witnessed`, the drawn subject's proof from the
same bundle as a service with a 2-of-3 witness quorum serves it (its `witness_policy` and two
witnesses' cosignatures on the checkpoint; the witnesses' keys are fixed seeds, so the file is
reproducible); and `mutations`: edits a dishonest service could make (or an honest checkpoint
not yet witnessed), each with the finding codes and the verdict a verifier must report. tests/draws/test_subject_proof.py
reproduces the file from the bundle; tests/verifier/test_vf_subject_proof.py verifies the
proofs and each mutation.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from nacl.signing import SigningKey  # noqa: E402

from drawsvc.draws.subject_proof import subject_proof_from_bundle  # noqa: E402
from ledger.canonical import canonical_bytes  # noqa: E402
from ledger.note import ALG_COSIGNATURE_V1, NoteVerifier, cosign  # noqa: E402

HERE = Path(__file__).resolve().parent
BUNDLE = ROOT / "tests" / "verifier" / "fixtures" / "bundle-v1-published.json"
OUT = HERE / "subject-proof.json"
#: three witnesses (fixed seeds: test keys, never deployed), k = 2; the first two cosign at these times
WITNESSES = [(f"witness-{c}.example/w", SigningKey(bytes([0x57, i]) * 16)) for i, c in enumerate("abc")]
COSIGNED_AT = [1_700_000_100, 1_700_000_200]


def witnessed(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle as a service with a 2-of-3 witness quorum serves it: the policy stated, and the
    checkpoint note carrying the first two witnesses' cosignatures (C2SP tlog-cosignature/v1)."""
    b = json.loads(json.dumps(bundle))
    b["witness_policy"] = {"k": 2, "witnesses": [NoteVerifier(n, bytes(sk.verify_key), ALG_COSIGNATURE_V1).encode()
                                                 for n, sk in WITNESSES]}
    note = b["log"]["checkpoint"]["note"]
    text = note.split("\n\n", 1)[0] + "\n"
    b["log"]["checkpoint"]["note"] = note + "".join(cosign(text, n, sk, t)
                                                    for (n, sk), t in zip(WITNESSES, COSIGNED_AT, strict=False))
    return b


def _without(note: str, name: str) -> str:
    return "".join(x for x in note.splitlines(keepends=True) if not x.startswith(f"\u2014 {name} "))


def _forged(note: str, name: str) -> str:
    """The witness's line with the last byte of its signature flipped."""
    out = []
    for x in note.splitlines(keepends=True):
        if x.startswith(f"\u2014 {name} "):
            raw = bytearray(base64.b64decode(x.split(" ")[2]))
            raw[-1] ^= 1
            x = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}\n"
        out.append(x)
    return "".join(out)


def pick(bundle: dict[str, Any]) -> dict[str, str]:
    """The first subject of the matching order (drawn) and the lowest id not drawn."""
    content = bundle["content"]
    drawn = content["matching"]["assignments"][0]["subject"]
    chosen = {x["id"] for s in content["strata"].values() for x in s["selected"]}
    not_drawn = min((r["id"] for r in bundle["pools"]["subjects"] if r["id"] not in chosen), key=str.encode)
    return {"drawn": drawn, "not_drawn": not_drawn}


def mutations(proofs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """`set` replaces the value at `path` (a list of keys / indexes), `delete` removes it."""
    d = proofs["drawn"]
    stratum = d["claim"]["stratum"]
    flip = lambda h: ("0" if h[0] != "0" else "1") + h[1:]  # noqa: E731
    team = d["claim"]["team"]["team"]
    other = next(r["id"] for r in d["matching_inputs"]["inspectors"] if r["id"] not in team)
    pub = next(i for i, w in enumerate(d["entries"]) if w["entry"]["type"] == "draw.published")
    out = [
        {"name": "tampered_record", "proof": "drawn", "op": "set", "path": ["member", "record", "name"],
         "value": d["member"]["record"]["name"] + "X", "codes": ["SUBJECT_NOT_IN_POOL"]},
        {"name": "tampered_stratum", "proof": "not_drawn", "op": "set", "path": ["member", "record", "stratum"],
         "value": "A" if proofs["not_drawn"]["member"]["record"]["stratum"] != "A" else "B",
         "codes": ["SUBJECT_NOT_IN_POOL"]},
        {"name": "wrong_proof", "proof": "drawn", "op": "set", "path": ["member", "proof", 0],
         "value": flip(d["member"]["proof"][0]), "codes": ["SUBJECT_NOT_IN_POOL"]},
        {"name": "wrong_index", "proof": "drawn", "op": "set", "path": ["member", "index"],
         "value": d["member"]["index"] + 1, "codes": ["SUBJECT_NOT_IN_POOL"]},
        {"name": "wrong_cutoff", "proof": "not_drawn", "op": "set", "path": ["claim", "cutoff", "ticket"],
         "value": "f" * 64, "codes": ["SUBJECT_CUTOFF_MISMATCH"]},
        {"name": "wrong_cutoff_in_content", "proof": "drawn", "op": "set",
         "path": ["content", "strata", stratum, "selected", -1, "ticket"],
         "value": "f" * 64, "codes": ["SEAL_MISMATCH"]},
        {"name": "wrong_k", "proof": "drawn", "op": "set", "path": ["claim", "k"], "value": d["claim"]["k"] + 1,
         "codes": ["SUBJECT_CUTOFF_MISMATCH"]},
        {"name": "wrong_ticket", "proof": "drawn", "op": "set", "path": ["claim", "ticket"],
         "value": flip(d["claim"]["ticket"]), "codes": ["SUBJECT_TICKET_MISMATCH"]},
        {"name": "wrong_team", "proof": "drawn", "op": "set", "path": ["claim", "team", "team", 0], "value": other,
         "codes": ["SUBJECT_TEAM_MISMATCH"]},
        {"name": "claimed_not_drawn_while_drawn", "proof": "drawn", "op": "set", "path": ["claim", "drawn"],
         "value": False, "codes": ["SUBJECT_DRAWN_MISMATCH"]},
        {"name": "claimed_drawn_while_not", "proof": "not_drawn", "op": "set", "path": ["claim", "drawn"],
         "value": True, "codes": ["SUBJECT_DRAWN_MISMATCH"]},
        {"name": "wrong_inspector_pool", "proof": "drawn", "op": "delete", "path": ["matching_inputs", "inspectors", 0],
         "codes": ["POOL_ROOT_MISMATCH"]},
        {"name": "entry_not_included", "proof": "drawn", "op": "set", "path": ["entries", 0, "inclusion_proof", 0],
         "value": "A" * 43 + "=", "codes": ["ENTRY_NOT_INCLUDED"]},
        {"name": "published_entry_left_out", "proof": "drawn", "op": "delete", "path": ["entries", pub],
         "codes": ["LIFECYCLE_INCOMPLETE"]},
    ]
    for m in out:
        m["verdict"] = "failed"
    w = proofs["drawn_witnessed"]
    note = w["log"]["checkpoint"]["note"]
    first, second = WITNESSES[0][0], WITNESSES[1][0]
    out += [
        # honest, but only one of the two needed cosignatures yet: not yet public, not tampering
        {"name": "witness_cosignature_not_yet", "proof": "drawn_witnessed", "op": "set",
         "path": ["log", "checkpoint", "note"], "value": _without(note, second), "codes": [],
         "verdict": "awaiting_witnesses"},
        {"name": "witness_cosignature_forged", "proof": "drawn_witnessed", "op": "set",
         "path": ["log", "checkpoint", "note"], "value": _forged(note, first), "codes": ["COSIGNATURE_INVALID"],
         "verdict": "failed"},
        {"name": "witness_policy_names_the_log", "proof": "drawn_witnessed", "op": "set",
         "path": ["witness_policy", "witnesses", 2], "value": _own_cosignature_key(w["log"]["verifier_key"]),
         "codes": ["WITNESS_POLICY_INVALID"], "verdict": "failed"},
    ]
    return out


def _own_cosignature_key(log_vkey: str) -> str:
    """The log's own cosignature key (SPEC §5): never a witness."""
    name, _, b64 = log_vkey.split("+", 2)
    return NoteVerifier(name, base64.b64decode(b64)[1:], ALG_COSIGNATURE_V1).encode()


def build() -> dict[str, Any]:
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    subjects = pick(bundle)
    proofs = {k: subject_proof_from_bundle(bundle, code) for k, code in subjects.items()}
    proofs["drawn_witnessed"] = subject_proof_from_bundle(witnessed(bundle), subjects["drawn"])
    return {
        "about": "Subject proof documents (spec §D15) from the published v1 demo bundle "
                 "tests/verifier/fixtures/bundle-v1-published.json (one also as a 2-of-3 witness quorum serves it), "
                 "their sizes, and mutations with the findings and the verdict each must give.",
        "inputs": {"bundle": str(BUNDLE.relative_to(ROOT)), "log_key": bundle["log"]["verifier_key"],
                   "subjects": subjects},
        "outputs": {"proofs": proofs, "bytes": {k: len(canonical_bytes(v)) for k, v in proofs.items()},
                    "bundle_bytes": len(canonical_bytes(bundle))},
        "witnesses": {"k": 2, "names": [n for n, _ in WITNESSES], "cosigned_at": COSIGNED_AT},
        "mutations": mutations(proofs),
    }


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=1) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT.name} would change", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
