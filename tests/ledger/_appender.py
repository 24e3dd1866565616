"""Child process for the kill and concurrency tests: append forever (or N entries).

argv: home count threads  (count 0 = until killed). Prints "ready" once keys are loaded.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from drawsvc.instance import load
from ledger.batcher import AppendBatcher


def main() -> None:
    home, count, threads = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    ledger = load(home).ledger()
    batcher = AppendBatcher(ledger, max_batch=64, checkpoint_interval=0.05)
    print("ready", flush=True)

    def work(tid: int) -> None:
        i = 0
        while count == 0 or i < count:
            futs = [batcher.submit("test.load", {"t": tid, "i": i + k, "pad": "x" * (i % 200)}, ledger.system)
                    for k in range(8)]
            for f in futs:
                f.result()
            i += 8
            if i % 40 == 0:  # also the unbatched path
                ledger.append("test.single", {"t": tid, "i": i}, ledger.system)

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    batcher.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
