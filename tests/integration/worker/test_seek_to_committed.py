"""The rebalance seek pipeline.worker.faust_fixes fixes (docs/decisions.md, "The scale-out stall").

After a rebalance Faust drops what it fetched but had not processed and asks aiokafka to
seek every partition to its committed offset. A partition with nothing committed yet is
left where its fetch stood, so the dropped records were never fetched again (the
scale-out stall). These tests show that with aiokafka itself, then the fixed seek.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from kafka.admin import KafkaAdminClient, NewTopic

from pipeline.worker.faust_fixes import hold_and_seek, release, seek_committed_or_beginning

pytestmark = pytest.mark.integration

RECORDS = 10


@pytest.fixture
def topic(stack, run_id: str) -> str:
    name = f"t{run_id}.seek"
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    try:
        for i in range(RECORDS):
            producer.send(name, value=str(i).encode())
        producer.flush(timeout=30)
    finally:
        producer.close()
    return name


async def fetched_all(stack, topic: str, group: str) -> tuple[AIOKafkaConsumer, TopicPartition]:
    """A group member that has fetched every record and committed nothing."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    async with asyncio.timeout(60):
        while seen < RECORDS:
            batches = await consumer.getmany(timeout_ms=1000)
            seen += sum(len(records) for records in batches.values())
    tp = TopicPartition(topic, 0)
    assert await consumer.position(tp) == RECORDS
    return consumer, tp


def test_aiokafka_leaves_a_partition_without_a_commit_where_its_fetch_stood(
    stack, topic: str, run_id: str
) -> None:
    async def scenario() -> None:
        consumer, tp = await fetched_all(stack, topic, f"g{run_id}-plain")
        try:
            committed = await consumer.seek_to_committed()
            assert committed[tp] is None
            # records 0-9, dropped by Faust on the rebalance, would not be fetched again
            assert await consumer.position(tp) == RECORDS
        finally:
            await consumer.stop()

    asyncio.run(scenario())


def test_fixed_seek_sends_it_to_the_beginning_and_keeps_a_commit(
    stack, topic: str, run_id: str
) -> None:
    async def scenario() -> None:
        consumer, tp = await fetched_all(stack, topic, f"g{run_id}-fixed")
        try:
            untouched = await seek_committed_or_beginning(consumer, lambda _: False)
            assert untouched[tp] is None
            assert await consumer.position(tp) == RECORDS  # not a committing topic
            await seek_committed_or_beginning(consumer)
            assert await consumer.position(tp) == 0
            await consumer.commit({tp: OffsetAndMetadata(4, "")})
            await consumer.getmany(timeout_ms=1000)
            assert (await seek_committed_or_beginning(consumer))[tp] == 4
            assert await consumer.position(tp) == 4
        finally:
            await consumer.stop()

    asyncio.run(scenario())


def test_held_partitions_fetch_nothing_until_released(stack, topic: str, run_id: str) -> None:
    """Faust clears its stream queues right after the seek: nothing may be fetched before."""

    async def scenario() -> None:
        consumer, tp = await fetched_all(stack, topic, f"g{run_id}-held")
        try:
            held: set[TopicPartition] = set()
            await hold_and_seek(consumer, lambda _: True, held.update)
            assert held == {tp} and consumer.paused() == {tp}
            assert await consumer.position(tp) == 0
            # a fetch while held returns nothing, though ten records wait at offset 0
            assert await consumer.getmany(timeout_ms=1500) == {}
            release(consumer, held)
            assert consumer.paused() == set()
            seen: list[int] = []
            async with asyncio.timeout(60):
                while len(seen) < RECORDS:
                    batches = await consumer.getmany(timeout_ms=1000)
                    seen += [record.offset for records in batches.values() for record in records]
            assert seen == list(range(RECORDS))  # from the beginning, once each
        finally:
            await consumer.stop()

    asyncio.run(scenario())
