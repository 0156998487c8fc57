"""Events stage: wirewatch.articles.annotated -> wirewatch.articles.enriched.

Every enriched article leaves with its event (``EnrichedArticle.event``): the independently
written stories of one happening share it, and every copy of a story shares its story's.
The annotated topic has one partition, as the raw topic has for dedup: every story must meet
the same event state whatever its key. That state is the ``events`` table (event id ->
event entry JSON, changelog-backed, one partition like its source); the clusterer's inverted
index, story map and eviction order are rebuilt from it whenever it is recovered.

Decisions depend only on the state and the input: a redelivered article is found by its id
and gets the event it had (match ``replay``), and a replay from an empty state makes the
same decisions in the same order. An unparseable record goes to the dead-letter topic.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import faust

from pipeline.events.clusterer import EventClusterer, EventConfig
from pipeline.events.refs import event_ref
from pipeline.records import EnrichedArticle
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_ANNOTATED, ARTICLES_ENRICHED
from pipeline.worker.channels import raw_topic
from pipeline.worker.deadletter import DeadLetters
from pipeline.worker.outcomes import EVENT_MATCHES, EVENT_STATE, Outcome
from pipeline.worker.rebuilt import Rebuilt, rebuild_on_recovery
from pipeline.worker.stage import Item, Rejected, Stage
from pipeline.worker.tables import JSON_CODEC, CodecTable, bytes_table

log = logging.getLogger(__name__)

STAGE = "events"
TABLE = "events"


def event_config(settings: Settings) -> EventConfig:
    return EventConfig(
        threshold=settings.events_threshold,
        window_s=settings.events_window_hours * 3600.0,
        max_events=settings.events_max_events,
    )


class EventsStage:
    """The event clusterer over a (Faust table) store, rebuilt after each recovery."""

    def __init__(self, store: MutableMapping[str, Any], config: EventConfig) -> None:
        self.store = store
        self.config = config
        self._clusterer = Rebuilt(
            lambda: EventClusterer(self.store, self.config), name="event", unit="events", size=len
        )

    def invalidate(self) -> None:
        self._clusterer.invalidate()

    @property
    def clusterer(self) -> EventClusterer:
        return self._clusterer.get()

    def assign(self, record: EnrichedArticle) -> EnrichedArticle:
        assignment = self.clusterer.assign(record)
        EVENT_MATCHES.labels(assignment.match).inc()
        EVENT_STATE.set(len(self.clusterer))
        return record.model_copy(update={"event": event_ref(assignment)})


def register(app: faust.App, settings: Settings) -> EventsStage:
    annotated = raw_topic(app, ARTICLES_ANNOTATED, settings)
    enriched = raw_topic(app, ARTICLES_ENRICHED, settings)
    table = bytes_table(
        app,
        TABLE,
        partitions=ARTICLES_ANNOTATED.partitions,
        help="event window: event id -> event entry (JSON)",
    )
    stage = EventsStage(CodecTable(table, JSON_CODEC), event_config(settings))
    rebuild_on_recovery(table, stage)

    shape = Stage(STAGE, decode_annotated, DeadLetters(app, settings))

    async def handle(item: Item[EnrichedArticle]) -> Outcome:
        # Rebuilding after a recovery is outside the per-record guard: a state that
        # cannot be read must crash the worker, not dead-letter every record after it.
        stage.clusterer  # noqa: B018
        try:
            record = stage.assign(item.record)
        except Exception as exc:  # a bug only this record triggers must not stop the stream
            log.exception("event clustering failed on article %s", item.record.article.id)
            raise Rejected.of(exc) from exc
        await enriched.send(key=item.message.key, value=record.to_json())
        return "processed"

    @app.agent(annotated, name=f"{app.conf.id}.events")
    async def events_agent(stream: faust.StreamT) -> None:
        async for _ in shape.run_each(stream, handle):
            pass

    return stage


def decode_annotated(value: bytes) -> EnrichedArticle:
    if not value:
        raise ValueError("empty value (tombstone) on the annotated-article topic")
    return EnrichedArticle.from_json(value)
