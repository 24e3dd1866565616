"""JSON errors for the API: every failure is a 4xx/5xx with {"error": {code, message}}."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from drawsvc.i18n import tr
from drawsvc.raises import declared
from ledger.store import KeyRevoked, Sm2SignatureRequired


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


class UndeclaredRefusal(UserWarning):
    """A service function raised a refusal whose status its `@raises` declaration does not give:
    the OpenAPI document does not list that answer for the operation. Still answered (never a
    500 for the client); an error under pytest (pyproject.toml's filterwarnings), so a test or
    the fuzz run that reaches it fails."""


@dataclass(frozen=True)
class Refusal:
    """One kind of domain refusal and the answer it gets: `status` with `code` (None: the
    exception's class name) and its message; or, where the status depends on the exception,
    `answer` builds the ApiError and `statuses` lists every status it can give."""

    errors: tuple[type[Exception], ...]
    status: int
    code: str | None = None
    answer: Callable[[Exception], ApiError] | None = None
    statuses: frozenset[int] = frozenset()

    def all_statuses(self) -> set[int]:
        return {self.status, *self.statuses}

    def error(self, exc: Exception) -> ApiError:
        if self.answer is not None:
            return self.answer(exc)
        return ApiError(self.status, self.code or type(exc).__name__, str(exc))


def refusal_for(refusals: Iterable[Refusal], error: type[BaseException]) -> Refusal | None:
    """The first refusal that catches `error` (the order of except clauses)."""
    return next((r for r in refusals if issubclass(error, r.errors)), None)


def refused_statuses(refusals: Iterable[Refusal], errors: Iterable[type[Exception]]) -> set[int]:
    """The statuses a call declaring `errors` can be answered with (errors no refusal catches add none)."""
    refusals = tuple(refusals)
    return {s for e in errors if (r := refusal_for(refusals, e)) is not None for s in r.all_statuses()}


def refuser(*refusals: Refusal) -> Callable[..., Any]:
    """A blueprint's `_call(fn, *args, **kwargs)`: runs `fn`, answering each refusal with its
    status. The OpenAPI scan (web.openapi.raised_statuses) reads `.refusals` and `fn`'s `@raises`
    declaration instead of the except clauses, so an operation lists only what its calls can
    raise; a refusal `fn` did not declare is warned about here (UndeclaredRefusal)."""
    caught = tuple(e for r in refusals for e in r.errors)

    def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except caught as exc:
            rule = refusal_for(refusals, type(exc))
            assert rule is not None  # caught is the union of the refusals' errors
            said = declared(fn)
            if said is not None and not rule.all_statuses() <= refused_statuses(refusals, said):
                warnings.warn(UndeclaredRefusal(
                    f"{getattr(fn, '__qualname__', fn)} raised {type(exc).__name__} ({sorted(rule.all_statuses())}), "
                    f"not among its @raises {[e.__name__ for e in said]}"), stacklevel=2)
            raise rule.error(exc) from None

    call.refusals = refusals  # type: ignore[attr-defined]
    return call


def error_response(status: int, code: str, message: str, details: Any = None):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return jsonify(body), status


def http_words(code: int) -> tuple[str, str]:
    """An HTTP error's title and sentence in the request's language (Werkzeug's own are English)."""
    titles = {400: tr("请求有误"), 403: tr("无权访问"), 404: tr("未找到"), 405: tr("不允许的方法"), 413: tr("文件过大"),
              429: tr("请求过于频繁"), 500: tr("服务器错误")}
    messages = {403: tr("您没有访问此页面的权限。"), 404: tr("找不到该页面或记录，请检查地址。"),
                405: tr("不允许对此地址使用该方法。"), 413: tr("上传的文件过大。"), 400: tr("请求有误，请检查后重试。"),
                429: tr("请求过于频繁，请稍后再试。"), 500: tr("服务器内部错误，已记录；请稍后再试。")}
    return titles.get(code, titles[500]), messages.get(code, messages[500])


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

    @app.errorhandler(Sm2SignatureRequired)
    def _sm2_required(exc: Sm2SignatureRequired):  # type: ignore[no-untyped-def]
        # SPEC §3 item 11: an SM2 actor's entry needs both signatures; the signer lacks the SM2 key
        if _wants_json():
            return error_response(403, "sm2_signature_required", str(exc),
                                  {"actor_id": exc.actor_id, "sm2_key_registered_at_seq": exc.seq})
        return Response(f"403 — {exc}", status=403, mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if not _wants_json():
            return exc
        if exc.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            return error_response(413, "too_large", tr("请求体超过 %(limit)s 字节", limit=limit))
        own = exc.description if exc.description != type(exc).description else None
        return error_response(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"),
                              own or http_words(exc.code or 500)[1])

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("unhandled error")
        if not _wants_json():  # a page gets a page, in the reader's language
            from flask import render_template

            title, message = http_words(500)
            try:
                return render_template("error.html", code=500, title=title, message=message), 500
            except Exception:  # noqa: BLE001 - the error page itself failed: fall back to the JSON body
                app.logger.exception("error page failed")
        return error_response(500, "internal_error", http_words(500)[1])
