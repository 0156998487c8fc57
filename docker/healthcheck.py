"""Container HEALTHCHECK: ask the running role's own health endpoint.

The image runs several roles; PID 1's command line says which one, and so which port
(poller: WIREWATCH_POLLER_PORT, default 9100; worker: WIREWATCH_WORKER_WEB_PORT, default
6066). One-shot commands (setup, replay) have no endpoint and count as healthy.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path


def role_port(argv: list[str]) -> int | None:
    if "poll" in argv:
        return int(os.environ.get("WIREWATCH_POLLER_PORT", "9100"))
    if "worker" in argv:
        return int(os.environ.get("WIREWATCH_WORKER_WEB_PORT", "6066"))
    return None


def main() -> int:
    try:
        argv = Path("/proc/1/cmdline").read_bytes().decode().split("\0")
    except OSError:
        argv = []
    port = role_port(argv)
    if port is None:
        return 0
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as resp:
            return 0 if resp.status == 200 else 1
    except OSError as exc:
        print(f"healthz on port {port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
