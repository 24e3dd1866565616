"""The subject pool in parts, server side (SPEC §D12.1): the parts are read from the stored pool
one at a time (draw_pool_chunks or the older one-value form) and are byte for byte the leaves of
the records form; `drawsvc draw bundle --split` writes a directory `drawverify bundle` verifies;
docs/vectors/draw-pool-parts.json is reproduced by the server's code."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from drawsvc.demo import create_demo
from drawsvc.draws import pool_parts
from drawsvc.draws.cli import draw
from drawsvc.draws.service import DrawService, load_pools
from drawsvc.instance import Instance
from drawsvc.registry.authz import Actor
from drawsvc.registry.service import Registry
from ledger.canonical import canonical_bytes
from tests.conftest import new_ledger
from tests.draws.test_dl_columns import _fill, _subjects
from tests.draws.test_dl_streamed import DICE, DRAW_DATE, small_parts  # noqa: F401 - the fixture
from verifier.cli import cli as drawverify
from verifier.poolparts import PartsSelection, check_description, stream_pool
from verifier.sizes import stratum_sizes

ROOT = Path(__file__).resolve().parents[2]


def test_vectors_reproduce() -> None:
    spec = importlib.util.spec_from_file_location("mk", ROOT / "docs/vectors/make_pool_parts_vectors.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.dump(mod.build()) == (ROOT / "docs/vectors/draw-pool-parts.json").read_text(encoding="utf-8")


def test_streamed_pool_parts_are_the_records(sqlite_url: str, small_parts: None) -> None:  # noqa: F811
    """A pool stored in 25 parts of 16 (names JCS escapes among them), cut in parts of 8, 16 and 64:
    every cut joins to the records form's leaves, folds to the committed root, and the verifier's
    selection over it is the drawn content's."""
    import random

    led = new_ledger(sqlite_url)
    _fill(led, _subjects(400, random.Random(16)))
    svc = DrawService(led, Registry(led))
    actor = Actor("system", "system", signer=led.system)
    doc = svc.prepare(actor, "P1", "scj", [{"type": "dice", "min_digits": 20}], draw_id="S1", draw_date=DRAW_DATE)
    svc.seed(actor, "S1", DICE)
    svc.run(actor, "S1")
    secret = svc.secret("S1", pools=False)
    committed = doc["pools"]["subjects"]
    with led.engine.connect() as conn:
        assert json.loads(conn.exec_driver_sql("SELECT pools FROM draw_pools").scalar()).get("subjects_chunks")
        whole = b"".join(canonical_bytes(r) + b"\n" for r in load_pools(conn, "S1")["subjects"])
        for size in (8, 16, 64):
            parts = list(pool_parts.subject_parts(conn, "S1", size))
            assert b"".join(parts) == whole
            assert all(p.count(b"\n") == size for p in parts[:-1]) and 1 <= parts[-1].count(b"\n") <= size
            # each part cut alone from the stored parts it overlaps (stored parts are uneven:
            # what the rules left of each registry part)
            assert [pool_parts.part_bytes(conn, "S1", n, size) for n in range(len(parts))] == parts
            assert pool_parts.part_bytes(conn, "S1", len(parts), size) is None
            desc, _ = pool_parts.describe(iter(parts), size)
            assert check_description(desc) is None
            par = doc["parameters"]
            k = stratum_sizes(committed["counts"], par["ratios"], par.get("floor", "0.05"), bool(par.get("key_item")))
            res = stream_pool(desc, parts.__getitem__, bytes.fromhex(secret["seed"]), k, committed["counts"], 0, set())
            assert res.problems == []
            assert res.commitment() == committed
            sel = PartsSelection(bytes.fromhex(secret["seed"]), res.kept, res.counts, k)
            assert sel.strata_content() == secret["content"]["strata"]
        assert pool_parts.part_bytes(conn, "S1", 3) is None  # the stored part size: one part of 400
        sizes = [len(s) for s in conn.exec_driver_sql("SELECT subject_strata FROM draw_pool_chunks ORDER BY n").scalars()]
        assert len(set(sizes)) > 1 and max(sizes) <= 16  # (uneven, as the exclusions thinned them)


