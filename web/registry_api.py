"""REST API of the registries (一单、两库), plans, accounts and tokens, under /api/v1.

Auth: `Authorization: Bearer <token>` for software, or a browser session from POST /session
(then every change needs the `X-CSRF-Token` header, or a `csrf_token` form field, equal to the
token that login returned). Anonymous callers read only what is public (一公开): departments,
items, sub-libraries, published plans, and the public columns of subjects, inspectors, experts.

Errors: {"error": {code, message, details}}; 400 malformed request, 401 not logged in,
403 wrong role or department, 404, 409 conflict with current state, 422 field errors
(details = [{field, message, value}]).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, current_app, g, jsonify, request, session
from pydantic import BaseModel, ConfigDict, Field
from spectree import Response as SpecResponse
from sqlalchemy import or_

from drawsvc.i18n import tr
from drawsvc.registry import codes, records, schema
from drawsvc.registry import io as regio
from drawsvc.registry.authz import Actor, Forbidden
from drawsvc.registry.records import KEY_FIELD, RecordError, match_filter
from drawsvc.registry.service import MAX_PASSWORD, MIN_PASSWORD, Conflict, NotFound, Registry
from drawsvc.registry.state import diff_states, load_state, rebuild_from_ledger

from .errors import ApiError, Refusal, refuser
from .limits import MAX_IMPORT_BYTES, MAX_PAGE, MAX_SEARCH, check_import_size, parse_int
from .openapi import ErrorResponse, api

bp = Blueprint("registry", __name__, url_prefix="/api/v1")

PUBLIC_FIELDS = {
    "subject": ("code", "name", "region", "industry", "status", "licences"),
    "inspector": ("id", "name", "department", "cert_no", "cert_valid_from", "cert_valid_to", "status"),
    "expert": ("id", "name", "specialties", "organisation", "title", "status"),
}
MAX_LIMIT = MAX_PAGE


# --- request models (they generate the OpenAPI document; domain validation gives the 422s) ---

class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class LoginIn(BaseModel):
    account: str
    password: str


class SessionOut(BaseModel):
    account: str | None = None
    role: str
    departments: list[str] = []
    csrf_token: str | None = None


# The constraints below are the ones drawsvc.registry.records enforces (documentation only:
# the domain validators answer with field-level 422s). What JSON Schema cannot say is said by a
# named format: `gb32100` (a unified social credit code whose two check characters are right,
# GB 32100-2015 and GB 11714). Region and industry codes are listed (the service's code tables).
# A well-formed value naming a record the registry does not hold is a 409 (`unknown_reference`),
# since it depends on the registry's state, not on the data.
CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
NON_BLANK = r"^\S(.*\S)?$"
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]  # YYYY-MM-DD; also accepted: 2026/1/5
Text = Annotated[str, Field(min_length=1, max_length=200, pattern=NON_BLANK)]
CreditCode = Annotated[str, Field(description="统一社会信用代码 (GB 32100-2015; both check characters are verified)",
                                  pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
                                  json_schema_extra={"format": "gb32100"})]
Region = Literal[tuple(codes.regions())]  # type: ignore[valid-type]
Industry = Literal[tuple(codes.industry_codes())]  # type: ignore[valid-type]
Methods = Literal[tuple(records.ITEM_METHODS) + tuple(records.METHOD_ALIASES)]  # type: ignore[valid-type]
Kinds = Literal[tuple(records.ITEM_KINDS)]  # type: ignore[valid-type]


class DepartmentIn(_Open):
    code: str = Field(description="部门编码", pattern=CODE)
    name: str = Field(description="部门名称", min_length=1, max_length=100)
    parent: str | None = Field(None, description="上级部门编码", pattern=CODE)
    joint_group: str | None = Field(None, description="联席会议（部门联合抽查分组）", max_length=100)
    region: Region | None = Field(None, description="行政区划代码 (GB/T 2260)")


class ItemIn(_Open):
    code: str = Field(description="事项编码", pattern=CODE)
    name: str = Field(description="抽查事项名称", min_length=1, max_length=200)
    legal_basis: str = Field(description="抽查依据", min_length=1, max_length=2000)
    department: str = Field(description="抽查主体（部门编码）", pattern=CODE)
    object_scope: str = Field(description="抽查对象", min_length=1, max_length=1000)
    content: str = Field(description="抽查内容", min_length=1, max_length=2000)
    methods: list[Methods] = Field(description="现场检查/书面检查/网络检查/委托专业机构", min_length=1)
    kind: Kinds = Field("general", description="key（重点）或 general（一般）")
    ratio_min_bp: int | None = Field(None, description="比例下限，基点（一般事项默认 500 = 5%）", ge=0, le=10000)
    ratio_max_bp: int | None = Field(None, description="比例上限，基点（重点事项无上限）", ge=0, le=10000)
    frequency: str | None = Field(None, max_length=200)


class SubjectIn(_Open):
    code: CreditCode
    name: str = Field(min_length=1, max_length=200, pattern=NON_BLANK)
    region: Region = Field(description="行政区划代码 (GB/T 2260)")
    industry: Industry = Field(description="国民经济行业代码 (GB/T 4754-2017): 门类, or 门类 + 大类, e.g. C13")
    licences: list[Text] = []
    status: Literal[records.SUBJECT_STATUSES] = "存续"  # type: ignore[valid-type]
    credit_class: Literal[records.CREDIT_CLASSES] = Field("B", description="信用风险分类 A/B/C/D")  # type: ignore[valid-type]
    abnormal: bool = Field(False, description="经营异常名录")
    serious_dishonest: bool = Field(False, description="严重违法失信名单")
    penalized_on: Day | None = Field(None, description="最近处罚日期 YYYY-MM-DD")
    complaints: int = Field(0, ge=0, le=1_000_000)
    tags: list[Text] = Field([], description="子库标签")
    address: str | None = Field(None, max_length=300)


class InspectorIn(_Open):
    id: str | None = Field(None, description="人员编号（默认=执法证号）", pattern=CODE)
    name: str = Field(min_length=1, max_length=50, pattern=NON_BLANK)
    cert_no: str = Field(description="执法证号", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    cert_valid_from: Day
    cert_valid_to: Day = Field(description="not before cert_valid_from")
    department: str = Field(pattern=CODE)
    qualifications: list[Text] = []
    specialties: list[Text] = []
    status: Literal[records.INSPECTOR_STATUSES] = "在岗"  # type: ignore[valid-type]


class ExpertIn(_Open):
    id: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=50, pattern=NON_BLANK)
    specialties: list[Text] = Field(min_length=1)
    organisation: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=100)
    status: Literal[records.INSPECTOR_STATUSES] = "在岗"  # type: ignore[valid-type]


class ConflictIn(_Open):
    inspector: str = Field(pattern=CODE)
    subject: CreditCode
    reason: Literal[records.CONFLICT_REASONS] = Field("其他", description="近亲属/曾任职/利害关系/其他")  # type: ignore[valid-type]
    note: str | None = Field(None, max_length=500)


class SublibraryIn(_Open):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=100)
    department: str | None = Field(None, pattern=CODE)
    filter: dict[str, Any] = Field(default_factory=dict, description="regions, industries, credit_classes, statuses, "
                                   "licences, tags_any, tags_all, abnormal, serious_dishonest, min_complaints, codes")


class Ratios(BaseModel):
    model_config = ConfigDict(extra="forbid")
    A: int = Field(100, ge=0, le=10000)
    B: int = Field(300, ge=0, le=10000)
    C: int = Field(1000, ge=0, le=10000)
    D: int = Field(2000, ge=0, le=10000)


class PlanIn(_Open):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    year: int = Field(ge=2000, le=2100)
    departments: list[Annotated[str, Field(pattern=CODE)]] = Field(min_length=1)
    items: list[Annotated[str, Field(pattern=CODE)]] = Field(min_length=1)
    sublibraries: list[Annotated[str, Field(pattern=CODE)]] = []
    filter: dict[str, Any] = Field(default_factory=dict)
    ratios_bp: Ratios = Field(default_factory=Ratios, description="basis points per credit class, within each item's floor and cap")
    frequency_cap: int = Field(2, ge=1, le=12)
    exemptions: list[Literal[records.EXEMPTIONS]] = ["serious_dishonest", "abnormal", "penalized"]  # type: ignore[valid-type]
    team_size: int = Field(2, ge=2, le=20)
    window_start: Day
    window_end: Day = Field(description="not before window_start")
    joint: bool = False
    note: str | None = Field(None, max_length=2000)


class AccountIn(_Open):
    id: str = Field(pattern=CODE)
    name: str | None = Field(None, max_length=50)
    role: Literal[records.ROLES] = Field(description="admin/operator/inspector/auditor")  # type: ignore[valid-type]
    departments: list[str] = []
    inspector: str | None = Field(None, pattern=CODE)
    password: str | None = Field(None, min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)


class AccountUpdate(_Open):
    name: str = Field(None, max_length=50)  # type: ignore[assignment]  # optional, but not null
    role: Literal[records.ROLES] = None  # type: ignore[valid-type,assignment]
    departments: list[Annotated[str, Field(pattern=CODE)]] = None  # type: ignore[assignment]
    inspector: str | None = Field(None, pattern=CODE)
    status: Literal["active", "disabled"] = None  # type: ignore[assignment]


class PasswordIn(BaseModel):
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    current: str | None = Field(None, max_length=MAX_PASSWORD)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=NON_BLANK)
    account: str | None = Field(None, pattern=CODE)


class Listing(BaseModel):
    items: list[dict[str, Any]]
    total: int | None = None


class Record(_Open):
    pass


class ImportReportOut(_Open):
    ok: bool
    rows: int
    added: int
    changed: int
    unchanged: int
    errors: list[dict[str, Any]]


ERR = {"HTTP_400": ErrorResponse, "HTTP_401": ErrorResponse, "HTTP_403": ErrorResponse, "HTTP_404": ErrorResponse,
       "HTTP_409": ErrorResponse, "HTTP_422": ErrorResponse}


def _resp(model: Any = Record, code: str = "HTTP_200") -> SpecResponse:
    return SpecResponse(**{code: model}, **ERR)


# --- plumbing ---------------------------------------------------------------------------

def registry() -> Registry:
    reg = current_app.extensions.get("registry")
    if reg is None:
        phrase = current_app.config.get("DRAWSVC_KEY_PASSPHRASE")
        if phrase is None and "instance" in current_app.extensions:
            phrase = current_app.extensions["instance"].passphrase()
        if isinstance(phrase, str):
            phrase = phrase.encode()
        reg = Registry(current_app.extensions["ledger"], phrase)
        current_app.extensions["registry"] = reg
    return reg


def current_actor() -> Actor | None:
    if "actor" in g:
        return g.actor
    actor = None
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        actor = registry().actor_for_token(auth[7:].strip())
        if actor is None:
            raise ApiError(401, "bad_token", tr("API 令牌无效或已撤销"))
        g.auth_kind = "token"
    elif session.get("account"):
        account = registry().get("account", session["account"])
        if account is not None and account["status"] == "active":
            actor = registry().actor_for(account)
            g.auth_kind = "session"
    g.actor = actor
    return actor


def need(*roles: str) -> Actor:
    actor = current_actor()
    if actor is None:
        raise ApiError(401, "login_required", tr("需要登录"))
    if roles and actor.role not in roles:
        raise ApiError(403, "forbidden", tr("角色 %(role)s 无权访问", role=actor.role))
    return actor


def csrf_protect() -> None:
    """Every session-authenticated change needs the CSRF token; registered app-wide by the
    app factory, so every blueprint is covered by one check."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.endpoint == "registry.login":
        return
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return
    if session.get("account"):
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
        if not hmac.compare_digest(sent, session.get("csrf", "")):
            raise ApiError(403, "csrf", tr("缺少或错误的 CSRF 令牌"))


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", tr("请求体应为 JSON 对象"))
    return data


