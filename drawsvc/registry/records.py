"""Registry records: their fields, normalisation and validation (pure, no database).

Every registry kind has a `normalize_<kind>(data, ctx)` that returns the canonical record (a
JSON-able dict: strings, ints, bools, lists, dicts, None; no floats, so that JCS in the log is
unambiguous) or raises RecordError listing every bad field. `ctx` answers questions about other
records (does department X exist?) so the same code validates API input, imports and demo data.

Ratios are integers in basis points (1% = 100) everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from drawsvc import creditcode
from drawsvc.i18n import N_, tr

from . import codes

KINDS = ("department", "item", "subject", "inspector", "expert", "conflict", "sublibrary", "plan",
         "account", "token")

ITEM_METHODS = (N_("现场检查"), N_("书面检查"), N_("网络检查"), N_("委托专业机构"))
METHOD_ALIASES = {"实地核查": "现场检查", "实地检查": "现场检查", "委托专业机构检验检测": "委托专业机构",
                  "onsite": "现场检查", "document": "书面检查", "online": "网络检查", "agency": "委托专业机构"}
ITEM_KINDS = {"key": "key", "重点": "key", "重点检查事项": "key", "general": "general", "一般": "general",
              "一般检查事项": "general"}
GENERAL_FLOOR_BP = 500  # seed 000 二(二): general items never below 5% (other regimes use 3%)
SUBJECT_STATUSES = ("存续", "在业", "停业", "迁出", "注销", "吊销", "撤销")
ACTIVE_SUBJECT_STATUSES = ("存续", "在业")
CREDIT_CLASSES = ("A", "B", "C", "D")
DEFAULT_RATIOS_BP = {"A": 100, "B": 300, "C": 1000, "D": 2000}  # seed 000 二(二)
INSPECTOR_STATUSES = ("在岗", "停用")
CONFLICT_REASONS = (N_("近亲属"), N_("曾任职"), N_("利害关系"), N_("其他"))
PLAN_STATUSES = ("draft", "submitted", "approved", "published")
# The words for coded choices (catalogue msgids): a refusal names the choices by these, never by
# the stored codes, and a value written as its word (Chinese, or the reader's language) is taken.
KIND_WORDS = {"key": N_("重点检查事项"), "general": N_("一般检查事项")}
ITEM_STATUS_WORDS = {"active": N_("在用"), "withdrawn": N_("已停用")}
PLAN_STATUS_WORDS = {"draft": N_("草稿"), "submitted": N_("待审批"), "approved": N_("已批准"), "published": N_("已公布")}
ROLE_WORDS = {"admin": N_("管理员"), "operator": N_("操作员"), "inspector": N_("执法检查人员"), "auditor": N_("纪检监察")}
ACCOUNT_STATUS_WORDS = {"active": N_("在用"), "disabled": N_("停用")}
TOKEN_STATUS_WORDS = {"active": N_("在用"), "revoked": N_("已撤销")}
ROLES = ("admin", "operator", "inspector", "auditor")
EXEMPTIONS = ("serious_dishonest", "abnormal", "penalized")  # exempt from the frequency cap (002 五)
EXEMPTION_WORDS = {"serious_dishonest": N_("严重违法失信"), "abnormal": N_("经营异常名录"), "penalized": N_("已受行政处罚")}
FILTER_KEYS = ("regions", "industries", "credit_classes", "statuses", "licences", "tags_any", "tags_all",
               "abnormal", "serious_dishonest", "min_complaints", "codes")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


@dataclass
class RecordError(ValueError):
    """One or more field errors: [{field, value, message}]."""

    errors: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{e['field']}: {e['message']}" for e in self.errors)


class Context:
    """What validation may ask about the rest of the registries. Override `get` to back it."""

    def __init__(self, get: Callable[[str, str], dict | None] | None, today: date):
        # `today` is required: it comes from the service's one clock, never the wall clock
        self._get = get or (lambda kind, key: None)
        self.today = today

    def get(self, kind: str, key: str) -> dict | None:
        return self._get(kind, key)

    def exists(self, kind: str, key: str) -> bool:
        return self.get(kind, key) is not None


class _V:
    """Collects field errors while normalising one record."""

    def __init__(self, data: dict[str, Any]):
        if not isinstance(data, dict):
            raise RecordError([{"field": "", "value": None, "message": tr("记录必须是对象")}])
        self.data = data
        self.errors: list[dict[str, Any]] = []
        self.out: dict[str, Any] = {}

    def err(self, name: str, message: str, value: Any = None) -> None:
        self.errors.append({"field": name, "value": self.data.get(name, value), "message": message})

    def ref_err(self, name: str, message: str) -> None:
        """A well-formed value that names a record the registry does not hold (or no longer
        uses): the request conflicts with the registry's current state (HTTP 409), unlike a
        malformed value (422), which no state of the registry would accept."""
        self.errors.append({"field": name, "value": self.data.get(name), "message": message, "kind": "reference"})

    def raw(self, name: str) -> Any:
        value = self.data.get(name)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                return None
        return value

    def text(self, name: str, *, required: bool = True, max_len: int = 500, default: str | None = None) -> str | None:
        value = self.raw(name)
        if value is None:
            if required and default is None:
                self.err(name, tr("必填"))
            self.out[name] = default
            return default
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(int(value)) if float(value).is_integer() else str(value)
        if not isinstance(value, str):
            self.err(name, tr("应为文本"))
            return None
        if len(value) > max_len:
            self.err(name, tr("超过%(max_len)s字", max_len=max_len))
        self.out[name] = value
        return value

    def code(self, name: str, *, required: bool = True) -> str | None:
        value = self.text(name, required=required, max_len=64)
        if value is not None and not _CODE.match(value):
            self.err(name, tr("编码只能含字母、数字、_.-"))
        return value

    def choice(self, name: str, choices: Iterable[str], *, default: str | None = None,
               aliases: dict[str, str] | None = None, words: dict[str, str] | None = None) -> str | None:
        """One of `choices`; with `words` (code → msgid) a refusal names the choices in words and a
        value given as its word (the msgid or its translation) is taken as the code."""
        value = self.raw(name)
        if value is None:
            value = default
        choices = tuple(choices)
        if words:
            shown = tr("、").join(f"“{tr(words.get(c, c))}”" for c in choices)
            aliases = {**{w: c for c, w in words.items()}, **{tr(w): c for c, w in words.items()}, **(aliases or {})}
        else:
            shown = ", ".join(choices)
        if not isinstance(value, str | None):  # a list or object is no choice (and unhashable)
            self.err(name, tr("应为 %(choices)s 之一", choices=shown))
            return None
        if aliases and value in aliases:
            value = aliases[value]
        if value not in choices:
            self.err(name, tr("应为 %(choices)s 之一", choices=shown))
        self.out[name] = value
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            value = default
        if isinstance(value, str):
            low = value.lower()
            if low in ("是", "true", "1", "y", "yes", "有"):
                value = True
            elif low in ("否", "false", "0", "n", "no", "无"):
                value = False
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            value = bool(value)
        if not isinstance(value, bool):
            self.err(name, tr("应为 是/否"))
            value = default
        self.out[name] = value
        return value

    def integer(self, name: str, *, default: int | None = None, low: int | None = None, high: int | None = None,
                required: bool = False) -> int | None:
        value = self.raw(name)
        if value is None:
            if required and default is None:
                self.err(name, tr("必填"))
            self.out[name] = default
            return default
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                self.err(name, tr("应为整数"))
                return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            self.err(name, tr("应为整数"))
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            self.err(name, tr("应在 %(low)s–%(high)s 之间", low=low, high=high))
        self.out[name] = value
        return value

    def day(self, name: str, *, required: bool = True) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.err(name, tr("必填"))
            self.out[name] = None
            return None
        if isinstance(value, date):
            value = value.isoformat()[:10]
        if isinstance(value, str):
            value = value.replace("/", "-").replace(".", "-")[:10] if len(value) >= 8 else value
            parts = value.split("-")
            if len(parts) == 3 and all(p.isdigit() for p in parts):
                value = f"{int(parts[0]):04d}-{int(parts[1]):02d}-{int(parts[2]):02d}"
        if not isinstance(value, str) or not _DATE.match(value):
            self.err(name, tr("日期格式应为 YYYY-MM-DD"))
            return None
        try:
            date.fromisoformat(value)
        except ValueError:
            self.err(name, tr("日期不存在"))
            return None
        self.out[name] = value
        return value

    def strings(self, name: str, *, required: bool = False, choices: Iterable[str] | None = None) -> list[str]:
        value = self.raw(name)
        if value is None:
            value = []
        if isinstance(value, str):
            value = [p for p in re.split(r"[;；,，、|\s]+", value) if p]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.err(name, tr("应为文本列表"))
            value = []
        value = sorted({v.strip() for v in value if v.strip()})
        if required and not value:
            self.err(name, tr("至少一项"))
        if choices is not None:
            allowed = tuple(choices)
            bad = [v for v in value if v not in allowed]
            if bad:
                self.err(name, tr("不允许的值 %(value)s", value=', '.join(bad)))
        self.out[name] = value
        return value

    def done(self) -> dict[str, Any]:
        if self.errors:
            raise RecordError(self.errors)
        return self.out


def _dept_ref(v: _V, ctx: Context, name: str, value: str | None) -> None:
    if value is not None and not ctx.exists("department", value):
        v.ref_err(name, tr("未知的部门 %(value)s", value=value))


def normalize_department(data: dict, ctx: Context) -> dict:
    v = _V(data)
    code = v.code("code")
    v.text("name", max_len=100)
    parent = v.code("parent", required=False)
    if parent is not None:
        if parent == code:
            v.err("parent", tr("部门不能是自己的上级"))
        else:
            _dept_ref(v, ctx, "parent", parent)
            seen, cur = {code}, parent
            while cur is not None:  # no cycles through existing parents
                if cur in seen:
                    v.err("parent", tr("上下级关系成环"))
                    break
                seen.add(cur)
                rec = ctx.get("department", cur)
                cur = rec.get("parent") if rec else None
    v.text("joint_group", required=False, max_len=100)
    # four-eyes rules (on unless a department turns them off): a plan is approved by someone
    # other than who submitted it; `four_eyes_draws` asks the same of a draw's publication
    v.flag("four_eyes", default=True)
    v.flag("four_eyes_draws", default=False)
    region = v.raw("region")
    v.out["region"] = None
    if region is not None:
        try:
            v.out["region"] = codes.check_region(region)
        except ValueError as exc:
            v.err("region", str(exc))
    return v.done()


def normalize_item(data: dict, ctx: Context) -> dict:
    v = _V(data)
    v.code("code")
    v.text("name", max_len=200)
    v.text("legal_basis", max_len=2000)
    dept = v.code("department")
    _dept_ref(v, ctx, "department", dept)
    v.text("object_scope", max_len=1000)
    v.text("content", max_len=2000)
    methods = v.raw("methods") if "methods" in data else v.raw("method")
    if isinstance(methods, str):
        methods = [p for p in re.split(r"[;；,，、|/\s]+", methods) if p]
    if not isinstance(methods, list) or not methods:
        v.err("methods", tr("至少一种检查方式：%(value)s", value='/'.join(ITEM_METHODS)))
        methods = []
    methods = sorted({METHOD_ALIASES.get(m, m) for m in methods if isinstance(m, str)})
    bad = [m for m in methods if m not in ITEM_METHODS]
    if bad:
        v.err("methods", tr("未知的检查方式 %(value)s：应为 %(value2)s", value=', '.join(bad), value2='/'.join(ITEM_METHODS)))
    v.out["methods"] = methods
    kind = v.choice("kind", ("key", "general"), default="general", aliases=ITEM_KINDS, words=KIND_WORDS)
    default_min = GENERAL_FLOOR_BP if kind == "general" else 0
    lo = v.integer("ratio_min_bp", default=default_min, low=0, high=10000)
    hi = v.integer("ratio_max_bp", default=None, low=0, high=10000)
    if lo is not None and hi is not None and hi < lo:
        v.err("ratio_max_bp", tr("上限不能低于下限"))
    v.text("frequency", required=False, max_len=200, default="每年至少1次")
    v.choice("status", ("active", "withdrawn"), default="active", words=ITEM_STATUS_WORDS)
    v.integer("version", default=1, low=1)
    return v.done()


def normalize_subject(data: dict, ctx: Context) -> dict:
    v = _V(data)
    raw = v.raw("code")
    if raw is None:
        v.err("code", tr("必填"))
    else:
        try:
            v.out["code"] = creditcode.validate(str(raw))
        except creditcode.CreditCodeError as exc:
            v.err("code", str(exc))
    v.text("name", max_len=200)
    for name, check in (("region", codes.check_region), ("industry", codes.check_industry)):
        value = v.raw(name)
        if value is None:
            v.err(name, tr("必填"))
            continue
        try:
            v.out[name] = check(str(value))
        except ValueError as exc:
            v.err(name, str(exc))
    v.strings("licences")
    v.choice("status", SUBJECT_STATUSES, default="存续")
    v.choice("credit_class", CREDIT_CLASSES, default="B")
    v.flag("abnormal")
    v.flag("serious_dishonest")
    v.day("penalized_on", required=False)
    v.integer("complaints", default=0, low=0, high=1_000_000)
    v.strings("tags")
    v.text("address", required=False, max_len=300)
    return v.done()


def normalize_inspector(data: dict, ctx: Context) -> dict:
    v = _V(data)
    cert = v.text("cert_no", max_len=64)
    if v.raw("id") is None and cert is not None:
        v.out["id"] = cert
        if not _CODE.match(cert):
            v.err("cert_no", tr("执法证号只能含字母、数字、_.-"))
    else:
        v.code("id")
    v.text("name", max_len=50)
    start = v.day("cert_valid_from")
    end = v.day("cert_valid_to")
    if start and end and end < start:
        v.err("cert_valid_to", tr("有效期止早于有效期起"))
    dept = v.code("department")
    _dept_ref(v, ctx, "department", dept)
    v.strings("qualifications")
    v.strings("specialties")
    v.choice("status", INSPECTOR_STATUSES, default="在岗")
    return v.done()


def normalize_expert(data: dict, ctx: Context) -> dict:
    v = _V(data)
    v.code("id")
    v.text("name", max_len=50)
    v.strings("specialties", required=True)
    v.text("organisation", required=False, max_len=200)
    v.text("title", required=False, max_len=100)
    v.choice("status", INSPECTOR_STATUSES, default="在岗")
    return v.done()


def normalize_conflict(data: dict, ctx: Context) -> dict:
    v = _V(data)
    inspector = v.code("inspector")
    raw = v.raw("subject")
    subject = None
    if raw is None:
        v.err("subject", tr("必填"))
    else:
        subject = creditcode.normalize(str(raw))
        v.out["subject"] = subject
    if inspector is not None and not ctx.exists("inspector", inspector):
        v.ref_err("inspector", tr("未知的检查人员 %(inspector)s", inspector=inspector))
    if subject is not None and not ctx.exists("subject", subject):
        v.ref_err("subject", tr("未知的检查对象 %(subject)s", subject=subject))
    v.choice("reason", CONFLICT_REASONS, default="其他")
    v.text("note", required=False, max_len=500)
    v.day("declared_on", required=False)
    if v.out.get("declared_on") is None:
        v.out["declared_on"] = ctx.today.isoformat()
    v.out["id"] = f"{inspector}~{subject}"
    return v.done()


def normalize_filter(value: Any, errors: list[dict], name: str = "filter") -> dict:
    """A sub-library filter: a saved query over subjects (not a copy of them)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append({"field": name, "value": value, "message": tr("筛选条件应为对象")})
        return {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in FILTER_KEYS:
            errors.append({"field": f"{name}.{key}", "value": item, "message": tr("未知的筛选项，可用：%(value)s", value=', '.join(FILTER_KEYS))})
        elif key in ("abnormal", "serious_dishonest"):
            if not isinstance(item, bool):
                errors.append({"field": f"{name}.{key}", "value": item, "message": tr("应为 true 或 false")})
            out[key] = item
        elif key == "min_complaints":
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                errors.append({"field": f"{name}.{key}", "value": item, "message": tr("应为非负整数")})
            out[key] = item
        else:
            if not isinstance(item, list) or not all(isinstance(x, str) for x in item):
                errors.append({"field": f"{name}.{key}", "value": item, "message": tr("应为文本列表")})
                continue
            if key == "credit_classes" and any(x not in CREDIT_CLASSES for x in item):
                errors.append({"field": f"{name}.{key}", "value": item, "message": tr("信用等级应为 A、B、C、D 之一")})
            out[key] = sorted(set(item))
    return out


def match_filter(subject: dict, filt: dict) -> bool:
    """Does a subject belong to the sub-library this filter defines? Regions and industries match by prefix."""
    if not filt:
        return True
    if (r := filt.get("regions")) and not any(subject["region"].startswith(p.rstrip("0") or p) for p in r):
        return False
    if (i := filt.get("industries")) and not any(subject["industry"].startswith(p) for p in i):
        return False
    if (c := filt.get("credit_classes")) and subject["credit_class"] not in c:
        return False
    if (s := filt.get("statuses")) and subject["status"] not in s:
        return False
    if (lic := filt.get("licences")) and not set(lic) & set(subject.get("licences", [])):
        return False
    if (t := filt.get("tags_any")) and not set(t) & set(subject.get("tags", [])):
        return False
    if (t := filt.get("tags_all")) and not set(t) <= set(subject.get("tags", [])):
        return False
    for key in ("abnormal", "serious_dishonest"):
        if key in filt and subject.get(key) != filt[key]:
            return False
    if "min_complaints" in filt and subject.get("complaints", 0) < filt["min_complaints"]:
        return False
    return not ((cs := filt.get("codes")) and subject["code"] not in cs)


def normalize_sublibrary(data: dict, ctx: Context) -> dict:
    v = _V(data)
    v.code("code")
    v.text("name", max_len=100)
    dept = v.code("department", required=False)
    _dept_ref(v, ctx, "department", dept)
    v.out["filter"] = normalize_filter(data.get("filter"), v.errors)
    return v.done()


def normalize_plan(data: dict, ctx: Context) -> dict:
    v = _V(data)
    v.code("code")
    v.text("name", max_len=200)
    v.integer("year", required=True, low=2000, high=2100)
    depts = v.strings("departments", required=True)
    for d in depts:
        _dept_ref(v, ctx, "departments", d)
    items = v.strings("items", required=True)
    item_recs = []
    for code in items:
        rec = ctx.get("item", code)
        if rec is None:
            v.ref_err("items", tr("未知的抽查事项 %(code)s", code=code))
        elif rec.get("status") != "active":
            v.ref_err("items", tr("抽查事项 %(code)s 已停用", code=code))
        else:
            item_recs.append(rec)
    libs = v.strings("sublibraries")
    for code in libs:
        if not ctx.exists("sublibrary", code):
            v.ref_err("sublibraries", tr("未知的子库 %(code)s", code=code))
    v.out["filter"] = normalize_filter(data.get("filter"), v.errors)
    ratios = data.get("ratios_bp")
    if ratios is None:
        ratios = dict(DEFAULT_RATIOS_BP)
    if not isinstance(ratios, dict) or set(ratios) != set(CREDIT_CLASSES) or not all(
            isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 10000 for x in ratios.values()):
        v.err("ratios_bp", tr("应为 {A,B,C,D} 到 0–10000 基点的映射"))
    else:
        for rec in item_recs:
            cap = rec.get("ratio_max_bp")
            if cap is not None and max(ratios.values()) > cap:
                v.err("ratios_bp", tr("超过抽查事项 %(code)s 的比例上限 %(cap)s 基点", code=rec['code'], cap=cap))
            if max(ratios.values()) < rec.get("ratio_min_bp", 0):
                v.err("ratios_bp", tr("低于抽查事项 %(code)s 的比例下限 %(ratio_min_bp)s 基点", code=rec['code'], ratio_min_bp=rec['ratio_min_bp']))
        v.out["ratios_bp"] = {k: ratios[k] for k in CREDIT_CLASSES}
    v.integer("frequency_cap", default=2, low=1, high=12)
    v.strings("exemptions", choices=EXEMPTIONS)
    if "exemptions" not in data:
        v.out["exemptions"] = list(EXEMPTIONS)
    v.integer("team_size", default=2, low=2, high=20)
    start = v.day("window_start")
    end = v.day("window_end")
    # relations between fields are judged once the records the plan names exist (as for tasks):
    # a plan naming unknown items is a 409 whatever else it says
    if start and end and end < start and not any(e.get("kind") == "reference" for e in v.errors):
        v.err("window_end", tr("结束日期早于开始日期"))
    v.flag("joint")
    if v.out.get("joint") and len(depts) < 2:
        v.err("departments", tr("联合抽查至少两个部门"))
    v.choice("status", PLAN_STATUSES, default="draft", words=PLAN_STATUS_WORDS)
    v.text("note", required=False, max_len=2000)
    return v.done()


def normalize_account(data: dict, ctx: Context) -> dict:
    v = _V(data)
    v.code("id")
    v.text("name", required=False, max_len=50)
    role = v.choice("role", ROLES, words=ROLE_WORDS)
    depts = v.strings("departments")
    for d in depts:
        _dept_ref(v, ctx, "departments", d)
    if role == "operator" and not depts:
        v.err("departments", tr("操作员须属于至少一个部门"))
    inspector = v.code("inspector", required=role == "inspector")
    if inspector is not None and not ctx.exists("inspector", inspector):
        v.ref_err("inspector", tr("未知的检查人员 %(inspector)s", inspector=inspector))
    v.choice("status", ("active", "disabled"), default="active", words=ACCOUNT_STATUS_WORDS)
    v.text("key_id", required=False, max_len=16)
    v.text("public_key", required=False, max_len=64)
    return v.done()


def normalize_token(data: dict, ctx: Context) -> dict:
    v = _V(data)
    v.code("id")
    account = v.code("account")
    if account is not None and not ctx.exists("account", account):
        v.ref_err("account", tr("未知的账户 %(account)s", account=account))
    v.text("name", max_len=100)
    v.choice("status", ("active", "revoked"), default="active", words=TOKEN_STATUS_WORDS)
    return v.done()


NORMALIZERS: dict[str, Callable[[dict, Context], dict]] = {
    "department": normalize_department, "item": normalize_item, "subject": normalize_subject,
    "inspector": normalize_inspector, "expert": normalize_expert, "conflict": normalize_conflict,
    "sublibrary": normalize_sublibrary, "plan": normalize_plan, "account": normalize_account,
    "token": normalize_token,
}
KEY_FIELD = {"department": "code", "item": "code", "subject": "code", "inspector": "id", "expert": "id",
             "conflict": "id", "sublibrary": "code", "plan": "code", "account": "id", "token": "id"}


def key_of(kind: str, record: dict) -> str:
    return record[KEY_FIELD[kind]]


def certificate_valid_on(inspector: dict, day: date) -> bool:
    """Only holders of a certificate valid on the draw date can be drawn."""
    iso = day.isoformat()
    return inspector["status"] == "在岗" and inspector["cert_valid_from"] <= iso <= inspector["cert_valid_to"]


def changed_fields(old: dict | None, new: dict) -> list[str]:
    if old is None:
        return sorted(new)
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
