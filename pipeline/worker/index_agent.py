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
from pipeline.worker.outcomes import count

log = logging.getLogger(__name__)

STAGE = "index"


def register(app: faust.App, settings: Settings) -> None:
    from pipeline.adapters.elastic import make_async_client
    from pipeline.index.sink import BulkSink

    enriched = raw_topic(app, ARTICLES_ENRICHED, settings)
    dead_letters = DeadLetters(app, settings)
    sinks: list[BulkSink] = []

    def sink() -> BulkSink:
        if not sinks:  # created on the worker's event loop, one client per process
            sinks.append(BulkSink(make_async_client(settings), settings))
        return sinks[0]

    @app.agent(enriched, name=f"{app.conf.id}.index")
    async def index_agent(stream: Any) -> None:
        try:
            async for events in stream.take_events(
                settings.es_bulk_max_docs, within=settings.batch_within_s
            ):
                records: list[EnrichedArticle] = []
                messages: dict[str, Any] = {}
                for event in events:
                    try:
                        record = EnrichedArticle.from_json(event.message.value or b"")
                    except ValueError as exc:
                        await dead_letters.send_error(STAGE, event.message, exc)
                        continue
                    records.append(record)
                    messages[record.article.id] = event.message
                if not records:
                    continue
                result = await sink().write(records)
                for record, reason in result.rejected:
                    message = messages[record.article.id]
                    await dead_letters.send(STAGE, message, reason, "ElasticsearchRejected")
                count(STAGE, "processed", len(records) - len(result.rejected))
        finally:
            if sinks:
                await sinks.pop().close()
