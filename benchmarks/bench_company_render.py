"""An uncached company page, in-process (issue 13): what the publication-day crowd costs per page.

    python -m benchmarks.bench_company_render benchmarks/out/portal-100000-10000 [--pages 300] [--profile]

Uses an instance built by `benchmarks.bench_portal` (SQLite or `--postgres`). Each page is
requested once through the Flask test client after 20 others warmed the per-version memos, so
every timing is a first render: the registry read, the results read, the template. Reported:
median and 90th percentile per page. `--profile` prints a pyinstrument profile instead of
timing (pyinstrument is not a project dependency: install it to use this).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DRAWSVC_KEY_PASSPHRASE", "bench-passphrase")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("home", type=Path, help="a benchmarks/out/portal-* directory")
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()

    from drawsvc.instance import load
    from web import create_app

    codes = json.loads((args.home / "built.json").read_text())["companies"]
    client = create_app(load(args.home / "instance")).test_client()
    for code in codes[:20]:
        assert client.get(f"/public/companies/{code}").status_code == 200
    todo = codes[20:20 + args.pages]
    if args.profile:
        from pyinstrument import Profiler

        with Profiler() as prof:
            for code in todo:
                client.get(f"/public/companies/{code}")
        print(prof.output_text(unicode=True, color=False))
        return 0
    times = []
    for code in todo:
        t = time.perf_counter()
        status = client.get(f"/public/companies/{code}").status_code
        times.append(time.perf_counter() - t)
        if status != 200:
            print(f"{code}: HTTP {status}", file=sys.stderr)
            return 1
    times.sort()
    print(f"{len(times)} uncached company pages: median {times[len(times) // 2] * 1000:.2f} ms, "
          f"p90 {times[int(len(times) * 0.9)] * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
