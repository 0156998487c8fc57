"""Replay: re-index articles from the enriched topic, from a time or an offset.

It reads ``wirewatch.articles.enriched`` (not the raw topic): enrichment is the expensive
stage and its output is already on Kafka, so a replay after a mapping change, an index loss
or a cluster move costs only indexing, and it cannot disturb the dedup state of the running
workers. Re-running dedup and enrichment from raw is a different operation: reset the Faust
consumer group. Replay uses no consumer group (manual assignment, no commits), stops at the
end offsets seen when it started, and writes through the same :class:`BulkSink`; document
ids are article ids, so replaying twice leaves the index unchanged. Unparseable records and
records Elasticsearch rejects go to the dead-letter topic with stage ``replay``, through
the worker's stage shape (pipeline.worker.stage) and a producer-based dead-letter writer:
no Faust app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline import topics
from pipeline.index.sink import BulkSink
from pipeline.records import EnrichedArticle
from pipeline.settings import Settings
from pipeline.worker.deadletter import ProducerDeadLetters
from pipeline.worker.stage import ElasticsearchRejected, Item, Rejected, Stage

log = logging.getLogger(__name__)
STAGE = "replay"


class ReplayStartError(ValueError):
    """``--from`` is neither a time nor an offset spec."""


@dataclass(frozen=True)
class Start:
    """Where to start: a time, one offset for every partition, or offsets per partition."""

    time: datetime | None = None
    offset: int | None = None
    per_partition: dict[int, int] = field(default_factory=dict)


def parse_start(text: str) -> Start:
    """``2025-03-13T09:00:00Z`` | ``2025-03-13`` | ``1200`` | ``0:1200,3:900`` | ``earliest``."""
    text = text.strip()
    if text in ("earliest", "beginning"):
        return Start(offset=0)
    if text.isdigit():
        return Start(offset=int(text))
    if ":" in text and all(part.strip().split(":")[0].isdigit() for part in text.split(",")):
        try:
            pairs = [part.split(":") for part in text.split(",")]
            return Start(per_partition={int(p): int(o) for p, o in pairs})
        except ValueError as exc:
            raise ReplayStartError(f"bad partition:offset list {text!r}") from exc
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReplayStartError(
            f"--from {text!r}: expected an ISO time, an offset, "
            "'partition:offset,...' or 'earliest'"
        ) from exc
    return Start(time=when if when.tzinfo else when.replace(tzinfo=UTC))


@dataclass
class ReplayReport:
    read: int = 0
    indexed: int = 0
    rejected: int = 0  # dead-lettered (unparseable or refused by Elasticsearch)
    elapsed_s: float = 0.0

    def line(self) -> str:
        return (
            f"replay: read={self.read} indexed={self.indexed} dead-lettered={self.rejected} "
            f"in {self.elapsed_s:.1f}s"
        )


def start_offsets(
    consumer: KafkaConsumer, partitions: list[TopicPartition], start: Start
) -> dict[TopicPartition, int]:
    """Concrete start offset per partition, clamped to what the log still holds."""
    first = consumer.beginning_offsets(partitions)
    end = consumer.end_offsets(partitions)
    wanted: dict[TopicPartition, int] = {}
    if start.time is not None:
        ms = int(start.time.timestamp() * 1000)
        found = consumer.offsets_for_times({tp: ms for tp in partitions})
        wanted = {tp: (found[tp].offset if found.get(tp) else end[tp]) for tp in partitions}
    elif start.per_partition:
        wanted = {tp: start.per_partition.get(tp.partition, end[tp]) for tp in partitions}
    else:
        wanted = {tp: start.offset or 0 for tp in partitions}
    return {tp: min(max(wanted[tp], first[tp]), end[tp]) for tp in partitions}


async def replay(
    settings: Settings,
    consumer: KafkaConsumer,
    producer: KafkaProducer,
    sink: BulkSink,
    start: Start,
    *,
    batch_size: int = 500,
    progress: Callable[[ReplayReport, int], None] | None = None,
) -> ReplayReport:
    topic = topics.qualified(topics.ARTICLES_ENRICHED, settings.topic_prefix)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    begin = start_offsets(consumer, partitions, start)
    end = consumer.end_offsets(partitions)
    for tp, offset in begin.items():
        consumer.seek(tp, offset)
    remaining = {tp for tp in partitions if begin[tp] < end[tp]}
    total = sum(end[tp] - begin[tp] for tp in partitions)
    shape = Stage(STAGE, EnrichedArticle.from_json, ProducerDeadLetters(producer, settings))
    report = ReplayReport()
    started = time.monotonic()

    async def handle(
        items: list[Item[EnrichedArticle]],
    ) -> list[tuple[Item[EnrichedArticle], Rejected]]:
        by_id = {item.record.article.id: item for item in items}
        result = await sink.write([item.record for item in items])
        report.indexed += len(result.indexed)
        return [
            (by_id[record.article.id], ElasticsearchRejected(reason))
            for record, reason in result.rejected
        ]

    while remaining:
        polled = await asyncio.to_thread(consumer.poll, timeout_ms=1000, max_records=batch_size)
        # past the end seen at the start: the live pipeline has it
        messages = [m for tp, batch in polled.items() for m in batch if m.offset < end[tp]]
        report.read += len(messages)
        processed = await shape.process_batch(messages, handle)
        report.rejected += len(messages) - processed  # unparseable or refused: dead-lettered
        for tp in list(remaining):
            if consumer.position(tp) >= end[tp]:
                remaining.discard(tp)
        report.elapsed_s = time.monotonic() - started
        if progress:
            progress(report, total)
    producer.flush()
    report.elapsed_s = time.monotonic() - started
    log.info("%s", report.line())
    return report
