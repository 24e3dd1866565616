"""The chunked, multi-process log check must report exactly what a one-entry-at-a-time pass does.

verify_log splits the entries into chunks checked by worker processes, keeps key-management
entries, seq numbers, the prev links between chunks and the tree in the main process, and
merges the findings back into log order.  Every tampered log below is checked with chunks of
1 (each entry alone: the main process sees every seq and link), of odd and power-of-two sizes
(chunk boundaries everywhere, whole subtrees hashed by the workers), inline and with two
worker processes: the reports must be identical, finding for finding, in the same order.
"""

from __future__ import annotations

import copy
import json

import pytest
import rfc8785
from nacl.signing import SigningKey
from vf_logkit import LogMaker, b64, kid, lh, sign_entry

import verifier.log as vlog
from verifier.log import LogOptions, verify_log
from verifier.merkle import inclusion_proof

CONFIGS = [(1, False), (2, False), (3, False), (4, False), (8, True), (4096, False), (3, True), (4, True)]


def rich_log() -> LogMaker:
    """Registrations, rotations, a log-key rotation, clients and external records, spread out."""
    lm = LogMaker()
    lm.first_log_sk = lm.log_sk  # type: ignore[attr-defined]
    lm.register("operator:alice")
    lm.register("inspector:bob")
    lm.add_client("citysys")
    for i in range(30):
        if i == 7:
            lm.rotate("operator:alice")
        if i == 12:
            lm.register("operator:carol")
        if i == 17:
            lm.rotate_log_key()
        if i == 21:
            lm.rotate("inspector:bob")
        if i % 5 == 3:
            lm.external("citysys", "inspection.result", {"case": f"A-{i}", "outcome": "合格"})
        else:
            lm.event(["operator:alice", "inspector:bob", "operator:carol" if i > 12 else "operator:alice"][i % 3], idx=i)
    return lm


def reports(leaves, checkpoints, monkeypatch, configs=CONFIGS, **opts):
    out = []
    for chunk, parallel in configs:
        monkeypatch.setattr(vlog, "CHUNK", chunk)
        r = verify_log(leaves, checkpoints, total=len(leaves),
                       options=LogOptions(parallel=parallel, workers=2 if parallel else None, **opts))
        out.append(((chunk, parallel), r))
    first = out[0][1].to_dict()
    for cfg, r in out[1:]:
        assert r.to_dict() == first, f"chunk/parallel {cfg} differs from {out[0][0]}"
    return out[0][1]


def relink(entries, sk_for, start):
    for i in range(start, len(entries)):
        e = dict(entries[i])
        e["seq"] = i
        e["prev"] = lh(rfc8785.dumps(entries[i - 1])).hex()
        entries[i] = sign_entry(e, sk_for(e))
    return entries


def test_honest_rich_log_same_everywhere(monkeypatch):
    lm = rich_log()
    r = reports(lm.leaves(), [lm.checkpoint()], monkeypatch)
    assert r.ok, r.to_text()
    assert r.checks["signatures"].status == "passed" and r.checks["client_signatures"].status == "passed"


def test_checkpoint_roots_at_every_size(monkeypatch):
    lm = rich_log()
    leaves = lm.leaves()
    n = len(leaves)
    hashes = [lh(x) for x in leaves]
    rot = next(i for i, e in enumerate(lm.entries) if e["type"] == "log.key.rotated")
    cps = [lm.checkpoint(size=s, leaves=leaves, sk=lm.first_log_sk if s <= rot else None)
           for s in (1, 2, 3, 4, 8, 13, 16, 24, 32, n)]
    r = reports(leaves, cps, monkeypatch, fetch_inclusion=lambda i, s: inclusion_proof(hashes[:s], i))
    assert r.ok, r.to_text()
    assert r.checks["tree"].detail == "10 checkpoint roots recomputed"
    assert r.checks["inclusion"].status == "passed", r.to_text()
    entries = lm.copy_entries()
    entries[14]["payload"]["idx"] = -1
    r = reports(lm.leaves(entries), cps, monkeypatch, fetch_inclusion=lambda i, s: inclusion_proof(hashes[:s], i))
    assert [f.checkpoint_size for f in r.checks["tree"].findings] == [16, 24, 32, n]


