"""Shared helpers for the benchmarks: timing medians, memory, machine facts, tables, JSON.

Every figure a benchmark reports is a median over several runs, and every claim is a
ratio against a floor or a peer measured in the same process run, because the machines
these run on are small, shared and noisy.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "out"


def out_path(name: str) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUT_DIR / name


# --- machine -------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


# --- timing --------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of `values`."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def time_call(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def rate_runs(fn: Callable[[int], Any], n: int, runs: int = 5, warmup: bool = True) -> list[float]:
    """Operations per second of `fn(n)` (which performs n operations), once per run."""
    if warmup:
        fn(max(1, n // 10))
    rates = []
    for _ in range(runs):
        elapsed = time_call(lambda: fn(n))
        rates.append(n / elapsed)
    return rates


def per_call_times(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Seconds of each of `repeat` calls of fn."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


# --- memory --------------------------------------------------------------------------


def rss_mb() -> float:
    """Current resident set size of this process, MiB (Linux /proc; falls back to peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident set size of this process (or of its reaped children), MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


# --- results -------------------------------------------------------------------------


@dataclass
class Result:
    """One reported figure: a median of `runs`, its unit, and how it compares."""

    name: str
    value: float
    unit: str
    runs: list[float] = field(default_factory=list)
    ratio: float | None = None  # value / reference, when a reference exists
    ratio_to: str = ""  # what the ratio is against
    target: str = ""  # the target, in words
    met: bool | None = None  # whether the target is met (None: no target)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def fmt_value(v: float | None) -> str:
    if v is None:
        return "-"
    if v != v:  # NaN
        return "n/a"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def print_table(results: Iterable[Result], title: str = "", file: Any = None) -> None:
    file = file or sys.stdout
    rows = [("figure", "median", "unit", "ratio", "target", "met")]
    for r in results:
        ratio = "-" if r.ratio is None else f"{r.ratio:.3g}x {r.ratio_to}".strip()
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        rows.append((r.name, fmt_value(r.value), r.unit, ratio, r.target or "-", met))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    if title:
        print(f"\n== {title} ==", file=file)
    for i, row in enumerate(rows):
        cells = [row[j].rjust(widths[j]) if j in (1,) else row[j].ljust(widths[j]) for j in range(len(row))]
        print("  ".join(cells).rstrip(), file=file)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=file)
    file.flush()


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)

    def default(o: Any) -> Any:
        if isinstance(o, Result):
            return o.to_json()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"cannot encode {type(o).__name__}")

    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=default) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def log(msg: str) -> None:
    """Progress to stderr, so stdout stays the result table."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def published_result(tx: Any, signer: Any, categories: list[str], *, tid: str, dept: str, subject: str, subject_name: str,
                     check: str, item: str, department_name: str) -> dict[str, Any]:
    """Append a result's entered, confirmed and published entries for a benchmark's bulk data and
    return its `ins_results` row (the shape the service writes), so pages read it as real."""
    import secrets

    from drawsvc.inspections.service import commitment

    rid = f"{tid}:{dept}"
    content = {"result_id": rid, "task_id": tid, "department": dept, "kind": "random", "draw_id": None,
               "trigger": None, "subject": subject, "subject_name": subject_name, "check_date": check,
               "items": [item], "categories": categories, "category_labels": [],
               "findings": "检查情况", "evaluation": "评价", "handling_opinion": "处理意见",
               "follow_up": {"kind": "none", "label": "无需后续处置", "note": ""}, "version": 1}
    salt = secrets.token_bytes(32)
    c = commitment(content, salt)
    tx.append("inspection.result.entered", {"result_id": rid, "task_id": tid, "department": dept, "version": 1,
                                            "commitment": c, "corrects": None}, signer)
    tx.append("inspection.result.confirmed", {"result_id": rid, "version": 1, "commitment": c}, signer)
    pe = tx.append("inspection.result.published", {"result_id": rid, "version": 1, "content": content,
                                                   "salt": salt.hex(), "published_date": check}, signer)
    public = {**content, "published_date": check, "published_seq": pe.seq, "department_name": department_name}
    return {"id": rid, "task_id": tid, "department": dept, "subject": subject, "subject_name": subject_name,
            "status": "published", "version": 1, "entered_by": "system", "confirmed_by": "system",
            "check_date": check, "report_date": check, "published_date": check, "published_version": 1,
            "published_seq": pe.seq, "doc": json.dumps(content, ensure_ascii=False),
            "public_doc": json.dumps(public, ensure_ascii=False), "seq": pe.seq}
