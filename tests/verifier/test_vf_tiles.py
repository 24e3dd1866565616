"""drawverify log --server reads the raw stored leaves from the tlog-tiles entry bundles
(docs/SPEC.md §6), so the canonical-form check runs; without tiles it falls back to the JSON API
and says so."""

import json
import re

import pytest
import rfc8785
from test_vf_cli import FakeLog, invoke
from vf_logkit import honest_log, serve_fake_log, vkey

from verifier.sources import ServerClient, encode_index

TILE = re.compile(r"^/tile/entries/((?:x\d{3}/)*\d{3})(?:\.p/(\d+))?$")


class TileLog(FakeLog):
    def __init__(self, lm, raw=None, tiles=True):
        super().__init__(lm)
        self.raw = raw
        self.tiles = tiles

    def leaves(self):
        return self.raw if self.raw is not None else super().leaves()

    def handle(self, path, q):
        m = TILE.match(path)
        if m and self.tiles:
            n = int(m.group(1).replace("x", "").replace("/", ""))
            w = int(m.group(2) or 256)
            leaves = self.leaves()[256 * n:256 * n + w]
            if len(leaves) != w:
                return 404, {"error": "no such tile"}, None
            return 200, b"".join(len(x).to_bytes(2, "big") + x for x in leaves), "application/octet-stream"
        return super().handle(path, q)


@pytest.fixture
def tserver():
    yield from serve_fake_log()


def test_encode_index():
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000"
    assert encode_index(1000) == "x001/000"


def test_leaves_from_tiles_and_canonical_check_runs(tserver):
    lm = honest_log()
    tserver["log"] = TileLog(lm)
    assert list(ServerClient(tserver["url"]).leaves(0, len(lm.entries))) == TileLog(lm).leaves()
    r = invoke("log", "--server", tserver["url"], "--log-key", vkey(lm.origin, lm.log_sk), "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "[PASS] leaves in RFC 8785 canonical form" in r.output
    assert "raw leaves from the tlog-tiles" in r.output


def test_non_canonical_stored_leaf_is_caught_through_tiles(tserver):
    lm = honest_log()
    raw = [rfc8785.dumps(e) for e in lm.entries]
    raw[3] = json.dumps(json.loads(raw[3]), ensure_ascii=False, indent=1).encode()  # same content, other bytes
    tl = TileLog(lm, raw=raw)
    tserver["log"] = tl
    r = invoke("log", "--server", tserver["url"], "--json")
    doc = json.loads(r.output)
    codes = {f["code"] for c in doc["checks"] for f in c["findings"]}
    assert "NOT_CANONICAL" in codes


def test_falls_back_to_json_and_says_so(tserver):
    lm = honest_log()
    tserver["log"] = TileLog(lm, tiles=False)
    r = invoke("log", "--server", tserver["url"], "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "tiles unavailable" in r.output
    assert "[SKIP] leaves in RFC 8785 canonical form" in r.output
    r = invoke("log", "--server", tserver["url"], "--lang", "zh")  # the same, in Chinese
    assert "[暂未查] 条目为 RFC 8785 规范 JSON" in r.output and "数据源给出的是解析后的 JSON" in r.output, r.output
