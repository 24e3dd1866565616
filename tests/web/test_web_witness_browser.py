"""The page checks the bundle's witness policy as drawverify does (SPEC §D12 `witness_policy`,
§D14): the demo's 2-of-3 witnesses pass; a checkpoint not yet cosigned by k is 等待见证
(awaiting witnesses, naming who is missing) in both; forged, misstated or too-late cosignatures,
and a rotated-away or revoked witness key's later cosignature, fail in both."""

from __future__ import annotations

import base64
import copy
import json
import urllib.request
from typing import Any

import pytest

from tests.web.conftest import draw_ids
from tests.web.test_web_browser import wait
from tests.web.test_web_drand_browser import page, verify_in_page  # noqa: F401  (page: fixture)
from verifier.draw import verify_bundle
from verifier.note import own_cosignature_key, parse_verifier_key

pytestmark = pytest.mark.browser
DASH = "\u2014"


def verify_in_page_full(driver: Any, bundle: dict[str, Any]) -> dict[str, Any]:
    """The page's whole answer: its verdict and every check."""
    return driver.execute_async_script(  # type: ignore[no-any-return]
        "const done = arguments[1]; window.SpotcheckVerifier.verifyBundle(arguments[0]).then(done);", bundle)


def forge(note: str, name: str) -> str:
    """The witness's cosignature line with the last signature byte flipped."""
    out = []
    for x in note.splitlines(keepends=True):
        if x.startswith(f"{DASH} {name} "):
            raw = bytearray(base64.b64decode(x.split(" ")[2]))
            raw[-1] ^= 1
            x = f"{DASH} {name} {base64.b64encode(bytes(raw)).decode()}\n"
        out.append(x)
    return "".join(out)


def strip(note: str, names: list[str]) -> str:
    return "".join(x for x in note.splitlines(keepends=True) if not any(x.startswith(f"{DASH} {n} ") for n in names))


def test_page_checks_the_witness_policy(page: Any, live_server: str, demo: Any) -> None:  # noqa: F811
    honest = json.loads(urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_ids(demo)['published']}/bundle").read())
    assert honest["witness_policy"]["k"] == 2
    got = verify_in_page(page, honest)
    assert got["witnesses"]["status"] == "passed" and "2" in got["witnesses"]["detail"], got["witnesses"]
    assert got["prepared_cp"]["status"] == "passed", got["prepared_cp"]
    names = sorted(parse_verifier_key(k).name for k in honest["witness_policy"]["witnesses"])
    b = copy.deepcopy(honest)
    b["log"]["checkpoint"]["note"] = strip(b["log"]["checkpoint"]["note"], names[:2])
    report = verify_bundle(copy.deepcopy(b))[0]
    assert report.verdict == "awaiting_witnesses" and not report.findings, report.to_text()
    res = verify_in_page_full(page, b)
    got = {c["id"]: c for c in res["checks"]}["witnesses"]
    assert res["verdict"] == "awaiting_witnesses" and got["status"] == "awaiting_witnesses", res
    assert got["detail"].startswith("等待见证") and all(n in got["detail"] for n in names[:2]), got
    assert "还差 1 个" in got["detail"], got
    # in English with ?lang=en: the same state in the page's English words
    page.get(page.current_url.split("?")[0] + "?lang=en")
    wait(page).until(lambda d: d.execute_script("return !!window.SpotcheckVerifier"))
    res = verify_in_page_full(page, b)
    got = {c["id"]: c for c in res["checks"]}["witnesses"]
    assert res["verdict"] == "awaiting_witnesses" and got["detail"].startswith("awaiting witnesses:"), got
    assert "1 more" in got["detail"], got
    page.get(page.current_url.split("?")[0] + "?lang=zh")
    wait(page).until(lambda d: d.execute_script("return !!window.SpotcheckVerifier"))
    b = copy.deepcopy(honest)
    b["log"]["checkpoint"]["note"] = forge(b["log"]["checkpoint"]["note"], names[0])
    assert "COSIGNATURE_INVALID" in verify_bundle(copy.deepcopy(b))[0].codes()
    res = verify_in_page_full(page, b)
    got = {c["id"]: c for c in res["checks"]}["witnesses"]
    assert res["verdict"] == "failed" and got["status"] == "failed" and "COSIGNATURE_INVALID" in got["detail"], got
    b = copy.deepcopy(honest)
    b["prepared_checkpoint"]["note"] = strip(b["prepared_checkpoint"]["note"], names[:2])
    assert verify_bundle(copy.deepcopy(b))[0].codes() == {"PREPARED_NOT_WITNESSED"}
    got = verify_in_page(page, b)["prepared_cp"]
    assert got["status"] == "failed" and "PREPARED_NOT_WITNESSED" in got["detail"], got
    b = copy.deepcopy(honest)
    b["witness_policy"] = {"k": 1, "witnesses": [str(own_cosignature_key(parse_verifier_key(b["log"]["verifier_key"])))]}
    assert "WITNESS_POLICY_INVALID" in verify_bundle(copy.deepcopy(b))[0].codes()
    got = verify_in_page(page, b)["witnesses"]
    assert got["status"] == "failed" and got["detail"].startswith("WITNESS_POLICY_INVALID"), got


