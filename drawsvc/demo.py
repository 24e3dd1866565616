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
    ledger.checkpoint()
