"""Credit linkage (000 三(六); 002 十; 004 四(六)): published results feed the subject's record.

The change is an ordinary `registry.subject.changed` entry (so the registry fold, later
draws' strata and the verifier see it exactly like any other change), followed by an
`inspection.credit.linked` entry naming the result that caused it and the registry entry's
seq, so the reason for every raised flag can be traced. Both are written inside the caller's
transaction: a publication and its credit effect commit together or not at all.

Effects (from the category table's `credit` column):
- "abnormal": 不配合检查情节严重, 未按规定公示, 弄虚作假, 住所无法联系 → `abnormal` = true
  (经营异常名录 risk flag; draws put the subject in stratum D and exempt it from the cap);
- "violation": a problem found → `complaints` + 1 (the registry's count of adverse records; at
  3 a later draw raises the subject to stratum D);
- status outcomes (注销, 吊销, 撤销, 迁出) set the subject's status;
- a penalty decision sets `penalized_on`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drawsvc.registry.records import changed_fields
from drawsvc.registry.state import get_record, write_records
from ledger.keys import ActorSigner


def _apply(tx: Any, signer: ActorSigner, code: str, change: Mapping[str, Any], result_id: str,
           reasons: list[str]) -> dict[str, Any] | None:
    subject = get_record(tx.conn, "subject", code)
    if subject is None:
        return None
    new = dict(subject)
    if change.get("abnormal"):
        new["abnormal"] = True
    if change.get("violation"):
        new["complaints"] = int(subject.get("complaints", 0)) + 1
    if change.get("status"):
        new["status"] = change["status"]
    if change.get("penalized_on") and (subject.get("penalized_on") or "") < change["penalized_on"]:
        new["penalized_on"] = change["penalized_on"]
    changed = changed_fields(subject, new)
    if not changed:
        return None
    reg_entry = tx.append("registry.subject.changed", {"id": code, "state": new, "changed": changed}, signer)
    write_records(tx.conn, "subject", [(new, reg_entry.seq, False)])
    body = {"result_id": result_id, "subject": code, "registry_seq": reg_entry.seq, "changed": changed,
            "reasons": reasons, "before": {k: subject.get(k) for k in changed}, "after": {k: new.get(k) for k in changed}}
    entry = tx.append("inspection.credit.linked", body, signer)
    return {**body, "seq": entry.seq}


def link_result(tx: Any, signer: ActorSigner, content: Mapping[str, Any], table: Mapping[str, Mapping[str, Any]],
                result_id: str, published_seq: int) -> dict[str, Any] | None:
    """Apply a published result's categories to its subject's record."""
    change: dict[str, Any] = {}
    reasons = []
    for code in content["categories"]:
        row = table.get(code, {})
        if row.get("credit") == "abnormal":
            change["abnormal"] = True
            reasons.append(code)
        elif row.get("credit") == "violation":
            change["violation"] = True
            reasons.append(code)
        if row.get("subject_status"):
            change["status"] = row["subject_status"]
            reasons.append(code)
    if not change:
        return None
    return _apply(tx, signer, content["subject"], change, result_id, sorted(set(reasons)))


def link_penalty(tx: Any, signer: ActorSigner, subject: str, decision_date: str, result_id: str) -> dict[str, Any] | None:
    return _apply(tx, signer, subject, {"penalized_on": decision_date}, result_id, ["penalty"])
