"""The OpenAPI document, generated from the code by spectree (pydantic models + decorators).

Every blueprint decorates its views with `api.validate(...)` (the registry API passes
`skip_validation=True`: its domain validators give field-level 422 answers of their own).
The app factory calls `init_openapi(app)` AFTER registering all blueprints; the document is then
served at /api/v1/openapi.json (and Swagger/Redoc pages under /api/v1/apidoc/).
"""

from __future__ import annotations

from flask import Flask, jsonify
from pydantic import BaseModel
from spectree import SecurityScheme, SpecTree
from spectree.models import SecuritySchemeData

api = SpecTree(
    "flask",
    title="Spot-check service API (双随机、一公开)",
    version="1",
    path="api/v1/apidoc",
    mode="normal",
    annotations=False,
    security_schemes=[
        SecurityScheme(name="bearer", data=SecuritySchemeData(type="http", scheme="bearer")),
        SecurityScheme(name="session", data=SecuritySchemeData(type="apiKey", field_in="cookie", name="session")),
    ],
)


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str
    value: object | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: object | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def init_openapi(app: Flask) -> None:
    api.register(app)

    def openapi_json():  # type: ignore[no-untyped-def]
        return jsonify(api.spec)

    if "openapi_json_v1" not in app.view_functions:
        app.add_url_rule("/api/v1/openapi.json", "openapi_json_v1", openapi_json)
