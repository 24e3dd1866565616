"""Known answers: the code reproduces every field of docs/vectors/draw-*.json, and the central
formulas re-implemented here straight from the spec (hashlib only) agree with the code."""

from __future__ import annotations

import hashlib
import struct

import pytest
from _draw_support import load_vector

from ledger.canonical import canonical_bytes


@pytest.mark.parametrize("name", ["draw-seed.json", "draw-pool.json", "draw-selection-matching.json",
                                  "draw-seal.json", "draw-drand.json", "draw-rules.json"])
def test_vector_reproduced(gen, name):
    vec = load_vector(name)
    inp = vec["inputs"]
    if name == "draw-seed.json":
        out = gen.compute_seed(inp)
    elif name == "draw-pool.json":
        out = gen.compute_pool(inp)
    elif name == "draw-selection-matching.json":
        out = gen.compute_draw(inp["selection"], inp["inspectors"])
    elif name == "draw-seal.json":
        out = gen.compute_seal(inp)
    elif name == "draw-drand.json":
        out = gen.compute_drand(inp)
    else:
        out = {"sizes": gen.compute_rules(inp["cases"])}
    assert out == vec["outputs"]


def test_generator_is_deterministic(gen):
    built = gen.build()
    for name, obj in built.items():
        assert gen.dump(obj) == (gen.HERE / name).read_text(), f"{name} is stale: re-run make_draw_vectors.py"


