"""The registry read by columns gives the pools a record-by-record reading gives.

prepare() reads reg_subjects as aggregate columns (SQLite: WITHOUT ROWID, scanned in code
order; PostgreSQL: sorted in the C collation), applies the rules over columns and commits the
subject pool from them. Here a registry with every case the rules distinguish — inactive
statuses, the high-risk flags that move a subject to stratum D, names JCS must escape,
codes inserted out of order — is drawn on both stores, and the commitments are compared
with the reference: commit_pool over records built one by one with stratum_of.
"""

from __future__ import annotations

import json
import random
import sqlite3

import pytest
from sqlalchemy import insert, update

from drawsvc.draw.pool import commit_pool
from drawsvc.draws import schema as draws_schema
from drawsvc.draws.inputs import _STATUS_REASON, stratum_of
from drawsvc.draws.service import DrawService, load_pools
from drawsvc.registry import schema as reg
from drawsvc.registry.authz import Actor
from drawsvc.registry.records import ACTIVE_SUBJECT_STATUSES
from drawsvc.registry.service import Registry
from ledger.store import Ledger
from tests.conftest import new_ledger

NAMES = ["企业", 'say "hi"', "back\\slash", "line\nbreak", "tab\t", "plain", "\u2028sep", "😀 emoji"]
STATUSES = ["存续"] * 8 + ["在业", "注销", "吊销", "迁出", "停业", "撤销"]


def _subjects(n: int, rng: random.Random) -> list[dict]:
    out = []
    for i in rng.sample(range(n * 10), n):  # codes inserted out of order
        out.append({"code": f"91150222{i:010d}", "name": f"{rng.choice(NAMES)}{i}", "region": "150222",
                    "industry": rng.choice(["F52", "C13"]), "status": rng.choice(STATUSES),
                    "credit_class": rng.choice("ABCD"), "abnormal": rng.random() < 0.05,
                    "serious_dishonest": rng.random() < 0.03,
                    "penalized_on": "2026-01-05" if rng.random() < 0.04 else None,
                    "complaints": rng.choice([0, 0, 0, 1, 2, 3, 5])})
    return out


def _fill(led: Ledger, subjects: list[dict]) -> None:
    with led.engine.begin() as conn:
        dept = {"code": "scj", "name": "市场监管局", "parent": None, "joint_group": None}
        conn.execute(insert(reg.departments).values(**dept, doc=json.dumps(dept), seq=0))
        item = {"code": "I1", "version": 1, "department": "scj", "kind": "general", "status": "active",
                "ratio_min_bp": 500}
        conn.execute(insert(reg.items).values(code="I1", version=1, department="scj", kind="general",
                                              status="active", doc=json.dumps(item), seq=0))
        if subjects:
            conn.execute(insert(reg.subjects), [{**s, "doc": json.dumps(s, ensure_ascii=False), "seq": 0}
                                                for s in subjects])
        conn.execute(insert(reg.inspectors), [
            {"id": f"P{i:03d}", "cert_no": f"C{i:03d}", "name": f"检查员{i}", "department": "scj", "status": "在岗",
             "cert_valid_from": "2020-01-01", "cert_valid_to": "2030-12-31", "seq": 0,
             "doc": json.dumps({"id": f"P{i:03d}", "department": "scj", "status": "在岗", "qualifications": [],
                                "cert_valid_from": "2020-01-01", "cert_valid_to": "2030-12-31"})}
            for i in range(12)])
        plan = {"code": "P1", "year": 2026, "departments": ["scj"], "items": ["I1"], "sublibraries": [],
                "filter": {}, "ratios_bp": {"A": 500, "B": 1000, "C": 2000, "D": 5000}, "frequency_cap": 2,
                "exemptions": [], "team_size": 2, "joint": False, "status": "approved"}
        conn.execute(insert(reg.plans).values(code="P1", year=2026, status="approved", doc=json.dumps(plan), seq=0))


