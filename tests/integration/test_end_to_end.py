"""The thin slice, end to end on the real stack: sample feeds served over local HTTP ->
poller -> Kafka -> Faust worker -> Elasticsearch -> `wirewatch search` finds the article.

It drives the product exactly as a user does, through `wirewatch run --once` and
`wirewatch search`, with the server addresses of the test stack configured (so `run`
starts no stack of its own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pipeline.stack.process import free_port

pytestmark = pytest.mark.integration


def _env(stack, home: Path) -> dict[str, str]:
    run_id = uuid.uuid4().hex[:8]
    env = dict(os.environ)
    env.update(
        WIREWATCH_HOME=str(home),
        WIREWATCH_KAFKA_BOOTSTRAP=stack.kafka_bootstrap,
        WIREWATCH_ES_URL=stack.es_url,
        WIREWATCH_TOPIC_PREFIX=f"e2e-{run_id}.",
        WIREWATCH_INDEX_ALIAS=f"e2e-{run_id}-articles",
        WIREWATCH_STORIES_INDEX=f"e2e-{run_id}-stories",
        WIREWATCH_ALERTS_INDEX=f"e2e-{run_id}-alerts",
        WIREWATCH_WORKER_WEB_PORT=str(free_port()),
        WIREWATCH_POLLER_PORT=str(free_port()),
    )
    return env


def _wirewatch(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_sample_feeds_flow_to_search(stack, tmp_path: Path) -> None:
    env = _env(stack, tmp_path)
    run = _wirewatch(env, "run", "--once", "--timeout", "400", timeout=480)
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert run.returncode == 0, f"run failed:\n{run.stderr}\n{logs[-4000:]}"
    assert "done:" in run.stdout and "0 dead-lettered" in run.stdout, run.stdout

    found = _wirewatch(env, "search", "Kursk", timeout=60)
    assert found.returncode == 0, found.stderr
    assert "Putin" in found.stdout and "Kursk" in found.stdout, found.stdout
    # Unrelated sample stories must not match.
    assert "night trains" not in found.stdout.lower()

    # The three outlets' copies of the seed story are one story cluster, every copy kept.
    from elasticsearch import Elasticsearch

    es = Elasticsearch(stack.es_url)
    try:
        hits = es.search(
            index=env["WIREWATCH_INDEX_ALIAS"],
            query={"match": {"text": "Kursk"}},
            size=20,
        )["hits"]["hits"]
    finally:
        es.close()
    kursk = [h["_source"] for h in hits]
    assert len(kursk) == 3, json.dumps(kursk, indent=1)[:2000]
    assert len({doc["story"]["cluster_id"] for doc in kursk}) == 1
