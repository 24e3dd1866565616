"""drawverify: an independent verifier for the spot-check service's log and draws.

Why a separate package: the verifier re-implements the published protocol
(docs/SPEC.md Part I and the public standards it cites) without sharing a
line of code with the server (``ledger``, ``drawsvc``, ``web``), so a bug or a lie on the
server side cannot hide itself behind the same bug in the checker.

Subject areas, one module each:

* :mod:`verifier.merkle` — RFC 9162 §2.1 hashing and proofs.
* :mod:`verifier.canonical` — RFC 8785 (JCS) canonical form.
* :mod:`verifier.note` — C2SP signed-note, tlog-checkpoint, tlog-cosignature.
* :mod:`verifier.findings` — typed findings and the pass/fail/not-checked report.
* :mod:`verifier.log` — the log checks (entries, keys, chain, tree, checkpoints).
* :mod:`verifier.parallel` — Ed25519 verification and the ordered pool of worker processes.
* :mod:`verifier.sources` — offline bundle files and the live JSON API.
* :mod:`verifier.witness` — the witness (consistency check + cosigning).
* :mod:`verifier.drand` — drand BLS12-381 rounds (both schemes, subgroup checks).
* :mod:`verifier.recipe`, :mod:`verifier.pools`, :mod:`verifier.sizes`, :mod:`verifier.tickets`,
  :mod:`verifier.matching`, :mod:`verifier.seal` — the draw algorithms of docs/SPEC.md Part II.
* :mod:`verifier.draw` — the evidence-bundle checks; :mod:`verifier.subject` — one subject's report.
* :mod:`verifier.cli` — the ``drawverify`` command.
"""

__version__ = "0.1.0"
