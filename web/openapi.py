"""The OpenAPI document, generated from the code by spectree (pydantic models + decorators).

Every blueprint decorates its views with `api.validate(...)` (the registry API passes
`skip_validation=True`: its domain validators give field-level 422 answers of their own).
The app factory calls `init_openapi(app)` AFTER registering all blueprints; the document is then
served at /api/v1/openapi.json (and Swagger/Redoc pages under /api/v1/apidoc/).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
import inspect
import re
import textwrap
import types
import typing
from typing import Any

from flask import Flask, jsonify
from pydantic import BaseModel
from spectree import SecurityScheme, SpecTree
from spectree.models import SecuritySchemeData

from drawsvc.draw.substitution import INSPECTOR_LEAVE_REASONS, SUBJECT_LEAVE_REASONS
from drawsvc.inspections.categories import FOLLOW_UP_ENDS, FOLLOW_UP_KINDS
from drawsvc.inspections.evidence import LABELS as EVIDENCE_LABELS
from drawsvc.inspections.service import TRIGGERS
from drawsvc.raises import declared

from .errors import refusal_for, refused_statuses
from .limits import MAX_INT, MAX_PAGE, MAX_QUERY_VALUE, MAX_SEARCH, YEAR_MAX, YEAR_MIN

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


def document(app: Flask) -> dict:
    """The OpenAPI document of `app`'s own routes (built once per app; call within its context).

    Why not `api.spec`: SpecTree keeps ONE document per process, built from whichever app asked
    first, while every app registers with the same module-level `api`. A process holding two apps
    (a test suite: the registry tests' app has only the registry blueprint; a host serving two
    instances) would describe the second by the first's routes, so the document was right or wrong
    depending on which app happened to ask first. The routes are read from the current app."""
    doc = app.extensions.get("openapi_document")
    if doc is None:
        doc = app.extensions["openapi_document"] = complete(api._generate_spec(), views_of(app))  # noqa: SLF001
    return doc


def init_openapi(app: Flask) -> None:
    api.register(app)

    def openapi_json():  # type: ignore[no-untyped-def]
        return jsonify(document(app))

    if "openapi_json_v1" not in app.view_functions:
        app.add_url_rule("/api/v1/openapi.json", "openapi_json_v1", openapi_json)
    # spectree's own copy (read by its Swagger/Redoc pages) is the same per-app document
    own = f"openapi_{api.config.path}"
    if own in app.view_functions:
        app.view_functions[own] = openapi_json


# --- completing the document: what spectree cannot see from the views --------------------------
#
# Why: views that read their body with `body()` or their query with `request.args` are invisible
# to spectree, so a client reading the document would not know what they take, nor that every
# request can be refused by the bounds in web/limits.py. These tables say it, next to the code
# that enforces it; tests/web/test_web_openapi.py checks the document against the app's routes and
# tests/web/test_web_openapi_fuzz.py fuzzes the served document.

_S = {"type": "string", "maxLength": MAX_QUERY_VALUE}
_ID = {"type": "string", "minLength": 1, "maxLength": 200}
_YEAR = {"type": "integer", "minimum": YEAR_MIN, "maximum": YEAR_MAX}
_NAT = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
_DAY = {"type": "string", "format": "date"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 500}
_STRS = {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 1000}
_CODE = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"}
_CODES = {"type": "array", "items": _CODE, "minItems": 1, "maxItems": 1000}
_NB = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}  # not only spaces
_NONBLANK = {"type": "string", "minLength": 1, "maxLength": 4000, "pattern": r"^\s*\S[\s\S]*$"}


def _enum(values: object) -> dict:
    return {"type": "string", "enum": sorted(values)}  # type: ignore[call-overload]


def _obj(required: tuple[str, ...] = (), **props: dict) -> dict:
    return {"type": "object", "properties": props, "required": list(required)}


PATH_PARAMS: dict[str, dict] = {
    "year": _YEAR, "seq": {"type": "string", "pattern": r"^[0-9]{1,15}$"}, "n": _NAT,
    "kind": {"type": "string", "maxLength": 64}, "fmt": {"type": "string", "enum": ["csv", "xlsx"]},
    "path": {"type": "string", "maxLength": 200,  # a C2SP tlog-tiles path: level/index[.p/width], canonical
             "pattern": r"^(entries|[0-9]|[1-5][0-9]|6[0-3])/((x(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})/)(x[0-9]{3}/)*)?"
                        r"[0-9]{3}(\.p/([1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$"}, "job_id": {"type": "string", "minLength": 1, "maxLength": 64},
}
_ASYNC = {"type": "string", "enum": ["0", "1", "true", "false"]}

_PAGE = {"limit": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE}, "offset": _NAT}
_REGISTRY_FILTERS = {"q": {"type": "string", "maxLength": MAX_SEARCH}, "status": _S, "department": _S,
                     "region": _S, "industry": _S, "credit_class": _S, "tag": _S, "sublibrary": _S, "year": _YEAR}

QUERY: dict[tuple[str, str], dict[str, dict]] = {
    **{("get", f"/api/v1/{p}"): {**_PAGE, **_REGISTRY_FILTERS} for p in (
        "departments", "items", "subjects", "inspectors", "experts", "conflicts", "sublibraries", "plans",
        "accounts", "tokens")},
    ("get", "/api/v1/login-lockouts"): {"limit": _PAGE["limit"]},
    ("get", "/api/v1/registry/state"): {"at": _NAT, "async": _ASYNC},
    ("post", "/api/v1/import/{kind}"): {"dry_run": {"type": "string", "enum": ["0", "1", "true", "false"]},
                                        "filename": {"type": "string", "maxLength": 200}},
    ("get", "/api/v1/draws"): dict(_PAGE),
    ("get", "/api/v1/inspections/tasks"): {**_PAGE, "status": _S, "draw": _S},
    ("get", "/api/v1/inspections/deadlines"): {"soon": {"type": "integer", "minimum": 0, "maximum": 366},
                                               "late": _S},
    ("get", "/api/v1/inspections/reports/{kind}"): {
        "year": _YEAR, "month": {"type": "integer", "minimum": 0, "maximum": 12},
        "half": {"type": "integer", "minimum": 0, "maximum": 2}, "department": _S,
        "format": {"type": "string", "enum": ["json", "xlsx", "pdf"]}, "async": _ASYNC},
    ("get", "/api/v1/export/{kind}.{fmt}"): {"async": _ASYNC},
    ("post", "/api/v1/inspections/calendar"): {"year": _YEAR, "override": {"type": "string", "enum": ["0", "1"]}},
    ("get", "/api/v1/public/results"): {"q": {"type": "string", "maxLength": MAX_SEARCH}},
    ("get", "/api/v1/public/disclosures"): {"year": _YEAR},
    ("get", "/api/v1/log/entries"): {"start": _NAT, "end": _NAT},
    ("get", "/api/v1/log/proof/inclusion"): {"index": _NAT, "size": {**_NAT, "minimum": 1}},
    ("get", "/api/v1/log/proof/consistency"): {"old": _NAT, "new": _NAT},
    ("get", "/api/v1/log/checkpoints"): {"after": _NAT},
    ("delete", "/api/v1/{plural}/{key}"): {"reason": _S},
}
REQUIRED_QUERY = {("get", "/api/v1/log/proof/inclusion"): ("index", "size"),
                  ("get", "/api/v1/log/proof/consistency"): ("old", "new")}

_SOURCE = {"type": "object", "properties": {"type": {"type": "string", "enum": ["drand", "dice", "lottery"]}},
           "required": ["type"]}
BODIES: dict[tuple[str, str], dict] = {
    ("post", "/api/v1/draws"): _obj(("plan", "department", "sources"), plan=_NB, department=_CODE,
                                    sources={"type": "array", "items": _SOURCE, "minItems": 1, "maxItems": 10},
                                    draw_date={"type": ["string", "null"], **_DAY}, note={"type": "string"}),
    ("post", "/api/v1/draws/{draw_id}/seed"): _obj(("reveals",), reveals={"type": "array", "items": {"type": "object"}}),
    ("post", "/api/v1/draws/{draw_id}/substitutions"): {"oneOf": [
        _obj(("kind", "subject", "leaving", "reason"), kind={"const": "inspector"}, subject=_NB, leaving=_NB,
             reason=_enum(INSPECTOR_LEAVE_REASONS), unavailable=_STRS, incoming={"type": ["string", "null"]}),
        _obj(("kind", "subject", "reason"), kind={"const": "subject"}, subject=_NB, reason=_enum(SUBJECT_LEAVE_REASONS),
             incoming={"type": ["string", "null"]}),
        _obj(("kind", "inspector_a", "subject_a", "inspector_b", "subject_b"), kind={"const": "swap"},
             inspector_a=_NB, subject_a=_NB, inspector_b=_NB, subject_b=_NB)]},
    ("post", "/api/v1/draws/{draw_id}/abort"): _obj(("reason",), reason=_TEXT),
    ("post", "/api/v1/inspections/tasks"): _obj(
        ("department", "trigger", "reference", "window", "team", "items", "subject"), department=_CODE,
        trigger=_enum(TRIGGERS), reference=_TEXT, subject=_ID, team={**_CODES, "minItems": 2, "uniqueItems": True},
        items=_CODES,
        window=_obj(("start", "end"), start=_DAY, end=_DAY)),
    ("post", "/api/v1/inspections/tasks/{task_id}/checked"): _obj(("check_date",), check_date=_DAY),
    ("post", "/api/v1/inspections/tasks/{task_id}/results"): _obj(
        ("categories",), department=_CODE, subject=_ID, categories=_CODES, items=_CODES, check_date=_DAY,
        findings={"type": "string"}, evaluation={"type": "string"}, handling_opinion={"type": "string"},
        follow_up=_obj(("kind",), kind=_enum(FOLLOW_UP_KINDS), note={"type": "string"})),
    ("post", "/api/v1/inspections/results/{result_id}/confirm"): _obj((), version={"type": ["integer", "null"]}),
    ("post", "/api/v1/inspections/results/{result_id}/return"): _obj(("reason",), reason=_TEXT),
    ("post", "/api/v1/inspections/results/{result_id}/answer"): _obj(("answer",), answer={**_TEXT, **_NONBLANK,
                                                                                          "maxLength": 500},
                                                                      received_on=_DAY),
    ("post", "/api/v1/inspections/results/{result_id}/followup"): _obj(("kind",), kind=_enum(set(FOLLOW_UP_KINDS) - {"none"}),
                                                                        note={"type": "string"}),
    ("post", "/api/v1/inspections/results/{result_id}/followup-close"): {"oneOf": [
        _obj(("outcome", "decision_date", "decision_no"), outcome={"const": "penalty"}, decision_date=_DAY,
             decision_no={**_NB, "maxLength": 100}, authority={"type": "string"}, note={"type": "string"}),
        _obj(("outcome", "decision_date"), outcome=_enum(set(FOLLOW_UP_ENDS) - {"penalty"}), decision_date=_DAY,
             decision_no={"type": "string", "maxLength": 100}, authority={"type": "string"}, note={"type": "string"})]},
    ("put", "/api/v1/inspections/settings/{department}"): _obj(
        (), publish_days={"type": "integer", "minimum": 1, "maximum": 60},
        report_days={"type": "integer", "minimum": 1, "maximum": 60},
        penalty_days={"type": "integer", "minimum": 1, "maximum": 60},
        answer_days={"type": "integer", "minimum": 1, "maximum": 60},
        rules={"type": "array", "items": _obj(("title",), title=_TEXT, number={"type": "string"})}),
    ("post", "/api/v1/inspections/categories"): _obj(("code", "label"), code={"type": "string",
                                                                                "pattern": r"^[A-Za-z0-9_]{1,64}$"},
                                                     label={**_TEXT, "pattern": r"^\s*\S[\s\S]*$"},
                                                     group={"type": "string", "enum": ["result", "status"]},
                                                     credit={"type": ["string", "null"], "enum": ["abnormal", "violation", None]}),
    ("post", "/api/v1/inspections/calendar"): _obj(("year", "source", "holidays", "workdays"), year=_YEAR,
                                                   source=_TEXT, holidays={"type": "array", "items": _DAY, "minItems": 1},
                                                   workdays={"type": "array", "items": _DAY}),
    ("post", "/api/v1/log/entries"): _obj(("type", "record", "client_sig"), type={"type": "string"},
                                          record={"type": "object"}, client_sig={"type": "string"}),
}
# lists whose views answer with a hand-built JSON: their page (limit, offset) is part of the answer
_PAGE_OUT = {"limit": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE}, "offset": _NAT}
LIST_RESPONSES: dict[tuple[str, str], dict] = {
    ("get", "/api/v1/draws"): _obj(("draws", "limit", "offset"), draws={"type": "array", "items": {"type": "object"}},
                                   **_PAGE_OUT),
    ("get", "/api/v1/inspections/tasks"): _obj(("tasks", "limit", "offset"),
                                               tasks={"type": "array", "items": {"type": "object"}}, **_PAGE_OUT),
}
TEXT_BODIES = {("post", "/api/v1/log/cosignatures"): "a checkpoint note carrying cosignature lines"}
# a checkpoint note (C2SP tlog-checkpoint + signed-note): origin, size, root hash, blank line, signature lines
NOTE_PATTERN = (r"^[!-~]{1,100}\n(0|[1-9][0-9]{0,15})\n[A-Za-z0-9+/]{43}=\n\n"
                r"(\u2014 [!-~]{1,60} ([A-Za-z0-9+/]{91}=|[A-Za-z0-9+/]{102}==)\n){1,4}$")
MULTIPART = {("post", "/api/v1/inspections/tasks/{task_id}/evidence"), ("post", "/api/v1/import/{kind}")}

JOB_OFFLOADING = {("get", "/api/v1/inspections/reports/{kind}"), ("get", "/api/v1/export/{kind}.{fmt}"),
                  ("get", "/api/v1/registry/state")}
_JOB = _obj(("id", "kind", "status", "progress", "url"), id=_ID, kind={"type": "string"},
            status={"type": "string", "enum": ["queued", "running", "done", "failed"]},
            progress={"type": "integer", "minimum": 0, "maximum": 100}, url={"type": "string"},
            params={"type": "object"}, result_url={"type": "string"}, filename={"type": "string"},
            result_bytes={"type": "integer"}, error={"type": "object"})
_JOB_ACCEPTED = _obj(("job", "url"), job=_JOB, url={"type": "string"})

_ERRORS = {
    "400": "malformed request, or a bound of web/limits.py exceeded (the message names the limit); the "
           "query-value bound applies to every request, before the view",
    "401": "login required, or a bad token", "403": "wrong role or department, or a missing CSRF token",
    "404": "not found", "409": "wrong state / conflict", "413": "body larger than its limit",
    "414": "URL path longer than its limit (applied by the server before the view; only a path with parameters can reach it)",
    "422": "field errors (details: field, message, value)",
}
# 4xx a view raises through something the code scan below cannot read (a status carried in an
# exception of ledger/): named here, next to the scan.
EXTRA_ERRORS: dict[tuple[str, str], set[int]] = {
    ("post", "/api/v1/log/cosignatures"): {400, 403, 404, 409},  # ledger.witnessing.CosignatureRejected
}
PUBLIC_SPEC_PREFIXES = ("/api/v1/", "/checkpoint", "/tile/")


def _error(description: str, ref: str | None) -> dict:
    """A documented error answer: the {"error": {code, message, details}} body every view sends."""
    schema = {"$ref": f"#/components/schemas/{ref}"} if ref else {"type": "object"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _flask_path(rule: str) -> str:
    """/api/v1/items/<key> → /api/v1/items/{key} (spectree's spelling of a Flask rule)."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def views_of(app: Flask) -> dict[tuple[str, str], Any]:
    """(method, OpenAPI path) → the view function that answers it."""
    out: dict[tuple[str, str], Any] = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods or ():
            out[(method.lower(), _flask_path(rule.rule))] = app.view_functions[rule.endpoint]
    return out


def _called(fn: Any) -> tuple[ast.AST | None, dict[str, Any]]:
    """The parsed source of `fn` and the names it can see (globals, then its closure)."""
    fn = inspect.unwrap(fn)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None, {}
    names = dict(getattr(fn, "__globals__", {}))
    with contextlib.suppress(TypeError, ValueError):
        names.update(inspect.getclosurevars(fn).nonlocals)
    for node in ast.walk(tree):  # imports inside the function (`from .jobs import offload`)
        if isinstance(node, ast.ImportFrom):
            package = (fn.__module__ or "").rpartition(".")[0] if node.level else None
            with contextlib.suppress(ImportError, ValueError, TypeError):
                module = importlib.import_module(("." * node.level) + (node.module or ""), package)
                names.update({a.asname or a.name: getattr(module, a.name, None) for a in node.names})
    return tree, names


def _bound_here(tree: ast.AST) -> set[str]:
    """Names the function binds itself (parameters, assignments, loop and `with` targets): a local
    `seed` is not the module's `seed` view, whatever the globals hold."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
    return out


def _assigned(tree: ast.AST) -> dict[str, ast.expr]:
    """`name = expression` in the function, for `svc = service(); _call(svc.confirm, …)`."""
    return {n.targets[0].id: n.value for n in ast.walk(tree)
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)}


def _owner(node: ast.expr, names: dict[str, Any], assigned: dict[str, ast.expr]) -> Any:
    """The class or module an expression stands for: `service()` → the class its return
    annotation names (DrawService), `svc` assigned from such a call, or a module (`reports`)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and inspect.isfunction(names.get(node.func.id)):
        with contextlib.suppress(Exception):
            hint = typing.get_type_hints(names[node.func.id]).get("return")
            return hint if isinstance(hint, type) else None
        return None
    if isinstance(node, ast.Name):
        if node.id in assigned:
            return _owner(assigned[node.id], names, {})
        obj = names.get(node.id)
        return obj if isinstance(obj, (type, types.ModuleType)) else None
    return None


def _refusal_target(node: ast.expr, names: dict[str, Any], assigned: dict[str, ast.expr], local: set[str]) -> Any:
    """The function a `_call(fn, …)` runs, read from its first argument: `service().get`,
    `svc.confirm`, `getattr(service(), fn_name)` (fn_name a closure's string), `reports.publish_disclosure`."""
    if isinstance(node, ast.Attribute):
        owner = _owner(node.value, names, assigned)
        return getattr(owner, node.attr, None) if owner is not None else None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) == 2):
        attr = node.args[1]
        name = attr.value if isinstance(attr, ast.Constant) else names.get(attr.id) if isinstance(attr, ast.Name) else None
        owner = _owner(node.args[0], names, assigned)
        return getattr(owner, name, None) if isinstance(name, str) and owner is not None else None
    if isinstance(node, ast.Name) and node.id not in local:
        return names.get(node.id)
    return None


