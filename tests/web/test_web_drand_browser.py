"""drand rounds verified in the page (web/static/js/drand.js, BLS12-381 by the vendored
@noble/curves) in real headless Chromium: every real round verifies, every tampered one fails with
the same named finding as the CLI's verifier/drand.py, and the demo's published draw shows its
beacon signature as checked (passed), or failed once tampered."""

from __future__ import annotations

import copy
import hashlib
import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.verifier.vf_drawkit import retime_prepared_checkpoint
from tests.web.conftest import ROOT, draw_ids, screenshot
from tests.web.test_web_browser import by_id, result_of_page, run_vector, wait
from verifier.drand import BeaconEncodingError, BeaconSignatureInvalid, Chain, verify_round

pytestmark = pytest.mark.browser
VECTORS = ROOT / "docs" / "vectors"
ROUNDS = VECTORS / "drand-rounds.json"
P = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB


@pytest.fixture(scope="module")
def rounds() -> dict[str, Any]:
    """The real League of Entropy rounds (docs/vectors/drand-rounds.json = shared/vectors/drand.json)."""
    return json.loads(ROUNDS.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    browser.delete_all_cookies()  # the page in Chinese, whatever language an earlier test chose
    browser.get(live_server + "/verify")
    wait(browser).until(lambda d: d.execute_script("return !!window.SpotcheckVectors"))
    yield browser


def run(driver: Any, name: str, data: Any) -> Any:
    """Run one of vectors.js's runners on `data` in the page."""
    out = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.SpotcheckVectors.run(arguments[0], arguments[1]).then(done);", name, data)
    assert not (isinstance(out, dict) and "error" in out), out
    return out


# --- points that break one encoding rule each -----------------------------------------------

def g1_off_subgroup() -> bytes:
    """A compressed point on E1 (y^2 = x^3 + 4) outside the prime-order subgroup: the cofactor is
    about 2^125, so the first x on the curve is (checked) not in the subgroup."""
    from py_ecc.optimized_bls12_381 import FQ, curve_order, is_inf, multiply

    for x in range(1, 100):
        y2 = (x ** 3 + 4) % P
        y = pow(y2, (P + 1) // 4, P)
        if y * y % P == y2:
            pt = (FQ(x), FQ(y), FQ(1))
            assert not is_inf(multiply(pt, curve_order))
            return (x | (1 << 383) | ((y * 2 // P) << 381)).to_bytes(48, "big")
    raise AssertionError("no point found")


def g2_off_subgroup() -> bytes:
    """A compressed point on the twist E2 outside the prime-order subgroup."""
    from py_ecc.bls.point_compression import compress_G2, modular_squareroot_in_FQ2
    from py_ecc.optimized_bls12_381 import FQ2, b2, curve_order, is_inf, multiply

    for x in range(1, 100):
        xx = FQ2([x, 1])
        y = modular_squareroot_in_FQ2(xx ** 3 + b2)
        if y is not None:
            pt = (xx, y, FQ2.one())
            assert not is_inf(multiply(pt, curve_order))
            z1, z2 = compress_G2(pt)
            return z1.to_bytes(48, "big") + z2.to_bytes(48, "big")
    raise AssertionError("no point found")


def g1_off_curve() -> bytes:
    """A compressed G1 encoding whose x has no y on the curve."""
    for x in range(1, 100):
        y2 = (x ** 3 + 4) % P
        if pow(y2, (P - 1) // 2, P) != 1:
            return (x | (1 << 383)).to_bytes(48, "big")
    raise AssertionError("no x found")


def other_valid_key(group: str) -> str:
    """A well-formed public key of the right group that is not the network's."""
    from py_ecc.bls.point_compression import compress_G1, compress_G2
    from py_ecc.optimized_bls12_381 import G1, G2, multiply

    if group == "G1":
        return compress_G1(multiply(G1, 123456789)).to_bytes(48, "big").hex()  # type: ignore[no-any-return]
    z1, z2 = compress_G2(multiply(G2, 123456789))
    return (z1.to_bytes(48, "big") + z2.to_bytes(48, "big")).hex()


def flip(b: bytes, i: int, mask: int = 0x01) -> bytes:
    out = bytearray(b)
    out[i] ^= mask
    return bytes(out)


# --- the cases, judged by the CLI too --------------------------------------------------------

def cli_code(chain_json: dict[str, Any], rnd: int, sig: str, prev: str | None) -> str | None:
    """What verifier/drand.py says about the same round: None (valid) or the finding's name."""
    ch = Chain.from_json(chain_json)
    try:
        verify_round(ch, rnd, bytes.fromhex(sig), bytes.fromhex(prev) if prev else None)
    except BeaconEncodingError:
        return "BeaconEncodingError"
    except BeaconSignatureInvalid:
        return "BeaconSignatureInvalid"
    return None


def signature_cases(name: str, c: dict[str, Any], other: dict[str, Any]) -> list[tuple[str, dict[str, Any], int, str, str | None, bool]]:
    """(label, chain, round, signature, previous_signature, pinned) with one thing changed each."""
    r, r2 = c["rounds"][1], c["rounds"][2]
    sig, prev = bytes.fromhex(r["signature"]), r.get("previous_signature")
    g_sig = "G1" if len(sig) == 48 else "G2"
    g_pk = "G2" if g_sig == "G1" else "G1"
    wrong_key = {**c, "public_key": other_valid_key(g_pk)}
    off_sub_key = {**c, "public_key": (g2_off_subgroup() if g_pk == "G2" else g1_off_subgroup()).hex()}
    off_sub_sig = g1_off_subgroup() if g_sig == "G1" else g2_off_subgroup()
    out = [
        ("honest", c, r["round"], sig.hex(), prev, True),
        ("flipped last byte", c, r["round"], flip(sig, len(sig) - 1).hex(), prev, True),
        ("flipped byte 20", c, r["round"], flip(sig, 20, 0x10).hex(), prev, True),
        ("sign flag flipped (the negated point)", c, r["round"], flip(sig, 0, 0x20).hex(), prev, True),
        ("wrong round", c, r["round"] + 1, sig.hex(), prev, True),
        ("another round's signature", c, r["round"], r2["signature"], prev, True),
        ("wrong public key", wrong_key, r["round"], sig.hex(), prev, False),
        ("public key not in the subgroup", off_sub_key, r["round"], sig.hex(), prev, False),
        ("signature not in the subgroup", c, r["round"], off_sub_sig.hex(), prev, True),
        ("truncated", c, r["round"], sig[:-1].hex(), prev, True),
        ("one byte too long", c, r["round"], (sig + b"\x00").hex(), prev, True),
        ("compression flag cleared", c, r["round"], flip(sig, 0, 0x80).hex(), prev, True),
        ("infinity", c, r["round"], (b"\xc0" + bytes(len(sig) - 1)).hex(), prev, True),
        ("x >= p", c, r["round"], ((P + 1) | (1 << 383)).to_bytes(48, "big").hex() + sig[48:].hex(), prev, True),
        ("the other network's signature", c, r["round"], other["rounds"][1]["signature"], prev, True),
    ]
    if g_sig == "G1":
        out.append(("not on the curve", c, r["round"], g1_off_curve().hex(), prev, True))
    else:
        out.append(("flag bits in the second half", c, r["round"], flip(sig, 48, 0x80).hex(), prev, True))
        out.append(("previous signature changed", c, r["round"], sig.hex(), flip(bytes.fromhex(prev), 5).hex(), True))
    return out


def drand_case(driver: Any, chain: dict[str, Any], rnd: int, sig: str, prev: str | None, pinned: bool = True,
               randomness: str | None = None) -> dict[str, Any]:
    decl = {"type": "drand", "chain_hash": chain["chain_hash"], "round": rnd}
    reveal = {**decl, "signature": sig, "previous_signature": prev, "randomness": randomness}
    return run(driver, "drand-case", {"decl": decl, "reveal": reveal, "chain": chain, "unpinned": not pinned})  # type: ignore[no-any-return]


# --- tests -----------------------------------------------------------------------------------

def test_vectors_copy_is_the_shared_file() -> None:
    assert ROUNDS.read_bytes() == (ROOT / "drawsvc" / "data" / "drand_networks.json").read_bytes()
    shared = ROOT.parent / "shared" / "vectors" / "drand.json"
    if not shared.exists():
        pytest.skip(f"{shared} not present on this machine; docs/vectors/drand-rounds.json is the project's copy")
    assert ROUNDS.read_bytes() == shared.read_bytes()


def test_messages_and_times_match_the_vectors(page: Any) -> None:
    v = json.loads((VECTORS / "draw-drand.json").read_text(encoding="utf-8"))
    assert run_vector(page, "draw-drand.json")["messages"] == v["outputs"]["messages"]


def test_every_real_round_verifies_and_the_pins_are_the_published_parameters(page: Any, rounds: dict[str, Any]) -> None:
    out = run(page, "drand-rounds.json", rounds)
    expected = [(n, r["round"]) for n, c in rounds["chains"].items() for r in c["rounds"]]
    assert [(r["network"], r["round"]) for r in out["rounds"]] == expected
    for got, (n, rnd) in zip(out["rounds"], expected, strict=True):
        assert got["ok"] is True, got
        want = next(r for r in rounds["chains"][n]["rounds"] if r["round"] == rnd)
        assert got["randomness"] == want["randomness"] == hashlib.sha256(bytes.fromhex(want["signature"])).hexdigest()
    for n, c in rounds["chains"].items():
        pin = out["chains"][n]["pinned_params"]
        assert out["chains"][n]["pinned"] == c["beacon_id"]
        assert {k: pin[k] for k in ("scheme", "public_key", "genesis_time", "period", "genesis_seed")} == \
            {k: c[k] for k in ("scheme", "public_key", "genesis_time", "period", "genesis_seed")}


def test_the_hash_to_curve_tag_matters(page: Any, rounds: dict[str, Any]) -> None:
    """quicknet verifies only with the G1 tag and default only with the G2 tag: the page passes
    the tag of §D2 and a wrong one would be caught by the real rounds."""
    out = run(page, "drand-wrong-dst", rounds)
    assert {o["network"] for o in out} == {"default", "quicknet"}
    assert all(o["right"] is True and o["wrong"] is False for o in out), out


@pytest.mark.parametrize("network", ["default", "quicknet"])
def test_tampered_rounds_fail_with_the_clis_finding(page: Any, rounds: dict[str, Any], network: str) -> None:
    c = rounds["chains"][network]
    other = rounds["chains"]["quicknet" if network == "default" else "default"]
    seen = set()
    for label, chain, rnd, sig, prev, pinned in signature_cases(network, c, other):
        want = cli_code(chain, rnd, sig, prev)
        got = drand_case(page, chain, rnd, sig, prev, pinned)
        if label == "honest":
            assert want is None and got["ok"] is True, (label, got)
            continue
        assert want is not None, f"{label}: the CLI accepted it"
        assert got["ok"] is False and got["code"] == want, (label, want, got)
        assert got["detail"], label
        seen.add(want)
        if "subgroup" in label:
            assert "子群" in got["detail"], got  # the page names the broken rule, in Chinese
    assert seen == {"BeaconEncodingError", "BeaconSignatureInvalid"}


@pytest.mark.parametrize("network", ["default", "quicknet"])
def test_randomness_chain_and_pin_findings(page: Any, rounds: dict[str, Any], network: str) -> None:
    c = rounds["chains"][network]
    r = c["rounds"][1]
    ok = drand_case(page, c, r["round"], r["signature"], r.get("previous_signature"), randomness=r["randomness"])
    assert ok["ok"] is True and ok["randomness"] == r["randomness"]
    bad = drand_case(page, c, r["round"], r["signature"], r.get("previous_signature"), randomness=hashlib.sha256(b"x").hexdigest())
    assert bad["ok"] is False and bad["code"] == "BeaconRandomnessMismatch", bad
    g_pk = "G1" if len(bytes.fromhex(c["public_key"])) == 48 else "G2"
    for field, value in (("public_key", other_valid_key(g_pk)), ("period", c["period"] + 1),
                         ("genesis_time", c["genesis_time"] - 1), ("genesis_seed", "00" * 32)):
        got = drand_case(page, {**c, field: value}, r["round"], r["signature"], r.get("previous_signature"))
        assert got["ok"] is False and got["code"] == "ChainParamsInvalid" and field in got["detail"], (field, got)
    scheme = "pedersen-bls-unchained" if network == "default" else "pedersen-bls-chained"
    got = drand_case(page, {**c, "scheme": scheme}, r["round"], r["signature"], r.get("previous_signature"))
    assert got["ok"] is False and got["code"] == "ChainParamsInvalid" and "scheme" in got["detail"], got
    fake = {**c, "chain_hash": "ab" * 32}
    got = drand_case(page, fake, r["round"], r["signature"], r.get("previous_signature"))
    assert got["ok"] is False and got["code"] == "ChainNotPinned", got


# --- the whole page on the demo's published draw ----------------------------------------------

def demo_bundle(live_server: str, demo: Any) -> dict[str, Any]:
    published = draw_ids(demo)["published"]
    return json.loads(urllib.request.urlopen(f"{live_server}/api/v1/draws/{published}/bundle").read())  # type: ignore[no-any-return]


def verify_in_page(driver: Any, bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    res = driver.execute_async_script("const done = arguments[1]; window.SpotcheckVerifier.verifyBundle(arguments[0]).then(done);", bundle)
    return by_id(res["checks"])


def drand_parts(bundle: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The prepared declaration, the seeded reveal and the chain of the bundle's drand source."""
    prep = next(e for e in bundle["entries"] if e["entry"]["type"] == "draw.prepared")["entry"]["payload"]
    seeded = next(e for e in bundle["entries"] if e["entry"]["type"] == "draw.seeded")["entry"]["payload"]
    pub = [s for s in prep["seed_recipe"]["sources"] if s["type"] != "server_nonce"]
    i = next(i for i, s in enumerate(pub) if s["type"] == "drand")
    return pub[i], seeded["reveals"][i], bundle["chains"][pub[i]["chain_hash"]]


def test_demo_draw_beacon_is_checked_in_the_page(browser: Any, live_server: str, demo: Any) -> None:
    published = draw_ids(demo)["published"]
    browser.delete_all_cookies()
    browser.get(f"{live_server}/verify/{published}")
    res = result_of_page(browser)
    checks = by_id(res["checks"])
    assert res["ok"] is True, [c for c in res["checks"] if c["status"] == "failed"]
    assert checks["drand_chain"]["status"] == "passed" and "quicknet" in checks["drand_chain"]["detail"]
    assert checks["drand_bls"]["status"] == "passed", checks["drand_bls"]
    assert "第 123 轮" in checks["drand_bls"]["detail"] and "BLS 签名有效" in checks["drand_bls"]["detail"]
    assert not [c for c in res["checks"] if c["status"] == "not_checked" and c["id"] != "witnesses"], res["checks"]
    assert checks["substitutions"]["status"] == "passed"  # the demo's inspector substitution
    row = browser.find_element("css selector", "li[data-check='drand_bls']")
    assert row.get_attribute("data-status") == "passed" and "通过" in row.text and "未检查" not in row.text
    screenshot(browser, "verify-drand-passed", 1440, 2700)
    browser.get(f"{live_server}/verify/{published}?lang=en")
    res = result_of_page(browser)
    checks = by_id(res["checks"])
    assert checks["drand_bls"]["title"] == "drand beacon BLS signature"
    assert "round 123: BLS signature valid" in checks["drand_bls"]["detail"]
    browser.delete_all_cookies()  # back to Chinese for the tests after this one


def test_tampered_demo_beacons_fail_in_the_page(page: Any, live_server: str, demo: Any) -> None:
    honest = demo_bundle(live_server, demo)
    decl, reveal, chain = drand_parts(honest)
    assert verify_in_page(page, honest)["drand_bls"]["status"] == "passed"

    def tampered(change: Any) -> dict[str, dict[str, Any]]:
        b = copy.deepcopy(honest)
        change(*drand_parts(b))
        return verify_in_page(page, b)

    sig = bytes.fromhex(reveal["signature"])
    cases = {
        "flipped signature byte": (lambda d, r, c: r.update(signature=flip(sig, 47).hex()),
                                   cli_code(chain, decl["round"], flip(sig, 47).hex(), None)),
        "negated signature": (lambda d, r, c: r.update(signature=flip(sig, 0, 0x20).hex()), "BeaconSignatureInvalid"),
        "wrong round": (lambda d, r, c: (d.update(round=d["round"] + 1), r.update(round=r["round"] + 1)), "BeaconSignatureInvalid"),
        "reveal of another round": (lambda d, r, c: r.update(round=r["round"] + 1), "RevealMismatch"),
        "wrong public key": (lambda d, r, c: c.update(public_key=other_valid_key("G2")), "BeaconSignatureInvalid"),
        "randomness mismatch": (lambda d, r, c: r.update(randomness=hashlib.sha256(b"x").hexdigest()), "BeaconRandomnessMismatch"),
        "signature not in the subgroup": (lambda d, r, c: r.update(signature=g1_off_subgroup().hex()), "BeaconEncodingError"),
        "bad encoding": (lambda d, r, c: r.update(signature=sig[:40].hex()), "BeaconEncodingError"),
    }
    for label, (change, code) in cases.items():
        checks = tampered(change)
        assert checks["drand_chain"]["status"] == ("failed" if label == "wrong public key" else "passed"), (label, checks["drand_chain"])
        assert checks["drand_bls"]["status"] == "failed", (label, checks["drand_bls"])
        assert checks["drand_bls"]["detail"].startswith(code + ":"), (label, code, checks["drand_bls"])
    checks = tampered(lambda d, r, c: c.update(public_key=other_valid_key("G2")))
    assert checks["drand_chain"]["status"] == "failed" and "ChainParamsInvalid" in checks["drand_chain"]["detail"]
    assert "public_key" in checks["drand_chain"]["detail"]


def test_beacon_timing_in_the_page(page: Any, live_server: str, demo: Any) -> None:
    """The CLI's timing rules: inputs fixed before the earliest declared round, not_before = the
    latest round's time, seeded only after every declared round."""
    honest = demo_bundle(live_server, demo)
    checks = verify_in_page(page, honest)
    assert checks["drand_time"]["status"] == "passed", checks["drand_time"]
    assert "服务器自己的时钟" in checks["drand_time"]["detail"]  # says plainly what the times rest on
    decl, _, chain = drand_parts(honest)
    due = chain["genesis_time"] + (decl["round"] - 1) * chain["period"]

    def at(t: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))

    def entry(b: dict[str, Any], kind: str) -> dict[str, Any]:
        return next(e for e in b["entries"] if e["entry"]["type"] == kind)["entry"]  # type: ignore[no-any-return]

    cases = {
        "NotBeforeMismatch": lambda b: entry(b, "draw.prepared")["payload"].update(not_before=due + 3),
        "BeaconRoundInPast": lambda b: entry(b, "draw.prepared").update(time=at(due)),
        "SeededTooEarly": lambda b: entry(b, "draw.seeded").update(time=at(due - 1)),
    }
    # v3: the prepared checkpoint's time is the log's signed cosignature time (re-made here with
    # the real log key, as a dishonest service could); the bare signed_at is not read
    log_sk = demo.active_signer(f"log:{demo.origin}").signing_key
    cases["BeaconRoundInPast (checkpoint)"] = lambda b: retime_prepared_checkpoint(b, demo.origin, log_sk, due + 1)
    moved = copy.deepcopy(honest)
    moved["prepared_checkpoint"]["signed_at"] = at(due + 1)
    assert verify_in_page(page, moved)["drand_time"]["status"] == "passed"
    for code, change in cases.items():
        b = copy.deepcopy(honest)
        change(b)
        got = verify_in_page(page, b)["drand_time"]
        assert got["status"] == "failed" and got["detail"].startswith(code.split(" ")[0] + ":"), (code, got)
