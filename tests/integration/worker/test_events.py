"""Events on the real broker and node: BASIL same-event reports from three outlets and
copies of some of them go through the worker (dedup, spaCy, events, index). Copies share
their story's event; each event document counts exactly the articles carrying its id; a
redelivery changes no event; a replay of the events stage's input (the annotated topic,
in its order) into an empty state gives every article the same event and every event the
same document.

Not a replay from the raw topic: enrichment runs over the 8 partitions of the deduped
topic, so the order in which stories reach the events stage is not the raw order, and an
online clusterer's decisions depend on order (docs/decisions.md, "Events").
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from helpers import wait_until
from kafka import KafkaConsumer
from worker_harness import BOILERPLATE, Worker, doc_count, produce, settings_env, shared_dir

from pipeline.adapters.kafka import make_producer
from pipeline.evaluation.events import load_basil, timeline
from pipeline.records import Article
from pipeline.settings import Settings
from pipeline.stack.process import free_port
from pipeline.topics import ARTICLES_ANNOTATED, Topic, qualified
from pipeline.urls import article_id

pytestmark = pytest.mark.integration

READY_S = 180.0
TRIPLETS = 8


def _copy(article: Article, n: int) -> Article:
    url = f"https://syndicator{n}.example/{article.id[:12]}"
    later = article.published_at + timedelta(hours=1) if article.published_at else None
    return article.model_copy(
        update={
            "id": article_id(url),
            "url": url,
            "normalized_url": url,
            "domain": f"syndicator{n}.example",
            "outlet": f"Syndicator {n}",
            "title": f"{article.title} | Syndicator {n}",
            "text": article.text + BOILERPLATE,
            "published_at": later,
            "fetched_at": later or article.fetched_at,
        }
    )


def stream() -> tuple[list[Article], dict[str, str], dict[str, str]]:
    """(articles in publication order, copy id -> original id, article id -> gold event)."""
    gold = load_basil(shared_dir() / "data" / "basil-dev")
    events = sorted({g.event for g in gold})[:TRIPLETS]
    ordered = timeline([g for g in gold if g.event in events], seed=0)
    articles: list[Article] = []
    copies: dict[str, str] = {}
    labels = {g.article.id: g.event for g in ordered}
    for n, item in enumerate(ordered):
        articles.append(item.article)
        if n % 4 == 0:
            copy = _copy(item.article, n)
            articles.append(copy)
            copies[copy.id] = item.article.id
            labels[copy.id] = item.event
    articles.sort(key=lambda a: (a.published_at, a.id))
    return articles, copies, labels


def article_events(es: Elasticsearch, settings: Settings) -> dict[str, str]:
    es.indices.refresh(index=settings.index_alias)
    resp = es.search(
        index=settings.index_alias, size=1000, source=["event_id"], query={"match_all": {}}
    )
    return {h["_id"]: h["_source"]["event_id"] for h in resp["hits"]["hits"]}


def event_docs(es: Elasticsearch, settings: Settings) -> dict[str, dict]:
    es.indices.refresh(index=settings.events_index)
    resp = es.search(index=settings.events_index, size=1000, version=True, query={"match_all": {}})
    return {h["_id"]: {**h["_source"], "_version": h["_version"]} for h in resp["hits"]["hits"]}


def run_once(worker: Worker, settings: Settings, es: Elasticsearch, articles: list[Article]):
    worker.start()
    worker.wait_ready(READY_S)
    produce(settings, articles)
    wait_until(
        lambda: doc_count(es, settings) == len(articles),
        timeout=600,
        message=f"{len(articles)} documents",
    )
    return article_events(es, settings)


def test_copies_share_events_and_a_replay_gives_the_same_events(
    settings: Settings, worker: Worker, es: Elasticsearch, tmp_path: Path
) -> None:
    articles, copies, labels = stream()
    first = run_once(worker, settings, es, articles)
    assert set(first) == {a.id for a in articles} and all(first.values())

    # copies carry their story's event; reports of one happening from several outlets meet
    for copy_id, original_id in copies.items():
        assert first[copy_id] == first[original_id]
    by_event = Counter(first.values())
    grouped = [e for e, n in by_event.items() if n >= 3]
    assert grouped, f"no event grouped independent reports: {by_event}"
    # an event never mixes happenings here: these triplets are far apart in vocabulary
    for event in by_event:
        assert len({labels[a] for a, e in first.items() if e == event}) == 1

    # one document per event, current: its counts are the articles carrying its id
    def current() -> dict[str, dict] | None:
        docs = event_docs(es, settings)
        ok = set(docs) == set(by_event) and all(
            docs[e]["article_count"] == by_event[e] for e in by_event
        )
        return docs if ok else None

    docs = wait_until(current, timeout=60, message="event documents up to date")
    for event, doc in docs.items():
        assert doc["_version"] == doc["revision"] == by_event[event]
        outlets = {a.outlet for a in articles if first[a.id] == event}
        assert set(doc["outlets"]) == outlets and doc["outlet_count"] == len(outlets)

    # redelivery: the same articles again change no event and no event document
    produce(settings, articles)
    wait_until(
        lambda: worker.metric("wirewatch_event_matches_total", match="replay") == len(articles),
        timeout=600,
        message="every article redelivered through the events stage",
    )
    wait_until(
        lambda: worker.metric("wirewatch_stream_records_total", stage="index") >= 2 * len(articles),
        timeout=120,
        message="redelivered articles indexed",
    )
    assert article_events(es, settings) == first
    assert event_docs(es, settings) == docs
    worker.stop()

    # replay of the stage's input into an empty state (new topics, new table, new
    # indices, only the events and index stages): the same decisions, article by article
    annotated = read_topic(settings, ARTICLES_ANNOTATED, len(articles))
    run = uuid.uuid4().hex[:8]
    fresh = settings.model_copy(
        update={
            "topic_prefix": f"r{run}.",
            "index_alias": f"r{run}-articles",
            "stories_index": f"r{run}-stories",
            "events_index": f"r{run}-events",
            "alerts_index": f"r{run}-alerts",
            "home": tmp_path / "replay-home",
            "worker_web_port": free_port(),
        }
    )
    env = settings_env(fresh) | {"WIREWATCH_WORKER_STAGES": "events,index"}
    again = Worker(env, tmp_path / "replay-worker.log")
    try:
        again.start()
        again.wait_ready(READY_S)
        send(fresh, ARTICLES_ANNOTATED, annotated)
        wait_until(
            lambda: doc_count(es, fresh) == len(articles),
            timeout=600,
            message=f"{len(articles)} replayed documents",
        )
        assert article_events(es, fresh) == first
        replayed = {e: {k: v for k, v in d.items() if k != "updated_at"} for e, d in docs.items()}
        assert {
            e: {k: v for k, v in d.items() if k != "updated_at"}
            for e, d in event_docs(es, fresh).items()
        } == replayed
    finally:
        again.stop()


def read_topic(settings: Settings, topic: Topic, n: int) -> list[tuple[bytes, bytes]]:
    """The first ``n`` (key, value) records of a one-partition topic, in order."""
    consumer = KafkaConsumer(
        qualified(topic, settings.topic_prefix),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    got: list[tuple[bytes, bytes]] = []

    def more() -> bool:
        got.extend((m.key, m.value) for m in consumer)
        return len(got) >= n

    try:
        wait_until(more, timeout=120, message=f"{n} records on {topic.name}")
    finally:
        consumer.close()
    return got[:n]


def send(settings: Settings, topic: Topic, records: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(settings)
    try:
        for key, value in records:
            producer.send(qualified(topic, settings.topic_prefix), key=key, value=value)
        producer.flush(timeout=60)
    finally:
        producer.close()
