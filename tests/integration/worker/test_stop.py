"""SIGTERM while a server is down (issue 11 item 8): the worker stops within 10 s by
itself, and its log reads as the outage's state lines, with no traceback and no terminal
escape codes. This is the end of the soak and of ``stack down`` under a running pipeline:
Kafka (or Elasticsearch) goes first, then the worker is told to stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest
from elasticsearch import Elasticsearch
from helpers import wait_until
from worker_harness import Worker, doc_count, produce

from pipeline.records import Article
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

READY_S = 180.0
STOP_S = 10.0  # issue 11 item 8
ESCAPE = re.compile(r"\x1b\[|\x08")


def sigterm(worker: Worker) -> tuple[float, int]:
    """SIGTERM to the worker's process group, as ``wirewatch run`` sends it: (seconds until
    the worker exited, its exit status)."""
    assert worker.proc is not None and worker.alive()
    started = time.monotonic()
    os.killpg(worker.proc.pid, signal.SIGTERM)
    try:
        status = worker.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait(timeout=30)
        raise AssertionError(f"worker ignored SIGTERM for 60 s:\n{worker.tail()}") from None
    return time.monotonic() - started, status


def assert_plain_log(worker: Worker, errors: list[str]) -> str:
    """No traceback, no escape codes, and ERROR lines exactly the outage's state lines
    (``errors``: what each one starts with, after the level)."""
    log = worker.log_path.read_text(errors="replace")
    assert not ESCAPE.search(log), "terminal escape codes in worker.log"
    assert "Traceback" not in log, log[-4000:]
    assert "Exception in thread" not in log, log[-4000:]
    got = [line.split("[ERROR] ", 1)[1] for line in log.splitlines() if "[ERROR] " in line]
    assert len(got) == len(errors), "\n".join(got[:20])
    assert all(line.startswith(want) for line, want in zip(got, errors, strict=True)), got
    return log


def test_sigterm_with_kafka_down_stops_within_10s_without_traceback(
    stack, worker: Worker, settings: Settings, es: Elasticsearch, corpus: list[Article]
) -> None:
    worker.start()
    worker.wait_ready(READY_S)
    produce(settings, corpus[:60])
    wait_until(lambda: doc_count(es, settings) >= 5, timeout=300, message="5 indexed")
    stack.stop_kafka()
    try:
        # the consumer is retrying its fetches, heartbeats and commits now
        wait_until(
            lambda: "Kafka failing for" in worker.log_path.read_text(errors="replace"),
            timeout=60,
            message="the worker announces the Kafka outage",
        )
        elapsed, status = sigterm(worker)
    finally:
        stack.start_kafka()
    log = assert_plain_log(worker, ["Kafka failing for"])
    assert elapsed < STOP_S, f"stopped {elapsed:.1f}s after SIGTERM:\n{log[-3000:]}"
    assert status == 0, f"exit status {status}:\n{log[-3000:]}"


def test_sigterm_with_elasticsearch_down_stops_within_10s_without_traceback(
    stack, worker: Worker, settings: Settings, es: Elasticsearch, corpus: list[Article]
) -> None:
    worker.start()
    worker.wait_ready(READY_S)
    produce(settings, corpus[:5])
    wait_until(lambda: doc_count(es, settings) >= 1, timeout=300, message="1 indexed")
    stack.stop_elasticsearch()
    try:
        produce(settings, corpus[5:60])
        # the index sink holds a batch and retries it until Elasticsearch is back
        wait_until(
            lambda: worker.metric("wirewatch_index_retries_total") > 0,
            timeout=300,
            message="the index sink retries",
        )
        elapsed, status = sigterm(worker)
    finally:
        stack.start_elasticsearch()
    # the sink's own "bulk: retrying" lines are warnings; nothing is an error
    log = assert_plain_log(worker, [])
    assert elapsed < STOP_S, f"stopped {elapsed:.1f}s after SIGTERM:\n{log[-3000:]}"
    assert status == 0, f"exit status {status}:\n{log[-3000:]}"
