"""The page checks the bundle's witness policy as drawverify does (SPEC §D12 `witness_policy`):
the demo's 2-of-3 witnesses pass; stripped, misstated or late cosignatures fail in both."""

from __future__ import annotations

import copy
import json
import urllib.request
from typing import Any

import pytest

from tests.web.conftest import draw_ids
from tests.web.test_web_drand_browser import page, verify_in_page  # noqa: F401  (page: fixture)
from verifier.draw import verify_bundle
from verifier.note import own_cosignature_key, parse_verifier_key

pytestmark = pytest.mark.browser
DASH = "\u2014"


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
    assert "WITNESS_QUORUM_NOT_MET" in verify_bundle(copy.deepcopy(b))[0].codes()
    got = verify_in_page(page, b)["witnesses"]
    assert got["status"] == "failed" and got["detail"].startswith("WITNESS_QUORUM_NOT_MET"), got
    b = copy.deepcopy(honest)
    b["prepared_checkpoint"]["note"] = strip(b["prepared_checkpoint"]["note"], names[:2])
    assert "WITNESS_QUORUM_NOT_MET" in verify_bundle(copy.deepcopy(b))[0].codes()
    got = verify_in_page(page, b)["prepared_cp"]
    assert got["status"] == "failed" and "WITNESS_QUORUM_NOT_MET" in got["detail"], got
    b = copy.deepcopy(honest)
    b["witness_policy"] = {"k": 1, "witnesses": [str(own_cosignature_key(parse_verifier_key(b["log"]["verifier_key"])))]}
    assert "WITNESS_POLICY_INVALID" in verify_bundle(copy.deepcopy(b))[0].codes()
    got = verify_in_page(page, b)["witnesses"]
    assert got["status"] == "failed" and got["detail"].startswith("WITNESS_POLICY_INVALID"), got
