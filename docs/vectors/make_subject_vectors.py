"""Generate docs/vectors/subject-proof.json (docs/SPEC.md §D15): subject proof documents.

    .venv/bin/python docs/vectors/make_subject_vectors.py          # write the file
    .venv/bin/python docs/vectors/make_subject_vectors.py --check  # fail if it would change

Input: the published bundle kept in tests/verifier/fixtures/bundle-v1-published.json (a real
demo draw: drand quicknet round, dice, a witness, one inspector substitution; a
`spotcheck-draw/1` draw, so the vectors also show that evidence already handed out can be
checked one company at a time). Outputs: the proof of a drawn subject and of a subject not
drawn, each with its size in bytes (JCS), and `mutations`: edits a dishonest service could
make, each with the finding codes a verifier must report. tests/draws/test_subject_proof.py
reproduces the file from the bundle; tests/verifier/test_vf_subject_proof.py verifies the
proofs and each mutation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from drawsvc.draws.subject_proof import subject_proof_from_bundle  # noqa: E402
from ledger.canonical import canonical_bytes  # noqa: E402

HERE = Path(__file__).resolve().parent
BUNDLE = ROOT / "tests" / "verifier" / "fixtures" / "bundle-v1-published.json"
OUT = HERE / "subject-proof.json"


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
    return [
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


def build() -> dict[str, Any]:
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    subjects = pick(bundle)
    proofs = {k: subject_proof_from_bundle(bundle, code) for k, code in subjects.items()}
    return {
        "about": "Subject proof documents (spec §D15) from the published v1 demo bundle "
                 "tests/verifier/fixtures/bundle-v1-published.json, their sizes, and mutations with the findings "
                 "each must raise.",
        "inputs": {"bundle": str(BUNDLE.relative_to(ROOT)), "log_key": bundle["log"]["verifier_key"],
                   "subjects": subjects},
        "outputs": {"proofs": proofs, "bytes": {k: len(canonical_bytes(v)) for k, v in proofs.items()},
                    "bundle_bytes": len(canonical_bytes(bundle))},
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
