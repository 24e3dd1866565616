"""Messages the services give people, in the reader's language, from one catalogue.

A service's message (a refusal, a validation error, an import report's reason) is written once,
in Chinese, as `tr("超过%(n)s字", n=10)`: the Chinese text is the gettext msgid, its English lives in
web/translations/en/LC_MESSAGES/messages.po.  The services do not know about web requests, so
the web app installs the lookup (`install`) that picks the request's language; without it (the
command line, a test of a service alone) the message stays Chinese, the project's default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_lookup: Callable[[str], str] | None = None


def install(lookup: Callable[[str], str] | None) -> None:
    """Set how a msgid becomes the reader's text (None: Chinese, the msgid itself)."""
    global _lookup
    _lookup = lookup


def tr(msgid: str, **params: Any) -> str:
    """The message in the reader's language, %-formatted with `params` (extra params are ignored)."""
    text = _lookup(msgid) if _lookup is not None else msgid
    return text % params if params else text


def N_(msgid: str) -> str:
    """Mark a msgid for the catalogue without translating it now (labels in module constants)."""
    return msgid


def NC_(context: str, msgid: str) -> str:
    """`N_` for a msgid read with a context (`trc` / the templates' `pgettext`)."""
    return msgid


def trc(context: str, msgid: str, **params: Any) -> str:
    """`tr` for a msgid that means different things (msgctxt): `trc("status", "退回")` is "returned"."""
    text = _lookup_ctx(context, msgid) if _lookup_ctx is not None else msgid
    return text % params if params else text


_lookup_ctx: Callable[[str, str], str] | None = None


def install_ctx(lookup: Callable[[str, str], str] | None) -> None:
    """Set how a (context, msgid) pair becomes the reader's text."""
    global _lookup_ctx
    _lookup_ctx = lookup