def _reference(subjects: list[dict]) -> tuple[list[dict], list[dict]]:
    """Pool and excluded records built one subject at a time (the rules as written in inputs.py)."""
    pool, excluded = [], []
    for s in subjects:
        if s["status"] in ACTIVE_SUBJECT_STATUSES:
            pool.append({"id": s["code"], "name": s["name"], "stratum": stratum_of(s)})
        else:
            excluded.append({"id": s["code"], "stratum": stratum_of(s),
                             "reason": _STATUS_REASON.get(s["status"], "out_of_scope")})
    return pool, excluded


def _prepare_and_check(led: Ledger, subjects: list[dict]) -> None:
    _fill(led, subjects)
    svc = DrawService(led, Registry(led))
    actor = Actor("system", "system", signer=led.system)
    d = svc.prepare(actor, "P1", "scj", [{"type": "dice", "min_digits": 20}])
    pool, excluded = _reference(subjects)
    assert d["pools"]["subjects"] == commit_pool(pool, "subjects").to_json()
    assert d["pools"]["excluded"] == commit_pool(excluded, "excluded").to_json()
    with led.engine.connect() as conn:
        stored = load_pools(conn, d["id"])
    assert sorted(stored["subjects"], key=lambda r: r["id"]) == sorted(pool, key=lambda r: r["id"])
    svc.seed(actor, d["id"], [{"type": "dice", "digits": "31415926535897932384"}])
    drawn = svc.run(actor, d["id"])
    assert drawn["status"] == "drawn"
    chosen = {s["id"] for st in svc.secret(d["id"])["content"]["strata"].values() for s in st["selected"]}
    assert chosen <= {r["id"] for r in pool} and len(chosen) == sum(d["expected_sizes"].values())


def test_sqlite_columns_match_the_record_reading(sqlite_url: str) -> None:
    led = new_ledger(sqlite_url)
    _prepare_and_check(led, _subjects(400, random.Random(7)))
    path = sqlite_url.removeprefix("sqlite:///")
    ddl = sqlite3.connect(path).execute("SELECT sql FROM sqlite_master WHERE name = 'reg_subjects'").fetchone()[0]
    assert "WITHOUT ROWID" in ddl  # scanned in code order: the commitment needs no sort


@pytest.mark.postgres
def test_postgres_columns_match_the_record_reading(pg_url: str) -> None:
    _prepare_and_check(new_ledger(pg_url), _subjects(400, random.Random(8)))


def test_an_empty_registry_is_refused_cleanly(sqlite_url: str) -> None:
    led = new_ledger(sqlite_url)
    _fill(led, [])
    svc = DrawService(led, Registry(led))
    size = led.size()
    with pytest.raises(Exception, match="(?i)empty|no subject|nothing|名录为空"):
        svc.prepare(Actor("system", "system", signer=led.system), "P1", "scj", [{"type": "dice", "min_digits": 20}])
    assert led.size() == size  # nothing half-written


def test_pools_stored_before_the_columns_still_load(sqlite_url: str) -> None:
    led = new_ledger(sqlite_url)
    subjects = _subjects(60, random.Random(9))
    _fill(led, subjects)
    svc = DrawService(led, Registry(led))
    actor = Actor("system", "system", signer=led.system)
    d = svc.prepare(actor, "P1", "scj", [{"type": "dice", "min_digits": 20}])
    with led.engine.begin() as conn:  # rewrite the row as revision 0004 stored it
        records = load_pools(conn, d["id"])
        conn.execute(update(draws_schema.draw_pools).where(draws_schema.draw_pools.c.draw_id == d["id"]).values(
            pools=json.dumps(records, ensure_ascii=False), subject_ids=None, subject_names=None, subject_strata=None))
        assert load_pools(conn, d["id"])["subjects"] == records["subjects"]
    svc.seed(actor, d["id"], [{"type": "dice", "digits": "31415926535897932384"}])
    assert svc.run(actor, d["id"])["status"] == "drawn"
