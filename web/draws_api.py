"""Draws over HTTP: the lifecycle for operators, bundles for verifiers, published draws for all.

A sealed draw's content is unreadable through every public endpoint until it is published:
public readers see only what the log already shows (commitments), never pools, content,
nonce or salts.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from drawsvc.draw.errors import DrawError, SubstitutionInvalid, SwapInvalid
from drawsvc.draw.substitution import INSPECTOR_LEAVE_REASONS, SUBJECT_LEAVE_REASONS
from drawsvc.draws import pool_parts
from drawsvc.draws.bundle import build_bundle
from drawsvc.draws.inputs import InputsError, UnknownReference
from drawsvc.draws.service import DrawNotFound, DrawService, DrawStateError
from drawsvc.i18n import tr
from drawsvc.registry.authz import Actor, Forbidden
from ledger.store import NotFound

from .errors import ApiError, Refusal, refuser
from .limits import page_args
from .registry_api import body, current_actor, need, registry

bp = Blueprint("draws", __name__, url_prefix="/api/v1")


def service() -> DrawService:
    svc = current_app.extensions.get("draws")
    if svc is None:
        svc = DrawService(current_app.extensions["ledger"], registry())
        current_app.extensions["draws"] = svc
    return svc


_call = refuser(
    Refusal((DrawNotFound,), 404, "not_found"),
    Refusal((Forbidden,), 403, "forbidden"),
    Refusal((DrawStateError,), 409, "wrong_state"),
    Refusal((UnknownReference,), 409, "unknown_reference"),
    # about the draw's teams as they stand: a conflict with its state
    Refusal((SubstitutionInvalid, SwapInvalid), 409),
    Refusal((DrawError, InputsError), 422),
)


def _privileged(actor: Actor | None, draw: dict[str, Any]) -> bool:
    """Operators of the draw's department, admins and auditors may read sealed material."""
    if actor is None:
        return False
    if actor.role in ("admin", "auditor", "system"):
        return True
    return actor.role == "operator" and draw["department"] in actor.departments


def _strings(data: dict[str, Any], name: str, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "bad_field", tr("字段 %(name)s 应为非空文本", name=repr(name)))
    return value