def raised_statuses(fn: Any, seen: set[Any] | None = None, misses: list[str] | None = None) -> set[int]:
    """The statuses (2xx–4xx) `fn` can answer, read from its code: `ApiError(4xx, …)`, `refuse(…, 4xx)`
    (default 400), `return body, 201`, and the same in every function of web/ it calls,
    transitively (`need` → 401/403, `current_actor` → 401 for a bad token, …). A call through a
    blueprint's `_call(fn, …)` (web.errors.refuser) gives the statuses of the refusals `fn`
    declares with `@raises` (drawsvc.raises) — `service().get` a 404, not every status the
    mapping knows. A `_call` whose function the scan cannot name, or which declares nothing,
    gives every status of the mapping (never a miss) and is noted in `misses`; the tests keep
    that list empty.

    Why read the code: a hand-kept list per operation drifts from what the views do, and the
    blanket set every operation once listed promised answers (a 409 for a list) no view gives.
    tests/web/test_web_openapi_fuzz.py checks, with schemathesis's status_code_conformance, that
    no operation answers a status its entry does not list, and web.errors.refuser warns (an error
    under pytest) when a service function raises a refusal it did not declare."""
    seen = set() if seen is None else seen
    key = inspect.unwrap(fn)
    if key in seen:
        return set()
    seen.add(key)
    tree, names = _called(fn)
    if tree is None:
        return set()
    local, assigned = _bound_here(tree), _assigned(tree)
    out: set[int] = set()

    def literal(node: ast.AST | None) -> int | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and 200 <= node.value < 500:
            return node.value
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            refusals = getattr(names.get(node.func.id), "refusals", None) if node.func.id not in local else None
            if node.func.id == "ApiError" and node.args and literal(node.args[0]):
                out.add(literal(node.args[0]))  # type: ignore[arg-type]
            elif node.func.id == "refuse":
                status = next((kw.value for kw in node.keywords if kw.arg == "status"),
                              node.args[2] if len(node.args) > 2 else None)
                out.add(literal(status) or 400)
            elif refusals is not None:
                target = _refusal_target(node.args[0], names, assigned, local) if node.args else None
                said = declared(target) if target is not None else None
                if said is None:
                    out |= {s for r in refusals for s in r.all_statuses()}
                    if misses is not None:
                        misses.append(f"{getattr(key, '__qualname__', key)}: {ast.unparse(node)[:80]}")
                else:
                    out |= refused_statuses(refusals, said)
                    unanswered = [e.__name__ for e in said if refusal_for(refusals, e) is None]
                    if unanswered and misses is not None:
                        misses.append(f"{getattr(key, '__qualname__', key)}: {ast.unparse(node.args[0])} declares "
                                      f"{unanswered}, which this _call does not answer")
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) > 1:
            for elt in node.value.elts[1:]:
                if literal(elt):
                    out.add(literal(elt))  # type: ignore[arg-type]
                elif isinstance(elt, ast.IfExp):
                    out |= {c for c in (literal(elt.body), literal(elt.orelse)) if c}
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            target = names.get(node.id)
            if (inspect.isfunction(target) and (target.__module__ or "").startswith("web")
                    and not hasattr(target, "refusals")):
                out |= raised_statuses(target, seen, misses)
    return out


