"""Helpers for the results tests: tamper with a demo log the way a dishonest service could,
re-signing every rewritten entry with the demo's real keys (from the conftest)."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import rfc8785

from verifier.draw import verify_bundle
from verifier.findings import Report
from verifier.log import verify_log
from verifier.results import ResultOptions, verify_results


def leaf_hash(e: dict[str, Any]) -> str:
    return hashlib.sha256(b"\x00" + rfc8785.dumps(e)).hexdigest()


def resign(e: dict[str, Any], signers: dict[str, Any]) -> None:
    from vf_drawkit import resign as resign_both

    resign_both(e, signers[e["actor"]["id"]])  # sig, and sm2_sig for an SM2 actor (SPEC §3 item 11)


def rechain(log: list[dict[str, Any]], start: int, signers: dict[str, Any]) -> list[dict[str, Any]]:
    """Renumber, relink and re-sign every entry from `start` on (the service rewriting history
    before any checkpoint was seen)."""
    for i in range(start, len(log)):
        e = log[i]
        e["seq"] = i
        e["prev"] = leaf_hash(log[i - 1]) if i else "0" * 64
        resign(e, signers)
    return log


def matching_of(bundle: dict[str, Any]) -> Any:
    report, st = verify_bundle(copy.deepcopy(bundle))
    return st.current if report.ok else "the draw's bundle does not verify"


def check(log: list[dict[str, Any]], matchings: dict[str, Any] | None = None, subject: str | None = None) -> Report:
    rep = verify_log(copy.deepcopy(log), (), total=len(log), subject="log")
    return verify_results(copy.deepcopy(log), ResultOptions(subject=subject, draw_matchings=matchings or {}),
                          report=rep)


def find(log: list[dict[str, Any]], typ: str, pred: Any = None) -> int:
    return next(i for i, e in enumerate(log) if e["type"] == typ and (pred is None or pred(e)))


def as_actor(e: dict[str, Any], actor_id: str, signers: dict[str, Any]) -> None:
    e["actor"] = {"id": actor_id, "key_id": hashlib.sha256(bytes(signers[actor_id].verify_key)).hexdigest()[:16]}
