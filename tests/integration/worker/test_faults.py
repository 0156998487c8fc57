"""Faults against the real broker and node: a killed worker, a missing Elasticsearch, a
restarted Kafka broker. After each, ``wirewatch audit`` (following every raw id through the
stages to the index) finds nothing lost, duplicated or dead-lettered, and every article sits
in the story, with the canonical copy, that the dedup logic gives it when run in one piece
over the same input."""

from __future__ import annotations

import time

import pytest
from elasticsearch import Elasticsearch
from helpers import wait_until
from worker_harness import (
    Worker,
    audit_command,
    audit_now,
    doc_count,
    expected_clusters,
    expected_stories,
    indexed_stories,
    produce,
)

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


def assert_accounted(es: Elasticsearch, settings: Settings, articles: list[Article]) -> None:
    """Once nothing is pending: the audit's verdict, then the stories against one piece."""
    ids = {a.id for a in articles}

    def settled() -> bool:
        report = audit_now(settings, es)
        return report.articles == len(ids) and not report.pending

    wait_until(settled, timeout=DRAIN_S, interval=3, message=f"{len(ids)} articles accounted for")
    status, report = audit_command(settings)
    counts = {k: report[k] for k in ("articles", "indexed", "lost", "duplicated", "dead_lettered")}
    assert counts == {
        "articles": len(ids),
        "indexed": len(ids),
        "lost": 0,
        "duplicated": 0,
        "dead_lettered": 0,
    }, report["ids"]
    assert status == 0, report["ids"]
    assert report["resent"] == len(articles) - len(ids)
    want, got = expected_stories(articles), indexed_stories(es, settings)
    wrong = {aid: (got.get(aid), story) for aid, story in want.items() if got.get(aid) != story}
    assert not wrong, f"{len(wrong)} articles in another story or naming another canonical"


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
    assert_accounted(es, settings, corpus)


def test_elasticsearch_down_30s_backlog_drains(
    stack, worker: Worker, settings: Settings, es: Elasticsearch, corpus: list[Article]
) -> None:
    articles = corpus[:400]
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
    assert_accounted(es, settings, articles)
    assert worker.alive()


def test_kafka_restart_backlog_drains(
    stack, worker: Worker, settings: Settings, es: Elasticsearch, corpus: list[Article]
) -> None:
    articles = corpus[:400]
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
    assert_accounted(es, settings, articles)
    assert worker.alive()
    # 11.8: the restart is two lines in the worker's log (down, back), not one per retry
    log = worker.log_path.read_text(errors="replace")
    errors = [line for line in log.splitlines() if "[ERROR]" in line]
    assert len(errors) <= 2 and all("Kafka failing for" in e for e in errors), errors[:10]
    assert errors and "Kafka answering again after" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
