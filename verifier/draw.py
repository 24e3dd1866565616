"""Extension point: draw, bundle and subject checks (``drawverify draw|bundle|subject``).

Why empty: these checks re-implement docs/spec/20-draws.md (seed commitment before the beacon
round, nonce, beacon signature, tickets, selection, pool root, matching, substitutions, seal,
rule checks), which is still being written.  They will live here, in their own module, and
use :mod:`verifier.log` for the entries they rely on and :mod:`verifier.findings` for the
report, so the CLI only has to route to them.
"""

from __future__ import annotations

__all__ = ["NOT_YET"]

NOT_YET = ("draw verification is not implemented yet: it follows docs/spec/20-draws.md, which is not "
           "settled. Only the log checks (drawverify log / checkpoint / witness) are available.")
