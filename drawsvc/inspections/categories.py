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

from drawsvc.i18n import N_, tr

from . import schema
from .errors import InvalidInput, StateError, UnknownReference

GROUPS = ("result", "sub_item", "status")

BUILTIN: tuple[dict[str, Any], ...] = (
    {"code": "no_problem", "label": N_("未发现问题"), "group": "result", "exclusive": True},
    {"code": "corrected", "label": N_("发现问题已责令改正"), "group": "result", "problem": True, "credit": "violation"},
    {"code": "no_activity", "label": N_("未发现开展本次抽查涉及的经营活动"), "group": "result"},
    {"code": "closed", "label": N_("已关闭停业或正在组织清算"), "group": "result"},
    {"code": "uncooperative", "label": N_("不配合检查情节严重"), "group": "result", "problem": True, "credit": "abnormal"},
    {"code": "pending_followup", "label": N_("发现问题待后续处理"), "group": "result", "problem": True,
     "credit": "violation"},
    {"code": "not_disclosed", "label": N_("未按规定公示应当公示的信息"), "group": "sub_item", "parent": "pending_followup",
     "problem": True, "credit": "abnormal"},
    {"code": "false_disclosure", "label": N_("公示信息隐瞒真实情况弄虚作假"), "group": "sub_item",
     "parent": "pending_followup", "problem": True, "credit": "abnormal"},
    {"code": "unreachable", "label": N_("通过登记的住所（经营场所）无法联系"), "group": "sub_item",
     "parent": "pending_followup", "problem": True, "credit": "abnormal"},
    {"code": "other_dept_violation", "label": N_("违反其他部门监管规定"), "group": "sub_item",
     "parent": "pending_followup", "problem": True, "credit": "violation"},
    {"code": "deregistered", "label": N_("注销"), "group": "status", "subject_status": "注销"},
    {"code": "licence_revoked", "label": N_("被吊销"), "group": "status", "subject_status": "吊销"},
    {"code": "registration_revoked", "label": N_("被撤销"), "group": "status", "subject_status": "撤销"},
    {"code": "moved_out", "label": N_("迁出"), "group": "status", "subject_status": "迁出"},
)

FOLLOW_UP_KINDS = {
    "none": N_("无需后续处置"),
    "routine": N_("终止检查，转入日常监管"),
    "order_correct": N_("责令改正"),
    "case_transfer": N_("案件线索移送办案机构"),
    "notify_dept": N_("通报其他部门"),
    "other": N_("其他"),
}
# How a follow-up ends (003 第二十二条): a decision whether to penalise, or a transfer.
FOLLOW_UP_ENDS = {
    "penalty": N_("予以行政处罚"),
    "no_penalty": N_("不予行政处罚"),
    "transfer_authority": N_("移送其他行政机关"),
    "transfer_judiciary": N_("移送司法机关"),
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
        errors.append(tr("code 应为字母数字和下划线"))
    if not label or len(label) > 100:
        errors.append(tr("label 必填"))
    group = data.get("group", "result")
    if group not in GROUPS:
        errors.append(tr("group 应为 %(choices)s 之一", choices=", ".join(GROUPS)))
    parent = data.get("parent")
    if group == "sub_item" and (not parent or parent not in existing or existing[parent]["group"] != "result"):
        errors.append(tr("子项须有已存在的结果类别作为 parent"))
    if data.get("credit") not in CREDIT_EFFECTS:
        errors.append(tr("credit 应为 abnormal、violation 或空"))
    if errors:
        raise InvalidInput("; ".join(errors))
    if code in existing:  # a well-formed category the table already holds: a conflict, not bad input
        raise StateError(tr("类别 %(code)s 已存在", code=code))
    return _row({**data, "code": code, "label": label, "group": group,
                 "parent": parent if group == "sub_item" else None})


def check_selection(codes: Sequence[Any], table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Validate a result's boxes: known, active, exclusivity, sub-items under a chosen parent.
    Returns the codes in table order."""
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        raise InvalidInput(tr("categories 应为非空的类别编码列表"))
    unknown = [c for c in codes if c not in table or not table[c]["active"]]
    if unknown:  # well-formed codes the category table does not hold (now): a conflict with its state
        raise UnknownReference(tr("不存在的结果类别：%(value)s", value=', '.join(unknown)))
    if len(set(codes)) != len(codes):
        raise InvalidInput(tr("结果类别重复"))
    chosen = set(codes)
    for c in codes:
        if table[c]["exclusive"] and len(chosen) > 1:
            raise InvalidInput(tr("“%(label)s”不能与其他类别同时选择", label=tr(table[c]['label'])))
        parent = table[c]["parent"]
        if parent and parent not in chosen:
            raise InvalidInput(tr("“%(label)s”须同时选择“%(label2)s”", label=tr(table[c]['label']),
                                     label2=tr(table[parent]['label'])))
    if not any(table[c]["group"] in ("result", "status") for c in codes):
        raise InvalidInput(tr("至少选择一个结果类别"))
    order = list(table)
    return sorted(codes, key=order.index)


def labels(codes: Iterable[str], table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [table[c]["label"] if c in table else c for c in codes]


def has_problem(codes: Iterable[str], table: Mapping[str, Mapping[str, Any]]) -> bool:
    return any(table.get(c, {}).get("problem") for c in codes)
