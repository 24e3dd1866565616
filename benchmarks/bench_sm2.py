"""SM2 entry signatures (SPEC §3 item 11): what a second, 国密 signature costs per entry.

    .venv/bin/python -m benchmarks.bench_sm2            # 200 entries per figure, 5 runs
    .venv/bin/python -m benchmarks.bench_sm2 --quick    # 40 entries, 3 runs

Measured in one run, so the ratios compare like with like (median of the runs, ms per entry):
  * signing: `make_entry` for one actor with Ed25519 alone, and with Ed25519 + SM2 (snowland-smx,
    SM3, user id 1234567812345678) over the same payloads;
  * verifying: `verifier.log.verify_log` of the same log prefix followed by those entries — an
    Ed25519-only actor's, then an SM2 actor's (both signatures checked), per entry after the
    common prefix is taken off.

Prints a table and writes benchmarks/out/sm2.json.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from nacl.signing import SigningKey

from benchmarks.common import Result, machine_info, median, out_path, print_table, write_json
from ledger import sm2
from ledger.entry import GENESIS_PREV, Entry, make_entry
from ledger.note import NoteSigner
from verifier.log import LogOptions, verify_log

ORIGIN = "bench.example/sm2"
T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def _log(n: int, with_sm2: bool) -> tuple[list[dict[str, Any]], str]:
    """Genesis, the actor's key (and SM2 key), then n entries by the actor; the log verifier key."""
    system = SigningKey(bytes(range(32)))
    actor = SigningKey(hashlib.sha256(b"bench actor").digest())
    sm2_key = hashlib.sha256(b"bench actor sm2").digest()
    log_signer = NoteSigner(ORIGIN, SigningKey(bytes(range(32, 64))))
    import base64

    drafts: list[tuple[SigningKey, str, str, dict[str, Any], bytes | None]] = [
        (system, "system", "log.genesis", {"origin": ORIGIN, "log_key": log_signer.verifier.encode(),
                                           "system_key": base64.b64encode(bytes(system.verify_key)).decode()}, None),
        (system, "system", "actor.key.registered", {
            "actor_id": "user:bench", "key_id": hashlib.sha256(bytes(actor.verify_key)).hexdigest()[:16],
            "public_key": base64.b64encode(bytes(actor.verify_key)).decode()}, None),
    ]
    if with_sm2:
        drafts.append((system, "system", sm2.ACTOR_ENTRY_TYPE, sm2.actor_registration_payload("user:bench", sm2_key),
                       None))
    else:  # the same number of entries before the actor's
        drafts.append((system, "system", "registry.item.added", {"code": "pad"}, None))
    for i in range(n):
        drafts.append((actor, "user:bench", "registry.subject.added",
                       {"id": f"9144030000000{i:05d}", "name": "示例食品有限公司", "region": "440300"},
                       sm2_key if with_sm2 else None))
    out: list[Entry] = []
    prev = GENESIS_PREV
    for seq, (key, aid, typ, payload, sk) in enumerate(drafts):
        e = make_entry(seq=seq, moment=T0 + timedelta(seconds=seq), entry_type=typ, actor_id=aid, signing_key=key,
                       payload=payload, prev=prev, sm2_key=sk)
        out.append(e)
        prev = e.leaf_hash().hex()
    return [e.to_json() for e in out], log_signer.verifier.encode()


def _sign_ms(n: int, with_sm2: bool) -> float:
    key = SigningKey(hashlib.sha256(b"bench actor").digest())
    sk = hashlib.sha256(b"bench actor sm2").digest() if with_sm2 else None
    t = time.perf_counter()
    for i in range(n):
        make_entry(seq=i + 3, moment=T0, entry_type="registry.subject.added", actor_id="user:bench", signing_key=key,
                   payload={"id": f"9144030000000{i:05d}", "name": "示例食品有限公司", "region": "440300"},
                   prev="0" * 64, sm2_key=sk)
    return (time.perf_counter() - t) / n * 1000


def _verify_ms(entries: list[dict[str, Any]], key: str, n: int) -> float:
    t = time.perf_counter()
    rep = verify_log(entries, [], options=LogOptions(log_key=key, parallel=False))
    full = time.perf_counter() - t
    assert rep.ok, rep.to_text()
    t = time.perf_counter()
    verify_log(entries[:3], [], options=LogOptions(log_key=key, parallel=False))
    prefix = time.perf_counter() - t
    return (full - prefix) / n * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 entries, 3 runs")
    args = ap.parse_args(argv)
    n, runs = (40, 3) if args.quick else (200, 5)
    sign_ed = [_sign_ms(n, False) for _ in range(runs)]
    sign_both = [_sign_ms(n, True) for _ in range(runs)]
    ed_log, key = _log(n, False)
    sm2_log, _ = _log(n, True)
    ver_ed = [_verify_ms(ed_log, key, n) for _ in range(runs)]
    ver_both = [_verify_ms(sm2_log, key, n) for _ in range(runs)]
    results = [
        Result("sign entry, Ed25519 only", median(sign_ed), "ms/entry", sign_ed),
        Result("sign entry, Ed25519 + SM2", median(sign_both), "ms/entry", sign_both,
               ratio=median(sign_both) / median(sign_ed), ratio_to="Ed25519 only"),
        Result("verify entry, Ed25519 only", median(ver_ed), "ms/entry", ver_ed),
        Result("verify entry, Ed25519 + SM2", median(ver_both), "ms/entry", ver_both,
               ratio=median(ver_both) / median(ver_ed), ratio_to="Ed25519 only"),
    ]
    print_table(results, f"SM2 entry signatures ({n} entries, {runs} runs, median)")
    path = write_json(out_path("sm2.json"), {"machine": machine_info(), "entries": n, "runs": runs,
                                              "results": [r.__dict__ for r in results]})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
