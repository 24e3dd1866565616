"""What the public may read (一公开): published results only, never a draft, a pending or a
confirmed-but-unpublished result, never an unpublished correction.

Every query here reads `public_doc` (the content revealed by `inspection.result.published`)
and filters on `published_version IS NOT NULL`; nothing else of a result is ever returned.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from . import schema

PUBLIC_EVENTS = ("answer", "followup", "followup_closed", "penalty_published")
MAX_RESULTS = 200


def _events(conn: Connection, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = conn.execute(select(schema.events).where(schema.events.c.result_id.in_(ids),
                                                    schema.events.c.kind.in_(PUBLIC_EVENTS))
                        .order_by(schema.events.c.id))
    for e in rows:
        out[e.result_id].append({**json.loads(e.doc), "step": e.kind, "date": e.date})
    return out


def _view(doc: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    keep = ("result_id", "department", "department_name", "subject", "subject_name", "check_date", "items",
            "categories", "category_labels", "findings", "evaluation", "handling_opinion", "follow_up", "kind",
            "trigger", "draw_id", "version", "published_date", "published_seq")
    view = {k: doc.get(k) for k in keep}
    view["answers"] = [{"received_on": e["received_on"], "answer": e["answer"]} for e in events if e["step"] == "answer"]
    view["follow_up_steps"] = [{k: e.get(k) for k in ("step", "kind", "date", "label", "outcome", "decision_no",
                                                       "decision_date", "authority", "published_date")}
                               for e in events if e["step"] != "answer"]
    return view


def search(conn: Connection, q: str, limit: int = 50) -> list[dict[str, Any]]:
    """By credit code (exact or prefix) or by name (substring)."""
    r = schema.results
    q = q.strip()
    if not q:
        return []
    if q.isascii() and q.isalnum():  # a credit code or its prefix: the indexed column only
        cond = r.c.subject == q.upper() if len(q) == 18 else r.c.subject.startswith(q.upper())
    else:
        cond = or_(r.c.subject_name.contains(q), r.c.subject == q.upper())
    rows = conn.execute(select(r.c.id, r.c.public_doc).where(r.c.published_version.is_not(None), cond)
                        .order_by(r.c.published_seq.desc()).limit(min(limit, MAX_RESULTS))).all()
    ev = _events(conn, [x.id for x in rows])
    return [_view(json.loads(x.public_doc), ev[x.id]) for x in rows]


def for_subject(conn: Connection, code: str) -> list[dict[str, Any]]:
    """A subject's published results, newest first, with their public events: one query (a
    company page not cached yet is one round trip for its results, not two)."""
    r, e = schema.results, schema.events
    rows = conn.execute(
        select(r.c.id, r.c.public_doc, e.c.kind, e.c.date, e.c.doc)
        .outerjoin(e, (e.c.result_id == r.c.id) & e.c.kind.in_(PUBLIC_EVENTS))
        .where(r.c.published_version.is_not(None), r.c.subject == code.upper())
        .order_by(r.c.published_seq.desc(), r.c.id, e.c.id))
    docs: dict[str, str] = {}
    events: dict[str, list[dict[str, Any]]] = {}
    for x in rows:
        if x.id not in docs:
            docs[x.id], events[x.id] = x.public_doc, []
        if x.kind is not None:
            events[x.id].append({**json.loads(x.doc), "step": x.kind, "date": x.date})
    return [_view(json.loads(doc), events[rid]) for rid, doc in docs.items()]


def disclosures(conn: Connection, year: int | None = None) -> list[dict[str, Any]]:
    d = schema.disclosures
    stmt = select(d).order_by(d.c.year.desc(), d.c.department)
    if year:
        stmt = stmt.where(d.c.year == year)
    return [{"department": x.department, "year": x.year, "published_date": x.published_date, "sha256": x.sha256,
             "report": json.loads(x.doc), "seq": x.seq} for x in conn.execute(stmt)]
