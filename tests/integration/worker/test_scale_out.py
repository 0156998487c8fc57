"""Two worker processes share the work without code changes, and dedup stays right."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from helpers import wait_for_count, wait_until
from worker_harness import Worker, doc_count, expected_clusters, indexed, produce

from pipeline.records import Article
from pipeline.settings import Settings
from pipeline.stack.process import free_port

pytestmark = pytest.mark.integration


def test_second_worker_takes_a_share_and_clusters_stay_right(
    worker: Worker, settings: Settings, es: Elasticsearch, corpus: list[Article], tmp_path: Path
) -> None:
    articles = corpus[:400]
    expected = expected_clusters(articles)
    env = dict(worker.env)
    env["WIREWATCH_WORKER_WEB_PORT"] = str(free_port())
    env["WIREWATCH_HOME"] = str(tmp_path / "home2")
    second = Worker(env, tmp_path / "worker2.log")
    worker.start()
    second.start()
    try:
        wait_until(lambda: worker.ready() and second.ready(), timeout=240, message="both ready")
        produce(settings, articles)
        wait_for_count(
            lambda: doc_count(es, settings),
            len(expected),
            stall=180,
            message="unique articles indexed",
            describe=lambda: f"{worker.describe()}\n{second.describe()}",
        )
        assert indexed(es, settings) == expected
        # the deduped topic's partitions are split between them: both enriched some
        shares = [
            w.metric("wirewatch_stream_records_total", stage="enrich", outcome="processed")
            for w in (worker, second)
        ]
        assert all(share > 0 for share in shares), shares
        assert sum(shares) >= len(expected)
        # the single raw partition (and the dedup table) lives on exactly one of them
        deduped = [
            w.metric("wirewatch_stream_records_total", stage="dedup") for w in (worker, second)
        ]
        assert sorted(d > 0 for d in deduped) == [False, True], deduped
    finally:
        second.stop()