@pytest.mark.parametrize("where", [1, 3, 4, 5, 8, 15, 16, 17, 30])
def test_edited_entry_anywhere(monkeypatch, where):
    lm = rich_log()
    entries = lm.copy_entries()
    entries[where]["payload"]["tampered"] = True
    leaves = lm.leaves(entries)
    r = reports(leaves, [lm.checkpoint()], monkeypatch)
    assert "PREV_MISMATCH" in r.codes() and "ROOT_MISMATCH" in r.codes()


def test_many_tamperings_at_once(monkeypatch):
    lm = rich_log()
    entries = lm.copy_entries()
    leaves = lm.leaves(entries)
    rogue = SigningKey.generate()
    # 4: re-signed by an unregistered key; 6: edited payload; 9: bad time, re-signed;
    # 10: not JSON; 14: non-canonical bytes; 18: missing field; 20: too large; 26: a second genesis.
    e = copy.deepcopy(entries[4])
    e["actor"] = {"id": e["actor"]["id"], "key_id": kid(rogue)}
    leaves[4] = rfc8785.dumps(sign_entry(e, rogue))
    e = copy.deepcopy(entries[6])
    e["payload"]["idx"] = 999
    leaves[6] = rfc8785.dumps(e)
    e = copy.deepcopy(entries[9])
    e["time"] = "2026-02-30T00:00:00.000Z"
    leaves[9] = rfc8785.dumps(sign_entry(e, lm.actors[e["actor"]["id"]]))
    leaves[10] = b'{"seq": 10, "not json'
    leaves[14] = json.dumps(entries[14], indent=1).encode()
    e = copy.deepcopy(entries[18])
    del e["time"]
    leaves[18] = rfc8785.dumps(e)
    e = copy.deepcopy(entries[20])
    e["payload"]["blob"] = "x" * 70000
    leaves[20] = rfc8785.dumps(sign_entry(e, lm.actors[e["actor"]["id"]]))
    e = copy.deepcopy(entries[0])
    e["seq"] = 26
    e["prev"] = entries[26]["prev"]
    leaves[26] = rfc8785.dumps(sign_entry(e, lm.system))
    r = reports(leaves, [lm.checkpoint()], monkeypatch)
    assert {"UNKNOWN_KEY", "ENTRY_SIGNATURE_INVALID", "ENTRY_MALFORMED", "NOT_CANONICAL", "ENTRY_TOO_LARGE",
            "GENESIS_INVALID", "PREV_MISMATCH", "ROOT_MISMATCH"} <= r.codes(), r.to_text()
    assert [f.seq for f in r.checks["format"].findings] == sorted(f.seq for f in r.checks["format"].findings)


def test_dropped_reordered_and_repeated_entries(monkeypatch):
    lm = rich_log()
    entries = lm.copy_entries()
    entries[10], entries[11] = entries[11], entries[10]
    del entries[20]
    entries.insert(25, copy.deepcopy(entries[24]))
    r = reports(lm.leaves(entries), [lm.checkpoint()], monkeypatch)
    assert {"SEQ_GAP", "PREV_MISMATCH", "ROOT_MISMATCH"} <= r.codes()
    gaps = [(f.expected, f.actual) for f in r.checks["sequence"].findings]
    assert gaps[0] == ("10", "11")


def test_rewritten_history_only_checkpoints_catch(monkeypatch):
    lm = rich_log()
    old = lm.checkpoint(size=20, sk=lm.first_log_sk)
    entries = lm.copy_entries()
    entries[9]["payload"]["note"] = "rewritten"
    relink(entries, lambda e: _KEYS[id(lm)][e["seq"]], start=9)
    leaves = lm.leaves(entries)
    r = reports(leaves, [old, lm.checkpoint(leaves=leaves)], monkeypatch)
    assert r.codes() == {"ROOT_MISMATCH", "INCONSISTENT_CHECKPOINTS"}, r.to_text()


