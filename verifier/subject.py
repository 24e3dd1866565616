"""One subject's view of a draw: "was my company's selection fair?" (docs/SPEC.md §D6).

Why a separate report: the question an inspected company asks is narrow — its stratum, its
ticket, the stratum's cutoff, and why it was or was not drawn — and it must get the answer in
plain words, in Chinese and English, from the same verified data the full bundle check uses.
"""

from __future__ import annotations

from typing import Any

from .draw import DrawState
from .findings import Report
from .tickets import subject_ticket

__all__ = ["subject_report", "subject_text"]

EXCLUDED_ZH = {"frequency_cap": "本年度抽查次数已达上限", "checked_by_other_unit": "本年度已被本部门其他单位抽查",
               "exempt_trusted": "守信免查", "out_of_scope": "不在抽查范围", "deregistered": "已注销",
               "not_operating": "未在经营", "not_random_check": "已列入非随机检查"}


def subject_report(report: Report, st: DrawState, code: str) -> dict[str, Any]:
    """Facts about ``code`` in this draw; every answer that cannot be established says why."""
    out: dict[str, Any] = {"subject": code, "draw_id": st.draw_id, "draw_status": st.status,
                           "bundle_verified": report.ok}
    pools = st.pools
    if pools is None:
        out["verdict"] = "unknown"
        out["why"] = "not yet published: the pools and the seed are revealed at publication"
        return out
    if st.pool_parts is not None:  # the pool was read in parts, this code looked up as it went
        rec = {"id": code, "stratum": st.pool_parts.found[code]} if code in st.pool_parts.found else None
    else:
        rec = next((r for r in pools.get("subjects") or [] if isinstance(r, dict) and r.get("id") == code), None)
    exc = next((r for r in pools.get("excluded") or [] if isinstance(r, dict) and r.get("id") == code), None)
    stratum = (rec or exc or {}).get("stratum")
    out["stratum"] = stratum
    out["in_pool"] = rec is not None
    if exc is not None:
        out["excluded_reason"] = exc.get("reason")
    seed, sel = st.seed, st.selection
    if seed is not None:
        t = subject_ticket(seed, code)
        out["ticket"] = t.hex()
    if sel is not None and stratum is not None:
        cut = sel.cutoff(stratum)
        out["stratum_n"] = sel.counts.get(stratum, 0)
        out["stratum_k"] = len(sel.selected.get(stratum, []))
        out["cutoff_ticket"] = cut[0].hex() if cut else None
        out["cutoff_id"] = cut[1].decode() if cut else None
        below = cut is not None and (subject_ticket(seed, code), code.encode()) <= cut  # type: ignore[arg-type]
        out["ticket_at_or_below_cutoff"] = below
    subs_in = subs_out = None
    for w in _records(st):
        r = w if isinstance(w, dict) else {}
        if r.get("kind") == "subject" and r.get("incoming") == code:
            subs_in = r
        if r.get("kind") == "subject" and r.get("leaving") == code:
            subs_out = r
    if exc is not None:
        out["verdict"] = "excluded"
        out["would_have_been_drawn"] = out.get("ticket_at_or_below_cutoff")
    elif rec is None:
        out["verdict"] = "not_in_pool"
    elif sel is None:
        out["verdict"] = "unknown"
        out["why"] = "the selection could not be recomputed (see the bundle checks)"
    elif out.get("ticket_at_or_below_cutoff"):
        out["verdict"] = "drawn"
    else:
        out["verdict"] = "above_cutoff"
    if subs_out is not None:
        out["substituted_out"] = {"reason": subs_out.get("reason"), "incoming": subs_out.get("incoming")}
    if subs_in is not None:
        out["substituted_in"] = {"reason": subs_in.get("reason"), "leaving": subs_in.get("leaving")}
        out["verdict"] = "drawn_as_replacement"
    team = next((a for a in (st.current or {}).get("assignments") or [] if a.get("subject") == code), None)
    if team is not None:
        out["team"] = team.get("team")
        out["experts"] = team.get("experts")
    return out


def _records(st: DrawState) -> list[Any]:
    return [s.get("record") if isinstance(s, dict) else None for s in st.substitutions]


def subject_text(d: dict[str, Any]) -> str:
    """Plain Chinese + English lines for the report above."""
    code, v = d["subject"], d.get("verdict")
    lines = [f"主体 / subject: {code}    抽查 / draw: {d['draw_id']} ({d['draw_status']})"]
    if not d.get("bundle_verified", True):
        lines.append("注意：该抽查的证据包未通过验证，以下结论不可信。 / WARNING: the draw's bundle did not verify; "
                     "the answer below cannot be trusted.")
    if d.get("stratum") is not None:
        lines.append(f"层 / stratum: {d['stratum']}")
    if d.get("ticket"):
        lines.append(f"签号 / ticket: {d['ticket']}")
    if d.get("cutoff_ticket"):
        lines.append(f"本层抽取 {d.get('stratum_k')} / {d.get('stratum_n')}，截止签号 / cutoff "
                     f"(k={d.get('stratum_k')} of n={d.get('stratum_n')}): {d['cutoff_ticket']} ({d.get('cutoff_id')})")
    if v == "unknown":
        lines.append(f"尚无法判断。 / Cannot be determined yet: {d.get('why')}")
    elif v == "not_in_pool":
        lines.append("不在本次抽查的对象库中（不在抽查范围或在准备前已变更）。 / Not in this draw's pool (outside the "
                     "plan's scope, or changed in the registry before the draw was prepared).")
    elif v == "excluded":
        r = d.get("excluded_reason")
        would = d.get("would_have_been_drawn")
        lines.append(f"抽签前已排除，原因：{EXCLUDED_ZH.get(str(r), r)}。 / Excluded before the draw: {r}.")
        if would is not None:
            lines.append(("若未排除，其签号在截止签号以内，本会被抽中。 / Had it not been excluded, its ticket is within "
                          "the cutoff: it would have been drawn.") if would else
                         ("即使未排除，其签号也在截止签号之后，不会被抽中。 / Even if not excluded, its ticket is above "
                          "the cutoff: it would not have been drawn."))
    elif v == "drawn":
        lines.append("已被抽中：签号不大于本层截止签号。 / Drawn: its ticket is at or below its stratum's cutoff.")
    elif v == "above_cutoff":
        lines.append("未被抽中：签号大于本层截止签号。 / Not drawn: its ticket is above its stratum's cutoff.")
    elif v == "drawn_as_replacement":
        s = d["substituted_in"]
        lines.append(f"作为递补对象被抽中（替换 {s.get('leaving')}，原因 {s.get('reason')}），按本层递补顺序依次递补。 / "
                     f"Drawn as a replacement for {s.get('leaving')} ({s.get('reason')}), the next in its stratum's "
                     "replacement order.")
    if d.get("substituted_out"):
        s = d["substituted_out"]
        lines.append(f"抽中后被替换（原因 {s.get('reason')}），由 {s.get('incoming')} 递补。 / Replaced after the draw "
                     f"({s.get('reason')}) by {s.get('incoming')}.")
    if d.get("team"):
        lines.append(f"检查组 / team: {', '.join(d['team'])}" + (f"; 专家 / experts: {', '.join(d['experts'])}"
                                                               if d.get("experts") else ""))
    return "\n".join(lines)
