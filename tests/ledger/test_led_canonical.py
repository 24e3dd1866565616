"""The fast canonical encoder agrees with the RFC 8785 reference on every JSON value."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import EncodingError, canonical_bytes

keys = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**54), max_value=2**54)
           | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
           | st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=20)


def same_as_reference(value) -> None:  # type: ignore[no-untyped-def]
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError):
        with pytest.raises(EncodingError):
            canonical_bytes(value)
        return
    assert canonical_bytes(value) == expected


@settings(max_examples=600, deadline=None)
@given(values)
def test_fast_path_equals_reference(value) -> None:  # type: ignore[no-untyped-def]
    same_as_reference(value)


def test_known_tricky_cases() -> None:
    for value in [{"\u20ac": 1, "\r": 2, "1": 3, "\U0001f600": 4, "\u00e9": 5}, ["\u2028\u2029\x7f\x00\x1f"],
                  {"n": 2**53 - 1}, {"n": -(2**53) + 1}, {"n": 2**53}, {"big": 2**60}, {"f": 1.5e300}, "中文/斜杠"]:
        same_as_reference(value)
