"""Reports computed from the log alone, so anyone holding the log can re-compute every figure.

`fold(entries)` is a pure function over log entries (dicts with seq, time, type, payload, as
served by GET /api/v1/log/entries); `build(fold, kind, year, ...)` turns it into:

- `monthly`: the 月报表 of seed 001's annex (一: rules issued, item list and registries in
  place; 二: per item the ratio, subjects checked, problems found, results published);
- `half-year` / `annual`: the summaries (001: 9月6日 / 11月30日), with checks per month,
  results by category, checks by credit class, by kind (random / not random), joint checks,
  publication on time, answers and the use of results;
- `plan-execution`: last year's plan execution (003 第二十三条): the draws (subjects and
  inspectors drawn), time, process and results of the checks, feedback, the subjects'
  opinions, the use of results.

While folding, each published result is checked against the commitment entered for that
version: a mismatch is reported under `verification.broken` (the figures would not be
trustworthy). Results not yet published count as entered or pending only: their content is
sealed on the log, so "problems found" covers published results.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import or_, select

from drawsvc.i18n import tr
from drawsvc.raises import raises
from drawsvc.registry.authz import Forbidden
from ledger.schema import log_entries

from . import categories as cats
from .errors import StateError
from .workdays import WorkCalendar, loaded_from_docs

TYPES = ("inspection.", "draw.prepared", "draw.drawn", "draw.published", "registry.item.", "registry.subject.",
         "registry.inspector.", "registry.plan.", "registry.department.")
CHINA = timedelta(hours=8)
MONTHLY_TITLE = "市场监管领域部门联合“双随机、一公开”抽查工作月报表"


_DAYS: dict[str, str] = {}


def _day(entry_time: str) -> str:
    """The Beijing calendar day of an entry's UTC time (memoised per UTC day and half: folds are hot)."""
    key = entry_time[:10] + ("+" if entry_time[11:13] >= "16" else "")
    hit = _DAYS.get(key)
    if hit is None:
        hit = _DAYS[key] = (datetime.strptime(entry_time[:19], "%Y-%m-%dT%H:%M:%S") + CHINA).date().isoformat()
    return hit


