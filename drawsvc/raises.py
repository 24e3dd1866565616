"""The refusals a service function may raise to its caller, declared next to the function.

Why: the web layer maps each refusal (a domain exception: not found, forbidden, wrong state, bad
input …) to one HTTP status, and the OpenAPI document lists, per operation, the statuses its
service calls can give. Read from the code by a scan, that set was either a guess (every status
the mapping knows, so `GET /api/v1/draws/{id}` promised a 409 it cannot answer) or a fragile
analysis of everything a method calls, transitively. A declaration is short and sits where the
raising is; it is kept true by the web layer, which warns (`web.errors.UndeclaredRefusal`, an
error under pytest) whenever a function raises a refusal its declaration does not name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def raises(*errors: type[Exception]) -> Callable[[F], F]:
    """Declare that the decorated function may raise these refusals (or their subclasses that
    the web layer answers with the same status); the function itself is unchanged."""

    def mark(fn: F) -> F:
        fn.__raises__ = errors  # type: ignore[attr-defined]
        return fn

    return mark


def declared(fn: Any) -> tuple[type[Exception], ...] | None:
    """The refusals `fn` (a function, or a bound method) declares; None when it declares none."""
    return getattr(fn, "__raises__", None)