def operation_errors(method: str, path: str, view: Any, has_body: bool) -> set[int]:
    """The 4xx one operation can answer: its view's own (raised_statuses) and those the server
    applies around every view — 400 (web/limits.py's guard: a query value over its bound), 403
    for a change sent with a session but no CSRF token, 404 and 414 where the path has parameters
    (one holding '/'; a path over MAX_PATH, which a path without parameters cannot reach: a longer
    one is another route), 413 for a body over its limit — plus EXTRA_ERRORS."""
    codes = {400} | {c for c in (raised_statuses(view) if view is not None else set()) if c >= 400}
    if method in ("post", "put", "patch", "delete"):
        codes.add(403)  # web.registry_api.csrf_protect, before every view
    if "{" in path:
        codes |= {404, 414}
    if has_body:
        codes.add(413)
    return codes | EXTRA_ERRORS.get((method, path), set())


def complete(spec: dict, views: dict[tuple[str, str], Any] | None = None) -> dict:
    """The served document: API paths only, every parameter with its bound, bodies the views read,
    the error answers each operation can get (read from its view: operation_errors), and both
    ways to authenticate."""
    doc = copy.deepcopy(spec)
    ref = next((k for k in doc.get("components", {}).get("schemas", {}) if k.startswith("ErrorResponse")), None)
    paths = {}
    for path, ops in doc["paths"].items():
        if not path.startswith(PUBLIC_SPEC_PREFIXES) or path.startswith("/api/v1/apidoc"):
            continue
        for method, op in ops.items():
            _complete_op(method, path, op, ref, views)
        paths[path] = ops
    doc["paths"] = paths
    return doc


