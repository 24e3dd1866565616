"""The streamed import (issue 16, point 1): a file larger than one batch gives the very entries
and state the whole-file path gives; a bad row late in the file leaves nothing behind (nor a
tree node in the cache); a duplicate is found at any distance; progress is reported."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
from nacl.signing import SigningKey
from sqlalchemy import inspect

from drawsvc import creditcode
from drawsvc.instance import make_engine, migrate
from drawsvc.registry import io as regio
from drawsvc.registry.service import Registry
from drawsvc.registry.state import diff_states, load_state, rebuild_from_ledger
from ledger import merkle
from ledger.keys import ActorSigner
from ledger.note import NoteSigner
from ledger.store import initialise

HEAD = ["统一社会信用代码", "名称", "行政区划代码", "行业代码", "信用风险分类", "经营异常名录"]
MOMENT = datetime(2026, 3, 2, 1, 2, 3, 456000, tzinfo=UTC)


def _registry(path: Path | str) -> Registry:
    """A fresh instance whose keys and clock are fixed: two of them sign the same bytes."""
    engine = make_engine(path if isinstance(path, str) else f"sqlite:///{path}")
    migrate(engine)
    origin = "test.example/log"
    led = initialise(engine, origin, NoteSigner(origin, SigningKey(b"\x01" * 32)),
                     ActorSigner("system", SigningKey(b"\x02" * 32)), None, None, clock=lambda: MOMENT)
    return Registry(led, b"test-passphrase", today=lambda: date(2026, 3, 2))


def _codes(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [creditcode.generate(rng, region="150222") for _ in range(n)]


def _rows(codes: list[str]) -> list[list[str]]:
    return [[c, f"公司{i}", "150222", "F52", "ABCD"[i % 4], "是" if i % 7 == 0 else "否"] for i, c in enumerate(codes)]


def _csv(rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in [HEAD, *rows]) + "\n").encode("utf-8-sig")


def _record(row: list[str]) -> dict:
    return dict(zip(["code", "name", "region", "industry", "credit_class", "abnormal"], row, strict=True))


def test_a_streamed_import_of_many_batches_writes_the_very_entries_of_the_whole_file_path(tmp_path: Path) -> None:
    codes = _codes(40)
    before = _rows(codes[:12])  # on the registry already: some change, some do not
    rows = _rows(codes)
    rows[2][4], rows[5][1] = "D", "改名公司"
    data = _csv(rows)
    streamed, whole = _registry(tmp_path / "a.sqlite3"), _registry(tmp_path / "b.sqlite3")
    for reg in (streamed, whole):
        reg.apply_batch(reg.system, "subject", [_record(r) for r in before], {"source": "test"})

    report = regio.import_file(streamed, streamed.system, "subject", data, "s.csv", batch_size=7)
    assert report.ok and (report.rows, report.added, report.changed, report.unchanged) == (40, 28, 2, 10)
    # the path before streaming: every record normalised and held, then one apply_batch
    counts = whole.apply_batch(whole.system, "subject", [_record(r) for r in rows],
                               {"file_sha256": report.file_sha256, "rows": 40, "filename": "s.csv"})
    assert counts == {"added": 28, "changed": 2, "unchanged": 10}

    size = streamed.ledger.size()
    assert size == whole.ledger.size()
    assert streamed.ledger.leaves(0, size) == whole.ledger.leaves(0, size)  # byte for byte, signatures included
    assert streamed.ledger.root(size) == whole.ledger.root(size)
    with streamed.ledger.engine.connect() as a, whole.ledger.engine.connect() as b:
        state = load_state(a)
        assert diff_states(state, load_state(b)) == []
        assert diff_states(state, rebuild_from_ledger(streamed.ledger)) == []
        assert "import_seen_keys" not in inspect(a).get_table_names()


def test_a_bad_row_late_in_the_file_leaves_nothing_behind(tmp_path: Path) -> None:
    reg = _registry(tmp_path / "r.sqlite3")
    rows = _rows(_codes(30, seed=3))
    rows[27][2] = "999999"  # unknown region, after four batches of 6 were signed and flushed
    size = reg.ledger.size()
    with reg.ledger.engine.connect() as conn:
        state = load_state(conn)
    report = regio.import_file(reg, reg.system, "subject", _csv(rows), "s.csv", batch_size=6)
    assert not report.ok and [(e["row"], e["column"]) for e in report.errors] == [(29, "行政区划代码")]
    assert reg.ledger.size() == size
    with reg.ledger.engine.connect() as conn:
        assert diff_states(load_state(conn), state) == []
    # the log goes on from where it was: no node of the rolled-back tree lingers in the cache
    rows[27][2] = "150222"
    report = regio.import_file(reg, reg.system, "subject", _csv(rows), "s.csv", batch_size=6)
    assert report.ok and report.added == 30 and reg.ledger.size() == size + 31
    leaves = [merkle.leaf_hash(leaf) for leaf in reg.ledger.leaves(0, reg.ledger.size())]
    assert reg.ledger.checkpoint().root == merkle.root_from_leaf_hashes(leaves)


def test_a_duplicate_many_batches_apart_is_named_with_its_first_row(tmp_path: Path) -> None:
    reg = _registry(tmp_path / "r.sqlite3")
    rows = _rows(_codes(25, seed=4))
    rows[22][0] = rows[1][0]  # file rows 24 and 3
    size = reg.ledger.size()
    report = regio.import_file(reg, reg.system, "subject", _csv(rows), "s.csv", batch_size=5)
    assert [(e["row"], e["column"], e["value"]) for e in report.errors] == [(24, "统一社会信用代码", rows[1][0])]
    assert "与第3行重复" in report.errors[0]["reason"] and reg.ledger.size() == size
    dry = regio.import_file(reg, reg.system, "subject", _csv(rows), "s.csv", batch_size=5, dry_run=True)
    assert dry.errors == report.errors and reg.ledger.size() == size


def test_progress_is_reported_as_rows_are_read_and_written(tmp_path: Path) -> None:
    reg = _registry(tmp_path / "r.sqlite3")
    ticks = iter(range(1000))  # an injected clock: one second per reading
    seen: list[tuple[int, int]] = []
    progress = regio.ImportProgress(emit=lambda p: seen.append((p.read, p.written)), every_rows=10,
                                    every_seconds=1e9, clock=lambda: float(next(ticks)))
    report = regio.import_file(reg, reg.system, "subject", _csv(_rows(_codes(45, seed=5))), "s.csv",
                               batch_size=5, progress=progress)
    assert report.ok
    assert seen[-1] == (45, 45)  # the final report: every row read, every entry written
    assert len(seen) >= 4 and seen == sorted(seen)
    assert all(b - a >= 10 for (a, _), (b, _) in zip(seen, seen[1:-1], strict=False))
    assert progress.rate() > 0


def test_a_workbook_of_many_batches_is_streamed_with_its_numeric_codes_exact(tmp_path: Path) -> None:
    reg = _registry(tmp_path / "r.sqlite3")
    codes = [c for c in _codes(60, seed=6) if c.isdigit()][:5] + _codes(20, seed=7)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["XX县市场主体名录"])  # a title row above the header
    ws.append(HEAD)
    for row in _rows(codes):
        ws.append([int(row[0]) if row[0].isdigit() else row[0], *row[1:]])  # all-digit codes typed as numbers
    buf = io.BytesIO()
    wb.save(buf)
    report = regio.import_file(reg, reg.system, "subject", buf.getvalue(), "s.xlsx", batch_size=4)
    assert report.ok, report.errors
    assert report.added == len(codes) and {s["code"] for s in reg.list("subject")} == set(codes)


def test_the_cli_streams_a_file_from_disk_with_progress_on_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from drawsvc.cli import main
    from drawsvc.registry.cli import COMMANDS

    for cmd in COMMANDS:
        if cmd.name not in main.commands:
            main.add_command(cmd)
    monkeypatch.setenv("DRAWSVC_KEY_PASSPHRASE", "cli-test-passphrase")
    monkeypatch.setattr(regio, "MAX_IMPORT_ROWS", 3)  # the web's bound; the CLI has none
    home = tmp_path / "inst"
    r = CliRunner()
    assert r.invoke(main, ["--home", str(home), "init"]).exit_code == 0
    path = tmp_path / "s.csv"
    path.write_bytes(_csv(_rows(_codes(8, seed=8))))
    res = r.invoke(main, ["--home", str(home), "import", "subjects", str(path)])
    assert res.exit_code == 0 and "8 added" in res.output, res.output
    assert "导入进度：已读取 8 行，已写入 8 条日志" in res.output


def test_a_streamed_import_on_postgresql_writes_the_bytes_it_writes_on_sqlite(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL takes the rows by COPY and finds duplicates in an ON COMMIT DROP table: the
    entries and the state are those of SQLite, and a bad late row leaves nothing there either."""
    rows = _rows(_codes(23, seed=9))
    pg, lite = _registry(pg_url), _registry(tmp_path / "l.sqlite3")
    bad = [list(r) for r in rows]
    bad[20][0] = bad[2][0]
    refused = regio.import_file(pg, pg.system, "subject", _csv(bad), "s.csv", batch_size=4)
    assert [e["row"] for e in refused.errors] == [22] and pg.ledger.size() == 1
    for reg in (pg, lite):
        report = regio.import_file(reg, reg.system, "subject", _csv(rows), "s.csv", batch_size=4)
        assert report.ok and report.added == 23
    size = lite.ledger.size()
    assert pg.ledger.size() == size and pg.ledger.leaves(0, size) == lite.ledger.leaves(0, size)
    with pg.ledger.engine.connect() as a, lite.ledger.engine.connect() as b:
        assert diff_states(load_state(a), load_state(b)) == []
    pg.ledger.engine.dispose()