def _opens(content: Any, salt: bytes, expected: str, slow: Any) -> bool:
    """Does (content, salt) open the commitment? orjson's sorted compact form equals JCS for the
    ASCII-keyed objects of integers and strings a result holds, and is much faster; anything that
    does not match that way is re-checked with the reference canonicaliser before being called broken."""
    from .service import COMMIT_TAG

    fast = hashlib.sha256(COMMIT_TAG + salt + orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return fast == expected or slow(content, salt) == expected


@dataclass
class Fold:
    size: int = 0
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    draws: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    subjects: dict[str, str] = field(default_factory=dict)  # code -> credit class
    inspectors: dict[str, str] = field(default_factory=dict)  # id -> department
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    categories: dict[str, dict[str, Any]] = field(default_factory=lambda: {c["code"]: cats._row(c) for c in cats.BUILTIN})
    calendar_docs: list[dict[str, Any]] = field(default_factory=list)
    credit_links: list[dict[str, Any]] = field(default_factory=list)
    disclosures: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)

    def apply(self, seq: int, time: str, etype: str, p: Mapping[str, Any]) -> None:
        self.size = max(self.size, seq + 1)
        if etype.startswith("registry."):
            self._registry(etype, p)
        elif etype.startswith("draw."):
            self._draw(time, etype, p)
        elif etype.startswith("inspection."):
            self._inspection(time, etype, p)

    def _registry(self, etype: str, p: Mapping[str, Any]) -> None:
        kind = etype.split(".")[1]
        if p.get("removed"):
            {"item": self.items, "subject": self.subjects, "inspector": self.inspectors,
             "plan": self.plans, "department": self.departments}.get(kind, {}).pop(p["id"], None)
            return
        s = p.get("state") or {}
        if kind == "item":
            self.items[p["id"]] = s
        elif kind == "subject":
            self.subjects[p["id"]] = s.get("credit_class", "B")
        elif kind == "inspector":
            self.inspectors[p["id"]] = s.get("department", "")
        elif kind == "plan":
            self.plans[p["id"]] = s
        elif kind == "department":
            self.departments[p["id"]] = s

    def _draw(self, time: str, etype: str, p: Mapping[str, Any]) -> None:
        if etype == "draw.prepared":
            self.draws[p["draw_id"]] = {"id": p["draw_id"], "department": p["department"], "plan": p["plan"],
                                        "year": p["plan_year"], "draw_date": p["draw_date"],
                                        "items": [i["code"] for i in p["items"]],
                                        "ratios": p["parameters"].get("ratios", {}),
                                        "subjects_in_pool": p["pools"]["subjects"].get("size"),
                                        "inspectors_in_pool": p["pools"]["inspectors"].get("size")}
        elif etype == "draw.drawn" and p["draw_id"] in self.draws:
            self.draws[p["draw_id"]]["sizes"] = p.get("sizes")
        elif etype == "draw.published" and p["draw_id"] in self.draws:
            self.draws[p["draw_id"]]["published_date"] = _day(time)

    def _inspection(self, time: str, etype: str, p: Mapping[str, Any]) -> None:
        day = _day(time)
        if etype == "inspection.task.created":
            self.tasks[p["task_id"]] = {
                "id": p["task_id"], "department": p["department"], "departments": p["departments"],
                "kind": p["kind"], "trigger": p.get("trigger"), "year": p["year"], "draw_id": p.get("draw_id"),
                "items": [i["code"] for i in p["items"]], "subject": p.get("subject"), "created": day,
                "check_date": None, "team": p.get("team")}
        elif etype == "inspection.task.checked":
            t = self.tasks.get(p["task_id"])
            if t is not None:
                t["check_date"] = p["check_date"]
        elif etype == "inspection.result.entered":
            r = self.results.setdefault(p["result_id"], {
                "id": p["result_id"], "task_id": p["task_id"], "department": p["department"], "first_entered": day,
                "versions": {}, "confirmed": {}, "published": None, "answers": [], "followups": [], "closed": None,
                "penalty_published": None, "status": "pending"})
            r["versions"][p["version"]] = p["commitment"]
            r["status"] = "pending"
        elif etype in ("inspection.result.confirmed", "inspection.result.returned"):
            r = self.results.get(p["result_id"])
            if r is not None:
                r["status"] = "confirmed" if etype.endswith("confirmed") else "returned"
                if etype.endswith("confirmed"):
                    r["confirmed"][p["version"]] = day
        elif etype == "inspection.result.published":
            self._published(day, p)
        elif etype == "inspection.result.answered":
            r = self.results.get(p["result_id"])
            if r is not None:
                r["answers"].append({"received_on": p["received_on"], "within_deadline": p.get("within_deadline")})
        elif etype == "inspection.followup.recorded":
            r = self.results.get(p["result_id"])
            if r is not None:
                r["followups"].append(p["kind"])
        elif etype == "inspection.followup.closed":
            r = self.results.get(p["result_id"])
            if r is not None:
                r["closed"] = {"outcome": p["outcome"], "decision_date": p["decision_date"]}
        elif etype == "inspection.penalty.published":
            r = self.results.get(p["result_id"])
            if r is not None:
                r["penalty_published"] = day
        elif etype == "inspection.credit.linked":
            self.credit_links.append({"result_id": p["result_id"], "subject": p["subject"], "changed": p["changed"]})
        elif etype == "inspection.settings.changed":
            self.settings[p["department"]] = p["state"]
        elif etype == "inspection.category.added":
            self.categories[p["code"]] = cats._row(p["state"])
        elif etype == "inspection.calendar.loaded":
            self.calendar_docs = [d for d in self.calendar_docs if d["year"] != p["year"]] + [dict(p)]
        elif etype == "inspection.disclosure.published":
            self.disclosures[(p["department"], p["year"])] = {"sha256": p["sha256"], "date": p["published_date"]}

    def _published(self, day: str, p: Mapping[str, Any]) -> None:
        from .service import commitment

        r = self.results.get(p["result_id"])
        if r is None:
            self.broken.append(f"{p['result_id']}: published without an entry")
            return
        expected = r["versions"].get(p["version"])
        if expected is None or not _opens(p["content"], bytes.fromhex(p["salt"]), expected, commitment):
            self.broken.append(f"{p['result_id']} v{p['version']}: content does not open the entered commitment")
        if p["version"] not in r["confirmed"]:
            self.broken.append(f"{p['result_id']} v{p['version']}: published without confirmation")
        r["published"] = {"version": p["version"], "date": p.get("published_date", day), "content": p["content"]}
        r["status"] = "published"
        t = self.tasks.get(r["task_id"])
        if t is not None:
            if t.get("subject") is None and p.get("task_opening"):
                t["subject"] = p["task_opening"]["content"]["subject"]
            if t["check_date"] is None:
                t["check_date"] = p["content"]["check_date"]

    def calendar(self) -> WorkCalendar:
        return WorkCalendar(loaded_from_docs(self.calendar_docs))