def _complete_op(method: str, path: str, op: dict, ref: str | None,
                 views: dict[tuple[str, str], Any] | None = None) -> None:
    params = [p for p in op.get("parameters", []) if p.get("in") != "path"]
    for p in op.get("parameters", []):
        if p.get("in") == "path":
            p["schema"] = dict(PATH_PARAMS.get(p["name"], _ID))
            params.append(p)
    generic = ("delete", "/api/v1/{plural}/{key}") if method == "delete" and path.count("/") == 4 else None
    query = QUERY.get((method, path)) or (QUERY.get(generic) if generic else None) or {}
    have = {p["name"] for p in params}
    required = REQUIRED_QUERY.get((method, path), ())
    params += [{"name": n, "in": "query", "required": n in required, "schema": s} for n, s in query.items()
               if n not in have]
    op["parameters"] = params
    if (method, path) in BODIES and "requestBody" not in op:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": BODIES[(method, path)]}}}
    if (method, path) in TEXT_BODIES:
        op["requestBody"] = {"required": True, "description": TEXT_BODIES[(method, path)],
                             "content": {"text/plain": {"schema": {"type": "string", "maxLength": 65536,
                                                                   "pattern": NOTE_PATTERN}}}}
    if (method, path) in MULTIPART:
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": _obj(
            ("file",), file={"type": "string", "format": "binary"}, label=_enum(EVIDENCE_LABELS))}}}
    responses = op.setdefault("responses", {})
    view = (views or {}).get((method, path))
    for code in sorted(c for c in (raised_statuses(view) if view is not None else ()) if c < 300):
        if str(code) not in responses:  # a view that answers 201 (or 202) says so
            responses[str(code)] = {"description": {201: "Created", 202: "Accepted"}.get(code, "OK")}
    if (method, path) in LIST_RESPONSES:
        responses["200"] = {"description": f"one page: at most `limit` (≤ {MAX_PAGE}, default 100) rows after "
                                           "`offset`; a limit above the bound is a 400 naming it",
                            "content": {"application/json": {"schema": LIST_RESPONSES[(method, path)]}}}
    if not any(code.startswith("2") for code in responses):
        responses["200"] = {"description": "OK"}
    for code in [c for c in responses if c.startswith("4")]:
        del responses[code]  # spectree's declared set (web.registry_api.ERR) is the same for all
    has_body = "requestBody" in op
    codes = operation_errors(method, path, view, has_body) if views is not None else {int(c) for c in _ERRORS}
    for code in sorted(codes):
        responses[str(code)] = _error(_ERRORS.get(str(code), "refused"), ref)
    if (method, path) in JOB_OFFLOADING:
        responses["202"] = {"description": "too large for one request (or ?async=1): queued as a background job; "
                                           "poll the job's URL (Location header, body `url`)",
                            "content": {"application/json": {"schema": _JOB_ACCEPTED}}}
        responses["429"] = _error("this account already has its maximum of queued or running jobs", ref)
        responses["503"] = _error("the job queue is full; try again later", ref)
    if method == "post" and path == "/api/v1/session":
        responses["429"] = {"description": "login throttled (growing delays, lockouts); see Retry-After",
                            "headers": {"Retry-After": {"schema": {"type": "integer"}}}}
    op.setdefault("security", [{"bearer": []}, {"session": []}, {}])