_KEYS: dict[int, dict[int, SigningKey]] = {}


@pytest.fixture(autouse=True)
def _track_keys(monkeypatch):
    """Record, for every entry LogMaker appends, the key it was signed with."""
    orig = LogMaker.append

    def append(self, typ, payload, actor="system", sk=None, key_id=None):
        e = orig(self, typ, payload, actor=actor, sk=sk, key_id=key_id)
        _KEYS.setdefault(id(self), {})[e["seq"]] = sk or self.actors[actor]
        return e

    monkeypatch.setattr(LogMaker, "append", append)
    yield
    _KEYS.clear()


def test_retired_key_and_key_rules(monkeypatch):
    lm = rich_log()
    # An entry signed by alice's retired key, a registration not by system, a rotation with a
    # bad new_key_sig, a client record with a bad client signature, an external entry by a user.
    old, _new = lm.rotate("operator:alice")
    lm.append("registry.subject.added", {"idx": 101}, actor="operator:alice", sk=old)
    sk = SigningKey.generate()
    lm.append("actor.key.registered", {"actor_id": "x", "key_id": kid(sk), "public_key": b64(bytes(sk.verify_key))},
              actor="operator:alice")
    bob = lm.actors["inspector:bob"]
    new = SigningKey.generate()
    p = {"actor_id": "inspector:bob", "old_key_id": kid(bob), "new_key_id": kid(new),
         "new_public_key": b64(bytes(new.verify_key)), "new_key_sig": b64(SigningKey.generate().sign(b"x").signature)}
    lm.append("actor.key.rotated", p, actor="inspector:bob", sk=bob)
    lm.event("inspector:bob", idx=102)  # bob's old key is still in force: the rotation was refused
    lm.external("citysys", "inspection.result", {"case": "B"}, sk=SigningKey.generate())
    lm.clients["ghost"] = SigningKey.generate()
    lm.external("ghost", "x", {"a": 1})
    e = lm.append("external.thing", {"client": "citysys", "client_key_id": kid(lm.clients["citysys"]),
                                     "record": {}, "client_sig": b64(lm.clients["citysys"].sign(rfc8785.dumps(
                                         {"client": "citysys", "type": "external.thing", "record": {}})).signature)},
                  actor="operator:alice")
    assert e
    r = reports(lm.leaves(), [lm.checkpoint()], monkeypatch)
    assert {"RETIRED_KEY", "KEY_RULE_VIOLATION", "NEW_KEY_SIG_INVALID", "CLIENT_SIG_INVALID", "UNKNOWN_KEY"} <= r.codes()
    assert "ENTRY_SIGNATURE_INVALID" not in r.codes(), r.to_text()


def test_key_entry_spelled_with_escapes_is_still_applied(monkeypatch):
    """A registration whose type is written with a \\u escape (not canonical, but the same entry)
    must still register the key: the byte search for key-management entries looks for
    backslashes too."""
    lm = LogMaker()
    lm.register("operator:alice")
    for i in range(6):
        lm.event("operator:alice", idx=i)
    dave = lm.register("operator:dave")
    k = len(lm.entries) - 1
    for i in range(12):
        lm.event("operator:dave" if i % 2 else "operator:alice", idx=i)
    leaves = lm.leaves()
    leaves[k] = leaves[k].replace(b'"type":"actor.key.registered"', b'"type":"actor.key\\u002eregistered"')
    assert b"key.r" not in leaves[k] and b"genesis" not in leaves[k]
    r = reports(leaves, [], monkeypatch)
    assert r.codes() == {"NOT_CANONICAL", "PREV_MISMATCH"}, r.to_text()
    assert dave


def test_second_genesis_and_broken_genesis(monkeypatch):
    lm = rich_log()
    entries = lm.copy_entries()
    entries[0]["payload"]["origin"] = "evil.example/log"
    r = reports(lm.leaves(entries), [], monkeypatch)
    assert "ENTRY_SIGNATURE_INVALID" in r.codes() or "GENESIS_INVALID" in r.codes()
    leaves = lm.leaves()
    leaves[0] = b"[]"
    r = reports(leaves, [], monkeypatch)
    assert "ENTRY_MALFORMED" in r.codes() and "UNKNOWN_KEY" in r.codes()