def fold(entries: Iterable[Mapping[str, Any]]) -> Fold:
    f = Fold()
    for e in entries:
        f.apply(e["seq"], e["time"], e["type"], e["payload"])
    return f


def fold_ledger(ledger: Any, upto: int | None = None, chunk: int = 20000,
                progress: Callable[[float], None] | None = None) -> Fold:
    """Read the relevant entries of the log (by their type column) and fold them; `progress`
    (a background job's) hears the fraction of the log read so far."""
    f = Fold()
    end = ledger.size() if upto is None else upto
    conds = [log_entries.c.type.startswith(t) for t in TYPES]
    with ledger.engine.connect() as conn:
        start = 0
        while start < end:
            stop = min(start + chunk * 5, end)
            rows = conn.execute(select(log_entries.c.leaf).where(
                log_entries.c.seq >= start, log_entries.c.seq < stop, or_(*conds)).order_by(log_entries.c.seq))
            loads = orjson.loads  # several times faster than json on the report's hot path
            for (leaf,) in rows:
                e = loads(leaf)
                f.apply(e["seq"], e["time"], e["type"], e["payload"])
            start = stop
            if progress is not None:
                progress(start / end)
    f.size = max(f.size, end)
    return f


# --- building reports ------------------------------------------------------------------------


def _period(kind: str, year: int, month: int, half: int) -> tuple[str, str, str]:
    if kind == "monthly":
        if not 1 <= month <= 12:
            raise ValueError(tr("month 应为 1–12"))
        end = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
        return f"{year}-{month:02d}-01", end.isoformat(), f"{year}年{month}月"
    if kind == "half-year":
        if half not in (1, 2):
            raise ValueError(tr("half 应为 1 或 2"))
        return (f"{year}-01-01", f"{year}-06-30", f"{year}年上半年") if half == 1 else \
            (f"{year}-07-01", f"{year}-12-31", f"{year}年下半年")
    return f"{year}-01-01", f"{year}-12-31", f"{year}年度"


def _ratio(f: Fold, item: str, year: int) -> str:
    """The sampling ratio applied to an item: the ratios of the draws (or plans) covering it."""
    ratios: set[str] = set()
    for d in f.draws.values():
        if item in d["items"] and d["year"] == year and d["ratios"]:
            ratios.add(" ".join(f"{k}{_pct(v)}" for k, v in sorted(d["ratios"].items())))
    if not ratios:
        for p in f.plans.values():
            if item in p.get("items", []) and p.get("year") == year and p.get("ratios_bp"):
                ratios.add(" ".join(f"{k}{v / 100:g}%" for k, v in sorted(p["ratios_bp"].items())))
    return "；".join(sorted(ratios)) or "—"


def _pct(v: Any) -> str:
    try:
        return f"{float(v) * 100:g}%"
    except (TypeError, ValueError):
        return str(v)


def _in_dept(f: Fold, dept: str | None, *depts: str) -> bool:
    if dept is None:
        return True
    return any(d == dept or f.departments.get(d, {}).get("parent") == dept for d in depts)