def _record_error(exc: Exception) -> ApiError:
    """A record's field errors: 409 when every one names a record the registry does not hold
    (the database's state, not the data), else 422 with them all."""
    errors = getattr(exc, "errors", None)
    if errors and all(e.get("kind") == "reference" for e in errors):
        return ApiError(409, "unknown_reference", tr("引用的记录不存在或已停用"), errors)
    return ApiError(422, "invalid", tr("字段校验失败"), errors)


_call = refuser(
    Refusal((RecordError,), 422, answer=_record_error, statuses=frozenset({409})),
    Refusal((Forbidden,), 403, "forbidden"),
    Refusal((NotFound,), 404, "not_found"),
    Refusal((Conflict,), 409, "conflict"),
)


def _public_view(kind: str, rec: dict) -> dict:
    fields = PUBLIC_FIELDS.get(kind)
    return rec if fields is None else {k: rec.get(k) for k in fields}


def _visible(kind: str, actor: Actor | None, rec: dict) -> bool:
    if kind == "plan" and actor is None:
        return rec["status"] == "published"
    if kind == "conflict":
        return actor is not None and (actor.role != "inspector" or rec["inspector"] == actor.inspector)
    if kind == "account":
        return actor is not None and (actor.role in ("admin", "auditor") or rec["id"] == actor.id)
    if kind == "token":
        return actor is not None and (actor.role in ("admin", "auditor") or rec["account"] == actor.id)
    return True


