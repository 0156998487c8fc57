"""Dedup stage: wirewatch.articles.raw -> wirewatch.articles.deduped.

The raw topic has one partition, so one agent instance sees every article and near
duplicates are found whichever outlet, poller or key they came with. Its state is the
``dedup`` table (article id -> entry, changelog-backed, one partition like its source);
the deduplicator's in-memory indexes are rebuilt from it whenever the table is recovered,
e.g. after a restart or when the partition moves to another worker.

Every article flows on, duplicates included, with its StoryRef; an unparseable or
schema-invalid record goes to the dead-letter topic.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import faust

from pipeline.dedup import DedupConfig, Deduplicator
from pipeline.records import Article, DedupedArticle, StoryRef
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_DEDUPED, ARTICLES_RAW
from pipeline.worker.channels import raw_topic
from pipeline.worker.deadletter import DeadLetters
from pipeline.worker.outcomes import DEDUP_MATCHES, DEDUP_STATE, Outcome
from pipeline.worker.rebuilt import Rebuilt, rebuild_on_recovery
from pipeline.worker.stage import Item, Rejected, Stage
from pipeline.worker.tables import JSON_CODEC, CodecTable, bytes_table

log = logging.getLogger(__name__)

STAGE = "dedup"
TABLE = "dedup"


def dedup_config(settings: Settings) -> DedupConfig:
    return DedupConfig(
        threshold=settings.dedup_threshold,
        num_perm=settings.dedup_num_perm,
        shingle_words=settings.dedup_shingle_words,
        min_words=settings.dedup_min_words,
        window_s=settings.dedup_window_hours * 3600.0,
        max_entries=settings.dedup_max_entries,
    )


class DedupStage:
    """The deduplicator over a (Faust table) store, rebuilt after each recovery."""

    def __init__(self, store: MutableMapping[str, Any], config: DedupConfig) -> None:
        self.store = store
        self.config = config
        self._dedup = Rebuilt(
            lambda: Deduplicator(self.store, self.config), name="dedup", unit="articles", size=len
        )

    def invalidate(self) -> None:
        self._dedup.invalidate()

    @property
    def dedup(self) -> Deduplicator:
        return self._dedup.get()

    def process(self, value: bytes | None) -> DedupedArticle:
        """Parse and cluster one raw value; raises (ValueError) for a poison record."""
        if not value:
            raise ValueError("empty value (tombstone) on the raw-article topic")
        return self.assign(Article.from_json(value))

    def assign(self, article: Article) -> DedupedArticle:
        story: StoryRef = self.dedup.assign(article)
        DEDUP_MATCHES.labels(self.dedup.last_layer).inc()
        DEDUP_STATE.set(len(self.store))
        return DedupedArticle(article=article, story=story)


def register(app: faust.App, settings: Settings) -> DedupStage:
    raw = raw_topic(app, ARTICLES_RAW, settings)
    deduped = raw_topic(app, ARTICLES_DEDUPED, settings)
    dead_letters = DeadLetters(app, settings)
    table = bytes_table(
        app,
        TABLE,
        partitions=ARTICLES_RAW.partitions,
        help="dedup window: article id -> dedup entry (JSON)",
    )
    stage = DedupStage(CodecTable(table, JSON_CODEC), dedup_config(settings))
    rebuild_on_recovery(table, stage)

    shape = Stage(STAGE, decode_raw, dead_letters)

    async def handle(item: Item[Article]) -> Outcome:
        # Rebuilding after a recovery is outside the per-record guard: a state that
        # cannot be read must crash the worker, not dead-letter every record after it.
        stage.dedup  # noqa: B018
        try:
            record = stage.assign(item.record)
        except Exception as exc:  # a bug only this record triggers must not stop the stream
            log.exception("dedup failed on article %s", item.record.id)
            raise Rejected.of(exc) from exc
        await deduped.send(key=record.article.id.encode(), value=record.to_json())
        return "processed" if record.story.match == "new" else "duplicate"

    @app.agent(raw, name=f"{app.conf.id}.dedup")
    async def dedup_agent(stream: faust.StreamT) -> None:
        async for _ in shape.run_each(stream, handle):
            pass

    return stage


def decode_raw(value: bytes) -> Article:
    if not value:
        raise ValueError("empty value (tombstone) on the raw-article topic")
    return Article.from_json(value)
