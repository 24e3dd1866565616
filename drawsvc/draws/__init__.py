"""The draw lifecycle on the ledger: prepared → seeded → drawn → (substituted) → published,
or aborted. The pure algorithms live in drawsvc.draw; this package adds the registry
inputs, the rules checked before prepare, storage, and the log entries (docs/SPEC.md §10)."""