def _int(name: str, default: int, high: int | None = None) -> int:
    """A non-negative query integer; above `high` (or any integer's bound) it is refused, naming the bound."""
    raw = request.args.get(name, "")
    if raw == "":
        return default
    return parse_int(name, raw, 0, high) if high else parse_int(name, raw)


def _where(kind: str) -> list[Any]:
    t = schema.TABLES[kind]
    w: list[Any] = []
    a = request.args
    if kind == "subject":
        if a.get("region"):
            w.append(t.c.region.startswith(a["region"].rstrip("0") or a["region"]))
        if a.get("industry"):
            w.append(t.c.industry.startswith(a["industry"].upper()))
        if a.get("credit_class"):
            w.append(t.c.credit_class.in_(a["credit_class"].upper().split(",")))
    if len(a.get("q", "")) > MAX_SEARCH:
        raise ApiError(400, "too_long", tr("q 超过 %(MAX_SEARCH)s 字符", MAX_SEARCH=MAX_SEARCH))
    if a.get("q") and kind in ("subject", "inspector", "expert", "department"):
        w.append(or_(t.c.name.contains(a["q"]), t.c[KEY_FIELD[kind]].startswith(a["q"])))
    if a.get("department") and kind in ("item", "inspector", "sublibrary"):
        w.append(t.c.department == a["department"])
    if a.get("status") and "status" in t.c:
        w.append(t.c.status == a["status"])
    if a.get("year") and kind == "plan":
        w.append(t.c.year == _int("year", 0))
    return w


