"""HTTP access to the log: checkpoint, tiles, entries, proofs, external appends, cosignatures."""

from __future__ import annotations

import base64
import threading
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from drawsvc.i18n import tr
from ledger.batcher import AppendBatcher
from ledger.entry import MAX_ENTRY_BYTES, EntryError, EntryTooLarge
from ledger.external import AuthError, ExternalError, build_external_payload, client_for_token
from ledger.schema import witnesses
from ledger.store import MAX_PAGE, BadRequest, Ledger, NotFound, wait_for_checkpoint
from ledger.tiles import TileError
from ledger.witnessing import CosignatureRejected, quorum, store_cosignatures

from .errors import ApiError
from .limits import parse_int

bp = Blueprint("log_api", __name__, url_prefix="/api/v1/log")
tiles_bp = Blueprint("tiles", __name__)
_batcher_lock = threading.Lock()


def _ledger() -> Ledger:
    return current_app.extensions["ledger"]


def _batcher() -> AppendBatcher:
    with _batcher_lock:
        b = current_app.extensions.get("batcher")
        if b is None:
            b = AppendBatcher(_ledger())
            current_app.extensions["batcher"] = b
        return b


@bp.after_app_request
def _cover_writes(resp: Response) -> Response:
    """After any successful change (registry, inspections, draws: they append in transactions of
    their own), have the batcher see that a checkpoint covers the log as it now stands, so that
    every change becomes provable within the checkpoint interval on whichever host made it."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and resp.status_code < 400 and "ledger" in current_app.extensions:
        try:
            _batcher().cover(_ledger().size())
        except Exception:  # never fail a committed change over this; the next write retries
            current_app.logger.exception("could not schedule a covering checkpoint")
    return resp


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _int_arg(name: str, default: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if default is not None:
            return default
        raise ApiError(400, "missing_parameter", tr("缺少查询参数 %(name)s", name=repr(name)))
    if not raw.isascii() or not raw.isdigit():
        raise ApiError(400, "bad_parameter", tr("查询参数 %(name)s 应为非负整数，实际为 %(raw)s", name=repr(name),
                                                           raw=repr(raw[:40])))
    return parse_int(name, raw)


def _translate(exc: Exception) -> ApiError:
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", str(exc))
    return ApiError(400, "bad_request", str(exc))


def current_checkpoint_note(ledger: Ledger) -> str:
    cp = ledger.latest_checkpoint()
    if cp is None:
        raise ApiError(404, "not_found", tr("尚未签署任何检查点"))
    return cp.note + "".join(ledger.cosignature_lines(cp.size))


@tiles_bp.get("/checkpoint")
def checkpoint() -> Response:
    return Response(current_checkpoint_note(_ledger()), mimetype="text/plain",
                    headers={"Cache-Control": "no-cache"})


@tiles_bp.get("/tile/<path:path>")
def tile(path: str) -> Response:
    from ledger.tileserve import tile_bytes

    try:
        data, full = tile_bytes(_ledger(), path)
    except TileError as exc:
        raise ApiError(400, "bad_tile_path", str(exc)) from None
    except NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    cache = "public, max-age=31536000, immutable" if full else "no-cache"
    return Response(data, mimetype="application/octet-stream", headers={"Cache-Control": cache})


@bp.get("/key")
def key() -> Any:
    ledger = _ledger()
    verifier = ledger.log_signer.verifier
    return jsonify({
        "origin": ledger.origin,
        "verifier_key": verifier.encode(),
        "public_key": _b64(verifier.public_key),
        "system_actor": {"id": ledger.system.actor_id, "key_id": ledger.system.key_id,
                         "public_key": _b64(ledger.system.public_key)},
        "max_entry_bytes": MAX_ENTRY_BYTES,
        # the 国密 line's key (SPEC §5.1), null for a log that registered none
        "sm2_verifier_key": next((s.verifier.encode() for s in ledger.note_signers if hasattr(s, "private_key")), None),
    })


@bp.get("/entries")
def entries() -> Any:
    ledger = _ledger()
    start = _int_arg("start", 0)
    size = ledger.size()
    end = _int_arg("end", min(size, start + MAX_PAGE))
    if end < start:
        raise ApiError(400, "bad_range", tr("end %(end)s 早于 start %(start)s", end=end, start=start))
    if end - start > MAX_PAGE:
        raise ApiError(400, "bad_range", tr("每次请求最多 %(n)s 条", n=MAX_PAGE))
    if end > size:
        raise ApiError(400, "bad_range", tr("end %(end)s 超出日志长度 %(size)s", end=end, size=size))
    return jsonify({"size": size, "start": start, "entries": [e.to_json() for e in ledger.entries(start, end)]})


@bp.get("/entries/<seq>")
def entry(seq: str) -> Any:
    parse_int("seq", seq)
    try:
        e = _ledger().entry(int(seq))
    except NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return jsonify({"entry": e.to_json(), "leaf_hash": _b64(e.leaf_hash())})


def _tree_exists(size: int) -> None:
    """A tree larger than the log is not there yet: 404, since the same request succeeds once the
    log has grown (a state, not a malformed request; an index not below its size stays a 400)."""
    current = _ledger().size()
    if size > current:
        raise ApiError(404, "not_found", f"no tree of size {size}: the log holds {current} entries")


@bp.get("/proof/inclusion")
def inclusion() -> Any:
    index, size = _int_arg("index"), _int_arg("size")
    _tree_exists(size)
    try:
        proof = _ledger().inclusion_proof(index, size)
    except (BadRequest, NotFound) as exc:
        raise _translate(exc) from None
    return jsonify({"index": index, "size": size, "proof": [_b64(h) for h in proof]})


@bp.get("/proof/consistency")
def consistency() -> Any:
    old, new = _int_arg("old"), _int_arg("new")
    _tree_exists(new)
    try:
        proof = _ledger().consistency_proof(old, new)
    except (BadRequest, NotFound) as exc:
        raise _translate(exc) from None
    return jsonify({"old": old, "new": new, "proof": [_b64(h) for h in proof]})


@bp.get("/checkpoints")
def list_checkpoints() -> Any:
    after = _int_arg("after", 0) if request.args.get("after") else -1
    ledger = _ledger()
    return jsonify({"checkpoints": [
        {"size": cp.size, "root": _b64(cp.root), "signed_at": cp.signed_at,
         "note": cp.note + "".join(ledger.cosignature_lines(cp.size))}
        for cp in ledger.list_checkpoints(after)]})


def receipt(ledger: Ledger, seq: int, leaf_hash: bytes, wait: float = 2.0) -> dict[str, Any]:
    """seq and leaf hash, plus the covering checkpoint and inclusion proof once signed."""
    body: dict[str, Any] = {"seq": seq, "leaf_hash": _b64(leaf_hash)}
    cp = wait_for_checkpoint(ledger, seq, timeout=wait)
    if cp is not None:
        body["checkpoint"] = cp.note
        body["tree_size"] = cp.size
        body["inclusion_proof"] = [_b64(h) for h in ledger.inclusion_proof(seq, cp.size)]
    else:
        body["pending"] = f"no checkpoint yet; GET /api/v1/log/receipts/{seq}"
    return body


@bp.post("/entries")
def append_external() -> Any:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        raise ApiError(401, "unauthorized", tr("需要 API 令牌（Authorization: Bearer <token>）"))
    length = request.content_length
    if length is not None and length > MAX_ENTRY_BYTES:
        raise ApiError(413, "entry_too_large", tr("请求为 %(length)s 字节；条目最多 %(limit)s 字节", length=length,
                                                           limit=MAX_ENTRY_BYTES))
    try:
        client = client_for_token(current_app.extensions["engine"], auth[len("Bearer "):].strip())
    except AuthError as exc:
        raise ApiError(401, "unauthorized", str(exc)) from None
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", tr("请求体应为 JSON 对象 {type, record, client_sig}"))
    missing = [k for k in ("type", "record", "client_sig") if k not in body]
    if missing:
        raise ApiError(400, "missing_field", tr("缺少字段：%(fields)s", fields=", ".join(missing)))
    try:
        payload = build_external_payload(client, body["type"], body["record"], body["client_sig"])
        ledger = _ledger()
        e = _batcher().append(body["type"], payload, ledger.system)
    except EntryTooLarge as exc:
        raise ApiError(413, "entry_too_large", str(exc)) from None
    except (ExternalError, EntryError) as exc:
        raise ApiError(400, "bad_entry", str(exc)) from None
    return jsonify(receipt(ledger, e.seq, e.leaf_hash())), 201


@bp.get("/receipts/<seq>")
def get_receipt(seq: str) -> Any:
    parse_int("seq", seq)
    ledger = _ledger()
    try:
        e = ledger.entry(int(seq))
    except NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return jsonify(receipt(ledger, e.seq, e.leaf_hash(), wait=0))


@bp.post("/cosignatures")
def add_cosignature() -> Any:
    """A witness posts the checkpoint it cosigned as a note carrying its cosignature line(s).

    Refused with C2SP's meanings, nothing stored: 404 a checkpoint the log never issued, 409 a
    checkpoint the log never signed (another root at that size), a second cosignature of one
    checkpoint by one witness, or a timestamp before the witness's last one (a replay); 403 no
    line by a registered witness, or one that does not verify."""
    try:
        accepted = store_cosignatures(_ledger(), request.get_data(as_text=True))
    except CosignatureRejected as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    size = int(request.get_data(as_text=True).split("\n")[1])
    return jsonify({"size": size, "accepted": accepted}), 201


@bp.get("/witnesses")
def list_witnesses() -> Any:
    with current_app.extensions["engine"].connect() as conn:
        rows = conn.execute(select(witnesses)).all()
    return jsonify({"k": quorum(current_app.extensions["engine"]),
                    "witnesses": [{"name": r.name, "verifier_key": r.verifier_key, "cosigned_size": r.size,
                                   "last_error": r.last_error, "last_attempt": r.last_attempt} for r in rows]})


@bp.get("/keys")
def list_keys() -> Any:
    """Every actor, witness and log key the log names, with its history (SPEC §3): registered,
    rotated, revoked — each with the entry's seq and time; what the public key page shows."""
    from ledger.rotation import key_history

    from .cache import per_version

    def build() -> dict[str, Any]:
        with current_app.extensions["engine"].connect() as conn:
            return key_history(conn)

    return jsonify(per_version("key_history", build))