def _list(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = data.get(name)
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise ApiError(400, "bad_field", tr("字段 %(name)s 应为对象列表", name=repr(name)))
    return value


# --- staff: the lifecycle -------------------------------------------------------------------


@bp.get("/draws")
def list_draws():  # type: ignore[no-untyped-def]
    """Draws newest first, paged like every list (limit ≤ MAX_PAGE, default 100; offset)."""
    actor = need("admin", "operator", "auditor")
    limit, offset = page_args()
    depts = None if actor.role in ("admin", "auditor") else list(actor.departments)
    return jsonify({"draws": service().list(departments=depts, limit=limit, offset=offset),
                    "limit": limit, "offset": offset})


@bp.post("/draws")
def prepare():  # type: ignore[no-untyped-def]
    actor = need("admin", "operator")
    data = body()
    draw = _call(service().prepare, actor, _strings(data, "plan"), _strings(data, "department"),
                 _list(data, "sources"), draw_date=data.get("draw_date"), note=str(data.get("note", "")))
    return jsonify(draw), 201


@bp.get("/draws/<draw_id>")
def get_draw(draw_id: str):  # type: ignore[no-untyped-def]
    actor = need("admin", "operator", "auditor")
    draw = _call(service().get, draw_id)
    if actor.role == "operator" and draw["department"] not in actor.departments:
        raise ApiError(403, "forbidden", tr("不属于本部门"))
    if _privileged(actor, draw):
        secret = service().secret(draw_id, pools=False)
        draw["sealed_content"] = {"matching": secret.get("matching"), "content": secret.get("content"),
                                  "substitutions": [s["record"] for s in secret.get("substitutions", [])]}
    return jsonify(draw)


@bp.post("/draws/<draw_id>/seed")
def seed(draw_id: str):  # type: ignore[no-untyped-def]
    actor = need("admin", "operator")
    return jsonify(_call(service().seed, actor, draw_id, _list(body(), "reveals")))


@bp.post("/draws/<draw_id>/run")
def run(draw_id: str):  # type: ignore[no-untyped-def]
    actor = need("admin", "operator")
    return jsonify(_call(service().run, actor, draw_id))


@bp.post("/draws/<draw_id>/substitutions")
def substitute(draw_id: str):  # type: ignore[no-untyped-def]
    actor = need("admin", "operator")
    data = body()
    kind = data.get("kind")
    svc = service()
    reasons = INSPECTOR_LEAVE_REASONS if kind == "inspector" else SUBJECT_LEAVE_REASONS
    if kind in ("inspector", "subject") and data.get("reason") not in reasons:
        raise ApiError(422, "SubstitutionInvalid", tr("reason 应为 %(value)s", value='/'.join(reasons)))
    if kind == "inspector":
        unavailable = data.get("unavailable", [])
        if not isinstance(unavailable, list):
            raise ApiError(400, "bad_field", tr("unavailable 应为列表"))
        record = _call(svc.substitute_inspector, actor, draw_id, _strings(data, "subject"),
                       _strings(data, "leaving"), _strings(data, "reason"), unavailable,
                       incoming=data.get("incoming"))
    elif kind == "subject":
        record = _call(svc.substitute_subject, actor, draw_id, _strings(data, "subject"), _strings(data, "reason"),
                       incoming=data.get("incoming"))
    elif kind == "swap":
        record = _call(svc.swap, actor, draw_id, *(_strings(data, k) for k in
                                                   ("inspector_a", "subject_a", "inspector_b", "subject_b")))
    else:
        raise ApiError(400, "bad_field", tr("kind 应为 inspector、subject 或 swap"))
    return jsonify(record), 201


@bp.post("/draws/<draw_id>/publish")
def publish(draw_id: str):  # type: ignore[no-untyped-def]
    actor = need("admin", "operator")
    return jsonify(_call(service().publish, actor, draw_id))


@bp.post("/draws/<draw_id>/abort")
def abort(draw_id: str):  # type: ignore[no-untyped-def]
    actor = need("admin", "operator")
    return jsonify(_call(service().abort, actor, draw_id, _strings(body(), "reason")))


@bp.get("/draws/<draw_id>/bundle")
def bundle(draw_id: str):  # type: ignore[no-untyped-def]
    """No login once published; before that only commitments, unless the reader is privileged.

    `?checkpoint=N`: the bundle against the stored checkpoint of size N (what a reader holding
    that checkpoint can check); this draw's later entries come as `pending_entries`."""
    draw = _call(service().get, draw_id)
    actor = current_actor()
    instance = current_app.extensions["instance"]
    raw = request.args.get("checkpoint")
    if raw is not None and not (raw.isdigit() and len(raw) < 19):
        raise ApiError(400, "bad_field", tr("checkpoint 应为检查点的树大小"))
    form = request.args.get("pool", "records")
    if form not in ("records", "parts"):
        raise ApiError(400, "bad_field", tr("pool 应为 records 或 parts"))
    try:
        data = build_bundle(current_app.extensions["ledger"], draw_id, privileged=_privileged(actor, draw),
                            log_verifier_key=instance.genesis_log_key.encode(),
                            checkpoint_size=None if raw is None else int(raw),
                            part_size=pool_parts.PART_SIZE if form == "parts" else None)
    except NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return jsonify(data)


@bp.get("/draws/<draw_id>/pool/subjects/<int:n>")
def pool_part(draw_id: str, n: int):  # type: ignore[no-untyped-def]
    """Part n of the subject pool (SPEC §D12.1: `JCS(record)` + LF per record, the bytes the
    bundle's `pool_parts` hashes), read from the stored part alone. The pool's access rule: no
    login once published; before that a privileged reader only (409 naming the status)."""
    draw = _call(service().get, draw_id)
    if draw["status"] != "published" and not _privileged(current_actor(), draw):
        raise ApiError(409, "not_published", tr("抽签 %(draw_id)s 尚未公示（%(status)s）：名录只在公示后公开",
                                                draw_id=draw_id, status=draw["status"]))
    with current_app.extensions["ledger"].engine.connect() as conn:
        data = pool_parts.part_bytes(conn, draw_id, n)
    if data is None:
        raise ApiError(404, "not_found", tr("抽签 %(draw_id)s 的名录没有第 %(n)s 部分", draw_id=draw_id, n=n))
    return current_app.response_class(data, mimetype="application/x-ndjson")


@bp.get("/draws/<draw_id>/subjects/<code>/proof")
def subject_proof(draw_id: str, code: str):  # type: ignore[no-untyped-def]
    """One company's proof document (SPEC §D15): about 17 KB on the demo draw instead of the whole pool. No login;
    published draws only (409 naming the status otherwise: nothing is public before 公示)."""
    from drawsvc.draws.subject_proof import DrawNotPublished, SubjectNotInDraw, build_subject_proof

    try:
        doc = build_subject_proof(current_app.extensions["ledger"], draw_id, code,
                                  log_verifier_key=current_app.extensions["instance"].genesis_log_key.encode())
    except DrawNotFound:
        raise ApiError(404, "not_found", tr("没有抽签 %(draw_id)s", draw_id=draw_id)) from None
    except DrawNotPublished as exc:
        raise ApiError(409, "not_published", str(exc)) from None
    except SubjectNotInDraw:
        raise ApiError(404, "subject_not_in_draw", tr("%(code)s 不在抽签 %(draw_id)s 的对象库或排除名单中", code=code, draw_id=draw_id)) from None
    resp = jsonify(doc)
    # hex hashes and repeated keys: gzip (stdlib) takes the ~17 KB document to ~6 KB on the wire
    if request.accept_encodings["gzip"]:
        import gzip

        resp.set_data(gzip.compress(resp.get_data(), 6, mtime=0))
        resp.headers["Content-Encoding"] = "gzip"
    resp.vary.add("Accept-Encoding")
    return resp


# --- public (公示): published draws only ----------------------------------------------------


PUBLIC_DRAW_FIELDS = ("id", "plan", "department", "year", "status", "seqs", "draw_date", "items", "parameters",
                      "pools", "seed_recipe", "reveals", "not_before", "seal", "algorithm", "note")


def public_view(draw: dict[str, Any]) -> dict[str, Any]:
    return {k: draw.get(k) for k in PUBLIC_DRAW_FIELDS}


def abort_record(draw: dict[str, Any]) -> dict[str, Any] | None:
    """Who aborted the draw, when, why, at which stage: read from its signed draw.aborted entry."""
    seq = draw["seqs"].get("aborted")
    if seq is None:
        return None
    e = current_app.extensions["ledger"].entry(seq)
    return {"seq": seq, "time": e.time, "actor": e.actor_id, "stage": e.payload.get("stage"),
            "reason": e.payload.get("reason")}


def plan_history(draw: dict[str, Any]) -> list[dict[str, Any]]:
    """The other public draws of the same plan (published or aborted; §D11.6: a re-run after an
    abort shows the aborted attempt, and the attempt its re-run), oldest first."""
    rows = [d for d in service().list(status=["published", "aborted"]) if d["plan"] == draw["plan"]
            and d["id"] != draw["id"]]
    return [{"id": d["id"], "status": d["status"], "prepared_seq": d["seqs"]["prepared"], "abort": abort_record(d)}
            for d in sorted(rows, key=lambda d: d["seqs"]["prepared"])]


@bp.get("/public/draws")
def public_draws():  # type: ignore[no-untyped-def]
    return jsonify({"draws": [public_view(d) for d in service().list(status=["published"])]})


@bp.get("/public/draws/<draw_id>")
def public_draw(draw_id: str):  # type: ignore[no-untyped-def]
    try:
        draw = service().get(draw_id)
    except DrawNotFound:
        draw = None
    if draw is None or draw["status"] not in ("published", "aborted"):
        raise ApiError(404, "not_found", tr("没有已公示或已中止的抽签 %(draw_id)s", draw_id=draw_id))
    view = public_view(draw)
    view["plan_history"] = plan_history(draw)
    if draw["status"] == "aborted":  # 中止记录永久公开: nothing was drawn, nothing sealed is shown
        view["abort"] = abort_record(draw)
        return jsonify(view)
    secret = service().secret(draw_id, pools=False)
    view["content"] = secret["content"]
    view["matching"] = secret["matching"]
    view["substitutions"] = [s["record"] for s in secret["substitutions"]]
    return jsonify(view)


@bp.get("/public/draws/<draw_id>/subjects/<code>")
def public_subject_in_draw(draw_id: str, code: str):  # type: ignore[no-untyped-def]
    """"Was my company's selection fair?": its ticket, its stratum's cutoff, drawn or not."""
    from drawsvc.draw.selection import would_be_drawn
    from drawsvc.draw.tickets import subject_ticket

    view = public_draw(draw_id).get_json()
    if view["status"] != "published":
        raise ApiError(404, "not_found", tr("抽签 %(draw_id)s 已中止，未抽取", draw_id=draw_id))
    secret = service().secret(draw_id)
    seed = bytes.fromhex(secret["seed"])
    pools = secret["pools"]
    member = next((r for r in pools["subjects"] if r["id"] == code), None)
    excluded = next((r for r in pools["excluded"] if r["id"] == code), None)
    strata = view["content"]["strata"]
    if member is None and excluded is None:
        return jsonify({"subject": code, "in_pool": False, "ticket": subject_ticket(seed, code).hex(),
                        "explanation": tr("不在本次抽查范围内")})
    rec = member or excluded
    stratum = rec["stratum"]
    sel = strata.get(stratum, {}).get("selected", [])
    cutoff = (bytes.fromhex(sel[-1]["ticket"]), sel[-1]["id"]) if sel else None
    verdict = would_be_drawn(seed, code, stratum, cutoff)
    return jsonify({"subject": code, "in_pool": member is not None, "excluded_reason": excluded and excluded["reason"],
                    "stratum": stratum, **verdict.to_json()})