def _auth_read(kind: str) -> Actor | None:
    actor = current_actor()
    if kind in ("conflict", "account", "token") and actor is None:
        raise ApiError(401, "login_required", tr("需要登录"))
    return actor


# --- generic CRUD -----------------------------------------------------------------------

IN_MODELS: dict[str, type[BaseModel]] = {
    "department": DepartmentIn, "item": ItemIn, "subject": SubjectIn, "inspector": InspectorIn,
    "expert": ExpertIn, "conflict": ConflictIn, "sublibrary": SublibraryIn, "plan": PlanIn,
}
PLURAL = {"department": "departments", "item": "items", "subject": "subjects", "inspector": "inspectors",
          "expert": "experts", "conflict": "conflicts", "sublibrary": "sublibraries", "plan": "plans",
          "account": "accounts", "token": "tokens"}
WRITE_ROLES = {"department": ("admin",), "item": ("admin", "operator"), "subject": ("admin", "operator"),
               "inspector": ("admin", "operator"), "expert": ("admin", "operator"),
               "conflict": ("admin", "operator", "inspector"), "sublibrary": ("admin", "operator"),
               "plan": ("admin", "operator")}
DELETABLE = ("department", "subject", "inspector", "expert", "conflict", "sublibrary")


def _subject_rows(rows: list[dict]) -> list[dict]:
    """A subject listing's own filters: ?sublibrary= (its saved filter; an unknown one is a 404)
    and ?tag=."""
    if request.args.get("sublibrary"):
        lib = registry().get("sublibrary", request.args["sublibrary"])
        if lib is None:
            raise ApiError(404, "not_found", tr("子库不存在"))
        rows = [r for r in rows if match_filter(r, lib["filter"])]
    if request.args.get("tag"):
        rows = [r for r in rows if request.args["tag"] in r.get("tags", [])]
    return rows


def _all_rows(rows: list[dict]) -> list[dict]:
    """The other listings: no filter of their own beyond the columns' (_where)."""
    return rows


