"""Result categories of the national enterprise credit publicity system (国家企业信用信息公示系统).

The table is data, not code paths: the built-in rows below are version 1, and an administrator
adds rows later (`inspection.category.added`, table ins_categories) when the national system
adds a box. Rules a result's selection must satisfy are read from the rows:

- `exclusive`: when chosen, nothing else may be (未发现问题 rules out every other box);
- `parent`: a sub-item needs its parent chosen (发现问题待后续处理 and its four sub-items);
- `problem`: counts as a problem found (月报表 发现问题数; raises the subject's risk);
- `credit`: the effect on the subject's record at publication: "abnormal" (经营异常名录 risk flag)
  or "violation" (one more recorded problem), or none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from . import schema
from .errors import InvalidInput, StateError, UnknownReference

GROUPS = ("result", "sub_item", "status")

BUILTIN: tuple[dict[str, Any], ...] = (
    {"code": "no_problem", "label": "未发现问题", "group": "result", "exclusive": True},
    {"code": "corrected", "label": "发现问题已责令改正", "group": "result", "problem": True, "credit": "violation"},
    {"code": "no_activity", "label": "未发现开展本次抽查涉及的经营活动", "group": "result"},
    {"code": "closed", "label": "已关闭停业或正在组织清算", "group": "result"},
    {"code": "uncooperative", "label": "不配合检查情节严重", "group": "result", "problem": True, "credit": "abnormal"},
    {"code": "pending_followup", "label": "发现问题待后续处理", "group": "result", "problem": True,
     "credit": "violation"},
    {"code": "not_disclosed", "label": "未按规定公示应当公示的信息", "group": "sub_item", "parent": "pending_followup",
     "problem": True, "credit": "abnormal"},
    {"code": "false_disclosure", "label": "公示信息隐瞒真实情况弄虚作假", "group": "sub_item",
     "parent": "pending_followup", "problem": True, "credit": "abnormal"},
    {"code": "unreachable", "label": "通过登记的住所（经营场所）无法联系", "group": "sub_item",
     "parent": "pending_followup", "problem": True, "credit": "abnormal"},
    {"code": "other_dept_violation", "label": "违反其他部门监管规定", "group": "sub_item",
     "parent": "pending_followup", "problem": True, "credit": "violation"},
    {"code": "deregistered", "label": "注销", "group": "status", "subject_status": "注销"},
    {"code": "licence_revoked", "label": "被吊销", "group": "status", "subject_status": "吊销"},
    {"code": "registration_revoked", "label": "被撤销", "group": "status", "subject_status": "撤销"},
    {"code": "moved_out", "label": "迁出", "group": "status", "subject_status": "迁出"},
)

FOLLOW_UP_KINDS = {
    "none": "无需后续处置",
    "routine": "终止检查，转入日常监管",
    "order_correct": "责令改正",
    "case_transfer": "案件线索移送办案机构",
    "notify_dept": "通报其他部门",
    "other": "其他",
}
# How a follow-up ends (003 第二十二条): a decision whether to penalise, or a transfer.
FOLLOW_UP_ENDS = {
    "penalty": "予以行政处罚",
    "no_penalty": "不予行政处罚",
    "transfer_authority": "移送其他行政机关",
    "transfer_judiciary": "移送司法机关",
}
CREDIT_EFFECTS = (None, "abnormal", "violation")


def _row(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {"code": raw["code"], "label": raw["label"], "group": raw["group"],
            "exclusive": bool(raw.get("exclusive", False)), "parent": raw.get("parent"),
            "problem": bool(raw.get("problem", False)), "credit": raw.get("credit"),
            "subject_status": raw.get("subject_status"), "active": bool(raw.get("active", True))}


def all_categories(conn: Connection) -> dict[str, dict[str, Any]]:
    """Built-in rows, then the rows added on the log (in code order of addition)."""
    out = {r["code"]: _row(r) for r in BUILTIN}
    for doc in conn.execute(select(schema.categories.c.doc).order_by(schema.categories.c.seq)).scalars():
        row = json.loads(doc)
        out[row["code"]] = _row(row)
    return out


def normalize_new(data: Mapping[str, Any], existing: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Validate a category an administrator adds."""
    code = str(data.get("code", "")).strip()
    label = str(data.get("label", "")).strip()
    errors = []
    if not code or not code.replace("_", "").isalnum() or not code.isascii() or len(code) > 64:
        errors.append("code 应为字母数字和下划线 / code must be ASCII letters, digits, underscores")
    if not label or len(label) > 100:
        errors.append("label 必填 / label required (<= 100 characters)")
    group = data.get("group", "result")
    if group not in GROUPS:
        errors.append(f"group 应为 {'/'.join(GROUPS)}")
    parent = data.get("parent")
    if group == "sub_item" and (not parent or parent not in existing or existing[parent]["group"] != "result"):
        errors.append("子项须有已存在的结果类别作为 parent / a sub-item needs an existing result category as parent")
    if data.get("credit") not in CREDIT_EFFECTS:
        errors.append("credit 应为 abnormal、violation 或空 / credit must be abnormal, violation or null")
    if errors:
        raise InvalidInput("; ".join(errors))
    if code in existing:  # a well-formed category the table already holds: a conflict, not bad input
        raise StateError(f"类别 {code} 已存在 / category {code} exists")
    return _row({**data, "code": code, "label": label, "group": group,
                 "parent": parent if group == "sub_item" else None})


def check_selection(codes: Sequence[Any], table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Validate a result's boxes: known, active, exclusivity, sub-items under a chosen parent.
    Returns the codes in table order."""
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        raise InvalidInput("categories 应为非空的类别编码列表 / categories must be a non-empty list of codes")
    unknown = [c for c in codes if c not in table or not table[c]["active"]]
    if unknown:  # well-formed codes the category table does not hold (now): a conflict with its state
        raise UnknownReference(f"不存在的结果类别 / unknown result category: {', '.join(unknown)}")
    if len(set(codes)) != len(codes):
        raise InvalidInput("结果类别重复 / a category is given twice")
    chosen = set(codes)
    for c in codes:
        if table[c]["exclusive"] and len(chosen) > 1:
            raise InvalidInput(f"“{table[c]['label']}”不能与其他类别同时选择 / {c} excludes every other category")
        parent = table[c]["parent"]
        if parent and parent not in chosen:
            raise InvalidInput(f"“{table[c]['label']}”须同时选择“{table[parent]['label']}” / {c} needs {parent}")
    if not any(table[c]["group"] in ("result", "status") for c in codes):
        raise InvalidInput("至少选择一个结果类别 / choose at least one result category")
    order = list(table)
    return sorted(codes, key=order.index)


def labels(codes: Iterable[str], table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [table[c]["label"] if c in table else c for c in codes]


def has_problem(codes: Iterable[str], table: Mapping[str, Mapping[str, Any]]) -> bool:
    return any(table.get(c, {}).get("problem") for c in codes)
