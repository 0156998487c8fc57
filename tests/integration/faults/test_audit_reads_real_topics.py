"""``wirewatch audit`` against a real broker and node: records placed on the real topics,
committed offsets of the real worker group and documents in the real index, each case
built by hand so every outcome (indexed, lost, pending, dead-lettered, duplicated) is
known in advance."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer
from kafka.structs import OffsetAndMetadata, TopicPartition

from pipeline.adapters.kafka import client_options, make_producer
from pipeline.index.documents import to_document
from pipeline.index.setup import rollover
from pipeline.records import Article, DedupedArticle, EnrichedArticle, StoryRef
from pipeline.settings import Settings
from pipeline.topics import (
    ARTICLES_DEDUPED,
    ARTICLES_ENRICHED,
    ARTICLES_RAW,
    DEAD_LETTER,
    qualified,
)
from pipeline.worker.app import app_id

pytestmark = pytest.mark.integration

WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))


def article(name: str) -> Article:
    url = f"https://audit.example/{name}"
    return Article(
        id=hashlib.sha1(url.encode()).hexdigest(),
        url=url,
        normalized_url=url,
        feed_url="https://audit.example/rss",
        domain="audit.example",
        title=f"Story {name}",
        text=f"Body of {name}.",
    )


def enriched(a: Article, cluster: str | None = None) -> EnrichedArticle:
    story = StoryRef(cluster_id=cluster or a.id, canonical_id=cluster or a.id, match="new")
    return EnrichedArticle(article=a, story=story)


def commit_all(settings: Settings, topic: str) -> None:
    """Commit the worker group's offset at the end of every partition of ``topic``."""
    consumer = KafkaConsumer(
        **client_options(settings), group_id=app_id(settings), enable_auto_commit=False
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(parts)
        consumer.commit({tp: OffsetAndMetadata(ends[tp], "", -1) for tp in parts})
    finally:
        consumer.close()


def audit(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    for name in ("kafka_bootstrap", "es_url", "topic_prefix", "index_alias", "home"):
        env[f"WIREWATCH_{name.upper()}"] = str(getattr(settings, name))
    return subprocess.run(
        [WIREWATCH, "audit", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_audit_sorts_every_raw_article_into_one_outcome(
    fault_settings: Settings, fault_es: Elasticsearch
) -> None:
    s = fault_settings
    a, b, c, d, e, f, g = (article(n) for n in "abcdefg")
    raw, deduped_t, enriched_t, dead_t = (
        qualified(t, s.topic_prefix)
        for t in (ARTICLES_RAW, ARTICLES_DEDUPED, ARTICLES_ENRICHED, DEAD_LETTER)
    )
    producer = make_producer(s)
    try:
        # a is re-sent (a poller re-poll): harmless, same id
        for item in (a, a, b, c, d, e, f):
            producer.send(raw, key=item.id.encode(), value=item.to_json())
        # e never reaches the deduped topic (issue 11 item 2); f is deduplicated twice into
        # two different clusters (processed twice with diverging state)
        for item, cluster in ((a, None), (b, None), (c, None), (d, None), (f, None), (f, a.id)):
            story = StoryRef(cluster_id=cluster or item.id, canonical_id=item.id, match="new")
            value = DedupedArticle(article=item, story=story).to_json()
            producer.send(deduped_t, key=item.id.encode(), value=value)
        for item in (a, b, c, d, f):
            producer.send(enriched_t, key=item.id.encode(), value=enriched(item).to_json())
        producer.send(
            dead_t,
            key=d.id.encode(),
            value=b"{}",
            headers=[("stage", b"index"), ("reason", b"mapper_parsing_exception")],
        )
        producer.flush(timeout=30)
        for topic in (raw, deduped_t, enriched_t):
            commit_all(s, topic)
        # g arrives after the worker group committed: still to be read, so pending
        producer.send(raw, key=g.id.encode(), value=g.to_json())
        producer.flush(timeout=30)
    finally:
        producer.close()
    for item in (a, b, c, f):
        fault_es.index(index=s.index_alias, id=item.id, document=to_document(enriched(item)))
    rollover(fault_es, s)  # c indexed again after a rollover: two documents for one id
    fault_es.index(index=s.index_alias, id=c.id, document=to_document(enriched(c)))

    result = audit(s, "--json")
    assert result.returncode == 1, result.stderr  # lost and duplicated: a failing audit
    assert result.stdout.startswith("{"), result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert (report["raw_records"], report["articles"], report["resent"]) == (8, 7, 1)
    assert report["indexed"] == 4
    assert set(report["ids"]["lost"]) == {e.id}
    assert "dedup stage committed past it" in report["ids"]["lost"][e.id]
    assert set(report["ids"]["dead_lettered"]) == {d.id}
    assert report["ids"]["dead_lettered"][d.id] == ["index: mapper_parsing_exception"]
    assert set(report["ids"]["pending"]) == {g.id}
    assert set(report["ids"]["duplicated"]) == {c.id, f.id}
    assert report["ids"]["duplicated"][c.id].startswith("2 documents")
    assert report["ids"]["duplicated"][f.id].startswith("dedup gave 2 clusters")

    text = audit(s, "--show", "1")
    assert text.returncode == 1
    assert "  lost           1" in text.stdout
    assert f"  {e.id}  the dedup stage committed past it" in text.stdout

    # A range after everything was produced holds nothing: a clean audit, exit 0.
    empty = audit(s, "--since", "now+1h")
    assert empty.returncode == 0, empty.stdout + empty.stderr
    assert "0 records, 0 articles" in empty.stdout
