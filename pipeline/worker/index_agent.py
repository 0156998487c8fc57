"""Index stage: wirewatch.articles.enriched -> Elasticsearch (pipeline.index.sink.BulkSink).

Batches of up to ``es_bulk_max_docs``; the document id is the article id, so a replay
after a crash overwrites instead of duplicating. The sink returns only when each record is
indexed or rejected: rejected ones (mapping conflicts, strict-mapping violations) go to the
dead-letter topic with Elasticsearch's reason, then the batch is acknowledged. While
Elasticsearch is away the sink retries with backoff and the agent waits: nothing is
acknowledged, Kafka holds the backlog. Past ``es_retry_timeout_s`` the sink raises and the
crashing supervisor takes the worker down, so Kafka redelivers to the restarted one.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from pipeline.records import EnrichedArticle
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_ENRICHED
from pipeline.worker.channels import raw_topic
from pipeline.worker.deadletter import DeadLetters
from pipeline.worker.stage import ElasticsearchRejected, Item, Rejected, Stage

log = logging.getLogger(__name__)

STAGE = "index"


def register(app: faust.App, settings: Settings) -> None:
    from pipeline.adapters.elastic import make_async_client
    from pipeline.index.sink import BulkSink

    enriched = raw_topic(app, ARTICLES_ENRICHED, settings)
    shape = Stage(STAGE, EnrichedArticle.from_json, DeadLetters(app, settings))
    sinks: list[BulkSink] = []

    def sink() -> BulkSink:
        if not sinks:  # created on the worker's event loop, one client per process
            sinks.append(BulkSink(make_async_client(settings), settings))
        return sinks[0]

    async def handle(
        items: list[Item[EnrichedArticle]],
    ) -> list[tuple[Item[EnrichedArticle], Rejected]]:
        by_id = {item.record.article.id: item for item in items}
        result = await sink().write([item.record for item in items])
        return [
            (by_id[record.article.id], ElasticsearchRejected(reason))
            for record, reason in result.rejected
        ]

    @app.agent(enriched, name=f"{app.conf.id}.index")
    async def index_agent(stream: Any) -> None:
        try:
            async for _ in shape.run(
                stream, handle, size=settings.es_bulk_max_docs, within=settings.batch_within_s
            ):
                pass
        finally:
            if sinks:
                await sinks.pop().close()