def test_json_entries_and_mixed_sources(monkeypatch):
    lm = rich_log()
    entries = lm.copy_entries()
    entries[8]["payload"]["x"] = 1.5  # a float: no JCS fast path
    r = reports(entries, [lm.checkpoint()], monkeypatch)
    assert "ENTRY_SIGNATURE_INVALID" in r.codes()
    mixed = [lm.leaf_of(e) if i % 3 else e for i, e in enumerate(lm.copy_entries())]
    r = reports(mixed, [lm.checkpoint()], monkeypatch)
    assert r.ok, r.to_text()
    assert r.checks["canonical"].detail and "parsed entries re-encoded" in r.checks["canonical"].detail


def test_partial_log_from_a_start(monkeypatch):
    lm = rich_log()
    leaves = lm.leaves()
    entries = lm.copy_entries()
    entries[12]["seq"] = 99
    part = lm.leaves(entries)[9:]
    r = reports(part, [lm.checkpoint()], monkeypatch, start=9)
    assert r.checks["signatures"].status == "not_checked"
    assert "SEQ_GAP" in r.codes()
    r = reports(leaves[9:], [lm.checkpoint()], monkeypatch, start=9)
    assert r.ok, r.to_text()


def test_empty_and_tiny_logs(monkeypatch):
    assert reports([], [], monkeypatch).checks["signatures"].status == "not_checked"
    lm = LogMaker()
    assert reports(lm.leaves(), [lm.checkpoint()], monkeypatch).ok


