"""Behind a load balancer (DRAWSVC_PROXY_HOPS=1) the client address is the one the balancer
forwards: one client's failed logins block that client, not every client behind the balancer.
Without the setting, forwarded headers are not trusted (a client could forge them)."""

from __future__ import annotations

import pytest

from drawsvc.registry import throttle as th

BALANCER = {"REMOTE_ADDR": "10.0.0.2"}


def _fail(client, forwarded: str, account: str = "nobody") -> int:  # type: ignore[no-untyped-def]
    """A failed login (password spraying: a new account each time, so only the per-address limit bites)."""
    return client.post("/api/v1/session", json={"account": account, "password": "x"},
                       headers={"X-Forwarded-For": forwarded}, environ_base=BALANCER).status_code


def test_behind_one_proxy_the_forwarded_address_is_the_client(instance, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from web import create_app

    monkeypatch.setenv("DRAWSVC_PROXY_HOPS", "1")
    client = create_app(instance, {"TESTING": True}).test_client()
    codes = [_fail(client, "203.0.113.5", f"user{i}") for i in range(th.ADDRESS_LIMIT)]
    assert codes == [401] * th.ADDRESS_LIMIT
    assert _fail(client, "203.0.113.5") == 429  # the attacker is blocked ...
    assert _fail(client, "203.0.113.6") == 401  # ... another client behind the same balancer is not
    # a forged extra hop in front does not help: only the hop the balancer added is trusted
    assert _fail(client, "198.51.100.1, 203.0.113.5") == 429


def test_without_the_setting_forwarded_headers_are_ignored(instance, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from web import create_app

    monkeypatch.delenv("DRAWSVC_PROXY_HOPS", raising=False)
    client = create_app(instance, {"TESTING": True}).test_client()
    for i in range(th.ADDRESS_LIMIT):
        assert _fail(client, f"203.0.113.{i}", f"user{i}") == 401
    assert _fail(client, "203.0.113.200") == 429  # every "client" was the balancer's one address


def test_a_bad_setting_is_refused(instance, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from web import create_app

    monkeypatch.setenv("DRAWSVC_PROXY_HOPS", "many")
    with pytest.raises(ValueError, match="DRAWSVC_PROXY_HOPS"):
        create_app(instance, {"TESTING": True})
