"""Nothing a draw depends on is unbound (issue 12), tested by attacking it.

The attacker is a dishonest service: it holds every key (operator, system, log) and runs its own
code, so each forged draw below is on a genuine log — every entry signed, every proof valid.
What it may not do is carry a BLS key it owns under quicknet's chain hash, shift the network's
period and genesis time, grind its genesis seed, change the expert pool, the conflicts or the
prior loads after prepare, or bring a recused inspector back (§D8). Each forgery must be FAILED
with the log key pinned; the honest draws next to them VERIFIED. The verifier under test
imports no server code; the tests use the server to MAKE the draws.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pinned import before_drand_round
from vf_drawkit import run

from verifier.cli import cli
from verifier.drand import PINNED_CHAINS, Chain, chain_info_hash, verify_round

QUICKNET = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
ROUND = 123
ATTACKER_SK = int.from_bytes(hashlib.sha256(b"the dishonest service's own BLS key").digest(), "big") % (
    0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001)
FIXTURES = Path(__file__).resolve().parent / "fixtures"
V1_LOG_KEY = "fixture.example/log+66ec6cc4+AZfQxzm/tXzgjZXGg8Aw9u2H9oAo9mFOOv3WkDoiJ7uO"


# -- the attacker's BLS key (quicknet's scheme: key in G2, signature in G1) -----------------------

def attacker_public_key() -> bytes:
    from py_ecc.bls.point_compression import compress_G2
    from py_ecc.optimized_bls12_381 import G2, multiply

    z1, z2 = compress_G2(multiply(G2, ATTACKER_SK))
    return z1.to_bytes(48, "big") + z2.to_bytes(48, "big")


def attacker_sign(round_: int) -> bytes:
    """A "round" the attacker signs itself: SHA-256(u64(round)) hashed to G1 (RFC 9380), times its key."""
    from py_ecc.bls.hash_to_curve import hash_to_G1
    from py_ecc.bls.point_compression import compress_G1
    from py_ecc.optimized_bls12_381 import multiply

    msg = hashlib.sha256(round_.to_bytes(8, "big")).digest()
    h = hash_to_G1(msg, b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_", hashlib.sha256)
    return compress_G1(multiply(h, ATTACKER_SK)).to_bytes(48, "big")


# -- a county on a real ledger, and draws made by (dishonest or honest) service code ---------------

@dataclass
class County:
    inst: Any
    ledger: Any
    registry: Any
    op: Any
    plan: str
    department: str
    draw_date: str
    log_key: str


@pytest.fixture(scope="module")
def county_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo county whose log ends the day before quicknet round 123 (entry times never run
    backwards, so a draw on that real round needs a log begun before it). Built once; each test
    works on its own copy, since a draw seeded after the round moves the log past it."""
    from drawsvc.demo import create_demo

    base = tmp_path_factory.mktemp("binding")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
        mp.delenv("DATABASE_URL", raising=False)
        for attempt in range(5):  # the demo's own substitution may find nobody on some seeds
            try:
                inst, _, _ = create_demo(base / f"i{attempt}", origin="binding.example/log", now=before_drand_round())
                inst.engine().dispose()
                return inst.home
            except Exception as exc:  # noqa: BLE001 - only TooFewInspectors is retried
                if attempt == 4 or type(exc).__name__ != "TooFewInspectors":
                    raise
    raise AssertionError("unreachable")


