"""Faults against the real broker and node: a killed worker, a missing Elasticsearch, a
restarted Kafka broker. After each, every unique article is indexed exactly once, in the
story cluster the dedup logic gives it when run in one piece over the same input."""

from __future__ import annotations

import time

import pytest
from elasticsearch import Elasticsearch
from helpers import wait_until
from worker_harness import Worker, doc_count, expected_clusters, indexed, produce

from pipeline.records import Article
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

READY_S = 180.0
DRAIN_S = 600.0


def hold(seconds: float, condition, message: str) -> None:
    """Keep a fault in place for ``seconds`` while ``condition`` holds (checked throughout)."""
    start = time.monotonic()

    def done() -> bool:
        assert condition(), message
        return time.monotonic() - start >= seconds

    wait_until(done, timeout=seconds + 60, message=message)


def assert_clusters(es: Elasticsearch, settings: Settings, expected: dict[str, str]) -> None:
    wait_until(
        lambda: doc_count(es, settings) == len(expected),
        timeout=DRAIN_S,
        message=f"{len(expected)} unique articles indexed",
    )
    got = indexed(es, settings)
    wrong = {aid: (got.get(aid), cid) for aid, cid in expected.items() if got.get(aid) != cid}
    assert not wrong, f"{len(wrong)} articles in the wrong cluster: {list(wrong.items())[:5]}"
    assert len(got) == len(expected)


def test_kill9_midway_and_restart_indexes_each_article_once(
    worker: Worker, settings: Settings, es: Elasticsearch, corpus: list[Article]
) -> None:
    expected = expected_clusters(corpus)
    assert len(corpus) == 1000 and len(expected) < len(corpus)  # re-sends included
    assert len(set(expected.values())) < len(expected)  # copies share clusters
    first, second = corpus[:500], corpus[500:]

    worker.start()
    wait_until(worker.ready, timeout=READY_S, message="worker ready")
    produce(settings, first)
    wait_until(lambda: doc_count(es, settings) >= 50, timeout=DRAIN_S, message="50 indexed")
    worker.kill9()
    assert doc_count(es, settings) < len(expected)
    # The rest arrives while the worker is down; its copies of earlier stories can only
    # join the right clusters if the dedup table came back from its changelog.
    produce(settings, second)
    worker.start()
    wait_until(worker.ready, timeout=READY_S, message="worker ready after kill -9")
    assert_clusters(es, settings, expected)


def test_elasticsearch_down_30s_backlog_drains(
    stack, worker: Worker, settings: Settings, es: Elasticsearch, corpus: list[Article]
) -> None:
    articles = corpus[:400]
    expected = expected_clusters(articles)
    worker.start()
    wait_until(worker.ready, timeout=READY_S, message="worker ready")
    produce(settings, articles)
    wait_until(lambda: doc_count(es, settings) >= 20, timeout=DRAIN_S, message="20 indexed")
    stack.stop_elasticsearch()
    try:
        hold(30, worker.alive, "worker must wait for Elasticsearch, not exit")
        assert worker.metric("wirewatch_index_retries_total") > 0
    finally:
        stack.start_elasticsearch()
    assert_clusters(es, settings, expected)
    assert worker.alive()


def test_kafka_restart_backlog_drains(
    stack, worker: Worker, settings: Settings, es: Elasticsearch, corpus: list[Article]
) -> None:
    articles = corpus[:400]
    expected = expected_clusters(articles)
    worker.start()
    wait_until(worker.ready, timeout=READY_S, message="worker ready")
    produce(settings, articles[:200])
    wait_until(lambda: doc_count(es, settings) >= 20, timeout=DRAIN_S, message="20 indexed")
    stack.stop_kafka()
    try:
        hold(15, worker.alive, "worker must ride out the broker restart")
    finally:
        stack.start_kafka()
    produce(settings, articles[200:])
    assert_clusters(es, settings, expected)
    assert worker.alive()