def test_parts_stored_before_compression_read_the_same(sqlite_url: str, small_parts: None) -> None:  # noqa: F811
    """A part stored as JSON text (before migration 0012) reads as a compressed one does: the
    pool, the bundle's parts and the draw's selection are the same."""
    import random
    import zlib

    from drawsvc.draws.service import _stored_parts

    led = new_ledger(sqlite_url)
    _fill(led, _subjects(100, random.Random(5)))
    svc = DrawService(led, Registry(led))
    actor = Actor("system", "system", signer=led.system)
    svc.prepare(actor, "P1", "scj", [{"type": "dice", "min_digits": 20}], draw_id="S1", draw_date=DRAW_DATE)
    with led.engine.begin() as conn:
        before = (load_pools(conn, "S1"), list(pool_parts.subject_parts(conn, "S1", 8)), list(_stored_parts(conn, "S1")))
        rows = conn.exec_driver_sql("SELECT n, ids_zlib, names_zlib FROM draw_pool_chunks WHERE draw_id = 'S1'").all()
        assert rows and all(r.ids_zlib is not None for r in rows)
        for r in rows:
            conn.exec_driver_sql("UPDATE draw_pool_chunks SET subject_ids = ?, subject_names = ?, ids_zlib = NULL, "
                                 "names_zlib = NULL WHERE draw_id = 'S1' AND n = ?",
                                 (zlib.decompress(r.ids_zlib).decode(), zlib.decompress(r.names_zlib).decode(), r.n))
        # nor did its pools document list the stored parts' sizes (the API reads them from the parts)
        doc = json.loads(conn.exec_driver_sql("SELECT pools FROM draw_pools WHERE draw_id = 'S1'").scalar())
        assert doc.pop("subjects_part_sizes") == [len(s) for _, s in before[2]]
        conn.exec_driver_sql("UPDATE draw_pools SET pools = ? WHERE draw_id = 'S1'", (json.dumps(doc),))
    with led.engine.connect() as conn:
        after = (load_pools(conn, "S1"), list(pool_parts.subject_parts(conn, "S1", 8)), list(_stored_parts(conn, "S1")))
    assert after[:2] == before[:2]
    with led.engine.connect() as conn:
        assert [pool_parts.part_bytes(conn, "S1", n, 8) for n in range(len(before[1]))] == before[1]
    assert [(json.loads(i), s) for i, s in after[2]] == [(json.loads(i), s) for i, s in before[2]]
    svc.seed(actor, "S1", DICE)
    assert svc.run(actor, "S1")["status"] == "drawn"


class _Ctx:
    def __init__(self, instance: Any) -> None:
        self.instance = instance


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    os.environ.setdefault("DRAWSVC_KEY_PASSPHRASE", "test-passphrase")
    inst, _, _ = create_demo(tmp_path_factory.mktemp("parts") / "instance", origin="test.example/log")
    return inst


def _draw_cli(demo: Instance, *args: str) -> Any:
    @click.group()
    @click.pass_context
    def root(ctx: click.Context) -> None:
        ctx.obj = _Ctx(demo)

    root.add_command(draw)
    return CliRunner().invoke(root, ["draw", *args])


def test_cli_split_bundle_verifies(demo: Instance, tmp_path: Path) -> None:
    from tests.web.conftest import draw_ids

    did = draw_ids(demo)["published"]
    out = tmp_path / "b"
    r = _draw_cli(demo, "bundle", did, "--out", str(out), "--split", "--part-size", "4")
    assert r.exit_code == 0, r.output
    b = json.loads((out / "bundle.json").read_text(encoding="utf-8"))
    n = len(b["pool_parts"]["subjects"]["parts"])
    assert n > 3 and sorted(p.name for p in (out / "pool").iterdir()) == [f"subjects-{i:06d}.jsonl" for i in range(n)]
    assert not (tmp_path / "b.partial").exists()
    key = demo.genesis_log_key.encode()
    r = CliRunner().invoke(drawverify, ["bundle", str(out), "--log-key", key, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["result"] == "verified", r.output
    # a changed part: FAILED (exit 1), named
    p = out / "pool" / "subjects-000001.jsonl"
    p.write_bytes(p.read_bytes().replace(b'"stratum":"A"', b'"stratum":"B"', 1).replace(b'"stratum":"C"', b'"stratum":"B"', 1))
    r = CliRunner().invoke(drawverify, ["bundle", str(out), "--log-key", key, "--json"])
    assert r.exit_code == 1 and "POOL_PART_MISMATCH" in r.stdout, r.output
    # the bundle file alone: its parts are looked for beside it, and missing there they are named
    alone = tmp_path / "alone.json"
    alone.write_text((out / "bundle.json").read_text(encoding="utf-8"), encoding="utf-8")
    r = CliRunner().invoke(drawverify, ["bundle", str(alone), "--log-key", key, "--json"])
    assert r.exit_code == 1 and "POOL_PART_MISMATCH" in r.stdout


def test_cli_split_refuses_bad_input(demo: Instance, tmp_path: Path) -> None:
    from tests.web.conftest import draw_ids

    did = draw_ids(demo)["published"]
    r = _draw_cli(demo, "bundle", did, "--out", str(tmp_path / "x"), "--split", "--part-size", "6")
    assert r.exit_code != 0 and "Traceback" not in r.output and not (tmp_path / "x").exists()
    r = _draw_cli(demo, "bundle", did, "--out", str(tmp_path / "y.json"), "--part-size", "4")
    assert r.exit_code != 0 and not (tmp_path / "y.json").exists()
    (tmp_path / "z").mkdir()
    r = _draw_cli(demo, "bundle", did, "--out", str(tmp_path / "z"), "--split")
    assert r.exit_code != 0 and list((tmp_path / "z").iterdir()) == []
    r = _draw_cli(demo, "bundle", "no-such-draw", "--out", str(tmp_path / "w"), "--split")
    assert r.exit_code != 0 and not (tmp_path / "w").exists() and not (tmp_path / "w.partial").exists()
