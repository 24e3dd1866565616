"""One "host" of the service for tests/deploy: the web application of instance HOME on PORT, in a
process of its own, with its own clock.

argv: home listen start_iso skew_seconds. `listen` is "unix:///path" (a Unix socket: the host
may run in a network namespace of its own, with no network but its loopback, reached through
the socket by the test's balancer and reaching PostgreSQL through PostgreSQL's socket) or a
TCP port on 127.0.0.1. The process travels to `start_iso` + `skew_seconds` (time-machine,
ticking on) so its clock follows the test session's pinned moment; a negative skew plays a host
whose clock runs behind the others'. Serves with werkzeug's threaded server (the multi-worker
gunicorn path against PostgreSQL is tests/web/test_web_gunicorn.py). Prints "ready".
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import time_machine
from werkzeug.serving import make_server


def main() -> None:
    home, listen, start, skew = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    with time_machine.travel(datetime.fromisoformat(start) + timedelta(seconds=skew), tick=True):
        from drawsvc.instance import load
        from web import create_app

        app = create_app(load(home))
        if listen.startswith("unix://"):
            server = make_server(listen, 0, app, threaded=True)
        else:
            server = make_server("127.0.0.1", int(listen), app, threaded=True)
        print("ready", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
