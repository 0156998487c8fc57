"""Start-up time and idle memory of the managed local stack, beside baselines from the same run.

    .venv/bin/python bench/bench_stack.py [--no-cold] [--idle-s 20]

Cold: an empty temporary cache, so every pinned artifact is downloaded (about 170 MiB)
and verified, then both servers start. Warm: the same again with the cache filled, in a
fresh state dir (so Kafka formats its storage and Elasticsearch bootstraps a new cluster,
as on a first `stack up` after installing). Restart: `down` then `up` on the warm state.
Baselines: the cold start for the warm one, and a bare `java -version` for each server's
JVM (the floor any JVM server pays). Idle memory is the resident set of each server after
``--idle-s`` seconds with no traffic, beside its configured heap.
Uses random free ports and temporary directories; stops everything it starts.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.index.templates import hunspell_dictionaries
from pipeline.settings import Settings
from pipeline.stack import LocalStack, scratch_stack
from pipeline.stack.java import find_elasticsearch_java, find_kafka_java

HEAP = "512m"


def _stack(state: Path, cache: Path) -> LocalStack:
    return scratch_stack(
        state,
        cache_dir=cache,
        kafka_heap=HEAP,
        es_heap=HEAP,
        hunspell=hunspell_dictionaries(),
    )


def _timed_up(stack: LocalStack) -> float:
    started = time.perf_counter()
    stack.up()
    return time.perf_counter() - started


def _java_version_s(java: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(java), "-version"], capture_output=True, check=True)
    return time.perf_counter() - started


def _row(name: str, value: float, unit: str, baseline: float | None, label: str) -> None:
    ratio = f"{value / baseline:6.2f}x" if baseline else "      -"
    base = f"{baseline:8.2f} {unit}" if baseline is not None else " " * 11
    print(f"{name:<28} {value:8.2f} {unit}  {base}  {ratio}  ({label})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cold", action="store_true", help="skip the download run")
    parser.add_argument("--idle-s", type=float, default=20.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wirewatch-bench-stack-"))
    work.chmod(0o755)
    shared_cache = Settings().cache_dir
    kafka_java = find_kafka_java()
    es_java = find_elasticsearch_java(Settings().es_java_home)
    print(f"Kafka JVM {kafka_java.version}, Elasticsearch JVM {es_java.version}, heaps {HEAP}")
    print(f"{'figure':<28} {'value':>10}  {'baseline':>11}  {'ratio':>7}")
    try:
        cold_s: float | None = None
        if not args.no_cold:
            cold = _stack(work / "cold", work / "empty-cache")
            try:
                cold_s = _timed_up(cold)
            finally:
                cold.down()
            shutil.rmtree(work / "empty-cache", ignore_errors=True)
            _row("stack up, cold (download)", cold_s, "s", None, "empty cache")

        warm = _stack(work / "warm", shared_cache)
        warm_s = _timed_up(warm)  # fills the shared cache if --no-cold ran on an empty one
        _row("stack up, warm", warm_s, "s", cold_s, "baseline: cold up")
        again_s = _timed_up(warm)
        _row("stack up, already running", again_s, "s", warm_s, "baseline: warm up")
        _row(
            "JVM floor: java -version",
            _java_version_s(kafka_java.executable) + _java_version_s(es_java.executable),
            "s",
            None,
            "both JVMs, sequential",
        )

        time.sleep(args.idle_s)  # idle on purpose: memory at rest is the figure
        heap_mib = int(HEAP.rstrip("m"))
        for server in warm.status():
            rss = (server.rss_bytes or 0) / 2**20
            _row(f"idle RSS {server.name}", rss, "MiB", heap_mib, f"baseline: -Xmx{HEAP}")

        started = time.perf_counter()
        warm.down()
        down_s = time.perf_counter() - started
        restart_s = _timed_up(warm)
        _row("stack down", down_s, "s", None, "SIGTERM, graceful")
        _row("stack up, restart", restart_s, "s", warm_s, "baseline: warm up (fresh state)")
        warm.down()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
