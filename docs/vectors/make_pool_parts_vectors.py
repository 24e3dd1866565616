"""Generate docs/vectors/draw-pool-parts.json (docs/SPEC.md §D12.1): a subject pool in parts.

    .venv/bin/python docs/vectors/make_pool_parts_vectors.py          # write the file
    .venv/bin/python docs/vectors/make_pool_parts_vectors.py --check  # fail if it would change

Input: 11 subject records (names JCS must escape among them: a quote, a backslash, a control
character, non-ASCII) cut in parts of 4 (a tiny part size, stated in the description as any
bundle states it). Outputs: each part's bytes (as text), record count, SHA-256 and subtree root;
the bundle's `pool_parts.subjects` description; the pool's commitment (§D4), whose root the
part roots fold to; and malformed descriptions with the finding a verifier must report.
tests/draws/test_pool_parts.py reproduces the file with the server's code;
tests/verifier/test_vf_pool_parts_vectors.py checks it with the verifier's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from drawsvc.draw.pool import commit_pool  # noqa: E402
from drawsvc.draws.pool_parts import ENCODING, describe, encode_part  # noqa: E402
from ledger.merkle import leaf_hash, root_from_leaf_hashes  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "draw-pool-parts.json"
PART_SIZE = 4
NAMES = ["广州市泰隆健康有限公司", 'say "hi" 商行', "back\\slash 餐饮", "tab\there", "plain", "a/b", "é", "bell\x07",
         "深圳市宝安区平安超市", "😀 emoji", "last"]


def records() -> list[dict[str, str]]:
    """Eleven records in id byte order, strata A-D."""
    return [{"id": f"91440101MA{i:02d}X{i % 3}", "name": n, "stratum": "ABCD"[i % 4]} for i, n in enumerate(NAMES)]


def build() -> dict[str, Any]:
    recs = records()
    parts = [encode_part([r["id"] for r in recs[lo:lo + PART_SIZE]], [r["name"] for r in recs[lo:lo + PART_SIZE]],
                         [r["stratum"] for r in recs[lo:lo + PART_SIZE]]) for lo in range(0, len(recs), PART_SIZE)]
    desc, _ = describe(parts, PART_SIZE)
    out_parts = []
    for data in parts:
        leaves = [leaf_hash(line) for line in data.split(b"\n")[:-1]]
        out_parts.append({"text": data.decode("utf-8"), "records": len(leaves),
                          "sha256": hashlib.sha256(data).hexdigest(), "root": root_from_leaf_hashes(leaves).hex()})
    good = dict(desc)
    bad = [
        {"why": "part_size not a power of two", "description": {**good, "part_size": 6}, "finding": "POOL_PARTS_INVALID"},
        {"why": "a part other than the last not full", "finding": "POOL_PARTS_INVALID",
         "description": {**good, "parts": [{**good["parts"][0], "records": 3}] + good["parts"][1:]}},
        {"why": "the last part over the part size", "finding": "POOL_PARTS_INVALID",
         "description": {**good, "parts": good["parts"][:-1] + [{**good["parts"][-1], "records": 5}]}},
        {"why": "another encoding", "description": {**good, "encoding": "spotcheck-pool-part/0"},
         "finding": "POOL_PARTS_INVALID"},
    ]
    return {
        "description": "docs/SPEC.md §D12.1: the subject pool in parts of part_size records, each part the leaves "
                       "JCS(record) + LF of its records; full parts are aligned subtrees whose roots fold to the root",
        "inputs": {"records": recs, "part_size": PART_SIZE},
        "outputs": {"encoding": ENCODING, "parts": out_parts, "pool_parts": {"subjects": desc},
                    "commitment": commit_pool(recs).to_json(), "malformed": bad},
    }


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = dump(build())
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT.name} is stale: re-run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