def _make_crud(kind: str) -> None:
    plural = PLURAL[kind]
    model = IN_MODELS.get(kind)
    # chosen here, not tested inside the view: the OpenAPI scan reads the view's code, and only
    # the subject listing can answer the 404 of an unknown sub-library
    refine = _subject_rows if kind == "subject" else _all_rows

    def list_view():  # type: ignore[no-untyped-def]
        actor = _auth_read(kind)
        limit, offset = _int("limit", 100, MAX_LIMIT), _int("offset", 0)
        where = _where(kind)
        if kind == "plan" and actor is None:
            where.append(schema.plans.c.status == "published")
        if kind == "conflict" and actor is not None and actor.role == "inspector":
            where.append(schema.conflicts.c.inspector == (actor.inspector or ""))
        if kind == "token" and actor is not None and actor.role not in ("admin", "auditor"):
            where.append(schema.tokens.c.account == actor.id)
        if kind == "account" and actor is not None and actor.role not in ("admin", "auditor"):
            where.append(schema.accounts.c.id == actor.id)
        rows = refine(registry().list(kind, where, limit=limit, offset=offset))
        if actor is None:
            rows = [_public_view(kind, r) for r in rows]
        return jsonify({"items": rows, "limit": limit, "offset": offset})

    def get_view(key: str):  # type: ignore[no-untyped-def]
        actor = _auth_read(kind)
        rec = registry().get(kind, key)
        if rec is None or not _visible(kind, actor, rec):
            raise ApiError(404, "not_found", tr("%(kind)s %(key)s 不存在", kind=kind, key=key))
        return jsonify(rec if actor is not None else _public_view(kind, rec))

    list_view.__name__ = f"list_{plural}"
    list_view.__doc__ = f"List {plural} (paged: limit, offset; filters: q, status, department, region, industry, credit_class, tag, sublibrary, year)."
    get_view.__name__ = f"get_{kind}"
    get_view.__doc__ = f"One {kind}."
    bp.add_url_rule(f"/{plural}", list_view.__name__, api.validate(resp=_resp(Listing), tags=[plural],
                                                                    skip_validation=True)(list_view), methods=["GET"])
    bp.add_url_rule(f"/{plural}/<key>", get_view.__name__, api.validate(resp=_resp(), tags=[plural],
                                                                         skip_validation=True)(get_view), methods=["GET"])
    if model is None:
        return

    def create_view():  # type: ignore[no-untyped-def]
        actor = need(*WRITE_ROLES[kind])
        data = body()
        if kind == "conflict" and actor.role == "inspector" and "inspector" not in data:
            data["inspector"] = actor.inspector
        rec = _call(registry().add, actor, kind, data)
        return jsonify(rec), 201

    def update_view(key: str):  # type: ignore[no-untyped-def]
        actor = need(*WRITE_ROLES[kind])
        old = registry().get(kind, key)
        if old is None:
            raise ApiError(404, "not_found", tr("%(kind)s %(key)s 不存在", kind=kind, key=key))
        data = {**old, **body(), KEY_FIELD[kind]: key}
        return jsonify(_call(registry().change, actor, kind, data))

    create_view.__name__ = f"create_{kind}"
    create_view.__doc__ = f"Add a {kind} (logged as registry.{kind}.added, signed by your key)."
    update_view.__name__ = f"update_{kind}"
    update_view.__doc__ = f"Change a {kind}: fields given replace stored ones (logged with the changed fields)."
    bp.add_url_rule(f"/{plural}", create_view.__name__, api.validate(json=model, resp=_resp(code="HTTP_201"),
                    tags=[plural], skip_validation=True)(create_view), methods=["POST"])
    if kind != "conflict":
        bp.add_url_rule(f"/{plural}/<key>", update_view.__name__, api.validate(json=model, resp=_resp(),
                        tags=[plural], skip_validation=True)(update_view), methods=["PUT"])
    if kind in DELETABLE:
        def delete_view(key: str):  # type: ignore[no-untyped-def]
            actor = need(*WRITE_ROLES[kind])
            _call(registry().remove, actor, kind, key, request.args.get("reason", ""))
            return "", 204

        delete_view.__name__ = f"delete_{kind}"
        delete_view.__doc__ = f"Remove a {kind} (logged)."
        bp.add_url_rule(f"/{plural}/<key>", delete_view.__name__, api.validate(
            resp=SpecResponse("HTTP_204", **ERR), tags=[plural], skip_validation=True)(delete_view), methods=["DELETE"])


