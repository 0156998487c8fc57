"""The secured local stack beside the plain one: start time and idle memory, with the ratio.

    .venv/bin/python bench/bench_secure_stack.py [--rounds 1] [--idle-s 20]

Each round starts a plain stack and then a secured one (`stack up --secure`), each in a fresh
state dir on free ports with the warm shared cache, so both format Kafka's storage and
bootstrap a new Elasticsearch cluster as on a first `stack up`. The secured start includes
making the CA and certificate, the SCRAM users and the ACLs. After ``--idle-s`` seconds with
no traffic the resident set of each server is read. The two run one after the other, never
together, so they do not compete for the cores (the machine's other load still does: run
it twice and compare). Stops everything it starts.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.index.templates import hunspell_dictionaries
from pipeline.settings import Settings
from pipeline.stack import scratch_stack

HEAP = "512m"


def _measure(state: Path, secure: bool, idle_s: float) -> dict[str, float]:
    stack = scratch_stack(
        state,
        Settings(),
        kafka_heap=HEAP,
        es_heap=HEAP,
        hunspell=hunspell_dictionaries(),
        secure=secure,
    )
    started = time.perf_counter()
    try:
        stack.up()
        up_s = time.perf_counter() - started
        time.sleep(idle_s)  # idle on purpose: memory at rest is the figure
        rss = {s.name: (s.rss_bytes or 0) / 2**20 for s in stack.status()}
    finally:
        stack.down()
    return {"up_s": up_s, "kafka_mib": rss["kafka"], "es_mib": rss["elasticsearch"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--idle-s", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wirewatch-bench-secure-"))
    work.chmod(0o755)  # Elasticsearch runs as another user when we are root
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "secured": []}
    try:
        for round_ in range(args.rounds):
            for name in ("plain", "secured"):
                state = work / f"{name}-{round_}"
                runs[name].append(_measure(state, name == "secured", args.idle_s))
                shutil.rmtree(state, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'figure':<24} {'plain':>10} {'secured':>10} {'ratio':>7}   (median of {args.rounds})")
    for key, label, unit in (
        ("up_s", "stack up (fresh state)", "s"),
        ("kafka_mib", "idle RSS kafka", "MiB"),
        ("es_mib", "idle RSS elasticsearch", "MiB"),
    ):
        plain = statistics.median(r[key] for r in runs["plain"])
        secured = statistics.median(r[key] for r in runs["secured"])
        print(f"{label:<24} {plain:8.1f}{unit:>2} {secured:8.1f}{unit:>2} {secured / plain:6.2f}x")


if __name__ == "__main__":
    main()
