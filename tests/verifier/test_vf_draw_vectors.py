"""The verifier agrees with every draw vector in docs/vectors/ (written from the spec text)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest

from verifier.drand import BeaconEncodingError, BeaconSignatureInvalid, Chain, round_message, round_time, verify_round
from verifier.matching import Matcher, MatchError, Rule
from verifier.merkle import verify_inclusion
from verifier.pools import commit
from verifier.recipe import encode_source, nonce_commitment, rfc3797, seed_from
from verifier.seal import seal
from verifier.sizes import SizeError, stratum_sizes
from verifier.tickets import Selection, subject_ticket, would_be_drawn

ROOT = Path(__file__).resolve().parents[2]
VEC = ROOT / "docs" / "vectors"


def vec(name: str) -> dict:
    return json.loads((VEC / name).read_text(encoding="utf-8"))


def drand_rounds() -> dict:
    """The recorded real rounds, in the repository (docs/vectors/drand-rounds.json)."""
    return json.loads((VEC / "drand-rounds.json").read_text(encoding="utf-8"))["chains"]


def test_seed_vector():
    v = vec("draw-seed.json")
    i, o = v["inputs"], v["outputs"]
    chains = drand_rounds()
    qn = Chain.from_json(chains["quicknet"])
    reveals = i["reveals"]
    nonce = bytes.fromhex(reveals[0]["nonce"])
    assert nonce_commitment(nonce).hex() == i["recipe"]["nonce_commitment"]
    assert rfc3797(reveals[3]["groups"]) == o["rfc3797_lottery"]
    encs = []
    for d, r in zip(i["recipe"]["sources"], reveals, strict=True):
        rnd = None
        if d["type"] == "drand":
            rnd = verify_round(qn, r["round"], bytes.fromhex(r["signature"]))
            assert rnd.hex() == r["randomness"]
        encs.append(encode_source(d, r, nonce=nonce, randomness=rnd))
    assert [e.hex() for e in encs] == o["encoded_sources"]
    plh = bytes.fromhex(i["prepared_leaf_hash"])
    assert seed_from(plh, encs).hex() == o["seed"]
    without = [e for d, e in zip(i["recipe"]["sources"], encs, strict=True) if d["type"] != "drand"]
    assert seed_from(plh, without).hex() == o["seed_without_drand"]
    assert round_time(qn, 123) > i["prepared_unix"]


def test_drand_vector_messages_and_signatures():
    v = vec("draw-drand.json")
    chains = drand_rounds()
    for inp, out in zip(v["inputs"]["rounds"], v["outputs"]["messages"], strict=True):
        ch = Chain.from_json(chains[inp["network"]])
        prev = bytes.fromhex(inp["previous_signature"]) if inp.get("previous_signature") else None
        assert round_message(ch, inp["round"], prev).hex() == out["message"]
        assert round_time(ch, inp["round"]) == out["round_time"]
    for c in chains.values():
        ch = Chain.from_json(c)
        r = c["rounds"][-1]
        prev = bytes.fromhex(r["previous_signature"]) if r.get("previous_signature") else None
        assert verify_round(ch, r["round"], bytes.fromhex(r["signature"]), prev).hex() == r["randomness"]
        with pytest.raises(BeaconSignatureInvalid):  # a real signature of another round
            other = c["rounds"][0]
            verify_round(ch, r["round"], bytes.fromhex(other["signature"]), prev)
        with pytest.raises(BeaconEncodingError):  # not a point encoding at all
            verify_round(ch, r["round"], b"\x00" * len(bytes.fromhex(r["signature"])), prev)
        with pytest.raises(BeaconEncodingError):
            verify_round(ch, r["round"], bytes.fromhex(r["signature"])[:-1], prev)


def test_pool_vector():
    v = vec("draw-pool.json")
    i, o = v["inputs"], v["outputs"]
    assert commit("subjects", i["pool"]) == o["pool_commitment"]
    assert commit("excluded", i["excluded"]) == o["excluded_commitment"]
    mp = o["member_proof"]
    from verifier.canonical import jcs
    from verifier.merkle import leaf_hash

    assert jcs(mp["record"]).decode() == o["leaf_of_member"]
    assert verify_inclusion(mp["index"], mp["size"], leaf_hash(jcs(mp["record"])), [bytes.fromhex(h) for h in mp["proof"]],
                            bytes.fromhex(o["pool_commitment"]["root"]))


def test_rules_vector():
    v = vec("draw-rules.json")
    for case, want in zip(v["inputs"]["cases"], v["outputs"]["sizes"], strict=True):
        assert stratum_sizes(case["counts"], case["ratios"], case.get("floor", "0.05"), case.get("key_item", False)) == want
    with pytest.raises(SizeError):
        stratum_sizes({"A": 0}, {"A": "0.1"})
    with pytest.raises(SizeError):
        stratum_sizes({"A": 3}, {"A": 4})
    with pytest.raises(SizeError):
        stratum_sizes({"A": 3}, {"A": 0.1})


def test_seal_vector():
    v = vec("draw-seal.json")
    assert seal(bytes.fromhex(v["inputs"]["salt"]), v["inputs"]["content"]).hex() == v["outputs"]["commitment"]


def test_selection_matching_vector():
    v = vec("draw-selection-matching.json")
    si, ii, o = v["inputs"]["selection"], v["inputs"]["inspectors"], v["outputs"]
    seed = bytes.fromhex(si["seed"])
    assert {r["id"]: subject_ticket(seed, r["id"]).hex() for r in si["pool"]} == o["subject_tickets"]
    sizes = stratum_sizes(commit("subjects", si["pool"])["counts"], si["ratios"], si["floor"], si["key_item"])
    assert sizes == o["sizes"]
    sel = Selection(seed, si["pool"], sizes)
    assert sel.matching_order() == o["matching_order"]
    assert {s: sel.replacement_order(s) for s in o["replacement_order"]} == o["replacement_order"]
    for s, cut in o["cutoffs"].items():
        assert sel.cutoff(s) == (bytes.fromhex(cut["ticket"]), cut["id"].encode())
    report = []
    for x in si["excluded"]:
        cut = sel.cutoff(x["stratum"])
        t, drawn = would_be_drawn(seed, x["id"], cut)
        report.append({"subject": x["id"], "stratum": x["stratum"], "ticket": t.hex(), "cutoff_ticket": cut[0].hex(),
                       "cutoff_id": cut[1].decode(), "drawn": drawn})
    assert report == o["removed_report"]
    assert sel.strata_content() == o["content"]["strata"]
    m = Matcher(seed, Rule.from_json(ii["rule"]), ii["inspectors"], [tuple(c) for c in ii["conflicts"]],
                ii["prior_load"], ii["experts"])
    for key, expert in (("inspector_order_of_first", False), ("expert_order_of_first", True)):
        f = o[key]
        cands = m.expert_cands if expert else m.cands
        assert cands == f["candidates"]
        order = m.order(f["subject"], expert)
        assert [cands[order.at(j)] for j in range(len(cands))] == f["order"]
    matching = m.match(sel.matching_order())
    assert matching == o["content"]["matching"]
    assert {"algorithm": "spotcheck-draw/2", "sizes": sizes, "strata": sel.strata_content(),
            "matching": matching} == o["content"]
    cur = copy.deepcopy(matching)
    assert m.apply_inspector(cur, o["inspector_substitution"], []) == o["inspector_substitution_request"]["unavailable"]
    strata = {r["id"]: r["stratum"] for r in si["pool"]}
    used: list[str] = []
    m.apply_subject(cur, o["subject_substitution"], strata, sel.replacement_order("C"),
                    lambda x: subject_ticket(seed, x).hex(), used)
    m.apply_swap(cur, o["swap"]["claim"])
    assert cur == o["final_matching"]


def test_selection_matching_vector_mutations_refused():
    v = vec("draw-selection-matching.json")
    si, ii, o = v["inputs"]["selection"], v["inputs"]["inspectors"], v["outputs"]
    seed = bytes.fromhex(si["seed"])
    sizes = o["sizes"]
    sel = Selection(seed, si["pool"], sizes)
    m = Matcher(seed, Rule.from_json(ii["rule"]), ii["inspectors"], [tuple(c) for c in ii["conflicts"]],
                ii["prior_load"], ii["experts"])
    matching = m.match(sel.matching_order())
    bad = dict(o["inspector_substitution"], skipped=[])  # hides the 'unavailable' claim: not the next one
    with pytest.raises(MatchError) as e:
        m.apply_inspector(copy.deepcopy(matching), bad)
    assert e.value.code == "SUBSTITUTION_NOT_NEXT"
    bad = dict(o["subject_substitution"], incoming=o["replacement_order"]["C"][1])
    with pytest.raises(MatchError) as e:
        m.apply_subject(copy.deepcopy(matching), bad, {r["id"]: r["stratum"] for r in si["pool"]},
                        sel.replacement_order("C"), lambda x: subject_ticket(seed, x).hex(), [])
    assert e.value.code == "SUBSTITUTION_NOT_NEXT"
    claim = o["swap"]["claim"]
    with pytest.raises(MatchError) as e:
        m.apply_swap(copy.deepcopy(matching), dict(claim, subject_b=claim["subject_a"]))
    assert e.value.code == "SWAP_INVALID"


def test_log_vector_still_verifies():
    """docs/vectors/log-v1.json: the log layer the bundles rely on agrees too."""
    from verifier.log import LogOptions, verify_log

    v = vec("log-v1.json")
    entries = v.get("entries") or v.get("outputs", {}).get("entries")
    cps = [c["note"] if isinstance(c, dict) else c for c in (v.get("checkpoints") or v.get("outputs", {}).get("checkpoints") or [])]
    if entries is None:
        pytest.skip("log vector layout not recognised")
    rep = verify_log([e["entry"] if isinstance(e, dict) and "entry" in e else e for e in entries], cps,
                     options=LogOptions())
    assert rep.ok, rep.to_text()


def test_timestamped_checkpoint_vector():
    """§5 from the spec text: the log's own cosignature on a checkpoint — the log key under 0x04 —
    verifies with the time the vector states, and the log verifier accepts the note; a changed
    time is refused."""
    from verifier.log import LogOptions, verify_log
    from verifier.note import own_cosignature_key, parse_note, parse_verifier_key, verify_cosignature

    v = vec("log-v1.json")
    tc = v["timestamped_checkpoint"]
    own = own_cosignature_key(parse_verifier_key(v["keys"]["log"]["verifier_key"]))
    assert str(own) == tc["own_verifier_key"]
    assert verify_cosignature(parse_note(tc["note"]), own) == (True, tc["timestamp"])
    assert tc["timestamp"] == int(_unix_ms(v["entries"][-1]["entry"]["time"]))
    rep = verify_log([e["entry"] for e in v["entries"]], [tc["note"]], options=LogOptions())
    assert rep.ok, rep.to_text()
    moved = tc["note"].replace(tc["note"].rsplit(" ", 1)[1], "")  # keep the line, change its time
    raw = bytearray(base64.b64decode(tc["note"].rsplit(" ", 1)[1]))
    raw[4:12] = (tc["timestamp"] - 3600).to_bytes(8, "big")
    moved += base64.b64encode(bytes(raw)).decode() + "\n"
    rep = verify_log([e["entry"] for e in v["entries"]], [moved], options=LogOptions())
    assert "CHECKPOINT_SIGNATURE_INVALID" in rep.codes()


def _unix_ms(t: str) -> float:
    from datetime import UTC, datetime

    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def test_recusal_after_swap_vector():
    """§D8 v2 from the spec text: replaying the vector's swap and recusal gives its record; the v1
    claim (the recused inspector back as their own replacement) passes v1's rule and fails v2's."""
    v = vec("draw-selection-matching.json")
    si, ii, o = v["inputs"]["selection"], v["inputs"]["inspectors"], v["outputs"]
    seed = bytes.fromhex(si["seed"])
    sel = Selection(seed, si["pool"], o["sizes"])
    m = Matcher(seed, Rule.from_json(ii["rule"]), ii["inspectors"], [tuple(c) for c in ii["conflicts"]],
                ii["prior_load"], ii["experts"])
    cur = m.match(sel.matching_order())
    m.apply_inspector(cur, o["inspector_substitution"], [])
    m.apply_subject(cur, o["subject_substitution"], {r["id"]: r["stratum"] for r in si["pool"]},
                    sel.replacement_order("C"), lambda x: subject_ticket(seed, x).hex(), [])
    rec = o["recusal_after_swap"]
    m.apply_swap(cur, rec["swap"])
    assert next(a for a in cur["assignments"] if a["subject"] == rec["swap"]["subject_b"])["team"] == rec["team_after_swap"]
    sub = rec["substitution"]
    honest = copy.deepcopy(cur)
    m.apply_inspector(honest, sub, [])
    team = next(a for a in honest["assignments"] if a["subject"] == sub["subject"])["team"]
    assert sub["leaving"] not in team and sub["incoming"] in team
    # the v1 walk: the leaving inspector accepted where v2 skips them
    back = [s for s in sub["skipped"] if s["reason"] == "left_subject"]
    assert back == [{"inspector": sub["leaving"], "reason": "left_subject"}] and sub["skipped"][-1] == back[0]
    v1_claim = dict(sub, incoming=rec["v1_incoming"], skipped=sub["skipped"][:-1], examined_to=sub["examined_to"] - 1)
    assert rec["v1_incoming"] == sub["leaving"]
    m.apply_inspector(copy.deepcopy(cur), v1_claim, None)  # v1's rule accepted it (old evidence keeps verifying)
    with pytest.raises(MatchError) as e:
        m.apply_inspector(copy.deepcopy(cur), v1_claim, [])
    assert e.value.code == "SUBSTITUTION_NOT_NEXT"


def test_chain_hash_vector_and_pinned_chains():
    """The verifier's pinned networks hash (spec §D2 byte layout) to the real chain hashes, as the
    vector's preimages do."""
    import hashlib

    from verifier.drand import PINNED_CHAINS, chain_info_hash

    out = vec("draw-drand.json")["outputs"]["chain_hashes"]
    real = {"default": "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce",
            "quicknet": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"}
    assert {n: h["chain_hash"] for n, h in out.items()} == real
    for name, h in out.items():
        assert hashlib.sha256(bytes.fromhex(h["preimage"])).hexdigest() == real[name]
        c = PINNED_CHAINS[real[name]]
        assert c.beacon_id == name
        assert chain_info_hash(c.period, c.genesis_time, c.public_key, c.genesis_seed or b"", c.beacon_id) == real[name]
        assert h["preimage"] == (c.period.to_bytes(4, "big") + c.genesis_time.to_bytes(8, "big") + c.public_key
                                 + (c.genesis_seed or b"") + (b"" if name == "default" else name.encode())).hex()
    net = drand_rounds()
    assert {c.chain_hash: c.to_json() for c in PINNED_CHAINS.values()} == {
        n["chain_hash"]: {k: n[k] for k in ("beacon_id", "scheme", "chain_hash", "public_key", "genesis_time", "period",
                                            "genesis_seed")} for n in net.values()}
