"""drawverify: an independent verifier for the spot-check service's log and draws.

Why a separate package: the verifier re-implements the published protocol
(docs/spec/00-log-decisions.md and the public standards it cites) without sharing a
line of code with the server (``ledger``, ``drawsvc``, ``web``), so a bug or a lie on the
server side cannot hide itself behind the same bug in the checker.

Subject areas, one module each:

* :mod:`verifier.merkle` — RFC 9162 §2.1 hashing and proofs.
* :mod:`verifier.canonical` — RFC 8785 (JCS) canonical form.
* :mod:`verifier.note` — C2SP signed-note, tlog-checkpoint, tlog-cosignature.
* :mod:`verifier.findings` — typed findings and the pass/fail/not-checked report.
* :mod:`verifier.log` — the log checks (entries, keys, chain, tree, checkpoints).
* :mod:`verifier.parallel` — batched Ed25519 verification on every core.
* :mod:`verifier.sources` — offline bundle files and the live JSON API.
* :mod:`verifier.witness` — the witness (consistency check + cosigning).
* :mod:`verifier.draw` — extension point for draw / bundle / subject checks.
* :mod:`verifier.cli` — the ``drawverify`` command.
"""

__version__ = "0.1.0"