for _kind in ("department", "item", "subject", "inspector", "expert", "conflict", "sublibrary", "plan",
              "account", "token"):
    _make_crud(_kind)


# --- special actions --------------------------------------------------------------------

@bp.get("/items/<key>/history")
@api.validate(resp=_resp(Listing), tags=["items"], skip_validation=True)
def item_history(key: str):  # type: ignore[no-untyped-def]
    """Every version of an item (the published list keeps its history)."""
    versions = registry().item_history(key)
    if not versions:
        raise ApiError(404, "not_found", tr("抽查事项 %(key)s 不存在", key=key))
    return jsonify({"items": versions})


@bp.post("/items/<key>/withdraw")
@api.validate(resp=_resp(), tags=["items"], skip_validation=True)
def withdraw_item(key: str):  # type: ignore[no-untyped-def]
    """Withdraw an item (a new version with status withdrawn)."""
    return jsonify(_call(registry().withdraw_item, need("admin", "operator"), key))


def _plan_step(status: str, path: str):  # type: ignore[no-untyped-def]
    # approval re-checks the plan's record (field errors), the other steps cannot: chosen here, so
    # that each view names its own method and only approval's document lists those answers
    method, args = ("approve_plan", ()) if status == "approved" else ("set_plan_status", (status,))

    def view(key: str):  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True)
        reason = body.get("reason", "") if isinstance(body, dict) else ""
        return jsonify(_call(getattr(registry(), method), need("admin", "operator"), key, *args,
                             reason if isinstance(reason, str) else ""))

    view.__name__ = f"{path}_plan"
    view.__doc__ = (f"Move a plan to {status} (logged as its own entry). Approval needs a second person "
                    "where the department asks for it; return and reopen need {\"reason\": …}.")
    return view


for _status, _path in (("submitted", "submit"), ("approved", "approve"), ("published", "publish"),
                       ("draft", "return"), ("draft", "reopen")):
    _v = _plan_step(_status, _path)
    bp.add_url_rule(f"/plans/<key>/{_path}", _v.__name__, api.validate(resp=_resp(), tags=["plans"],
                    skip_validation=True)(_v), methods=["POST"])


@bp.get("/sublibraries/<key>/subjects")
@api.validate(resp=_resp(Listing), tags=["sublibraries"], skip_validation=True)
def sublibrary_subjects(key: str):  # type: ignore[no-untyped-def]
    """The subjects a sub-library's saved filter selects now."""
    actor = current_actor()
    lib = registry().get("sublibrary", key)
    if lib is None:
        raise ApiError(404, "not_found", tr("子库 %(key)s 不存在", key=key))
    rows = [r for r in registry().list("subject") if match_filter(r, lib["filter"])]
    if actor is None:
        rows = [_public_view("subject", r) for r in rows]
    return jsonify({"items": rows, "total": len(rows)})


@bp.post("/accounts")
@api.validate(json=AccountIn, resp=_resp(code="HTTP_201"), tags=["accounts"], skip_validation=True)
def create_account():  # type: ignore[no-untyped-def]
    """Create an account with its own Ed25519 signing key (admin only)."""
    actor = need("admin")
    data = body()
    password = data.pop("password", None)
    return jsonify(_call(registry().create_account, actor, data, password)), 201


@bp.put("/accounts/<key>")
@api.validate(json=AccountUpdate, resp=_resp(), tags=["accounts"], skip_validation=True)
def update_account(key: str):  # type: ignore[no-untyped-def]
    """Change role, departments, name, linked inspector or status (admin only)."""
    return jsonify(_call(registry().update_account, need("admin"), key, body()))


@bp.post("/accounts/<key>/key")
@api.validate(resp=_resp(code="HTTP_201"), tags=["accounts"], skip_validation=True)
def issue_new_key(key: str):  # type: ignore[no-untyped-def]
    """Issue a new Ed25519 signing key to an active account whose keys were all revoked (admin
    only; logged as actor.key.registered). 409 while it holds a key in force or is disabled."""
    rec = _call(registry().issue_new_key, need("admin"), key)
    ledger_checkpoint()
    return jsonify(rec), 201


