"""Reading a pipeline's progress from Kafka: consumer-group lag and what a topic holds."""

from __future__ import annotations

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from pipeline.adapters.kafka import client_options
from pipeline.settings import Settings


def _consumer(settings: Settings) -> KafkaConsumer:
    # No group: these are read-only looks that must not join or commit for anyone.
    return KafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)


def group_lag(settings: Settings, group_id: str, topics: list[str]) -> dict[str, int]:
    """Records in ``topics`` past the group's committed offsets, by topic.

    A partition the group never committed counts from its beginning offset, so a group
    that has not started yet shows the whole backlog rather than zero.
    """
    admin = KafkaAdminClient(**client_options(settings))
    consumer = _consumer(settings)
    try:
        committed = admin.list_group_offsets({group_id: None}).get(group_id, {})
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = consumer.end_offsets(partitions)
        begins = consumer.beginning_offsets(partitions)
        lag: dict[str, int] = dict.fromkeys(topics, 0)
        for tp in partitions:
            meta = committed.get(tp)
            position = meta.offset if meta is not None and meta.offset >= 0 else begins[tp]
            lag[tp.topic] += max(0, ends[tp] - position)
        return lag
    finally:
        consumer.close()
        admin.close()


def distinct_keys(settings: Settings, topic: str, limit: int = 1_000_000) -> set[bytes]:
    """The distinct message keys ``topic`` holds now (read up to its current end).

    For small topics (the demo, tests, a one-shot run); ``limit`` bounds the work.
    """
    consumer = _consumer(settings)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return set()
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        keys: set[bytes] = set()
        seen = 0
        while seen < limit and any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    seen += 1
                    if record.key is not None:
                        keys.add(record.key)
        return keys
    finally:
        consumer.close()
