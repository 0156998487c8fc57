"""Consumer-group lag: how many records a group has yet to process, per topic."""

from __future__ import annotations

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from pipeline.adapters.kafka import client_options
from pipeline.settings import Settings


def group_lag(settings: Settings, group_id: str, topics: list[str]) -> dict[str, int]:
    """Records in ``topics`` past the group's committed offsets, by topic.

    A partition the group never committed counts from its beginning offset, so a group
    that has not started yet shows the whole backlog rather than zero.
    """
    options = client_options(settings)
    admin = KafkaAdminClient(**options)
    consumer = KafkaConsumer(**options)
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


def topic_size(settings: Settings, topic: str) -> int:
    """Records currently retained in ``topic`` (end minus beginning offsets)."""
    consumer = KafkaConsumer(**client_options(settings))
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(partitions)
        begins = consumer.beginning_offsets(partitions)
        return sum(ends[tp] - begins[tp] for tp in partitions)
    finally:
        consumer.close()
