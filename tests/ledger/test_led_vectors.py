"""The server still produces docs/vectors/log-v1.json byte for byte, and audits it clean."""

from __future__ import annotations

import importlib.util
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_log_vectors", VECTORS / "make_log_vectors.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_log_vectors_are_reproduced_exactly() -> None:
    assert _generator().render() == (VECTORS / "log-v1.json").read_text(encoding="utf-8")


def test_log_vectors_pass_the_servers_key_rules() -> None:
    import json

    from ledger.entry import Entry
    from ledger.keyrules import KeyState

    data = json.loads((VECTORS / "log-v1.json").read_text(encoding="utf-8"))
    keys = KeyState()
    for seq, item in enumerate(data["entries"]):
        entry = Entry.from_json(item["entry"])
        assert entry.leaf_hash().hex() == item["leaf_hash_hex"]
        entry.verify(keys.resolve(item["entry"]))
        keys.apply(item["entry"], seq)


def test_key_lifecycle_vectors_follow_the_servers_key_rules() -> None:
    """§3 items 7-10: the server's fold accepts the lifecycle entries in order, ends with the witness
    revoked and the log key replaced, and refuses the revoked key's later (backdated) entry."""
    import json

    import pytest

    from ledger.entry import Entry
    from ledger.keyrules import KeyRuleError, KeyState

    data = json.loads((VECTORS / "log-v1.json").read_text(encoding="utf-8"))
    kl = data["key_lifecycle"]
    keys = KeyState()
    for seq, item in enumerate(data["entries"] + kl["entries"]):
        entry = Entry.from_json(item["entry"])
        assert entry.leaf_hash().hex() == item["leaf_hash_hex"]
        entry.verify(keys.resolve(item["entry"]))
        keys.apply(item["entry"], seq)
    assert keys.witnesses == {}
    assert keys.log_key == kl["keys"]["log_after_revocation"]["verifier_key"]
    assert keys.revoked == {kl["keys"]["operator_2"]["key_id"]: 11}
    name, first, last = keys.witness_keys[kl["keys"]["witness_rotated"]["verifier_key"]]
    assert (name, first, last) == ("witness.example", 11, 12)
    with pytest.raises(KeyRuleError, match="revoked at seq 11"):
        keys.resolve(kl["refused"]["entry_by_revoked_key"]["entry"])
