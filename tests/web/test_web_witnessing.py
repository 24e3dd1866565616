"""Publication waits for the witnesses (issue 15): with 2 of 3 needed and two witnesses down, a
published draw's page says 等待见证 and who is missing, withholding the content, and a new
draw's seed waits; once the witnesses answer, the page shows the draw."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import update

from drawsvc.demo import DEMO_WITNESSES, create_demo
from drawsvc.draws.service import DrawService, DrawStateError
from drawsvc.registry.demo import demo_actor
from drawsvc.registry.service import Registry
from ledger.schema import witnesses
from ledger.witnessing import push, status
from tests.conftest import PASSPHRASE
from tests.pinned import TEST_NOW
from tests.web.conftest import login
from verifier.draw import DrawOptions, verify_bundle


@pytest.fixture(scope="module")
def inst(tmp_path_factory: pytest.TempPathFactory) -> Any:
    os.environ["DRAWSVC_KEY_PASSPHRASE"] = PASSPHRASE
    os.environ.pop("DATABASE_URL", None)
    inst, _, lines = create_demo(tmp_path_factory.mktemp("witdemo") / "instance", origin="test.example/log",
                                 now=TEST_NOW)
    assert any("witness quorum: 2 of 3" in x for x in lines)
    return inst


def test_publication_and_seed_wait_for_the_quorum(inst: Any) -> None:
    from web import create_app

    ledger = inst.ledger()
    registry = Registry(ledger, inst.passphrase())
    svc = DrawService(ledger, registry)
    client = create_app(inst, {"TESTING": True}).test_client()
    sealed = next(d for d in svc.list() if d["status"] == "drawn")
    down = [n for n, _ in DEMO_WITNESSES[1:]]
    urls = {}
    with ledger.engine.begin() as conn:
        for row in conn.execute(witnesses.select()):
            urls[row.name] = row.url
        conn.execute(update(witnesses).where(witnesses.c.name.in_(down)).values(url="http://127.0.0.1:9"))
    op = demo_actor(registry, "op-scjg")
    pub = svc.publish(op, sealed["id"])  # pushed at once: one witness cosigns, two are down
    assert pub["witnessing"]["witnessed"] is False and pub["witnessing"]["cosigned_by"] == [DEMO_WITNESSES[0][0]]
    res = {r.witness: r.ok for r in push(ledger, timeout=2)}  # tried again: still down
    assert res == {n: False for n in down}
    st = status(ledger, pub["seqs"]["published"])
    assert not st["witnessed"] and [m["name"] for m in st["missing"]] == sorted(down)
    assert svc.get(sealed["id"])["witnessing"]["witnessed"] is False
    html = client.get(f"/public/draws/{sealed['id']}").get_data(as_text=True)
    assert "等待见证" in html and all(n in html for n in down) and 'id="matching"' not in html
    listing = client.get("/public/draws").get_data(as_text=True)
    assert 'id="draws-awaiting"' in listing and sealed["id"] in listing.split('id="draws-awaiting"')[1]
    # the bundle stands on the newest witnessed checkpoint: the published entry is pending
    b = client.get(f"/api/v1/draws/{sealed['id']}/bundle").get_json()
    assert b["witness_policy"]["k"] == 2
    assert any(p["entry"]["type"] == "draw.published" for p in b["pending_entries"])
    # against the newest checkpoint (not yet cosigned by 2): drawverify says 等待见证, naming who
    # is missing — honest evidence not yet public, never FAILED
    newest = ledger.latest_checkpoint().size
    b_new = client.get(f"/api/v1/draws/{sealed['id']}/bundle?checkpoint={newest}").get_json()
    report, _ = verify_bundle(b_new, DrawOptions(log_key=inst.genesis_log_key.encode()))
    assert report.verdict == "awaiting_witnesses" and report.exit_code == 4 and not report.findings, report.to_text()
    assert report.awaiting is not None and sorted(report.awaiting["missing"]) == sorted(down)
    assert report.awaiting["more_needed"] == 1
    # the staff draw page shows the witness state of the draw's latest step
    login(client, "admin")
    html = client.get(f"/staff/draws/{sealed['id']}").get_data(as_text=True)
    assert 'id="awaiting-witnesses"' in html and "等待见证" in html and all(n in html for n in down)
    # a result published now waits too: the company page holds it back and says so
    from drawsvc.inspections import schema as ins_schema
    from drawsvc.inspections.service import InspectionService

    with ledger.engine.connect() as conn:
        res_row = conn.execute(ins_schema.results.select().where(ins_schema.results.c.status == "confirmed")).first()
    assert res_row is not None
    InspectionService(ledger, registry).publish(op, res_row.id)
    company = f"/public/companies/{res_row.subject}"
    html = client.get(company).get_data(as_text=True)
    assert 'id="results-awaiting"' in html and f'data-result="{res_row.id}"' not in html
    # a new draw: prepared, but its seed waits for the witnesses
    plan = registry.list("plan")[0]
    d = svc.prepare(op, plan["code"], plan["departments"][0], [{"type": "dice", "min_digits": 20}],
                    draw_date=sealed["draw_date"], note="见证测试")
    push(ledger, timeout=2)
    with pytest.raises(DrawStateError, match="等待见证"):
        svc.seed(op, d["id"], [{"type": "dice", "digits": "50288419716939937510"}])
    # its bundle (no drand round: no deadline has passed) is awaiting witnesses, not FAILED
    at = ledger.latest_checkpoint().size
    b_new = client.get(f"/api/v1/draws/{d['id']}/bundle?checkpoint={at}").get_json()
    report, _ = verify_bundle(b_new, DrawOptions(log_key=inst.genesis_log_key.encode()))
    assert report.verdict == "awaiting_witnesses" and not report.findings, report.to_text()
    assert report.checks["prepared_checkpoint"].status == "awaiting_witnesses", report.to_text()
    # the witnesses come back: the push catches them up (from the size each has) and all is public
    with ledger.engine.begin() as conn:
        for name in down:
            conn.execute(update(witnesses).where(witnesses.c.name == name).values(url=urls[name]))
    assert all(r.ok for r in push(ledger))
    assert status(ledger, pub["seqs"]["published"])["witnessed"]
    html = client.get(f"/public/draws/{sealed['id']}").get_data(as_text=True)
    assert "等待见证" not in html and 'id="matching"' in html
    # the bundle now stands on a checkpoint all three cosigned, which covers the published entry
    b = client.get(f"/api/v1/draws/{sealed['id']}/bundle").get_json()
    assert b["log"]["checkpoint"]["size"] > newest and not b["pending_entries"]
    report, _ = verify_bundle(b, DrawOptions(log_key=inst.genesis_log_key.encode()))
    assert report.verdict == "verified", report.to_text()
    login(client, "admin")
    html = client.get(f"/staff/draws/{sealed['id']}").get_data(as_text=True)
    assert 'id="draw-witnessed"' in html and 'id="awaiting-witnesses"' not in html
    assert 'id="draws-awaiting"' not in client.get("/public/draws").get_data(as_text=True)
    svc.seed(op, d["id"], [{"type": "dice", "digits": "50288419716939937510"}])
    html = client.get(company).get_data(as_text=True)
    assert 'id="results-awaiting"' not in html and f'data-result="{res_row.id}"' in html


def test_a_prepared_checkpoint_witnessed_after_the_round_stops_the_seed(inst: Any) -> None:
    """Witness cosignatures dated after the beacon round do not show the inputs were fixed in time."""
    ledger = inst.ledger()
    svc = DrawService(ledger, Registry(ledger, inst.passphrase()))
    seq = next(d for d in svc.list() if d["status"] == "published")["seqs"]["prepared"]
    svc._witnessed(seq, before=2**40)  # cosigned long before such a round: fine
    with pytest.raises(DrawStateError, match="见证过迟"):
        svc._witnessed(seq, before=0)  # every cosignature is after a round at time 0


def test_checkpoint_page_names_the_quorum_and_each_witness(inst: Any) -> None:
    from web import create_app

    html = create_app(inst, {"TESTING": True}).test_client().get("/public/checkpoint").get_data(as_text=True)
    assert 'id="witness-quorum"' in html and "2 / 3" in html
    assert all(name in html for name, _ in DEMO_WITNESSES)
