"""Kafka down while polling: nothing polled is lost, and every item arrives exactly once.

The real broker of the session stack is stopped mid-run and started again.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import pytest
from helpers import wait_until
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from pipeline import topics
from pipeline.adapters.kafka import KafkaArticleSink, ensure_topics, make_producer
from pipeline.demo import SAMPLE_DIR, sample_feeds, serve_directory
from pipeline.poll.poller import Poller
from pipeline.poll.state import StateStore
from pipeline.settings import Settings
from pipeline.stack import LocalStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
SENTINEL = b"__end_of_test__"


def _settings(stack: LocalStack, home: Path) -> Settings:
    return Settings(
        home=home,
        kafka_bootstrap=stack.kafka_bootstrap,
        topic_prefix=f"outage-{uuid.uuid4().hex[:8]}-",
        fetch_allow_networks="127.0.0.0/8",
        poll_per_host_concurrency=8,
        poll_per_host_spacing_s=0,
    )


def test_ensure_topics_creates_every_topic_with_its_settings(
    stack: LocalStack, tmp_path: Path
) -> None:
    settings = _settings(stack, tmp_path)
    created = ensure_topics(settings)
    names = {topics.qualified(t, settings.topic_prefix): t for t in topics.ALL_TOPICS}
    assert sorted(created) == sorted(names)
    assert ensure_topics(settings) == []  # idempotent
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    try:
        described = {d.get("name") or d.get("topic"): d for d in admin.describe_topics(list(names))}
        for name, topic in names.items():
            assert len(described[name]["partitions"]) == topic.partitions
    finally:
        admin.close()


def _read_until_sentinel(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or [0]]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records: list[tuple[bytes, bytes]] = []
    done: set[int] = set()

    def all_read() -> bool:
        for batch in consumer.poll(timeout_ms=500).values():
            for record in batch:
                if record.value == SENTINEL:
                    done.add(record.partition)
                elif record.partition not in done:
                    records.append((record.key, record.value))
        return len(done) == len(partitions)

    try:
        wait_until(all_read, 60, f"the end marker on every partition of {topic}")
    finally:
        consumer.close()
    return records


def test_kafka_down_while_polling_loses_nothing(stack: LocalStack, tmp_path: Path) -> None:
    settings = _settings(stack, tmp_path)
    ensure_topics(settings)
    topic = topics.qualified(topics.ARTICLES_RAW, settings.topic_prefix)
    # Short client timeouts so the outage is noticed in seconds, not minutes.
    producer = make_producer(
        settings, delivery_timeout_ms=8000, request_timeout_ms=3000, max_block_ms=3000
    )
    sink = KafkaArticleSink(producer, topic)
    server, base = serve_directory(SAMPLE_DIR)
    poller = Poller(
        settings,
        sample_feeds(base),
        state=StateStore(tmp_path / "state.sqlite3"),
        sink=sink,
    )

    async def scenario() -> None:
        # One event loop for the whole scenario: the fetcher's connections belong to it.
        try:
            await outage()
        finally:
            await poller.fetcher.aclose()
            if poller.readiness is not None:
                await asyncio.to_thread(poller.readiness.stop)

    async def outage() -> None:
        poller.watch_readiness(interval_s=0.5, fresh_s=2.0)
        await asyncio.to_thread(stack.stop_kafka)
        first = await poller.run_once()
        assert first.articles_queued == 7
        assert first.articles_sent == 0 and first.pending == 7
        assert len(first.send_failures) == 7
        wait_until(lambda: not poller.ready().ready, 30, "not ready while Kafka is down")

        # While Kafka is down the feeds are polled again: nothing new, nothing lost.
        again = await poller.run_once(ignore_schedule=True)
        assert again.count("not-modified") == 3 and again.articles_queued == 0
        assert again.pending == 7

        await asyncio.to_thread(stack.start_kafka)
        deadline = time.monotonic() + 120
        while (await poller.deliver()).pending:  # the outbox drains once Kafka is back
            assert time.monotonic() < deadline, "outbox not delivered within 120s"
        assert poller.ready().ready, "Kafka took the outbox but the poller is not ready"
        after = await poller.run_once(ignore_schedule=True)
        assert after.articles_queued == 0 and after.pending == 0 and after.articles_sent == 0

    try:
        asyncio.run(scenario())
        for partition in producer.partitions_for(topic):
            producer.send(topic, key=b"end", value=SENTINEL, partition=partition).get(30)
    finally:
        producer.close(timeout=10)
        server.shutdown()
        server.server_close()

    records = _read_until_sentinel(stack.kafka_bootstrap, topic)
    keys = [key.decode() for key, _ in records]
    assert len(keys) == 7 and len(set(keys)) == 7  # every item, exactly once
    titles = {json.loads(value)["title"] for _, value in records}
    assert sum("Kursk" in t for t in titles) == 3
    assert {json.loads(v)["id"] for _, v in records} == set(keys)