def build(f: Fold, kind: str, year: int, month: int = 0, half: int = 0, department: str | None = None) -> dict[str, Any]:
    start, end, label = _period(kind, year, month, half)
    table = f.categories
    cal = f.calendar()

    def within(d: str | None) -> bool:
        return d is not None and start <= d <= end

    tasks = [t for t in f.tasks.values() if _in_dept(f, department, t["department"], *t["departments"])]
    checked = [t for t in tasks if within(t["check_date"])]
    results = [r for r in f.results.values() if _in_dept(f, department, r["department"])]
    pub = [r for r in results if r["published"] and within(r["published"]["date"])]
    checked_pub = [r for r in results if r["published"] and within(r["published"]["content"]["check_date"])]
    problems = [r for r in checked_pub if cats.has_problem(r["published"]["content"]["categories"], table)]

    items = sorted({c for t in tasks for c in t["items"]} | {c for c, it in f.items.items()
                                                             if _in_dept(f, department, it.get("department", ""))})
    rows = []
    for code in items:
        it = f.items.get(code, {})
        if department and not _in_dept(f, department, it.get("department", "")):
            continue
        rows.append({
            "item_code": code, "item_name": it.get("name", code), "ratio": _ratio(f, code, year),
            "checked": len({t["id"] for t in checked if code in t["items"]}),
            "problems": sum(1 for r in problems if code in r["published"]["content"]["items"]),
            "published": sum(1 for r in pub if code in r["published"]["content"]["items"]),
        })
    totals = {"checked": len(checked), "problems": len(problems), "published": len(pub),
              "entered": sum(1 for r in results if within(r["first_entered"])),
              "pending": sum(1 for r in results if r["status"] in ("pending", "returned", "confirmed"))}
    rules = []
    for d, s in f.settings.items():
        if _in_dept(f, department, d):
            rules += [f"《{x['title']}》{x.get('number', '')}" for x in s.get("rules", [])]
    active_items = [c for c, it in f.items.items() if it.get("status", "active") == "active"
                    and _in_dept(f, department, it.get("department", ""))]
    dept_inspectors = [i for i, d in f.inspectors.items() if _in_dept(f, department, d)]
    section1 = [
        {"no": 1, "question": "是否已出台工作细则和工作指引（注明文件名称及文号）",
         "answer": ("是：" + "、".join(rules)) if rules else "否（未登记）"},
        {"no": 2, "question": "是否建立随机抽查事项清单并完成录入",
         "answer": f"是（{len(active_items)}项）" if active_items else "否"},
        {"no": 3, "question": "是否建立市场主体名录库和执法人员库并完成录入",
         "answer": f"是（市场主体{len(f.subjects)}户，执法检查人员{len(dept_inspectors)}人）"
         if f.subjects and dept_inspectors else "否"},
    ]
    by_month = Counter(t["check_date"][:7] for t in checked)
    months = sorted({start[:7], end[:7]} | set(by_month))
    month_keys = []
    y, m = int(start[:4]), int(start[5:7])
    while f"{y}-{m:02d}" <= end[:7]:
        month_keys.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    del months
    by_cat: Counter[str] = Counter()
    for r in checked_pub:
        for c in r["published"]["content"]["categories"]:
            by_cat[table.get(c, {}).get("label", c)] += 1
    by_class = Counter(f.subjects.get(t["subject"] or "", "?") for t in checked)
    rep: dict[str, Any] = {
        "kind": kind, "year": year, "month": month or None, "half": half or None,
        "department": department,
        "department_name": (f.departments.get(department or "", {}) or {}).get("name") if department else "全部部门",
        "title": f"{MONTHLY_TITLE}（{label}）" if kind == "monthly" else
        f"“双随机、一公开”抽查工作{'半年' if kind == 'half-year' else '年度'}总结（{label}）" if kind != "plan-execution"
        else f"{year}年度随机抽查计划执行情况公开",
        "period": {"start": start, "end": end, "label": label},
        "section1": section1, "rows": rows, "totals": totals,
        "charts": {"checks_per_month": {k: by_month.get(k, 0) for k in month_keys},
                   "results_by_category": dict(by_cat.most_common()),
                   "checks_by_credit_class": {k: by_class.get(k, 0) for k in ("A", "B", "C", "D") if by_class.get(k)}},
        "verification": {"log_size": f.size, "broken": f.broken[:100],
                         "how": "GET /api/v1/log/entries 全量读取并按 drawsvc.inspections.reports.fold 重算"},
    }
    if kind != "monthly":
        rep["summary"] = _summary(f, cal, tasks, checked, results, pub, within, department)
    if kind == "plan-execution":
        rep["plan_execution"] = _plan_execution(f, year, department, tasks, results)
    return rep


