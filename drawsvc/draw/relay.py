"""Fetching a drand round from an HTTP relay (I/O, kept apart from the pure verification).

The relay is not trusted: whatever it returns goes through drand.verify_round before use.
Where the service has no network, the operator enters the round by hand instead.
"""

from __future__ import annotations

from typing import Any

from drawsvc.i18n import tr

from .errors import BeaconEncodingError


def fetch_round(relay_url: str, chain_hash_hex: str, round_: int, *, timeout: float = 10.0, session: Any = None) -> dict[str, Any]:
    """GET {relay}/{chain_hash}/public/{round} → {chain_hash, round, randomness, signature, previous_signature?}."""
    import requests

    getter = session or requests
    url = f"{relay_url.rstrip('/')}/{chain_hash_hex}/public/{int(round_)}"
    resp = getter.get(url, timeout=timeout)
    resp.raise_for_status()
    data = resp.json()
    if not isinstance(data, dict) or data.get("round") != round_ or "signature" not in data:
        raise BeaconEncodingError(tr("中继对第 %(round)s 轮的应答不是 drand 轮次数据：%(data)s", round=round_, data=str(data)[:200]))
    out: dict[str, Any] = {
        "chain_hash": chain_hash_hex,
        "round": round_,
        "signature": data["signature"],
        "randomness": data.get("randomness"),
    }
    if data.get("previous_signature"):
        out["previous_signature"] = data["previous_signature"]
    return out