WITNESS = "notary.example"


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A demo log where the witness notary.example registered key w1, rotated to w2, and w2 was
    then revoked; the published draw's bundle on the newest checkpoint (after all three)."""
    from nacl.signing import SigningKey
    from sqlalchemy import select

    from drawsvc.demo import create_demo
    from drawsvc.draws import schema
    from drawsvc.draws.bundle import build_bundle
    from ledger.note import ALG_COSIGNATURE_V1, NoteVerifier
    from ledger.rotation import register_witness, revoke_witness, rotate_witness, witness_rotation_statement
    from tests.pinned import drand_demo_now

    base = tmp_path_factory.mktemp("web_witness_keys")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
        mp.delenv("DATABASE_URL", raising=False)
        for attempt in range(5):  # the demo's random draw ids: see tests/verifier/conftest.py
            try:
                inst, _, _ = create_demo(base / f"i{attempt}", origin="test.example/log", now=drand_demo_now())
                break
            except Exception as exc:  # noqa: BLE001
                if attempt == 4 or type(exc).__name__ != "TooFewInspectors":
                    raise
        ledger = inst.ledger()
        w1, w2 = SigningKey(b"\x01" * 32), SigningKey(b"\x02" * 32)
        register_witness(ledger, NoteVerifier(WITNESS, bytes(w1.verify_key), ALG_COSIGNATURE_V1).encode())
        rotate_witness(ledger, witness_rotation_statement(WITNESS, w1, w2))
        mid = ledger.checkpoint().size  # after the rotation, before the revocation
        revoke_witness(ledger, WITNESS, "密钥泄露")
        newest = ledger.checkpoint().size
        with ledger.engine.connect() as conn:
            draw_id = conn.execute(select(schema.draws.c.id).where(schema.draws.c.status == "published")).scalar()
        vkey = inst.genesis_log_key.encode()
        bundle = build_bundle(ledger, draw_id, privileged=False, log_verifier_key=vkey, checkpoint_size=newest)
        before = build_bundle(ledger, draw_id, privileged=False, log_verifier_key=vkey, checkpoint_size=mid)
    first = NoteVerifier(WITNESS, bytes(w1.verify_key), ALG_COSIGNATURE_V1).encode()
    for b in (bundle, before):
        b["witness_policy"] = {"k": 1, "witnesses": [first]}  # the reader's policy: the witness's first key
    return {"bundle": bundle, "before": before, "w1": w1, "w2": w2}


def _cosigned(b: dict[str, Any], key: Any) -> dict[str, Any]:
    from ledger.note import cosign

    b = copy.deepcopy(b)
    note = b["log"]["checkpoint"]["note"]
    b["log"]["checkpoint"]["note"] = note + cosign(note.split("\n\n")[0] + "\n", WITNESS, key, 1_700_000_000)
    return b


def test_page_follows_witness_rotation_and_revocation_on_the_log(page: Any, rotated: dict[str, Any]) -> None:  # noqa: F811
    from verifier.draw import DrawOptions

    b = rotated["bundle"]
    # after the revocation: w2's line is refused (revoked), w1's too (rotated away), by name
    for key, code in (("w2", "WITNESS_KEY_REVOKED"), ("w1", "WITNESS_KEY_RETIRED")):
        bad = _cosigned(b, rotated[key])
        report = verify_bundle(copy.deepcopy(bad), DrawOptions())[0]
        assert code in report.codes() and report.verdict == "failed", report.to_text()
        got = verify_in_page(page, bad)["witnesses"]
        assert got["status"] == "failed" and code in got["detail"], got
    report = verify_bundle(copy.deepcopy(b), DrawOptions())[0]
    assert report.checks["bundle_checkpoint"].status == "awaiting_witnesses", report.to_text()
    # between the rotation and the revocation the rotated key counts, followed from the first key
    ok = _cosigned(rotated["before"], rotated["w2"])
    report = verify_bundle(copy.deepcopy(ok), DrawOptions())[0]
    assert report.checks["bundle_checkpoint"].status == "passed", report.to_text()
    got = verify_in_page(page, ok)["witnesses"]
    assert got["status"] == "passed" and WITNESS in got["detail"], got
    got = verify_in_page(page, b)["witnesses"]  # nobody cosigned: awaiting witnesses in both
    assert got["status"] == "awaiting_witnesses" and WITNESS in got["detail"], got
