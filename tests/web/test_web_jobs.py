"""Long reports and exports as background jobs, and the memory budget (issue 13), tried as an
attacker would: work beyond the budget is refused before anything is allocated, a job whose
cost model was fooled is stopped by its process's memory limit — not by the OOM killer — and
the server keeps answering; jobs are private to their account; one job is claimed once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from click.testing import CliRunner
from pinned import TODAY
from sqlalchemy import delete, insert, select

import drawsvc.jobs as jobq
import web.jobs as wj
from tests.web.conftest import PASSWORDS, make_app

YEAR = TODAY.year


@pytest.fixture(autouse=True)
def no_jobs(demo: Any):  # type: ignore[no-untyped-def]
    """Each test starts and ends with an empty queue and no runner thread (the demo instance is
    shared; a test's app starts the runner it needs)."""
    jobq.stop_runners()
    with demo.engine().begin() as conn:
        conn.execute(delete(jobq.jobs))
    yield
    jobq.stop_runners()
    with demo.engine().begin() as conn:
        conn.execute(delete(jobq.jobs))


def _session(app: Any, account: str) -> Any:
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = f"10.14.0.{len(account)}"
    r = c.post("/api/v1/session", json={"account": account, "password": PASSWORDS[account]})
    assert r.status_code == 200, r.data
    return c


def _wait(c: Any, url: str, timeout: float = 120) -> dict[str, Any]:
    """Poll a job's URL until it has ended (the runner thread of the app's process runs it)."""
    deadline = time.monotonic() + timeout
    while True:
        r = c.get(url)
        assert r.status_code == 200, r.data
        if r.json["status"] in ("done", "failed"):
            return r.json
        assert r.headers["Retry-After"]
        assert time.monotonic() < deadline, r.json
        time.sleep(0.2)


def test_a_report_too_large_for_a_request_is_a_job_with_the_same_result(demo: Any) -> None:
    inline = _session(make_app(demo), "auditor")
    expected = inline.get(f"/api/v1/inspections/reports/annual?year={YEAR}")
    assert expected.status_code == 200
    # a request budget of one byte: every report is too large to compute in the request
    c = _session(make_app(demo, JOB_REQUEST_BYTES=1), "auditor")
    r = c.get(f"/api/v1/inspections/reports/annual?year={YEAR}")
    assert r.status_code == 202, r.data
    url = r.json["url"]
    assert r.headers["Location"] == url and r.json["job"]["status"] in ("queued", "running")
    assert r.json["job"]["params"]["log_size"] == expected.json["verification"]["log_size"]
    state = _wait(c, url)
    assert state["status"] == "done" and state["progress"] == 100, state
    got = c.get(state["result_url"])
    assert got.status_code == 200 and got.mimetype == "application/json"
    assert got.json == expected.json
    # asking again gives the same job, not a second computation
    again = c.get(f"/api/v1/inspections/reports/annual?year={YEAR}")
    assert again.status_code == 202 and again.json["url"] == url and again.json["job"]["status"] == "done"
    # a PDF goes the same way; its result is served as a PDF file
    pdf = c.get(f"/api/v1/inspections/reports/annual?year={YEAR}&format=pdf")
    done = _wait(c, pdf.json["url"])
    body = c.get(done["result_url"])
    assert body.data.startswith(b"%PDF") and body.mimetype == "application/pdf"
    assert f"annual-all-{YEAR}.pdf" in body.headers["Content-Disposition"]


def test_async_1_asks_for_a_job_and_anonymous_exports_are_jobs_too(demo: Any) -> None:
    app = make_app(demo)
    anon = app.test_client()
    expected = anon.get("/api/v1/export/subjects.csv").data
    r = anon.get("/api/v1/export/subjects.csv?async=1")
    assert r.status_code == 202
    state = _wait(anon, r.json["url"])
    assert state["status"] == "done" and state["filename"] == "subjects.csv"
    assert anon.get(state["result_url"]).data == expected


def test_jobs_are_private_to_the_account_that_asked(demo: Any) -> None:
    app = make_app(demo, JOB_RUNNER=False)
    c = _session(app, "auditor")
    url = c.get(f"/api/v1/inspections/reports/annual?year={YEAR}&async=1").json["url"]
    assert app.test_client().get(url).status_code == 401
    assert _session(app, "op-scjg").get(url).status_code == 404
    assert _session(app, "admin").get(url).status_code == 200
    assert c.get("/api/v1/jobs/" + "0" * 32).status_code == 404
    assert c.get("/api/v1/jobs/" + "x" * 65).status_code == 404


def test_a_result_before_the_job_ran_is_409_and_the_cli_runs_the_queue(demo: Any) -> None:
    from drawsvc.cli import main

    app = make_app(demo, JOB_RUNNER=False)  # no runner thread: jobs wait for `drawsvc jobs run`
    c = _session(app, "auditor")
    r = c.get(f"/api/v1/inspections/reports/half-year?year={YEAR}&half=1&format=xlsx&async=1")
    state = c.get(r.json["url"]).json
    assert state["status"] == "queued"
    nope = c.get(r.json["url"] + "/result")
    assert nope.status_code == 409 and nope.json["error"]["code"] == "not_ready"
    out = CliRunner().invoke(main, ["--home", str(demo.home), "jobs", "run", "--once"])
    assert out.exit_code == 0, out.output
    state = c.get(r.json["url"]).json
    assert state["status"] == "done", state
    assert c.get(state["result_url"]).data.startswith(b"PK\x03\x04")  # an .xlsx (zip) file


def test_work_beyond_the_job_budget_is_refused_before_anything_is_allocated(demo: Any) -> None:
    app = make_app(demo, JOB_REQUEST_BYTES=1, JOB_MEMORY_BYTES=2 * jobq.MIB, JOB_RUNNER=False)
    c = _session(app, "auditor")
    started = time.perf_counter()
    r = c.get(f"/api/v1/inspections/reports/annual?year={YEAR}&format=pdf")
    assert time.perf_counter() - started < 5
    assert r.status_code == 400, r.data
    err = r.json["error"]
    assert err["code"] == "over_memory_budget" and "2 MiB" in err["message"]
    assert err["details"]["estimate_bytes"] > err["details"]["budget_bytes"] == 2 * jobq.MIB
    anon = make_app(demo, JOB_REQUEST_BYTES=1, JOB_MEMORY_BYTES=1024).test_client()
    assert anon.get("/api/v1/export/subjects.xlsx").json["error"]["code"] == "over_memory_budget"
    with demo.engine().connect() as conn:
        assert conn.execute(select(jobq.jobs.c.id)).all() == []  # nothing queued


def test_a_job_that_fools_its_estimate_is_stopped_by_its_memory_limit(demo: Any, monkeypatch: Any) -> None:
    """The attack: a cost model can be wrong (here it is made to claim almost nothing). The job's
    process still cannot take more than its budget: it fails with `memory_budget`, cleanly, and
    the server answers the next requests as before."""
    monkeypatch.setattr(wj, "REPORT_BYTES_PER_ENTRY", 1)
    monkeypatch.setitem(wj.REPORT_FIXED, "pdf", 0)
    app = make_app(demo, JOB_REQUEST_BYTES=1, JOB_MEMORY_BYTES=2 * jobq.MIB)
    c = _session(app, "auditor")
    r = c.get(f"/api/v1/inspections/reports/monthly?year={YEAR}&month=3&format=pdf")
    assert r.status_code == 202, r.data  # the fooled estimate was admitted
    state = _wait(c, r.json["url"])
    assert state["status"] == "failed", state
    assert state["error"]["code"] == "memory_budget" and "2 MiB" in state["error"]["message"]
    assert c.get(r.json["url"] + "/result").status_code == 409
    # the server is unharmed; the same report under an honest budget is computed
    monkeypatch.undo()
    ok = _session(make_app(demo, JOB_REQUEST_BYTES=1), "auditor")
    again = ok.get(f"/api/v1/inspections/reports/monthly?year={YEAR}&month=3&format=pdf")
    assert again.status_code == 202 and again.json["url"] != r.json["url"]  # a failed job is not reused
    assert _wait(ok, again.json["url"])["status"] == "done"


def test_one_account_cannot_fill_the_queue(demo: Any) -> None:
    app = make_app(demo, JOB_RUNNER=False)
    c = _session(app, "auditor")
    for month in range(1, jobq.MAX_ACTIVE_PER_OWNER + 1):
        assert c.get(f"/api/v1/inspections/reports/monthly?year={YEAR}&month={month}&async=1").status_code == 202
    r = c.get(f"/api/v1/inspections/reports/monthly?year={YEAR}&month=12&async=1")
    assert r.status_code == 429 and r.json["error"]["code"] == "busy"
    assert str(jobq.MAX_ACTIVE_PER_OWNER) in r.json["error"]["message"]
    # another account is not affected
    assert _session(app, "admin").get(f"/api/v1/inspections/reports/monthly?year={YEAR}&month=12&async=1") \
        .status_code == 202


def test_each_job_is_claimed_once_and_a_dead_runners_job_is_requeued(demo: Any) -> None:
    engine = demo.engine()
    budget = jobq.Budget()
    ids = [jobq.submit(engine, "report", {"n": i}, f"acct{i}", 1, budget)[0] for i in range(8)]
    claimed: list[str] = []
    lock = threading.Lock()

    def claim(name: str) -> None:
        while (job := jobq.claim_next(engine, name)) is not None:
            with lock:
                claimed.append(job)

    threads = [threading.Thread(target=claim, args=(f"test:{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)
    # a job claimed by a process that has ended (a replaced worker) goes back to the queue
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with engine.begin() as conn:
        conn.execute(delete(jobq.jobs))
        conn.execute(insert(jobq.jobs).values(id="orphan", kind="report", params="{}", owner=None, status="running",
                                              progress=40, estimate_bytes=1, budget_bytes=1, created_ms=0,
                                              runner=f"{os.uname().nodename}:{int(dead.stdout)}"))
    assert jobq.requeue_orphans(engine) == 1
    assert jobq.get(engine, "orphan")["status"] == "queued"


def test_the_staff_reports_page_computes_a_large_report_in_the_background(demo: Any) -> None:
    from tests.web.conftest import login

    expected = _session(make_app(demo), "auditor").get(f"/api/v1/inspections/reports/annual?year={YEAR}").json
    c = make_app(demo, JOB_REQUEST_BYTES=1).test_client()
    login(c, "auditor")
    first = c.get(f"/staff/inspections/reports?kind=annual&year={YEAR}")
    assert first.status_code == 200
    assert b'id="report-job"' in first.data and b'http-equiv="refresh"' in first.data
    assert "正在后台生成".encode() in first.data
    deadline = time.monotonic() + 120
    while b'id="report-title"' not in (page := c.get(f"/staff/inspections/reports?kind=annual&year={YEAR}")).data:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert expected["title"].encode() in page.data and b'id="report-job"' not in page.data
    # the download links of a large report go through a job too: progress, then the file
    import re

    link = re.search(rb'id="xlsx-link" href="([^"]+)"', page.data).group(1).decode().replace("&amp;", "&")
    assert "download=xlsx" in link
    deadline = time.monotonic() + 120
    while (r := c.get(link)).status_code == 200:
        assert b'id="report-job"' in r.data and time.monotonic() < deadline
        time.sleep(0.3)
    assert r.status_code == 302 and r.headers["Location"].endswith("/result")
    got = c.get(r.headers["Location"])
    assert got.status_code == 200 and got.data[:2] == b"PK"
    # over the job budget: the page says so, in Chinese, and nothing is queued
    c2 = make_app(demo, JOB_REQUEST_BYTES=1, JOB_MEMORY_BYTES=jobq.MIB).test_client()
    login(c2, "auditor")
    refused = c2.get(f"/staff/inspections/reports?kind=monthly&year={YEAR}&month=2").data.decode()
    assert "超过 1 MiB 的限制" in refused


def test_the_registry_state_rebuilt_from_the_log_is_a_job_when_large(demo: Any) -> None:
    c = _session(make_app(demo), "auditor")
    expected = c.get("/api/v1/registry/state").json
    r = c.get("/api/v1/registry/state?async=1")
    assert r.status_code == 202, r.data
    state = _wait(c, r.json["url"])
    assert state["status"] == "done", state
    assert c.get(state["result_url"]).json == expected
    # the estimate counts the registries' rows: a budget below it refuses at once
    small = _session(make_app(demo, JOB_REQUEST_BYTES=1, JOB_MEMORY_BYTES=jobq.MIB), "auditor")
    assert small.get("/api/v1/registry/state").json["error"]["code"] == "over_memory_budget"