@bp.post("/accounts/<key>/sm2-key")
@api.validate(resp=_resp(code="HTTP_201"), tags=["accounts"], skip_validation=True)
def give_sm2_key(key: str):  # type: ignore[no-untyped-def]
    """Give an account an SM2 (国密) key (admin only; actor.sm2_key.registered, SPEC §3 item 11):
    its later entries carry an SM2 signature beside the Ed25519 one. A second call replaces it."""
    out = _call(registry().give_sm2_key, need("admin"), key)
    ledger_checkpoint()
    return jsonify(out), 201


def ledger_checkpoint() -> None:
    """Sign a checkpoint covering a key entry at once: key changes are what verifiers follow first."""
    registry().ledger.checkpoint()


@bp.post("/accounts/<key>/password")
@api.validate(json=PasswordIn, resp=SpecResponse("HTTP_204", **ERR), tags=["accounts"], skip_validation=True)
def set_password(key: str):  # type: ignore[no-untyped-def]
    """Set a password: admins for anyone, others their own with the current password."""
    actor = need()
    data = body()
    _call(registry().set_password, actor, key, str(data.get("password", "")), data.get("current"))
    return "", 204


@bp.post("/tokens")
@api.validate(json=TokenIn, resp=_resp(code="HTTP_201"), tags=["tokens"], skip_validation=True)
def issue_token():  # type: ignore[no-untyped-def]
    """Issue an API token (the secret is shown once). Admins for any account, others for themselves."""
    actor = need("admin", "operator", "inspector")
    data = body()
    account = data.get("account") or actor.id
    record, secret = _call(registry().issue_token, actor, account, str(data.get("name", "")))
    return jsonify({**record, "secret": secret}), 201


@bp.delete("/tokens/<key>")
@api.validate(resp=SpecResponse("HTTP_204", **ERR), tags=["tokens"], skip_validation=True)
def revoke_token(key: str):  # type: ignore[no-untyped-def]
    """Revoke an API token (logged)."""
    _call(registry().revoke_token, need("admin", "operator", "inspector"), key)
    return "", 204


@bp.post("/session")
@api.validate(json=LoginIn, resp=_resp(SessionOut), tags=["session"], skip_validation=True)
def login():  # type: ignore[no-untyped-def]
    """Log in with account and password; returns the CSRF token to send with every change."""
    data = body()
    actor = registry().authenticate(str(data.get("account", "")), str(data.get("password", "")))
    if actor is None:
        raise ApiError(401, "bad_credentials", tr("账户或密码错误"))
    session.clear()
    session["account"] = actor.id
    session["csrf"] = secrets.token_urlsafe(32)
    return jsonify({"account": actor.id, "role": actor.role, "departments": list(actor.departments),
                    "csrf_token": session["csrf"]})


@bp.get("/session")
@api.validate(resp=_resp(SessionOut), tags=["session"], skip_validation=True)
def whoami():  # type: ignore[no-untyped-def]
    """Who is calling: account and role, or role "public"."""
    actor = current_actor()
    if actor is None:
        return jsonify({"account": None, "role": "public", "departments": []})
    return jsonify({"account": actor.id, "role": actor.role, "departments": list(actor.departments),
                    "csrf_token": session.get("csrf")})


@bp.delete("/session")
@api.validate(resp=SpecResponse("HTTP_204"), tags=["session"], skip_validation=True)
def logout():  # type: ignore[no-untyped-def]
    """Log out."""
    session.clear()
    return "", 204


class LockoutOut(BaseModel):
    id: int
    at: str
    scope: str = Field(description="pair (account + address) or addr (address, any account)")
    account: str
    address: str
    failures: int
    until: str


class LockoutsOut(BaseModel):
    lockouts: list[LockoutOut]


@bp.get("/login-lockouts")
@api.validate(resp=_resp(LockoutsOut), tags=["session"], skip_validation=True)
def login_lockouts():  # type: ignore[no-untyped-def]
    """Login lockouts, newest first (admin, auditor): who was locked out, from which address, until when."""
    from .security import limiter

    need("admin", "auditor")
    return jsonify({"lockouts": limiter().lockouts(_int("limit", 100, MAX_LIMIT))})


