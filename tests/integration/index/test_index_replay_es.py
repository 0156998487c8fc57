"""Replay from the real broker into the real node: time and offset starts, idempotence,
dead letters with headers, and the CLI."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from elasticsearch import AsyncElasticsearch, Elasticsearch
from helpers import wait_until
from kafka import KafkaConsumer, KafkaProducer

from pipeline import topics
from pipeline.adapters.kafka import ensure_topics
from pipeline.cli import cli
from pipeline.index import samples
from pipeline.index.replay import ReplayReport, parse_start, replay
from pipeline.index.sink import BulkSink
from pipeline.index.templates import Names
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

# The broker refuses timestamps far in the future: "new" is now, "old" two days back.
NEW_MS = int(time.time() * 1000)
OLD_MS = NEW_MS - 2 * 24 * 3600 * 1000


def _produce(settings: Settings) -> tuple[int, int]:
    ensure_topics(settings)
    topic = topics.qualified(topics.ARTICLES_ENRICHED, settings.topic_prefix)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    old = [samples.enriched(n) for n in range(12)]
    new = [samples.enriched(n) for n in range(100, 108)]
    # Time seeks go by offset order: the old poison record goes before every new one.
    for record in old:
        key = record.article.id.encode()
        producer.send(topic, key=key, value=record.to_json(), timestamp_ms=OLD_MS)
    producer.send(topic, key=b"poison", value=b'{"not": "an article"}', timestamp_ms=OLD_MS)
    producer.flush()
    for record in new:
        key = record.article.id.encode()
        producer.send(topic, key=key, value=record.to_json(), timestamp_ms=NEW_MS)
    producer.flush()
    producer.close()
    return len(old), len(new)


def _replay(settings: Settings, start: str) -> ReplayReport:
    async def run() -> ReplayReport:
        consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        client = AsyncElasticsearch(settings.es_url, request_timeout=30)
        try:
            sink = BulkSink(client, settings)
            return await replay(settings, consumer, producer, sink, parse_start(start))
        finally:
            consumer.close()
            producer.close()
            await client.close()

    return asyncio.run(run())


def _count(es: Elasticsearch, names: Names) -> int:
    es.indices.refresh(index=names.alias)
    return es.count(index=names.alias)["count"]


def _dead_letters(settings: Settings) -> list:
    consumer = KafkaConsumer(
        topics.qualified(topics.DEAD_LETTER, settings.topic_prefix),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=5_000,
    )
    try:
        return list(consumer)
    finally:
        consumer.close()


def test_replay_from_a_time_then_from_the_start_twice(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    n_old, n_new = _produce(es_settings)
    since = datetime.fromtimestamp((OLD_MS + NEW_MS) / 2000, tz=UTC).isoformat()

    report = _replay(es_settings, since)
    assert (report.read, report.indexed, report.rejected) == (n_new, n_new, 0)
    assert _count(es, installed) == n_new

    report = _replay(es_settings, "earliest")
    assert (report.read, report.indexed, report.rejected) == (n_old + n_new + 1, n_old + n_new, 1)
    again = _replay(es_settings, "0")
    assert again.indexed == n_old + n_new
    assert _count(es, installed) == n_old + n_new  # ids are article ids: no duplicates

    dead = _dead_letters(es_settings)
    assert len(dead) == 2  # the poison record, once per full replay
    headers = dict(dead[0].headers)
    assert headers["stage"] == b"replay" and b"unparseable" in headers["reason"]
    assert int(headers["original_offset"]) >= 0 and headers["failed_at"]


def test_replay_cli(
    es: Elasticsearch, installed: Names, es_settings: Settings, cli_env: None
) -> None:
    n_old, n_new = _produce(es_settings)
    result = CliRunner().invoke(cli, ["replay", "--from", "earliest"])
    assert result.exit_code == 0, result.output
    assert f"indexed={n_old + n_new} dead-lettered=1" in result.output

    def lines() -> int:
        found = CliRunner().invoke(cli, ["search", "Kursk", "--json", "-n", "50"])
        assert found.exit_code == 0, found.output
        return len(found.output.strip().splitlines())

    # One line per story (each sample is its own story), once the refresh shows them all.
    wait_until(lambda: lines() == n_old + n_new, timeout=15, message="all replayed found")
    # The query is the rule language: a malformed one is refused before Elasticsearch sees it,
    # with its position, exit 2 (as alerts add).
    refused = CliRunner().invoke(cli, ["search", "title:(unclosed"])
    assert refused.exit_code == 2 and refused.output.startswith("error: "), refused.output