def test_worker_failure_is_raised_not_hidden(monkeypatch):
    """A worker that dies or fails makes verify_log raise; it never yields a report."""
    lm = rich_log()

    def boom(self, task, wid):
        raise MemoryError("simulated")

    monkeypatch.setattr(vlog._ChunkWorker, "__call__", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        verify_log(lm.leaves(), [], options=LogOptions(parallel=True, workers=2))


def _reference_validate(e):
    """The v1 entry rules of docs/SPEC.md Part I, plainly (no caches, no shortcuts)."""
    import binascii
    import re
    from datetime import datetime

    fields = {"v", "seq", "time", "type", "actor", "payload", "prev", "sig"}
    if type(e) is not dict:
        return "entry is not a JSON object"
    if e.keys() != fields:
        return f"fields wrong (missing {sorted(fields - e.keys())}, unexpected {sorted(e.keys() - fields)})"
    if type(e["v"]) is not int or e["v"] != 1:
        return f"v must be 1, got {e['v']!r}"
    if type(e["seq"]) is not int or e["seq"] < 0:
        return f"seq must be a non-negative integer, got {e['seq']!r}"
    t = e["time"]
    if type(t) is not str or not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", t):
        return f"time must be RFC 3339 UTC with milliseconds, got {t!r}"
    try:
        datetime.fromisoformat(t[:-1])
    except ValueError:
        return f"time is not a valid date-time: {t!r}"
    typ = e["type"]
    if type(typ) is not str or not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+", typ):
        return f"type {typ!r} does not match ^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)+$"
    a = e["actor"]
    if type(a) is not dict or a.keys() != {"id", "key_id"}:
        return "actor must be {id, key_id}"
    if type(a["id"]) is not str or not a["id"]:
        return "actor.id must be a non-empty string"
    if type(a["key_id"]) is not str or not re.fullmatch(r"[0-9a-f]{16}", a["key_id"]):
        return f"actor.key_id must be 16 lower-case hex digits, got {a['key_id']!r}"
    if type(e["payload"]) is not dict:
        return "payload must be an object"
    if type(e["prev"]) is not str or not re.fullmatch(r"[0-9a-f]{64}", e["prev"]):
        return "prev must be 64 lower-case hex digits"
    s = e["sig"]
    try:
        ok = type(s) is str and len(s) == 88 and len(binascii.a2b_base64(s, strict_mode=True)) == 64
    except (binascii.Error, ValueError):
        ok = False
    return None if ok else "sig must be base64 of a 64-byte Ed25519 signature"


MUTATIONS = [
    ("time", "2026-11-23T02:10:59.999Z"), ("time", "2026-11-23T02:10:60.000Z"), ("time", "2026-11-23T02:10:5.123Z"),
    ("time", "2026-11-23T02:10:07.123Z "), ("time", "2026-11-23T02:10:\u0665\u0669.123Z"),
    ("time", "2026-11-23T02:10:07.\u0661\u0662\u0663Z"), ("time", "2026-02-30T02:10:07.123Z"),
    ("time", "2026-11-23T24:10:07.123Z"), ("time", "2026-11-23T02:60:07.123Z"), ("time", "2026-11-23T02:10:07,123Z"),
    ("time", 20261123), ("type", "Registry.x"), ("type", "registry"), ("type", ["a.b"]), ("v", True), ("v", 2),
    ("seq", -1), ("seq", "7"), ("prev", "A" * 64), ("prev", "0" * 63), ("prev", None), ("sig", "A" * 87 + "="),
    ("sig", "!" * 88), ("sig", 5), ("payload", []), ("actor", {"id": "", "key_id": "0" * 16}),
    ("actor", {"id": "x", "key_id": "0" * 16, "more": 1}), ("actor", {"id": "x", "key_id": "0" * 15 + "G"}),
    ("actor", "system"), ("extra", 1), ("payload", {"x": 1.5}), ("payload", {"deep": {"x": [1, {"y": 2.5}]}}),
]


@pytest.mark.parametrize("parallel", [False, True])
def test_entry_rules_match_the_plain_definition(monkeypatch, parallel):
    """Every malformed entry gets the plain rules' message, whatever caches and shortcuts the fast
    path uses (entries of the same minute are accepted from a cache, prev from the chain...)."""
    lm = LogMaker()
    lm.register("operator:alice")
    for i in range(4):
        lm.event("operator:alice", idx=i)
    entries = lm.copy_entries()
    honest = entries[-1]
    leaves = lm.leaves(entries)
    for field, value in MUTATIONS:
        e = copy.deepcopy(honest)
        e["seq"] = len(entries)
        e["prev"] = lh(leaves[-1]).hex()
        e[field] = value
        entries.append(e)
        leaves.append(json.dumps(e, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode())
    monkeypatch.setattr(vlog, "CHUNK", 8)
    r = verify_log(leaves, [], total=len(leaves), options=LogOptions(parallel=parallel, workers=2))
    got = {f.seq: f.message for f in r.checks["format"].findings if f.code == "ENTRY_MALFORMED"}
    for k, e in enumerate(entries):
        want = _reference_validate(e)
        seq = e["seq"] if type(e.get("seq")) is int else k
        assert got.get(seq) == want, (k, e, got.get(seq), want)


@pytest.mark.parametrize("where", [1, 4, 16, 17, 30])
def test_an_entry_dated_before_the_one_before_it(monkeypatch, where):
    """Entry times never run backwards (SPEC §2): an entry re-signed by its own actor with an
    earlier time is named, at chunk boundaries too; equal times are allowed."""
    lm = rich_log()
    entries = lm.copy_entries()
    assert vlog.verify_log(lm.leaves(entries), [lm.checkpoint()], total=len(entries)).ok
    e = entries[where]
    e["time"] = entries[where - 1]["time"][:11] + "00:00:00.000Z"  # the same day, earlier
    sign_entry(e, lm.actors.get(e["actor"]["id"]) or lm.system)
    r = reports(lm.leaves(entries), [lm.checkpoint()], monkeypatch)
    found = [f for f in r.checks["time_order"].findings if f.code == "ENTRY_TIME_DECREASING"]
    assert [f.seq for f in found] == [where], r.to_text()
    same = lm.copy_entries()
    same[where]["time"] = same[where - 1]["time"]
    sign_entry(same[where], lm.actors.get(same[where]["actor"]["id"]) or lm.system)
    r = reports(lm.leaves(same), [], monkeypatch)
    assert r.checks["time_order"].status == "passed"