@bp.post("/import/<kind>")
@api.validate(resp=_resp(ImportReportOut), tags=["import"], skip_validation=True)
def import_registry(kind: str):  # type: ignore[no-untyped-def]
    """Import subjects or inspectors from .csv or .xlsx (multipart field `file`, or the raw body with
    ?filename=). All-or-nothing: 422 with every bad row (row, column, value, reason). ?dry_run=1 validates only."""
    actor = need("admin", "operator")
    singular = {"subjects": "subject", "inspectors": "inspector"}.get(kind)
    if singular is None:
        raise ApiError(404, "not_found", "可导入: subjects, inspectors")
    check_import_size(request.content_length, slack=64 * 1024)  # refused before reading the body
    if "file" in request.files:
        f = request.files["file"]
        data, filename = f.read(MAX_IMPORT_BYTES + 1), f.filename or "upload.csv"
    else:
        data, filename = request.get_data(), request.args.get("filename", "upload.csv")
    check_import_size(len(data))
    if not data:
        raise ApiError(400, "empty", tr("没有上传文件"))
    dry = request.args.get("dry_run") in ("1", "true")
    try:
        report = _call(regio.import_file, registry(), actor, singular, data, filename, dry_run=dry)
    except regio.ImportFormatError as exc:
        raise ApiError(400, "bad_file", str(exc)) from None
    return jsonify(report.to_json()), (200 if report.ok else 422)


EXPORT_PUBLIC = ("department", "item", "subject", "inspector", "expert", "sublibrary")


@bp.get("/export/<kind>.<fmt>")
@api.validate(tags=["export"], skip_validation=True)
def export_registry(kind: str, fmt: str):  # type: ignore[no-untyped-def]
    """Export a registry as .csv (UTF-8 with BOM) or .xlsx with Chinese headers. Public registries
    export their public columns to anonymous callers; plans (published only), conflicts and accounts need a login.
    An export too large for one request (or with ?async=1) answers 202 with a background job's URL (web/jobs.py)."""
    singular = {v: k for k, v in PLURAL.items()}.get(kind)
    if singular is None or singular == "token" or fmt not in ("csv", "xlsx"):
        raise ApiError(404, "not_found", tr("未知的名录或格式"))
    actor = current_actor()
    if actor is None and singular not in (*EXPORT_PUBLIC, "plan"):
        raise ApiError(401, "login_required", tr("需要登录"))
    if singular == "account":
        need("admin", "auditor")
    from .jobs import EXPORT_MIME, estimate_export, export_records, offload

    who = None if actor is None else {"id": actor.id, "role": actor.role, "departments": list(actor.departments),
                                      "inspector": actor.inspector}
    params = {"registry": singular, "plural": kind, "format": fmt, "actor": who,
              "log_size": current_app.extensions["ledger"].size()}
    queued = offload("registry_export", params, estimate_export(current_app.extensions["engine"], singular, fmt),
                     None if actor is None else actor.id)
    if queued is not None:  # too many rows for one request: a background job (web/jobs.py)
        return queued
    data = regio.export_bytes(export_records(registry(), singular, actor), singular, fmt)
    return Response(data, content_type=EXPORT_MIME[fmt], headers={"Content-Disposition": f"attachment; filename={kind}.{fmt}"})


@bp.get("/registry/state")
@api.validate(tags=["audit"], skip_validation=True)
def registry_state():  # type: ignore[no-untyped-def]
    """Registry state rebuilt from the log alone at position ?at=N (default: now), and whether it
    equals the database (admin, auditor). Too large for one request (or with ?async=1): 202 with a
    background job's URL (web/jobs.py)."""
    actor = need("admin", "auditor")
    led = current_app.extensions["ledger"]
    size = led.size()
    at = _int("at", size)
    from .jobs import estimate_registry_state, offload

    queued = offload("registry_state", {"at": at, "log_size": size},
                     estimate_registry_state(current_app.extensions["engine"]), actor.id)
    if queued is not None:  # registries too large to rebuild in one request: a background job (web/jobs.py)
        return queued
    rebuilt = rebuild_from_ledger(led, at)
    out: dict[str, Any] = {"at": min(at, size), "state": rebuilt}
    if at >= size:
        with led.engine.connect() as conn:
            out["differences_from_database"] = diff_states(load_state(conn), rebuilt)[:100]
    return jsonify(out)
