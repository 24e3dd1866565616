"""`drawsvc init --demo`: a realistic demo county, generated (no real people)."""

from __future__ import annotations

from collections.abc import Iterator

from .instance import Instance


def load_demo(instance: Instance) -> Iterator[str]:
    ledger = instance.ledger()
    try:
        from .registry.demo import seed_demo
    except ModuleNotFoundError:
        yield "demo: registries are not available in this build; only the log was initialised"
        return
    yield from seed_demo(ledger, instance)
    from .draws.demo import seed_demo_draws
    from .draws.service import DrawService
    from .registry.demo import demo_actor
    from .registry.service import Registry

    registry = Registry(ledger, instance.passphrase())
    plan = registry.list("plan")[0]
    svc = DrawService(ledger, registry)
    yield from seed_demo_draws(svc, demo_actor(registry, "op-scjg"), plan["code"], plan["departments"][0],
                               f"{plan['year']}-03-02")
    from .inspections.demo import seed_demo_inspections

    yield from seed_demo_inspections(ledger, registry, instance.home / "evidence",
                                     svc.list(status=["published"])[0]["id"])
    ledger.checkpoint()
