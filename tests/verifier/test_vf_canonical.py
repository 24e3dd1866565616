"""The JCS fast path must equal the reference rfc8785 encoder wherever it is taken."""

import json

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.canonical import jcs, loads_leaf, message_without_sig

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda ch: st.lists(ch, max_size=4) | st.dictionaries(st.text(max_size=6), ch, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_jcs_equals_reference(v):
    try:
        ref = rfc8785.dumps(v)
    except Exception:
        return
    assert jcs(v) == ref
    obj, canonical = loads_leaf(ref)
    assert canonical


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.integers(0, 100) | st.text(max_size=5), max_size=5))
def test_noncanonical_detected(d):
    ref = rfc8785.dumps(d)
    pretty = json.dumps(d, indent=1, ensure_ascii=True).encode()
    _, canonical = loads_leaf(pretty)
    assert canonical == (pretty == ref)


def test_specific_noncanonical_forms():
    for raw in [b'{"b":1,"a":2}', b'{"a": 1}', b'{"a":1.0}', b'{"a":"\\u00e9"}', b'{"a":1,"a":1}', b'{"a":1e2}']:
        assert loads_leaf(raw)[1] is False, raw
    assert loads_leaf('{"a":"é","𝄞":1,"ｚ":2}'.encode())[1] is (rfc8785.dumps({"a": "é", "𝄞": 1, "ｚ": 2}) ==
                                                                   '{"a":"é","𝄞":1,"ｚ":2}'.encode())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), json_values, max_size=4))
def test_message_without_sig(payload):
    sig = "A" * 86 + "=="
    e = {"v": 1, "seq": 3, "time": "2026-11-23T02:10:00.123Z", "type": "a.b", "actor": {"id": "x", "key_id": "0" * 16},
         "payload": payload, "prev": "0" * 64, "sig": sig}
    try:
        leaf = rfc8785.dumps(e)
    except Exception:
        return
    body = {k: v for k, v in e.items() if k != "sig"}
    assert message_without_sig(leaf, sig) == rfc8785.dumps(body)


def test_loads_leaf_direct_scan_matches_full_decoder():
    # The direct scan is only trusted for a whole value with nothing around it; the rest goes
    # through the full decoder, with its results and error messages.
    assert loads_leaf(b' {"a":1}') == ({"a": 1}, False)
    assert loads_leaf(b'{"a":1}\n') == ({"a": 1}, False)
    for bad in [b'{"a":1} x', b'{"a":', b'', b' ', b'{"a":1}{"b":2}']:
        try:
            json.loads(bad.decode())
        except ValueError as exc:
            want = str(exc)
        try:
            loads_leaf(bad)
        except ValueError as exc:
            assert str(exc) == want, bad
        else:
            raise AssertionError(bad)
    # Big integers and floats still leave the fast path (JCS numbers are doubles).
    assert loads_leaf(b'{"a":9007199254740993}') == ({"a": 9007199254740992.0}, False)
    assert loads_leaf(b'{"a":1152921504606847000}')[1] is (rfc8785.dumps({"a": 2.0**60}) == b'{"a":1152921504606847000}')
    assert loads_leaf(b'{"a":1.5}') == ({"a": 1.5}, True)
    assert loads_leaf(b'[1,"\xc3\xa9",null,true]') == ([1, "é", None, True], True)


@settings(max_examples=400, deadline=None)
@given(json_values, st.sampled_from(["jcs", "compact", "pretty", "ascii"]))
def test_orjson_fast_path_equals_stdlib_path(v, form):
    from verifier.canonical import _orjson_leaf, _stdlib_leaf

    try:
        raw = {"jcs": lambda: rfc8785.dumps(v),
               "compact": lambda: json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode(),
               "pretty": lambda: json.dumps(v, indent=1).encode(),
               "ascii": lambda: json.dumps(v, separators=(",", ":"), sort_keys=True).encode()}[form]()
    except Exception:
        return
    fast = _orjson_leaf(raw)
    if fast is not None:
        assert fast == _stdlib_leaf(raw)
        assert [type(x) for x in _walk(fast[0])] == [type(x) for x in _walk(_stdlib_leaf(raw)[0])]


def _walk(o):
    yield o
    for x in (o.values() if isinstance(o, dict) else o if isinstance(o, list) else ()):
        yield from _walk(x)
