"""What the audit reconciles, read from the real topics, the worker's group and the index.

Read-only: the consumer joins no group and commits nothing; each topic is read from the
range's start (by record timestamp) up to the end offsets it had when the audit began, so
records produced meanwhile are left for the next audit. Documents are looked up by id in
the articles alias (every rolled-over index behind it), in batches.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from pipeline.adapters.kafka import client_options
from pipeline.audit import AuditInputs, Position, Stage
from pipeline.settings import Settings
from pipeline.topics import (
    ARTICLES_DEDUPED,
    ARTICLES_ENRICHED,
    ARTICLES_RAW,
    DEAD_LETTER,
    qualified,
)

ID_BATCH = 1000
POLL_MS = 1000
MAX_IDLE_POLLS = 30

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TopicRecord:
    key: str
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes | None
    headers: dict[str, bytes]


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def read_topic(
    settings: Settings,
    topic: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[TopicRecord]:
    """Every keyed record of ``topic`` with a timestamp in [since, until), oldest first per
    partition, up to the end offsets the topic had when reading began."""
    consumer = KafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        begins = consumer.beginning_offsets(partitions)
        since_ms, until_ms = _ms(since), _ms(until)
        starts = dict(begins)
        if since_ms is not None:
            found = consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
            for tp in partitions:
                starts[tp] = found[tp].offset if found.get(tp) is not None else ends[tp]
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        open_parts = {tp for tp in partitions if starts[tp] < ends[tp]}
        idle = 0
        while open_parts:
            batch = consumer.poll(timeout_ms=POLL_MS)
            idle = 0 if batch else idle + 1
            if idle >= MAX_IDLE_POLLS:
                raise TimeoutError(f"{topic}: no records for {idle}s before its end offsets")
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    if record.key is None:
                        continue
                    if until_ms is not None and record.timestamp >= until_ms:
                        continue
                    yield TopicRecord(
                        key=record.key.decode("utf-8", "replace"),
                        partition=tp.partition,
                        offset=record.offset,
                        timestamp_ms=record.timestamp,
                        value=record.value,
                        headers={k: v or b"" for k, v in record.headers or []},
                    )
            for tp in list(open_parts):
                if consumer.position(tp) >= ends[tp]:
                    open_parts.discard(tp)
    finally:
        consumer.close()


def committed_offsets(settings: Settings, group_id: str) -> dict[str, dict[int, int]]:
    """topic -> partition -> the group's committed offset (the next record it will read)."""
    admin = KafkaAdminClient(**client_options(settings))
    try:
        offsets = admin.list_group_offsets({group_id: None}).get(group_id, {})
    finally:
        admin.close()
    out: dict[str, dict[int, int]] = defaultdict(dict)
    for tp, meta in offsets.items():
        if meta is not None and meta.offset >= 0:
            out[tp.topic][tp.partition] = meta.offset
    return out


def documents_by_id(es: Elasticsearch, alias: str, ids: list[str]) -> dict[str, list[str]]:
    """article id -> the indices behind ``alias`` holding a document with that id."""
    found: dict[str, list[str]] = defaultdict(list)
    if not es.indices.exists_alias(name=alias) and not es.indices.exists(index=alias):
        return found
    es.indices.refresh(index=alias)
    for start in range(0, len(ids), ID_BATCH):
        chunk = ids[start : start + ID_BATCH]
        # size: an id may sit in several rolled-over indices; twice the batch is plenty
        # to see a duplicate (a larger overflow is still reported as one).
        response = es.search(
            index=alias,
            query={"ids": {"values": chunk}},
            source=False,
            size=2 * len(chunk),
        )
        for hit in response["hits"]["hits"]:
            found[hit["_id"]].append(hit["_index"])
    return found


def _story(value: bytes | None) -> tuple[str | None, str | None]:
    """(cluster id, match) of a deduped-topic value; (None, None) when unreadable."""
    try:
        story = json.loads(value or b"")["story"]
        return story["cluster_id"], story["match"]
    except (ValueError, KeyError, TypeError):
        return None, None


def collect(
    settings: Settings,
    es: Elasticsearch,
    group_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Progress | None = None,
) -> AuditInputs:
    """Read everything the audit needs for raw records in [since, until)."""
    say = progress or (lambda _line: None)
    prefix = settings.topic_prefix
    raw_name = qualified(ARTICLES_RAW, prefix)
    deduped_name = qualified(ARTICLES_DEDUPED, prefix)
    enriched_name = qualified(ARTICLES_ENRICHED, prefix)
    # Committed offsets first: a record the group commits while we read the topics then
    # looks pending rather than lost (the safe side for an audit taken on a live pipeline).
    committed = committed_offsets(settings, group_id)

    say(f"reading {raw_name} ...")
    raw: dict[str, list[Position]] = defaultdict(list)
    for record in read_topic(settings, raw_name, since, until):
        raw[record.key].append(Position(record.partition, record.offset))
    wanted = set(raw)

    say(f"reading {deduped_name} ...")
    deduped: dict[str, list[Position]] = defaultdict(list)
    clusters: dict[str, set[str]] = defaultdict(set)
    matches: dict[str, str] = {}
    # Later stages are read from the same start: their records of an id are never older
    # than its raw record. No upper bound: an article polled before ``until`` may be
    # processed after it.
    for record in read_topic(settings, deduped_name, since):
        if record.key not in wanted:
            continue
        deduped[record.key].append(Position(record.partition, record.offset))
        cluster, match = _story(record.value)
        if cluster is not None:
            clusters[record.key].add(cluster)
            matches.setdefault(record.key, match or "new")

    say(f"reading {enriched_name} ...")
    enriched: dict[str, list[Position]] = defaultdict(list)
    for record in read_topic(settings, enriched_name, since):
        if record.key in wanted:
            enriched[record.key].append(Position(record.partition, record.offset))

    dead_name = qualified(DEAD_LETTER, prefix)
    say(f"reading {dead_name} ...")
    dead: dict[str, list[str]] = defaultdict(list)
    for record in read_topic(settings, dead_name, since):
        if record.key in wanted:
            stage = record.headers.get("stage", b"?").decode("utf-8", "replace")
            reason = record.headers.get("reason", b"").decode("utf-8", "replace")
            dead[record.key].append(f"{stage}: {reason[:160]}")

    say(f"looking up {len(wanted)} ids in {settings.index_alias} ...")
    documents = documents_by_id(es, settings.index_alias, sorted(wanted))
    return AuditInputs(
        raw=Stage("dedup", raw, committed.get(raw_name, {})),
        deduped=Stage("enrich", deduped, committed.get(deduped_name, {})),
        enriched=Stage("index", enriched, committed.get(enriched_name, {})),
        clusters=clusters,
        matches=matches,
        documents=documents,
        dead_letters=dead,
    )