def _summary(f: Fold, cal: WorkCalendar, tasks: list, checked: list, results: list, pub: list, within: Any,
             department: str | None) -> dict[str, Any]:
    on_time = approximate = 0
    for r in pub:
        days = int(f.settings.get(r["department"], {}).get("publish_days", 20))
        due = cal.add(date.fromisoformat(r["first_entered"]), days)
        on_time += date.fromisoformat(r["published"]["date"]) <= due
        approximate += cal.approximate(due)  # counted Monday-Friday: that year's holidays are unknown
    answers = [a for r in results for a in r["answers"] if within(a["received_on"])]
    closed = Counter(r["closed"]["outcome"] for r in results if r["closed"] and within(r["closed"]["decision_date"]))
    result_ids = {r["id"] for r in results}
    return {
        "tasks_created": sum(1 for t in tasks if within(t["created"])),
        "checks": len(checked),
        "checks_by_kind": dict(Counter(t["kind"] for t in checked)),
        "not_random_by_trigger": dict(Counter(t["trigger"] for t in checked if t["kind"] == "not_random")),
        "joint_checks": sum(1 for t in checked if len(t["departments"]) > 1),
        "draws": sum(1 for d in f.draws.values() if within(d.get("published_date"))
                     and _in_dept(f, department, d["department"])),
        "published": len(pub), "published_on_time": on_time, "deadlines_approximate": approximate,
        "answers": len(answers),
        "follow_up_ends": {cats.FOLLOW_UP_ENDS.get(k, k): v for k, v in closed.items()},
        "credit_links": sum(1 for c in f.credit_links if c["result_id"] in result_ids),
    }


def _plan_execution(f: Fold, year: int, department: str | None, tasks: list, results: list) -> dict[str, Any]:
    draws = [d for d in f.draws.values() if d["year"] == year and d.get("published_date")
             and _in_dept(f, department, d["department"])]
    year_tasks = [t for t in tasks if t["year"] == year]
    dates = sorted(t["check_date"] for t in year_tasks if t["check_date"])
    ids = {t["id"] for t in year_tasks}
    res = [r for r in results if r["task_id"] in ids]
    return {
        "draws": [{"draw_id": d["id"], "plan": d["plan"], "draw_date": d["draw_date"],
                   "published_date": d.get("published_date"), "subjects_in_pool": d.get("subjects_in_pool"),
                   "subjects_drawn": sum((d.get("sizes") or {}).values()) if isinstance(d.get("sizes"), dict) else None,
                   "inspectors_in_pool": d.get("inspectors_in_pool")} for d in draws],
        "checks": {"count": len(dates), "first": dates[0] if dates else None, "last": dates[-1] if dates else None,
                   "not_random": sum(1 for t in year_tasks if t["kind"] == "not_random")},
        "results": {"entered": len(res), "published": sum(1 for r in res if r["published"])},
        "feedback": {"answers": sum(len(r["answers"]) for r in res)},
        "use_of_results": {"follow_up_ends": dict(Counter(r["closed"]["outcome"] for r in res if r["closed"])),
                           "credit_links": sum(1 for c in f.credit_links if c["result_id"] in {r["id"] for r in res})},
    }


@raises(Forbidden, StateError)
def publish_disclosure(svc: Any, actor: Any, department: str, year: int) -> dict[str, Any]:
    """Publish a department's plan execution of `year` (003 第二十三条), computed from the log; the
    report's SHA-256 and summary go on the log."""
    import hashlib

    from sqlalchemy import insert

    from ledger.canonical import canonical_bytes

    from . import schema

    svc.may_operate(actor, department)
    if year >= svc.today().year:
        raise StateError(tr("只能公开已结束年度的计划执行情况"))
    rep = build(fold_ledger(svc.ledger), "plan-execution", year, department=department)
    rep.pop("verification", None)
    sha = hashlib.sha256(canonical_bytes(json.loads(json.dumps(rep)))).hexdigest()
    today = svc.today().isoformat()
    with svc.ledger.transaction() as tx:
        exists = tx.conn.execute(select(schema.disclosures.c.seq).where(
            schema.disclosures.c.department == department, schema.disclosures.c.year == year)).first()
        if exists is not None:
            raise StateError(tr("%(department)s %(year)s 年度执行情况已公开", department=department, year=year))
        entry = tx.append("inspection.disclosure.published", {
            "department": department, "year": year, "sha256": sha, "published_date": today,
            "summary": rep["summary"], "plan_execution": rep["plan_execution"]}, svc._signer(actor))
        tx.conn.execute(insert(schema.disclosures).values(department=department, year=year, published_date=today,
                                                          sha256=sha, doc=json.dumps(rep, ensure_ascii=False),
                                                          seq=entry.seq))
    return {"department": department, "year": year, "sha256": sha, "seq": entry.seq, "report": rep}


def by_department(f: Fold) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for t in f.tasks.values():
        out[t["department"]] += 1
    return dict(out)
