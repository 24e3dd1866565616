"""JSON errors for the API: every failure is a 4xx/5xx with {"error": {code, message}}."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ledger.store import KeyRevoked


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str, details: Any = None):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return jsonify(body), status


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in ("/checkpoint",) or request.path.startswith("/tile/")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):  # type: ignore[no-untyped-def]
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(KeyRevoked)
    def _key_revoked(exc: KeyRevoked):  # type: ignore[no-untyped-def]
        # SPEC §3 item 7: the service signs nothing with a revoked key; the person needs a new key
        if _wants_json():
            return error_response(403, "key_revoked", str(exc), {"key_id": exc.key_id, "revoked_at_seq": exc.seq})
        return Response(f"403 — {exc}", status=403, mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if not _wants_json():
            return exc
        if exc.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            return error_response(413, "too_large", f"请求体超过 {limit} 字节 / request body larger than {limit} bytes")
        return error_response(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"),
                              exc.description or "")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; see the server log")