def lp(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def test_seed_from_spec_bytes():
    vec = load_vector("draw-seed.json")
    inp, out = vec["inputs"], vec["outputs"]
    nonce = bytes.fromhex(inp["reveals"][0]["nonce"])
    assert hashlib.sha256(b"spotcheck/draw/v1/nonce-commitment\x00" + nonce).hexdigest() == inp["recipe"]["nonce_commitment"]
    d = inp["reveals"][1]
    sig = bytes.fromhex(d["signature"])
    drand_body = lp(bytes.fromhex(d["chain_hash"])) + struct.pack(">Q", 123) + lp(hashlib.sha256(sig).digest()) + lp(sig)
    lottery = "3.9.12.18.25.31./7./"
    assert out["rfc3797_lottery"] == lottery
    contribution = bytes.fromhex(inp["reveals"][4]["contribution"])
    sources = [
        lp(b"server_nonce") + lp(nonce),
        lp(b"drand") + lp(drand_body),
        lp(b"dice") + lp(b"31415926535897932384626"),
        lp(b"lottery") + lp(lp("中国福利彩票双色球".encode()) + lp(b"2026123") + lp(lottery.encode())),
        lp(b"witness") + lp(lp(b"witness:zhang-wei") + lp(contribution)),
    ]
    assert [s.hex() for s in sources] == out["encoded_sources"]
    seed = hashlib.sha256(b"spotcheck/draw/v1/seed\x00" + bytes.fromhex(inp["prepared_leaf_hash"])
                          + struct.pack(">I", 5) + b"".join(sources)).hexdigest()
    assert seed == out["seed"]


def test_tickets_and_selection_from_spec_bytes():
    vec = load_vector("draw-selection-matching.json")
    sel, out = vec["inputs"]["selection"], vec["outputs"]
    seed = bytes.fromhex(sel["seed"])
    for rec in sel["pool"]:
        t = hashlib.sha256(b"spotcheck/draw/v1/subject-ticket\x00" + seed + rec["id"].encode()).hexdigest()
        assert out["subject_tickets"][rec["id"]] == t
    for stratum, k in out["sizes"].items():
        members = sorted((out["subject_tickets"][r["id"]], r["id"]) for r in sel["pool"] if r["stratum"] == stratum)
        chosen = [sid for _, sid in members[:k]]
        assert chosen == [x["id"] for x in out["content"]["strata"][stratum]["selected"]]
        assert [sid for _, sid in members[k:]] == out["replacement_order"][stratum]


def spec_shuffle(tag: bytes, seed: bytes, subject: str, m: int) -> tuple[list[int], int]:
    """§7 straight from the text: the whole keyed Fisher-Yates order and the blocks it used."""
    s = subject.encode()
    stream: list[int] = []
    blocks = 0

    def next_u64() -> int:
        nonlocal blocks
        if not stream:
            block = hashlib.sha256(tag + b"\x00" + seed + lp(s) + struct.pack(">I", blocks)).digest()
            blocks += 1
            stream.extend(struct.unpack(">4Q", block))
        return stream.pop(0)

    def uniform(r: int) -> int:
        limit = (2**64 // r) * r
        while True:
            x = next_u64()
            if x < limit:
                return x % r

    p = list(range(m))
    for j in range(m):
        i = j + uniform(m - j)
        p[j], p[i] = p[i], p[j]
    return p, blocks


def test_shuffles_from_spec_bytes():
    vec = load_vector("draw-selection-matching.json")
    inp, out = vec["inputs"], vec["outputs"]
    seed = bytes.fromhex(inp["selection"]["seed"])
    first = out["matching_order"][0]
    ins = inp["inspectors"]
    rule = ins["rule"]
    # the candidates: draw-level eligibility of §7, sorted by id bytes
    cands = sorted((r["id"] for r in ins["inspectors"] if r["department"] in rule["departments"]
                    and r["cert_valid_from"] <= rule["draw_date"] <= r["cert_valid_until"]
                    and rule["qualification"] in r["qualifications"]), key=str.encode)
    ecands = sorted((r["id"] for r in ins["experts"] if rule["expert_field"] in r["qualifications"]), key=str.encode)
    for key, tag, cs in (("inspector_order_of_first", b"spotcheck/draw/v1/inspector-order", cands),
                         ("expert_order_of_first", b"spotcheck/draw/v1/expert-order", ecands)):
        rec = out[key]
        assert rec["subject"] == first and rec["candidates"] == cs
        perm, blocks = spec_shuffle(tag, seed, first, len(cs))
        assert [cs[i] for i in perm] == rec["order"]
        assert len(rec["blocks"]) == blocks
        for b, hx in enumerate(rec["blocks"]):
            assert hashlib.sha256(tag + b"\x00" + seed + lp(first.encode()) + struct.pack(">I", b)).hexdigest() == hx
    # the walk of every subject examined exactly a prefix of its order: team + skipped, in order
    assignments = out["content"]["matching"]["assignments"] + [out["subject_substitution"]["assignment"]]
    for a in assignments:
        perm, _ = spec_shuffle(b"spotcheck/draw/v1/inspector-order", seed, a["subject"], len(cands))
        walked = [cands[i] for i in perm[:a["examined"]]]
        assert set(walked) == set(a["team"]) | {x["inspector"] for x in a["skipped"]}
        assert [i for i in walked if i not in a["team"]] == [x["inspector"] for x in a["skipped"]]
        eperm, _ = spec_shuffle(b"spotcheck/draw/v1/expert-order", seed, a["subject"], len(ecands))
        ewalked = [ecands[i] for i in eperm[:a["experts_examined"]]]
        assert set(ewalked) == set(a["experts"]) | {x["inspector"] for x in a["experts_skipped"]}
    # the inspector substitution continued the same order from `examined`
    sub = out["inspector_substitution"]
    perm, _ = spec_shuffle(b"spotcheck/draw/v1/inspector-order", seed, sub["subject"], len(cands))
    resumed = [cands[i] for i in perm[sub["examined_from"]:sub["examined_to"]]]
    assert resumed == [x["inspector"] for x in sub["skipped"]] + [sub["incoming"]]


def test_seal_from_spec_bytes():
    vec = load_vector("draw-seal.json")
    body = canonical_bytes(vec["inputs"]["content"])
    assert body.decode() == vec["outputs"]["jcs_content"]
    c = hashlib.sha256(b"spotcheck/draw/v1/seal\x00" + bytes.fromhex(vec["inputs"]["salt"]) + body).hexdigest()
    assert c == vec["outputs"]["commitment"]


def test_pool_root_from_spec_bytes():
    from ledger.merkle import leaf_hash, root_from_leaf_hashes

    vec = load_vector("draw-pool.json")
    recs = sorted(vec["inputs"]["pool"], key=lambda r: r["id"].encode())
    root = root_from_leaf_hashes([leaf_hash(canonical_bytes(r)) for r in recs])
    assert root.hex() == vec["outputs"]["pool_commitment"]["root"]


def test_recusal_after_swap_never_brings_the_inspector_back(gen):
    """§D8 (v2): after a swap puts p on y's team and p recuses, y's resumed walk reaches p first.
    v1 took p back as their own replacement; v2 skips p as left_subject, from the same order."""
    from drawsvc.draw.errors import NotNextEligible
    from drawsvc.draw.substitution import check_inspector_substitution, substitute_inspector, swap_targets

    v = load_vector("draw-selection-matching.json")
    ii, o = v["inputs"]["inspectors"], v["outputs"]
    sel = v["inputs"]["selection"]
    seed = bytes.fromhex(sel["seed"])
    rec = o["recusal_after_swap"]
    inspectors = [gen.Inspector.from_record(r) for r in ii["inspectors"]]
    experts = [gen.Inspector.from_record(r) for r in ii["experts"]]
    rule, conflicts = gen.make_rule(ii["rule"]), [tuple(c) for c in ii["conflicts"]]
    base = copy_matching_before_swap(gen, v)
    s = rec["swap"]
    swapped = swap_targets(base, s["inspector_a"], s["subject_a"], s["inspector_b"], s["subject_b"], inspectors,
                           rule, conflicts)
    assert swapped.find(s["subject_b"]).team == rec["team_after_swap"]
    leaving = rec["substitution_request"]["leaving"]
    _, v1 = substitute_inspector(seed, swapped, s["subject_b"], leaving, "recusal_conflict", inspectors, rule,
                                 conflicts, ii["prior_load"], (), experts)
    assert v1.incoming == leaving == rec["v1_incoming"]  # the hole v2 closes
    _, v2 = substitute_inspector(seed, swapped, s["subject_b"], leaving, "recusal_conflict", inspectors, rule,
                                 conflicts, ii["prior_load"], (), experts, left=[])
    assert v2.to_json() == rec["substitution"] and v2.incoming != leaving
    assert {"inspector": leaving, "reason": "left_subject"} in rec["substitution"]["skipped"]
    with pytest.raises(NotNextEligible):  # the v1 claim is refused under v2
        check_inspector_substitution(seed, swapped, v1.to_json(), inspectors, rule, conflicts, ii["prior_load"],
                                     (), experts, left=[])


def copy_matching_before_swap(gen, v):
    """The vector's matching after its inspector and subject substitutions (before its swap)."""
    from drawsvc.draw.run import run_draw, strata_of
    from drawsvc.draw.substitution import substitute_inspector, substitute_subject

    ii, o, sel = v["inputs"]["inspectors"], v["outputs"], v["inputs"]["selection"]
    seed = bytes.fromhex(sel["seed"])
    inspectors = [gen.Inspector.from_record(r) for r in ii["inspectors"]]
    experts = [gen.Inspector.from_record(r) for r in ii["experts"]]
    rule, conflicts = gen.make_rule(ii["rule"]), [tuple(c) for c in ii["conflicts"]]
    result = run_draw(seed, strata_of(sel["pool"]), sel["ratios"], inspectors, rule, floor=sel["floor"],
                      key_item=sel["key_item"], conflicts=conflicts, prior_load=ii["prior_load"], experts=experts)
    req = o["inspector_substitution_request"]
    m1, _ = substitute_inspector(seed, result.match, req["subject"], req["leaving"], req["reason"], inspectors, rule,
                                 conflicts, ii["prior_load"], req["unavailable"], experts, left=[])
    m2, _ = substitute_subject(seed, result.selection, m1, o["subject_substitution"]["leaving"], "deregistered", [],
                               inspectors, rule, conflicts, ii["prior_load"], experts)
    return m2