@pytest.fixture
def county(county_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> County:
    import shutil

    from drawsvc.instance import load
    from drawsvc.registry.demo import demo_actor
    from drawsvc.registry.service import Registry

    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    home = tmp_path / "county"
    shutil.copytree(county_home, home)
    config = json.loads((home / "instance.json").read_text())
    config["database_url"] = config["database_url"].replace(str(county_home), str(home))
    (home / "instance.json").write_text(json.dumps(config))
    inst = load(home)
    ledger = inst.ledger()
    # the copy's own in-process witnesses (copied with it): the original's would rightly refuse
    # this copy's history as a fork of the original's
    from sqlalchemy import func, update

    from ledger.schema import witnesses

    with ledger.engine.begin() as conn:
        conn.execute(update(witnesses).values(url=func.replace(witnesses.c.url, str(county_home), str(home))))
    registry = Registry(ledger, inst.passphrase())
    plan = registry.list("plan")[0]
    return County(inst, ledger, registry, demo_actor(registry, "op-scjg"), plan["code"], plan["departments"][0],
                  plan["window_start"], inst.genesis_log_key.encode())  # a day inside the plan's window


def quicknet_real() -> dict[str, Any]:
    from drawsvc.draws.service import NETWORKS_FILE

    return json.loads(NETWORKS_FILE.read_text(encoding="utf-8"))["chains"]["quicknet"]


def server_chain(**change: Any) -> Any:
    """quicknet's parameters with `change` applied, as the dishonest service's code holds them
    (built directly: chain_from_json would refuse them)."""
    from drawsvc.draw.drand import ChainInfo

    q = quicknet_real()
    d = {"chain_hash": bytes.fromhex(q["chain_hash"]), "scheme": q["scheme"], "public_key": bytes.fromhex(q["public_key"]),
         "genesis_time": q["genesis_time"], "period": q["period"], "genesis_seed": bytes.fromhex(q["genesis_seed"]),
         "beacon_id": q["beacon_id"]}
    d.update(change)
    return ChainInfo(**d)


def bundle_of(c: County, draw_id: str) -> dict[str, Any]:
    from drawsvc.draws.bundle import build_bundle

    return json.loads(json.dumps(build_bundle(c.ledger, draw_id, privileged=False, log_verifier_key=c.log_key)))


def drand_draw(c: County, chain: Any, signature: bytes, mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """A published draw seeded by round 123 of `chain`, made by a service that trusts `chain` and
    skips its own chain-hash check (the dishonest service's code). Clock pinned around the round."""
    import drawsvc.draws.service as service
    from drawsvc.draws.demo import clock_at

    mp.setattr(service, "chains_of_doc", lambda doc, known: dict(known))
    svc = service.DrawService(c.ledger, c.registry, chains={chain.chain_hash.hex(): chain})
    due = chain.genesis_time + (ROUND - 1) * chain.period
    with clock_at(c.ledger, datetime.fromtimestamp(due - 120, UTC)):
        d = svc.prepare(c.op, c.plan, c.department, [
            {"type": "drand", "chain_hash": chain.chain_hash.hex(), "round": ROUND},
            {"type": "dice", "min_digits": 20}], draw_date=c.draw_date)
    with clock_at(c.ledger, datetime.fromtimestamp(due + 5, UTC)):
        svc.seed(c.op, d["id"], [
            {"type": "drand", "chain_hash": chain.chain_hash.hex(), "round": ROUND, "signature": signature.hex()},
            {"type": "dice", "digits": "31415926535897932384"}])
        svc.run(c.op, d["id"])
        svc.publish(c.op, d["id"])
    return bundle_of(c, d["id"])


def own_prepared(b: dict[str, Any]) -> dict[str, Any]:
    """The bundle's draw's own prepared payload (a bundle also carries the plan's other draws)."""
    return next(w["entry"]["payload"] for w in b["entries"]
                if w["entry"]["type"] == "draw.prepared" and w["entry"]["payload"]["draw_id"] == b["draw_id"])


def failed(report: Any) -> set[str]:
    return {k for k, ch in report.checks.items() if ch.status == "failed"}


def assert_genuine_log(report: Any) -> None:
    """The forgery is on a genuine log: what fails is the binding, not a signature or a proof."""
    assert report.checks["bundle_log"].status == "passed"
    assert report.checks["bundle_checkpoint"].status == "passed"
    assert report.checks["prepared_checkpoint"].status == "passed"


# -- honest draws -----------------------------------------------------------------------------------

def test_honest_drand_draw_verifies_with_the_pinned_quicknet(county: County, monkeypatch: pytest.MonkeyPatch) -> None:
    b = drand_draw(county, server_chain(), bytes.fromhex(next(r for r in quicknet_real()["rounds"]
                                                               if r["round"] == ROUND)["signature"]), monkeypatch)
    assert b["format"] == "spotcheck-draw-bundle/3"
    prepared = own_prepared(b)
    assert prepared["algorithm"] == "spotcheck-draw/3"
    assert prepared["chains"] == b["chains"] == {QUICKNET: {k: quicknet_real()[k] for k in (
        "beacon_id", "scheme", "chain_hash", "public_key", "genesis_time", "period", "genesis_seed")}}
    assert {"experts", "prior_load_sha256", "conflicts_sha256"} <= set(prepared["pools"])
    report, _ = run(b, log_key=county.log_key)
    assert report.ok, report.to_text()
    assert "pinned" in report.checks["chains"].detail
    # the time before the round is the log's signed cosignature time, not an unsigned field
    assert "the log's timestamped cosignature" in report.checks["timing"].detail
    assert "signed by the log" in report.checks["prepared_checkpoint"].detail


def test_published_v1_bundle_still_verifies() -> None:
    """Evidence already handed out: main's bundle (format /1, algorithm /1) verifies with the new
    verifier, its quicknet parameters checked against the pinned ones."""
    b = json.loads((FIXTURES / "bundle-v1-published.json").read_text(encoding="utf-8"))
    assert b["format"] == "spotcheck-draw-bundle/1"
    report, _ = run(b, log_key=V1_LOG_KEY)
    assert report.ok, report.to_text()
    assert report.checks["chains"].status == "passed" and report.checks["substitutions"].status == "passed"
    forged = copy.deepcopy(b)
    forged["chains"][QUICKNET]["public_key"] = attacker_public_key().hex()
    assert "CHAIN_HASH_MISMATCH" in run(forged, log_key=V1_LOG_KEY)[0].codes()
    forged = copy.deepcopy(b)
    forged["pools"]["prior_load"] = {forged["pools"]["inspectors"][0]["id"]: 3}  # v1 committed none
    assert "PRIOR_LOAD_MISMATCH" in run(forged, log_key=V1_LOG_KEY)[0].codes()


V2_LOG_KEY = "fixture.example/log+db6b4317+Aed5ImnzanhXsHpyyN+OvXGstsMIPyHB8rAUs3dvCwnU"


def test_v2_bundle_of_the_previous_version_still_verifies() -> None:
    """A bundle the v2 service handed out (no timestamped prepared checkpoint) keeps verifying;
    its timing rests on the unsigned signed_at, and says so; relabelled v3 it fails."""
    b = json.loads((FIXTURES / "bundle-v2-published.json").read_text(encoding="utf-8"))
    assert b["format"] == "spotcheck-draw-bundle/2"
    report, _ = run(b, log_key=V2_LOG_KEY)
    assert report.ok, report.to_text()
    assert report.checks["timing"].status == "passed" and "(unsigned)" in report.checks["timing"].detail
    late = copy.deepcopy(b)
    late["prepared_checkpoint"]["signed_at"] = "2030-01-01T00:00:00.000Z"
    assert "PREPARED_TOO_LATE" in run(late, log_key=V2_LOG_KEY)[0].codes()
    relabelled = copy.deepcopy(b)
    relabelled["format"] = "spotcheck-draw-bundle/3"
    codes = run(relabelled, log_key=V2_LOG_KEY)[0].codes()
    assert {"DRAW_ENTRY_MALFORMED", "PREPARED_CHECKPOINT_UNTIMED"} <= codes


def test_v1_bundle_cannot_be_relabelled_v2() -> None:
    """A bundle keeps the rules of the algorithm it was prepared under: relabelled, it fails."""
    b = json.loads((FIXTURES / "bundle-v1-published.json").read_text(encoding="utf-8"))
    b["format"] = "spotcheck-draw-bundle/2"
    report, _ = run(b, log_key=V1_LOG_KEY)
    assert not report.ok and "DRAW_ENTRY_MALFORMED" in report.codes()


# -- forged drand parameters ------------------------------------------------------------------------

def test_the_attackers_round_verifies_under_its_own_key() -> None:
    """The premise: the attacker can make any "round" that verifies, against a key it owns."""
    own = Chain(QUICKNET, "bls-unchained-g1-rfc9380", attacker_public_key(), 1692803367, 3, None, "quicknet")
    verify_round(own, ROUND, attacker_sign(ROUND))
    with pytest.raises(ValueError):
        verify_round(PINNED_CHAINS[QUICKNET], ROUND, attacker_sign(ROUND))


def test_own_key_under_quicknets_hash_is_failed(county: County, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    b = drand_draw(county, server_chain(public_key=attacker_public_key()), attacker_sign(ROUND), monkeypatch)
    report, _ = run(b, log_key=county.log_key)
    assert not report.ok
    assert_genuine_log(report)
    assert "CHAIN_HASH_MISMATCH" in report.codes()
    assert failed(report) <= {"chains", "reveals"}  # everything else of the forgery holds up
    r = CliRunner().invoke(cli, ["bundle", str(_save(b, tmp_path)), "--log-key", county.log_key],
                           catch_exceptions=False)
    assert r.exit_code == 1 and "CHAIN_HASH_MISMATCH" in r.output


def _own_chain() -> Any:
    q = quicknet_real()
    pk = attacker_public_key()
    own = chain_info_hash(q["period"], q["genesis_time"], pk, bytes.fromhex(q["genesis_seed"]), "quicknet")
    return server_chain(public_key=pk, chain_hash=bytes.fromhex(own))


def test_own_network_with_its_own_hash_needs_explicit_trust(county: County, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    """A self-consistent network of the attacker's is not quicknet: untrusted unless the reader
    says --trust-chain for it (and then the draw is checked against that network, as said)."""
    chain = _own_chain()
    b = drand_draw(county, chain, attacker_sign(ROUND), monkeypatch)
    report, _ = run(b, log_key=county.log_key)
    assert not report.ok and "CHAIN_UNTRUSTED" in report.codes()
    assert_genuine_log(report)
    info = tmp_path / "info.json"
    info.write_text(json.dumps(chain.to_json()))
    path = str(_save(b, tmp_path))
    r = CliRunner().invoke(cli, ["bundle", path, "--log-key", county.log_key], catch_exceptions=False)
    assert r.exit_code == 1 and "CHAIN_UNTRUSTED" in r.output
    r = CliRunner().invoke(cli, ["bundle", path, "--log-key", county.log_key, "--trust-chain", str(info)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    lying = dict(chain.to_json(), chain_hash=QUICKNET)  # a /info file that lies about its hash
    info.write_text(json.dumps(lying))
    r = CliRunner().invoke(cli, ["bundle", path, "--trust-chain", str(info)], catch_exceptions=False)
    assert r.exit_code == 2 and "--trust-chain" in r.output


@pytest.mark.parametrize("change", [
    pytest.param({"genesis_seed": hashlib.sha256(b"ground seed").digest()}, id="genesis_seed"),
    pytest.param({"period": 6, "genesis_time": 1692803367 - 3 * (ROUND - 1)}, id="period_and_genesis_shifted"),
])
def test_changed_network_parameters_are_failed(county: County, monkeypatch: pytest.MonkeyPatch,
                                               change: dict[str, Any]) -> None:
    """The real round 123 signature, but quicknet's parameters altered (for the period shift, so
    that round 123 still falls at the same time): the parameters no longer hash to quicknet."""
    chain = server_chain(**change)
    real_sig = bytes.fromhex(next(r for r in quicknet_real()["rounds"] if r["round"] == ROUND)["signature"])
    assert chain.genesis_time + (ROUND - 1) * chain.period == 1692803733
    b = drand_draw(county, chain, real_sig, monkeypatch)
    report, _ = run(b, log_key=county.log_key)
    assert not report.ok
    assert_genuine_log(report)
    assert "CHAIN_HASH_MISMATCH" in report.codes()


def _save(b: dict[str, Any], where: Path) -> Path:
    path = where / f"{b['draw_id']}.json"
    path.write_text(json.dumps(b, ensure_ascii=False), encoding="utf-8")
    return path


# -- bundle-level edits of an honest v2 draw --------------------------------------------------------

def test_bundle_chains_edited_after_the_fact(county: County, monkeypatch: pytest.MonkeyPatch) -> None:
    real_sig = bytes.fromhex(next(r for r in quicknet_real()["rounds"] if r["round"] == ROUND)["signature"])
    b = drand_draw(county, server_chain(), real_sig, monkeypatch)
    forged = copy.deepcopy(b)
    forged["chains"][QUICKNET]["genesis_seed"] = "00" * 32
    assert "CHAIN_HASH_MISMATCH" in run(forged, log_key=county.log_key)[0].codes()
    forged = copy.deepcopy(b)  # the prepared entry's commitment edited: caught by the log, and as not committed
    p = own_prepared(forged)
    p["chains"] = {}
    codes = run(forged, log_key=county.log_key)[0].codes()
    assert {"CHAIN_NOT_COMMITTED", "ENTRY_NOT_INCLUDED"} <= codes


@pytest.fixture
def capped(county: County) -> dict[str, Any]:
    """An honest draw with a workload cap and prior loads (the service's gather given them), so
    the cap decides teams: the bundle must carry exactly what was committed."""
    import drawsvc.draws.service as service
    from drawsvc.draw.matching import candidates
    from drawsvc.draws.demo import clock_at

    orig = service.DrawService.gather

    def gather(self: Any, conn: Any, plan: Any, department: str, draw_date: str) -> Any:
        inputs = orig(self, conn, plan, department, draw_date)
        cands, _ = candidates(service.inspectors_of(inputs.inspectors), inputs.rule)
        inputs.prior_load = {cands[0].id: 1000, cands[1].id: 999}
        inputs.rule = replace(inputs.rule, max_assignments=1000)
        inputs.parameters["team_rule"]["max_assignments"] = 1000
        return inputs

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(service.DrawService, "gather", gather)
        svc = service.DrawService(county.ledger, county.registry)
        with clock_at(county.ledger, datetime(2026, 3, 2, 1, 0, tzinfo=UTC)):
            d = svc.prepare(county.op, county.plan, county.department, [{"type": "dice", "min_digits": 20}],
                            draw_date=county.draw_date)
            svc.seed(county.op, d["id"], [{"type": "dice", "digits": "27182818284590452353"}])
            svc.run(county.op, d["id"])
            svc.publish(county.op, d["id"])
    return bundle_of(county, d["id"])


def test_capped_draw_recomputes_from_its_bundle(capped: dict[str, Any], county: County) -> None:
    report, _ = run(capped, log_key=county.log_key)
    assert report.ok, report.to_text()
    skips = {s["reason"] for a in capped["content"]["matching"]["assignments"] for s in a["skipped"]}
    assert "workload_cap" in skips  # the prior loads did decide teams
    assert capped["pools"]["prior_load"] and capped["pools"]["experts"] == []


@pytest.mark.parametrize("edit,code", [
    pytest.param(lambda p: p["prior_load"].update({k: 0 for k in p["prior_load"]}), "PRIOR_LOAD_MISMATCH",
                 id="prior_load_lowered"),
    pytest.param(lambda p: p.pop("prior_load"), "PRIOR_LOAD_MISMATCH", id="prior_load_dropped"),
    pytest.param(lambda p: p["experts"].append({"id": "E99", "field": "food", "qualifications": ["food"]}),
                 "POOL_ROOT_MISMATCH", id="expert_added"),
    pytest.param(lambda p: p.pop("experts"), "POOL_INVALID", id="experts_dropped"),
    pytest.param(lambda p: p["conflicts"].append([p["inspectors"][0]["id"], "91999999999999999X"]),
                 "CONFLICTS_MISMATCH", id="conflict_added"),
])
def test_uncommitted_matching_inputs_are_failed(capped: dict[str, Any], county: County, edit: Any,
                                                code: str) -> None:
    forged = copy.deepcopy(capped)
    edit(forged["pools"])
    report, _ = run(forged, log_key=county.log_key)
    assert not report.ok and code in report.codes()
    assert_genuine_log(report)


# -- §D8: a recused inspector never comes back ------------------------------------------------------

def _recusal_scenario(svc: Any, draw_id: str) -> tuple[str, str, str, str] | None:
    """A swap (p from x to y, q from y to x) after which p's recusal from y would, under v1,
    bring p back: y's walk, resumed where it stopped, reaches p first (and, under v2, someone
    eligible comes after p)."""
    import drawsvc.draws.service as service
    from drawsvc.draw.errors import DrawError
    from drawsvc.draw.substitution import substitute_inspector, swap_targets

    secret = svc.secret(draw_id)
    seed = bytes.fromhex(secret["seed"])
    doc = svc.get(draw_id)
    match = service.match_from_json(secret["matching"])
    insp = service.inspectors_of(secret["pools"]["inspectors"])
    rule, conflicts = service.rule_of(doc["parameters"]), [tuple(x) for x in secret["pools"]["conflicts"]]
    for x in match.assignments:
        for y in match.assignments:
            for p in x.team:
                for q in y.team:
                    if x is y or p in y.team or q in x.team:
                        continue
                    try:
                        swapped = swap_targets(match, p, x.subject, q, y.subject, insp, rule, conflicts)
                        _, old = substitute_inspector(seed, swapped, y.subject, p, "recusal_conflict", insp, rule,
                                                      conflicts)
                        substitute_inspector(seed, swapped, y.subject, p, "recusal_conflict", insp, rule, conflicts,
                                             left=[])  # and v2 finds someone else further on
                    except DrawError:
                        continue
                    if old.incoming == p:
                        return p, x.subject, q, y.subject
    return None


def _recusal_draw(county: County, mp: pytest.MonkeyPatch | None) -> tuple[dict[str, Any], str]:
    """Draw, swap, recuse: with `mp`, by the dishonest service that applies v1's §D8 to a v2 draw."""
    import drawsvc.draws.service as service
    from drawsvc.draws.demo import clock_at

    if mp is not None:
        real = service.substitute_inspector
        mp.setattr(service, "substitute_inspector", lambda *a, **k: real(*a, **{**k, "left": None}))
    svc = service.DrawService(county.ledger, county.registry)
    with clock_at(county.ledger, datetime(2026, 3, 2, 2, 0, tzinfo=UTC)):
        for attempt in range(6):  # the swap must exist on this seed: almost always on the first
            d = svc.prepare(county.op, county.plan, county.department, [{"type": "dice", "min_digits": 20}],
                            draw_date=county.draw_date)
            svc.seed(county.op, d["id"], [{"type": "dice", "digits": f"{attempt}1234567890123456789"}])
            svc.run(county.op, d["id"])
            found = _recusal_scenario(svc, d["id"])
            if found:
                p, xs, q, ys = found
                svc.swap(county.op, d["id"], p, xs, q, ys)
                rec = svc.substitute_inspector(county.op, d["id"], ys, p, "recusal_conflict")
                svc.publish(county.op, d["id"])
                return bundle_of(county, d["id"]), (p if rec["incoming"] == p else "")
            svc.publish(county.op, d["id"])
    raise AssertionError("no draw gave a swap after which a recusal would bring the inspector back")


def test_recused_inspector_is_never_their_own_replacement(county: County) -> None:
    b, back = _recusal_draw(county, None)
    assert back == ""  # the honest v2 service took someone else
    rec = b["substitutions"][-1]["record"]
    assert {"inspector": rec["leaving"], "reason": "left_subject"} in rec["skipped"]
    team = next(a for a in b["current_matching"]["assignments"] if a["subject"] == rec["subject"])["team"]
    assert rec["leaving"] not in team
    report, _ = run(b, log_key=county.log_key)
    assert report.ok, report.to_text()


def test_recused_inspector_brought_back_is_failed(county: County, monkeypatch: pytest.MonkeyPatch) -> None:
    b, back = _recusal_draw(county, monkeypatch)
    assert back  # the dishonest service brought the recused inspector back
    report, _ = run(b, log_key=county.log_key)
    assert not report.ok and "SUBSTITUTION_NOT_NEXT" in report.codes()
    assert_genuine_log(report)


def test_trust_chain_reads_v1_and_v2_info_documents() -> None:
    """--trust-chain takes drand /info in either naming; both give the pinned quicknet exactly,
    and a document whose parameters do not hash to its stated hash is refused."""
    from verifier.drand import chain_from_info

    q = quicknet_real()
    v2 = {k: q[k] for k in ("public_key", "period", "genesis_time", "genesis_seed", "chain_hash", "scheme",
                            "beacon_id")}
    v1 = {"public_key": q["public_key"], "period": q["period"], "genesis_time": q["genesis_time"],
          "hash": q["chain_hash"], "groupHash": q["genesis_seed"], "schemeID": q["scheme"],
          "metadata": {"beaconID": "quicknet"}}
    assert chain_from_info(v2) == chain_from_info(v1) == PINNED_CHAINS[QUICKNET]
    with pytest.raises(ValueError):
        chain_from_info(dict(v2, genesis_time=q["genesis_time"] + 1))
    with pytest.raises(ValueError):
        chain_from_info({k: v for k, v in v2.items() if k != "genesis_seed"})
