"""The page checks what the CLI checks (issue 12): on each demo draw — published, sealed (drawn)
and aborted — a check the page leaves *not checked* is one the CLI also leaves not checked, and
neither fails an honest bundle. Each page check is mapped to the CLI check that covers it."""

from __future__ import annotations

import copy
import json
import urllib.request
from typing import Any

import pytest

from tests.web.conftest import draw_ids
from tests.web.test_web_drand_browser import page, verify_in_page  # noqa: F401  (page: fixture)
from verifier.draw import verify_bundle

pytestmark = pytest.mark.browser

# page check id -> the CLI check (verifier/draw.py) that covers the same rules
CLI_OF = {
    "format": None, "canonical": "bundle_log", "signatures": "bundle_log", "keys": "bundle_log", "chain": "bundle_log",
    "inclusion": "bundle_log", "checkpoint": "bundle_checkpoint", "witnesses": None, "lifecycle": "lifecycle",
    "prepared_cp": "prepared_checkpoint", "drand_chain": "chains", "drand_bls": "reveals", "reveals": "reveals",
    "drand_time": "timing", "chains_committed": "chains", "coverage": "checkpoint_coverage",
    "nonce": "seed", "seed": "seed", "pools": "pools", "sizes": "sizes", "selection": "selection", "matching": "matching",
    "seal": "seal", "substitutions": "substitutions", "rules": "rules", "other_draws": "other_draws",
    "pool_changes": "pool_changes", "sm2": "bundle_checkpoint", "sm2_entries": "bundle_log", "time_order": "bundle_log", "algorithm": "lifecycle",
}


def statuses(live_server: str, driver: Any, draw_id: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    bundle = json.loads(urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_id}/bundle").read())
    rep, _ = verify_bundle(copy.deepcopy(bundle))
    return verify_in_page(driver, bundle), {k: c for k, c in rep.checks.items()}, bundle


@pytest.mark.parametrize("kind", ["published", "drawn", "aborted"])
def test_page_leaves_unchecked_only_what_the_cli_does(page: Any, live_server: str, demo: Any, kind: str) -> None:  # noqa: F811
    mine, cli, _ = statuses(live_server, page, draw_ids(demo)[kind])
    assert set(mine) <= set(CLI_OF), set(mine) - set(CLI_OF)  # every page check is mapped
    failed = [(k, c) for k, c in mine.items() if c["status"] == "failed"]
    assert not failed and not [k for k, c in cli.items() if c.status == "failed"], failed
    for k, c in mine.items():
        if c["status"] == "not_checked" and CLI_OF[k] is not None:
            assert cli[CLI_OF[k]].status == "not_checked", (kind, k, c["detail"], CLI_OF[k], cli[CLI_OF[k]].status)
    # and every CLI check is on the page, except the ones that only summarise others
    covered = {v for v in CLI_OF.values() if v}
    for name, c in cli.items():
        if name in ("publication", "current_matching"):  # publication: the status line; current_matching: in substitutions
            continue
        if c.status != "not_checked":
            assert name in covered and any(CLI_OF[k] == name for k in mine), (kind, name)


def test_a_bundle_without_its_prepared_checkpoint_fails_in_both(page: Any, live_server: str, demo: Any) -> None:  # noqa: F811
    bundle = json.loads(urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_ids(demo)['published']}/bundle").read())
    del bundle["prepared_checkpoint"]
    rep, _ = verify_bundle(copy.deepcopy(bundle))
    assert rep.checks["prepared_checkpoint"].status == "failed"
    got = verify_in_page(page, bundle)["prepared_cp"]
    assert got["status"] == "failed" and got["detail"].startswith("PREPARED_CHECKPOINT_INVALID"), got


@pytest.mark.parametrize("kind", ["published", "drawn"])
def test_tampered_reveals_fail_before_publication_too(page: Any, live_server: str, demo: Any, kind: str) -> None:  # noqa: F811
    honest = json.loads(urllib.request.urlopen(f"{live_server}/api/v1/draws/{draw_ids(demo)[kind]}/bundle").read())
    seeded = lambda b: next(e for e in b["entries"] if e["entry"]["type"] == "draw.seeded"  # noqa: E731
                            and e["entry"]["payload"]["draw_id"] == b["draw_id"])["entry"]["payload"]
    cases = {"ContributionMismatch": ("witness", {"contribution": "ff" * 16}), "DiceDigitsInvalid": ("dice", {"digits": "123"})}
    for code, (typ, change) in cases.items():
        b = copy.deepcopy(honest)
        reveals = [r for r in seeded(b)["reveals"] if r["type"] == typ]
        assert reveals, (kind, typ)
        for r in reveals:
            r.update(change)
        rep, _ = verify_bundle(copy.deepcopy(b))
        assert rep.checks["reveals"].status == "failed", code
        got = verify_in_page(page, b)["reveals"]
        assert got["status"] == "failed" and code + ":" in got["detail"], (code, got)
    b = copy.deepcopy(honest)
    seeded(b)["reveals"].pop()
    got = verify_in_page(page, b)["reveals"]
    assert got["status"] == "failed" and got["detail"].startswith("REVEAL_MISMATCH"), got
