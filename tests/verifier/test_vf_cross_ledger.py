"""Cross-test: a log written by the real server code (ledger/) verifies clean, and a byte changed fails.

Tests may import the server; verifier/ may not.  This is where the two implementations meet.
"""

import pytest

pytest.importorskip("ledger.store")


def test_real_ledger_output_verifies(ledger):  # the `ledger` fixture is in tests/conftest.py
    from verifier.log import LogOptions, verify_log

    for i in range(25):
        ledger.append("registry.subject.added", {"credit_code": f"9131000{i:011d}", "name": "测试公司", "i": i},
                      ledger.system)
    ledger.checkpoint()
    size = ledger.size() if callable(getattr(ledger, "size", None)) else ledger.size
    leaves = ledger.leaves(0, size)
    notes = [c.note for c in ledger.list_checkpoints()]
    r = verify_log(leaves, notes, options=LogOptions())
    assert r.ok, r.to_text()
    assert r.checks["tree"].status == "passed"
    bad = list(leaves)
    bad[7] = bad[7].replace(b"\\u6d4b" if b"\\u6d4b" in bad[7] else "测".encode(), "侧".encode())
    r = verify_log(bad, notes, options=LogOptions())
    assert not r.ok and "ENTRY_SIGNATURE_INVALID" in r.codes()
