"""Generate the draw test vectors docs/vectors/draw-*.json (docs/SPEC.md §D10).

    .venv/bin/python docs/vectors/make_draw_vectors.py          # write the files
    .venv/bin/python docs/vectors/make_draw_vectors.py --check  # fail if they would change

Each vector is {"about", "inputs", "outputs"}. Every input is fixed here (no randomness: salts
and nonces are SHA-256 of a label), drand rounds are the real ones from
docs/vectors/drand-rounds.json (a copy of the project's recorded rounds, identical to the
service's drawsvc/data/drand_networks.json). tests/draw/test_draw_vectors.py feeds "inputs" to compute_*() and
checks every field of "outputs".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from drawsvc.draw import pool as poolmod  # noqa: E402
from drawsvc.draw import seed as seedmod  # noqa: E402
from drawsvc.draw.codec import ALGORITHM_V2  # noqa: E402
from drawsvc.draw.drand import chain_from_json, chain_info_hash, round_message, round_time  # noqa: E402
from drawsvc.draw.lottery import rfc3797_encode  # noqa: E402
from drawsvc.draw.matching import Inspector, TeamRule, candidate_order, candidates  # noqa: E402
from drawsvc.draw.run import run_draw, strata_of  # noqa: E402
from drawsvc.draw.seal import seal as seal_commitment  # noqa: E402
from drawsvc.draw.selection import removed_report  # noqa: E402
from drawsvc.draw.substitution import substitute_inspector, substitute_subject, swap_targets  # noqa: E402
from drawsvc.draw.tickets import order_block, subject_ticket  # noqa: E402

HERE = Path(__file__).resolve().parent
DRAND_FILE = HERE / "drand-rounds.json"  # the recorded real rounds (= drawsvc/data/drand_networks.json)


def label(text: str) -> str:
    """A fixed 32-byte value (hex) from a label: how vectors get 'random' bytes."""
    return hashlib.sha256(text.encode()).hexdigest()


def drand_data() -> dict[str, Any]:
    return json.loads(DRAND_FILE.read_text())


def chains() -> dict[str, Any]:
    return {c["chain_hash"]: chain_from_json(c) for c in drand_data()["chains"].values()}


# --- seed ----------------------------------------------------------------------------


def seed_inputs() -> dict[str, Any]:
    qn = drand_data()["chains"]["quicknet"]
    rnd = next(r for r in qn["rounds"] if r["round"] == 123)
    nonce = label("vector server nonce")
    contribution = label("vector witness 1 contribution")[:48]  # 24 bytes
    return {
        "prepared_leaf_hash": label("vector prepared entry"),
        "prepared_unix": round_time(chain_from_json(qn), 123) - 10,
        "recipe": {
            "nonce_commitment": seedmod.nonce_commitment(bytes.fromhex(nonce)).hex(),
            "sources": [
                {"type": "server_nonce"},
                {"type": "drand", "chain_hash": qn["chain_hash"], "round": 123},
                {"type": "dice", "min_digits": 20},
                {"type": "lottery", "name": "中国福利彩票双色球", "period": "2026123"},
                {"type": "witness", "witness": "witness:zhang-wei",
                 "commitment": seedmod.contribution_commitment(bytes.fromhex(contribution)).hex()},
            ],
        },
        "reveals": [
            {"type": "server_nonce", "nonce": nonce},
            {"type": "drand", "chain_hash": qn["chain_hash"], "round": 123,
             "signature": rnd["signature"], "randomness": rnd["randomness"]},
            {"type": "dice", "digits": "31415926535897932384626"},
            {"type": "lottery", "groups": [[31, 3, 18, 9, 25, 12], [7]]},
            {"type": "witness", "witness": "witness:zhang-wei", "contribution": contribution},
        ],
    }


def compute_seed(inp: dict[str, Any]) -> dict[str, Any]:
    seedmod.check_recipe(inp["recipe"], chains(), inp["prepared_unix"])
    res = seedmod.derive_seed(bytes.fromhex(inp["prepared_leaf_hash"]), inp["recipe"], inp["reveals"], chains())
    local = {"nonce_commitment": inp["recipe"]["nonce_commitment"],
             "sources": [s for s in inp["recipe"]["sources"] if s["type"] != "drand"]}
    local_reveals = [r for r in inp["reveals"] if r["type"] != "drand"]
    res_local = seedmod.derive_seed(bytes.fromhex(inp["prepared_leaf_hash"]), local, local_reveals)
    return {
        "rfc3797_lottery": rfc3797_encode(inp["reveals"][3]["groups"]),
        "encoded_sources": [e.hex() for e in res.encoded_sources],
        "seed": res.seed.hex(),
        "seed_without_drand": res_local.seed.hex(),
    }


# --- pools, selection --------------------------------------------------------------

STRATA_SPLIT = {"A": 20, "B": 10, "C": 6, "D": 4}


def subject_id(i: int) -> str:
    """Synthetic 18-character credit-code-like ids (not checksummed)."""
    return f"9111010100000{i:04d}X"


def selection_inputs() -> dict[str, Any]:
    records, i = [], 0
    for stratum, n in STRATA_SPLIT.items():
        for _ in range(n):
            records.append({"id": subject_id(i), "name": f"企业{i:02d}", "stratum": stratum})
            i += 1
    excluded = [
        {"id": subject_id(90), "stratum": "C", "reason": "frequency_cap"},
        {"id": subject_id(91), "stratum": "A", "reason": "exempt_trusted"},
        {"id": subject_id(92), "stratum": "D", "reason": "checked_by_other_unit"},
    ]
    return {
        "seed": compute_seed(seed_inputs())["seed"],
        "pool": records,
        "excluded": excluded,
        "ratios": {"A": "0.05", "B": "0.2", "C": "0.5", "D": "0.5"},
        "floor": "0.05",
        "key_item": False,
        "proof_member": subject_id(21),
    }


def compute_pool(inp: dict[str, Any]) -> dict[str, Any]:
    c = poolmod.commit_pool(inp["pool"], "subjects")
    ex = poolmod.commit_pool(inp["excluded"], "excluded")
    proof = poolmod.member_proof(inp["pool"], inp["proof_member"], "subjects")
    return {"pool_commitment": c.to_json(), "excluded_commitment": ex.to_json(),
            "leaf_of_member": poolmod.canonical_bytes(dict(proof.record)).decode("utf-8"),
            "member_proof": proof.to_json()}


def inspectors_inputs() -> dict[str, Any]:
    recs = []
    for i in range(8):
        recs.append({"id": f"insp:market-{i:02d}", "department": "market",
                     "qualifications": ["food"] if i != 5 else [],
                     "cert_valid_from": "2024-01-01", "cert_valid_until": "2027-12-31" if i != 3 else "2026-03-31",
                     "max_assignments": None})
    for i in range(4):
        recs.append({"id": f"insp:health-{i:02d}", "department": "health", "qualifications": ["food"],
                     "cert_valid_from": "2024-01-01", "cert_valid_until": "2027-12-31", "max_assignments": None})
    recs.append({"id": "insp:fire-00", "department": "fire", "qualifications": ["food"],
                 "cert_valid_from": "2024-01-01", "cert_valid_until": "2027-12-31", "max_assignments": None})
    experts = [{"id": f"expert:{i:02d}", "field": "food-lab", "qualifications": ["food-lab"] if i != 1 else ["civil"]}
               for i in range(4)]
    return {
        "inspectors": recs,
        "experts": experts,
        "rule": {"draw_date": "2026-06-01", "departments": ["market", "health"], "team_size": 3,
                 "qualification": "food", "max_assignments": 4, "experts": 1, "expert_field": "food-lab"},
        "conflicts": _conflicts(recs, experts),
        "prior_load": {"insp:market-04": 3, "insp:health-01": 4},
    }


def _conflicts(recs: list[dict[str, Any]], experts: list[dict[str, Any]]) -> list[list[str]]:
    """Declared conflicts chosen so that the vector shows conflict_declared skips: the first
    candidate of the 2nd subject in matching order, and the first expert of the 3rd."""
    from drawsvc.draw.rules import stratum_sizes
    from drawsvc.draw.selection import draw_subjects

    sel = selection_inputs()
    seed = bytes.fromhex(sel["seed"])
    strata = strata_of(sel["pool"])
    sizes = stratum_sizes({k: len(v) for k, v in strata.items()}, sel["ratios"], sel["floor"])
    order = draw_subjects(seed, strata, sizes).matching_order
    rule = make_rule({"draw_date": "2026-06-01", "departments": ["market", "health"], "team_size": 3,
                      "qualification": "food", "experts": 1, "expert_field": "food-lab"})
    cands, _ = candidates([Inspector.from_record(r) for r in recs], rule)
    ecands, _ = candidates([Inspector.from_record(r) for r in experts], rule, expert=True)
    first = cands[candidate_order(seed, order[1], cands)[0]].id
    efirst = ecands[candidate_order(seed, order[2], ecands, expert=True)[0]].id
    return [[first, order[1]], [efirst, order[2]], ["insp:market-00", subject_id(39)]]


def make_rule(r: dict[str, Any]) -> TeamRule:
    return TeamRule(draw_date=r["draw_date"], departments=tuple(r["departments"]), team_size=r["team_size"],
                    qualification=r.get("qualification"), max_assignments=r.get("max_assignments"),
                    experts=r.get("experts", 0), expert_field=r.get("expert_field"))


def compute_draw(sel: dict[str, Any], ins: dict[str, Any]) -> dict[str, Any]:
    seed = bytes.fromhex(sel["seed"])
    inspectors = [Inspector.from_record(r) for r in ins["inspectors"]]
    experts = [Inspector.from_record(r) for r in ins["experts"]]
    rule = make_rule(ins["rule"])
    conflicts = [tuple(c) for c in ins["conflicts"]]
    result = run_draw(seed, strata_of(sel["pool"]), sel["ratios"], inspectors, rule, floor=sel["floor"],
                      key_item=sel["key_item"], conflicts=conflicts, prior_load=ins["prior_load"], experts=experts)
    # selection and matching are the same in v2 and v3 (SPEC §D13): the vector keeps naming v2
    result.algorithm = ALGORITHM_V2
    tickets = {r["id"]: subject_ticket(seed, r["id"]).hex() for r in sel["pool"]}
    out: dict[str, Any] = {
        "subject_tickets": tickets,
        "sizes": result.sizes,
        "matching_order": result.selection.matching_order,
        "replacement_order": {s: [sid for _, sid in d.replacement_order()] for s, d in sorted(result.selection.strata.items())},
        "cutoffs": {s: {"ticket": d.cutoff[0].hex(), "id": d.cutoff[1]} if d.cutoff else None
                    for s, d in sorted(result.selection.strata.items())},
        "removed_report": [v.to_json() for v in removed_report(seed, sel["excluded"], result.selection)],
        "content": result.content(),
    }
    first = result.selection.matching_order[0]
    out["inspector_order_of_first"] = shuffle_record(seed, first, candidates(inspectors, rule)[0], False)
    out["expert_order_of_first"] = shuffle_record(seed, first, candidates(experts, rule, expert=True)[0], True)
    # one inspector substitution (the candidate at the resumed position is declared unavailable,
    # so the vector shows that skip reason too), one subject substitution, one swap, chained
    a0 = result.match.assignments[0]
    cands, _ = candidates(inspectors, rule)
    order0 = candidate_order(seed, a0.subject, cands)
    unavailable = [cands[order0[a0.examined]].id]
    out["inspector_substitution_request"] = {"subject": a0.subject, "leaving": a0.team[0],
                                             "reason": "recusal_conflict", "unavailable": unavailable}
    m1, s1 = substitute_inspector(seed, result.match, a0.subject, a0.team[0], "recusal_conflict", inspectors, rule,
                                  conflicts, ins["prior_load"], unavailable, experts, left=[])
    out["inspector_substitution"] = s1.to_json()
    a1 = m1.assignments[1]
    m2, s2 = substitute_subject(seed, result.selection, m1, a1.subject, "deregistered", [], inspectors, rule,
                                conflicts, ins["prior_load"], experts)
    out["subject_substitution"] = s2.to_json()
    x, y = m2.assignments[2], m2.assignments[3]
    dept = {i.id: i.department for i in inspectors}
    pair = next(((p, q) for p in x.team for q in y.team
                 if dept[p] == dept[q] and p not in y.team and q not in x.team
                 and (p, y.subject) not in conflicts and (q, x.subject) not in conflicts), None)
    if pair is None:
        raise SystemExit("vector inputs give no valid swap: change the inputs")
    swap = {"inspector_a": pair[0], "subject_a": x.subject, "inspector_b": pair[1], "subject_b": y.subject}
    m3 = swap_targets(m2, pair[0], x.subject, pair[1], y.subject, inspectors, rule, conflicts)
    out["swap"] = {"claim": swap, "teams_after": [m3.find(x.subject).team, m3.find(y.subject).team]}
    out["final_matching"] = m3.to_json()
    out["recusal_after_swap"] = recusal_after_swap(seed, m2, inspectors, experts, rule, conflicts, ins["prior_load"])
    _check_coverage(out)
    return out


def recusal_after_swap(seed: bytes, match: Any, inspectors: list[Inspector], experts: list[Inspector],
                       rule: TeamRule, conflicts: list[tuple[str, str]], prior: dict[str, int]) -> dict[str, Any]:
    """The §D8 case v2 closes (from the matching before the vector's swap): a swap puts inspector
    p on subject y's team, p then recuses from y, and the walk of y — resumed at `examined` —
    reaches p before anyone else. Under v1 p came back as their own replacement; under v2 p is
    skipped as "left_subject". The first such swap of the matching is the vector's."""
    dept = {i.id: i.department for i in inspectors}
    for x in match.assignments:
        for y in match.assignments:
            for p in x.team:
                for q in y.team:
                    if x is y or dept[p] != dept[q] or p in y.team or q in x.team \
                            or (p, y.subject) in conflicts or (q, x.subject) in conflicts:
                        continue
                    swapped = swap_targets(match, p, x.subject, q, y.subject, inspectors, rule, conflicts)
                    _, old = substitute_inspector(seed, swapped, y.subject, p, "recusal_conflict", inspectors, rule,
                                                  conflicts, prior, (), experts)
                    if old.incoming != p:
                        continue
                    _, new = substitute_inspector(seed, swapped, y.subject, p, "recusal_conflict", inspectors, rule,
                                                  conflicts, prior, (), experts, left=[])
                    return {"swap": {"inspector_a": p, "subject_a": x.subject, "inspector_b": q,
                                     "subject_b": y.subject},
                            "team_after_swap": swapped.find(y.subject).team,
                            "substitution_request": {"subject": y.subject, "leaving": p, "reason": "recusal_conflict"},
                            "v1_incoming": old.incoming, "substitution": new.to_json()}
    raise SystemExit("vector inputs give no swap after which a recused inspector would come back: change the inputs")


def shuffle_record(seed: bytes, subject: str, cands: list[Inspector], expert: bool) -> dict[str, Any]:
    """A subject's whole keyed shuffle (spec §7): candidates, the stream blocks it used, the order."""
    order = candidate_order(seed, subject, cands, expert=expert)
    full = list(order)
    blocks = order.blocks_used
    return {"subject": subject, "candidates": [c.id for c in cands],
            "blocks": [order_block(seed, subject, b, expert).hex() for b in range(blocks)],
            "order": [cands[j].id for j in full]}


def _check_coverage(out: dict[str, Any]) -> None:
    """The vector must show every skip reason and every draw-level reason (spec §7)."""
    reasons = set()
    for a in out["content"]["matching"]["assignments"] + [out["subject_substitution"]["assignment"]]:
        reasons |= {s["reason"] for s in a["skipped"] + a["experts_skipped"]}
    reasons |= {s["reason"] for s in out["inspector_substitution"]["skipped"]}
    missing = {"conflict_declared", "unavailable", "workload_cap", "department_quota"} - reasons
    ineligible = set(out["content"]["matching"]["draw_ineligible"].values())
    missing |= {"wrong_department", "certificate_not_valid", "missing_qualification"} - ineligible
    if missing:
        raise SystemExit(f"vector inputs do not exercise {sorted(missing)}: change the inputs")


# --- seal, drand ---------------------------------------------------------------------


def seal_inputs() -> dict[str, Any]:
    return {"salt": label("vector seal salt"),
            "content": {"draw": "draw-2026-0001", "selected": [subject_id(1), subject_id(22)], "note": "抽查结果"}}


def compute_seal(inp: dict[str, Any]) -> dict[str, Any]:
    salt = bytes.fromhex(inp["salt"])
    return {"jcs_content": poolmod.canonical_bytes(inp["content"]).decode("utf-8"),
            "commitment": seal_commitment(inp["content"], salt).hex()}


def drand_inputs() -> dict[str, Any]:
    rounds = []
    for name, c in drand_data()["chains"].items():
        for r in c["rounds"]:
            rounds.append({"network": name, "chain_hash": c["chain_hash"], "round": r["round"],
                           "previous_signature": r.get("previous_signature")})
    return {"source": "docs/vectors/drand-rounds.json", "rounds": rounds,
            "networks": {name: {k: c[k] for k in ("beacon_id", "scheme", "chain_hash", "public_key", "genesis_time",
                                                  "period", "genesis_seed")}
                         for name, c in drand_data()["chains"].items()}}


def compute_drand(inp: dict[str, Any]) -> dict[str, Any]:
    ch = chains()
    out = []
    for r in inp["rounds"]:
        chain = ch[r["chain_hash"]]
        prev = bytes.fromhex(r["previous_signature"]) if r["previous_signature"] else None
        out.append({"network": r["network"], "round": r["round"],
                    "message": round_message(chain, r["round"], prev).hex(),
                    "round_time": round_time(chain, r["round"])})
    hashes = {}
    for name, c in inp["networks"].items():  # spec §D2: the chain hash of each network's parameters
        pre = (struct.pack(">I", c["period"]) + struct.pack(">q", c["genesis_time"]) + bytes.fromhex(c["public_key"])
               + bytes.fromhex(c["genesis_seed"]) + (b"" if c["beacon_id"] == "default" else c["beacon_id"].encode()))
        computed = chain_info_hash(c["period"], c["genesis_time"], bytes.fromhex(c["public_key"]),
                                   bytes.fromhex(c["genesis_seed"]), c["beacon_id"]).hex()
        if computed != hashlib.sha256(pre).hexdigest() or computed != c["chain_hash"]:
            raise SystemExit(f"chain hash of {name} does not reproduce")
        hashes[name] = {"preimage": pre.hex(), "chain_hash": computed}
    return {"messages": out, "chain_hashes": hashes}


# --- files ---------------------------------------------------------------------------


RULE_CASES = [
    {"counts": {"A": 900, "B": 50, "C": 30, "D": 20}, "ratios": {"A": "0.01", "B": "0.03", "C": "0.10", "D": "0.20"},
     "floor": "0.05", "key_item": False},
    {"counts": {"A": 9000, "B": 500, "C": 300, "D": 200}, "ratios": {"A": "0.01", "B": "0.03", "C": "0.10", "D": "0.20"},
     "floor": "0.05", "key_item": True},
    {"counts": {"A": 100, "D": 3}, "ratios": {"A": "0.01", "D": "0.9"}, "floor": "0.05", "key_item": False},
    {"counts": {"A": 7, "B": 0, "X": 12}, "ratios": {"A": "0.5", "B": "0.1", "X": 5}, "floor": "0.05", "key_item": False},
]


def compute_rules(cases: list[dict[str, Any]]) -> list[dict[str, int]]:
    from drawsvc.draw.rules import stratum_sizes

    return [stratum_sizes(c["counts"], c["ratios"], c["floor"], c["key_item"]) for c in cases]


def build() -> dict[str, dict[str, Any]]:
    si, pi, ii = seed_inputs(), selection_inputs(), inspectors_inputs()
    return {
        "draw-seed.json": {"about": "Seed derivation from all five source types (spec §3).",
                           "inputs": si, "outputs": compute_seed(si)},
        "draw-pool.json": {"about": "Pool and excluded-list commitments, one member's inclusion proof (spec §4).",
                           "inputs": pi, "outputs": compute_pool(pi)},
        "draw-selection-matching.json": {
            "about": "Sizes, tickets, selection, replacement order, removed-subject report, joint-check matching "
                     "with skips and experts, then an inspector substitution, a subject substitution and a swap "
                     "(spec §5-§8); recusal_after_swap: the v2 §D8 rule (a recused inspector never comes back). "
                     "The seed is the one of draw-seed.json.",
            "inputs": {"selection": pi, "inspectors": ii}, "outputs": compute_draw(pi, ii)},
        "draw-rules.json": {"about": "Stratum sizes: ceil(n*r), counts, and the water-filled 5% floor (spec §5).",
                            "inputs": {"cases": RULE_CASES}, "outputs": {"sizes": compute_rules(RULE_CASES)}},
        "draw-seal.json": {"about": "Salted seal over JCS(content) (spec §9).",
                           "inputs": seal_inputs(), "outputs": compute_seal(seal_inputs())},
        "draw-drand.json": {"about": "Signed messages and times of the real drand rounds, and each network's "
                                     "chain hash from its parameters (spec §D2); the rounds themselves are in "
                                     "docs/vectors/drand-rounds.json.",
                            "inputs": drand_inputs(), "outputs": compute_drand(drand_inputs())},
    }


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    stale = []
    for name, obj in build().items():
        path = HERE / name
        text = dump(obj)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("stale vectors:", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
