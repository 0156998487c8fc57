"""The worker end to end on the real broker and node: clusters, dead letters, counters."""

from __future__ import annotations

import hashlib
import json

import pytest
from elasticsearch import Elasticsearch
from helpers import wait_until
from kafka import KafkaConsumer, KafkaProducer
from worker_harness import BOILERPLATE, Worker, doc_count, shared_dir

from pipeline.records import Article, DeadLetter, EnrichedArticle
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_ENRICHED, ARTICLES_RAW, DEAD_LETTER, qualified

pytestmark = pytest.mark.integration

READY_S = 180.0


def _article(url: str, text: str, outlet: str, **extra: object) -> Article:
    return Article(
        id=hashlib.sha1(url.encode()).hexdigest(),
        url=url,
        normalized_url=url,
        feed_url=f"https://{url.split('/')[2]}/rss",
        outlet=outlet,
        domain=url.split("/")[2],
        title="Putin visits Kursk",
        text=text,
        **extra,
    )


def read_dead_letters(settings: Settings, n: int) -> list[tuple[DeadLetter, dict[str, bytes]]]:
    consumer = KafkaConsumer(
        qualified(DEAD_LETTER, settings.topic_prefix),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    got: list[tuple[DeadLetter, dict[str, bytes]]] = []

    def more() -> bool:
        for message in consumer:
            got.append((DeadLetter.from_json(message.value), dict(message.headers)))
        return len(got) >= n

    try:
        wait_until(more, timeout=120, message=f"{n} dead letters")
    finally:
        consumer.close()
    return got


def test_clusters_dead_letters_and_counters(
    worker: Worker, settings: Settings, es: Elasticsearch
) -> None:
    seed = (shared_dir() / "fixtures" / "seed" / "article.txt").read_text()
    original = _article("https://a.example/kursk", seed, "Outlet A")
    copy = _article("https://b.example/putin-kursk", seed + BOILERPLATE, "Outlet B")
    rejected = _article("https://c.example/tags", seed[:500], "Outlet C", tags=["x" * 40_000])
    worker.start()
    wait_until(worker.ready, timeout=READY_S, message="worker ready")

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    topic = qualified(ARTICLES_RAW, settings.topic_prefix)
    for key, value in [
        (original.id, original.to_json()),
        ("poison-1", b"{not json"),
        ("poison-2", json.dumps({"id": "x", "url": "https://x"}).encode()),
        (copy.id, copy.to_json()),
        (rejected.id, rejected.to_json()),
    ]:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()

    letters = read_dead_letters(settings, 3)
    by_stage = sorted((r.stage, r.key) for r, _ in letters)
    assert by_stage == [("dedup", "poison-1"), ("dedup", "poison-2"), ("index", rejected.id)]
    source = {"dedup": topic, "index": qualified(ARTICLES_ENRICHED, settings.topic_prefix)}
    for record, headers in letters:
        assert headers["stage"] == record.stage.encode()
        assert headers["reason"] and headers["failed_at"]
        assert headers["original_topic"] == source[record.stage].encode() == record.topic.encode()
        assert int(headers["original_offset"]) == record.offset
        assert record.payload  # the original value travels with it
    index_letter = next(r for r, _ in letters if r.stage == "index")
    assert "failed to parse field [tags]" in index_letter.reason
    assert EnrichedArticle.from_json(index_letter.payload).article.id == rejected.id

    wait_until(lambda: doc_count(es, settings) == 2, timeout=120, message="2 documents")
    doc = es.get(index=settings.index_alias, id=copy.id)["_source"]
    assert doc["story"]["cluster_id"] == original.id
    assert doc["story"]["match"] == "near"
    assert doc["story"]["size"] == 2
    assert sorted(doc["story"]["outlets"]) == ["Outlet A", "Outlet B"]
    # the copy carries its story's event, which the first copy started
    assert doc["event_id"] == original.id
    assert es.get(index=settings.index_alias, id=original.id)["_source"]["event_id"] == original.id
    es.indices.refresh(index=settings.events_index)
    event = es.get(index=settings.events_index, id=original.id)
    assert event["_version"] == event["_source"]["revision"] >= 2
    assert {"Outlet A", "Outlet B"} <= set(event["_source"]["outlets"])

    # every record accounted for, exactly once per stage
    m = worker.metric
    wait_until(lambda: m("wirewatch_stream_records_total", stage="index") == 3, timeout=30)
    assert m("wirewatch_stream_records_total", stage="dedup", outcome="processed") == 2
    assert m("wirewatch_stream_records_total", stage="dedup", outcome="duplicate") == 1
    assert m("wirewatch_stream_records_total", stage="dedup", outcome="dead_lettered") == 2
    assert m("wirewatch_stream_records_total", stage="enrich", outcome="processed") == 3
    assert m("wirewatch_stream_records_total", stage="events", outcome="processed") == 3
    assert m("wirewatch_stream_records_total", stage="index", outcome="processed") == 2
    assert m("wirewatch_stream_records_total", stage="index", outcome="dead_lettered") == 1
    assert m("wirewatch_dead_letters_total") == 3
    assert worker.alive()


def test_health_endpoints(worker: Worker) -> None:
    import httpx

    worker.start()
    wait_until(worker.ready, timeout=READY_S, message="worker ready")
    base = f"http://127.0.0.1:{worker.port}"
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    metrics = httpx.get(f"{base}/metrics")
    assert metrics.status_code == 200
    assert "wirewatch_stream_records_total" in metrics.text or "python_info" in metrics.text
