"""The local stack runs a real Kafka broker and a real Elasticsearch node."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from helpers import wait_until
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from pipeline.cli import cli
from pipeline.settings import get_settings
from pipeline.stack import LocalStack

pytestmark = pytest.mark.integration


def _consume(bootstrap: str, topic: str, count: int, timeout: float = 60.0) -> list[bytes]:
    """Read ``count`` values from the start of ``topic`` with kafka-python."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=f"g-{topic}"
    )
    values: list[bytes] = []

    def got_all() -> bool:
        for records in consumer.poll(timeout_ms=500).values():
            values.extend(record.value for record in records)
        return len(values) >= count

    try:
        wait_until(got_all, timeout, f"{count} message(s) on {topic}")
    finally:
        consumer.close()
    return values


def _new_topic(bootstrap: str) -> str:
    topic = f"stack-test-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    return topic


def test_kafka_python_round_trip(stack: LocalStack) -> None:
    topic = _new_topic(stack.kafka_bootstrap)
    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    producer.send(topic, key=b"k", value=b"hello kafka").get(timeout=30)
    producer.close()
    assert _consume(stack.kafka_bootstrap, topic, 1) == [b"hello kafka"]


def test_aiokafka_round_trip(stack: LocalStack) -> None:
    """aiokafka is Faust's client: it must speak this broker's protocol versions."""
    topic = _new_topic(stack.kafka_bootstrap)

    async def round_trip() -> list[bytes | None]:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello aiokafka", key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack.kafka_bootstrap,
            group_id=f"g-{topic}",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=30)
            await consumer.commit()
        finally:
            await consumer.stop()
        return [message.value]

    assert asyncio.run(round_trip()) == [b"hello aiokafka"]


def test_elasticsearch_index_and_search(stack: LocalStack) -> None:
    es = Elasticsearch(stack.es_url)
    index = f"stack-test-{uuid.uuid4().hex[:8]}"
    es.indices.create(index=index, mappings={"properties": {"title": {"type": "text"}}})
    es.index(index=index, id="1", document={"title": "Ukraine recaptured villages near Kursk"})
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"match": {"title": "kursk"}})["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["1"]
    assert es.search(index=index, query={"match": {"title": "paris"}})["hits"]["hits"] == []
    es.indices.delete(index=index)


def test_kafka_restart_keeps_port_and_data(stack: LocalStack) -> None:
    topic = _new_topic(stack.kafka_bootstrap)
    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    producer.send(topic, value=b"before restart").get(timeout=30)
    producer.close()

    stack.stop_kafka()
    assert stack.kafka.running_pid() is None
    stack.start_kafka()

    assert _consume(stack.kafka_bootstrap, topic, 1) == [b"before restart"]


def test_english_stemming_with_bundled_hunspell(stack: LocalStack) -> None:
    """No analysis-common locally: English stemming is core hunspell with our dictionary,
    which the stack installs into the node's config dir (docs/decisions.md)."""
    es = Elasticsearch(stack.es_url)
    index = f"stack-test-{uuid.uuid4().hex[:8]}"
    analysis = {
        "filter": {
            "en_stop": {"type": "stop", "stopwords": "_english_"},
            "en_stem": {"type": "hunspell", "locale": "en_US", "dedup": True},
        },
        "analyzer": {
            "en": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "en_stop", "en_stem"],
            }
        },
    }
    es.indices.create(
        index=index,
        settings={"analysis": analysis},
        mappings={"properties": {"body": {"type": "text", "analyzer": "en"}}},
    )
    es.index(index=index, id="1", document={"body": "Ukrainian forces recaptured two villages"})
    es.index(index=index, id="2", document={"body": "Talks resumed in Geneva"})
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"match": {"body": "recapture village"}})["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["1"]
    es.indices.delete(index=index)


def test_elasticsearch_crash_and_restart_keeps_port_and_data(stack: LocalStack) -> None:
    es = Elasticsearch(stack.es_url)
    index = f"stack-test-{uuid.uuid4().hex[:8]}"
    es.index(index=index, id="1", document={"title": "before the crash"}, refresh=True)
    url = stack.es_url

    stack.stop_elasticsearch(kill=True)  # SIGKILL: no clean shutdown
    assert stack.elasticsearch.running_pid() is None
    stack.start_elasticsearch()

    assert stack.es_url == url
    restarted = Elasticsearch(stack.es_url)
    assert restarted.get(index=index, id="1")["_source"] == {"title": "before the crash"}
    restarted.indices.delete(index=index)


def test_cli_status_and_up_on_the_running_stack(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stack status` reports both servers, `stack up` again changes nothing, logs print."""
    monkeypatch.setenv("WIREWATCH_HOME", str(stack.state_dir.parent))
    get_settings.cache_clear()
    pids = {s.name: s.pid for s in stack.status()}
    try:
        status = CliRunner().invoke(cli, ["stack", "status"])
        up = CliRunner().invoke(cli, ["stack", "up"])
        logs = CliRunner().invoke(cli, ["stack", "logs", "elasticsearch", "-n", "5"])
    finally:
        get_settings.cache_clear()

    assert status.exit_code == 0, status.output
    rows = {line.split()[0]: line.split() for line in status.output.splitlines()}
    assert rows["kafka"][1:3] == ["running", stack.kafka_bootstrap]
    assert rows["elasticsearch"][1:3] == ["running", stack.es_url.removeprefix("http://")]
    assert rows["elasticsearch"][4] == str(pids["elasticsearch"])
    assert rows["kafka"][-1] == "MiB"
    assert up.exit_code == 0, up.output
    assert f"kafka          {stack.kafka_bootstrap}" in up.output
    assert {s.name: s.pid for s in stack.status()} == pids  # nothing restarted
    assert logs.exit_code == 0, logs.output
    assert len(logs.output.splitlines()) == 5 and "wirewatch-local" in logs.output
