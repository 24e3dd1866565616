"""Run every benchmark: each benchmarks/bench_*.py that defines `main(argv)`.

    .venv/bin/python -m benchmarks.run_all --quick     # smoke run of every benchmark
    .venv/bin/python -m benchmarks.run_all             # full runs (see docs/PERFORMANCE.md)
    .venv/bin/python -m benchmarks.run_all --only ledger --no-pg

Each module runs in its own child process (`main(argv)` with the arguments below passed
through), so one benchmark's memory, threads or process pools cannot skew the next, and
one failing does not stop the rest. Exit status 1 if any failed.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The child: import the module and call main(argv); a main() without parameters reads
# sys.argv instead, so it gets the same arguments.
RUNNER = (
    "import importlib, inspect, sys\n"
    "name, argv = sys.argv[1], sys.argv[2:]\n"
    "mod = importlib.import_module(name)\n"
    "if inspect.signature(mod.main).parameters:\n"
    "    rc = mod.main(argv)\n"
    "else:\n"
    "    sys.argv = [name, *argv]\n"
    "    rc = mod.main()\n"
    "sys.exit(rc if isinstance(rc, int) else 0)\n"
)


def supported(name: str, flag: str) -> bool:
    """Whether bench_<name>.py mentions `flag` (so passing it will not be an argparse error)."""
    return f'"{flag}"' in (HERE / f"bench_{name}.py").read_text(encoding="utf-8")


def discover() -> list[str]:
    """Names (e.g. 'ledger') of bench_*.py modules with a top-level `def main`."""
    names = []
    for path in sorted(HERE.glob("bench_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except SyntaxError as exc:
            print(f"run_all: {path.name} does not parse ({exc}); skipped", file=sys.stderr)
            continue
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            names.append(path.stem.removeprefix("bench_"))
        else:
            print(f"run_all: {path.name} has no main(argv); skipped", file=sys.stderr)
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="pass --quick to every benchmark (smoke run)")
    p.add_argument("--no-pg", action="store_true", help="pass --no-pg to every benchmark (skip PostgreSQL)")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="run only bench_NAME (repeatable)")
    p.add_argument("--list", action="store_true", help="list the benchmarks found and exit")
    args, extra = p.parse_known_args(argv)
    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            p.error(f"no such benchmark: {', '.join(unknown)} (found: {', '.join(names)})")
        names = [n for n in names if n in args.only]
    flags = (["--quick"] if args.quick else []) + (["--no-pg"] if args.no_pg else [])
    summary: list[tuple[str, int, float]] = []
    for name in names:
        passed = [f for f in flags if supported(name, f)] + extra
        for f in flags:
            if f not in passed:
                print(f"run_all: bench_{name} has no {f} option; running it without", file=sys.stderr)
        print(f"\n##### bench_{name} {' '.join(passed)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, "-c", RUNNER, f"benchmarks.bench_{name}", *passed],
                             cwd=HERE.parent)
        summary.append((name, rc, time.perf_counter() - t0))
    print("\n##### summary")
    for name, rc, secs in summary:
        print(f"bench_{name:<12} {'ok' if rc == 0 else f'FAILED (exit {rc})':<16} {secs:7.1f} s")
    return 0 if all(rc == 0 for _, rc, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
