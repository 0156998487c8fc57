"""Bulk sink: EnrichedArticles -> the articles alias (and the stories and events indices).

Contract with the caller (the Faust index agent, replay):
- ``await sink.write(records)`` returns only when every record is either indexed or
  rejected with a reason; the caller dead-letters the rejected ones and then commits.
- Transient failures (HTTP 429/5xx, connection errors, per-item 429/5xx) are retried with
  exponential backoff and jitter until ``es_retry_timeout_s``; past that the sink raises
  :class:`SinkUnavailableError` and the caller must not commit (the worker crashes and
  Kafka redelivers). That is the backpressure: a slow or absent cluster stalls the caller
  instead of piling records up in memory; at most ``max_in_flight`` bounded batches are
  in memory per sink.
- Misconfiguration (no alias: setup not run; 401/403) raises :class:`SinkError` rather
  than dead-lettering every record.
One INFO line per batch summarises it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, AsyncElasticsearch
from prometheus_client import Counter

from pipeline.index.documents import (
    document_id,
    event_version,
    story_version,
    to_document,
    to_event_document,
    to_story_document,
)
from pipeline.records import EnrichedArticle, utcnow
from pipeline.settings import Settings

log = logging.getLogger(__name__)

DOCUMENTS = Counter(
    "wirewatch_index_documents_total", "Articles the index sink finished with", ["status"]
)
RETRIES = Counter("wirewatch_index_retries_total", "Bulk attempts retried after a transient error")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
BACKOFF_INITIAL_S = 0.2
BACKOFF_MAX_S = 10.0
ALIAS_CACHE_S = 30.0


class SinkError(RuntimeError):
    """The sink cannot work as configured (no write alias, no permission)."""


class SinkUnavailableError(SinkError):
    """Elasticsearch stayed unavailable past the retry deadline; nothing was acknowledged."""


R = TypeVar("R")


@dataclass
class BulkResult(Generic[R]):
    indexed: list[str] = field(default_factory=list)
    rejected: list[tuple[R, str]] = field(default_factory=list)
    retries: int = 0
    #: versioned documents refused as version conflicts: that version (or a newer) is there
    unchanged: list[str] = field(default_factory=list)

    def extend(self, other: BulkResult[R]) -> None:
        self.indexed += other.indexed
        self.rejected += other.rejected
        self.retries += other.retries
        self.unchanged += other.unchanged


SinkResult = BulkResult[EnrichedArticle]


@dataclass
class BulkDoc(Generic[R]):
    """One document to write: the record it came from, its id and its JSON source."""

    record: R
    id: str
    source: bytes
    #: an external version (the claims' revision): a write of a version already stored,
    #: or an older one, is refused by Elasticsearch and counted as unchanged, not rejected
    version: int | None = None


_Item = BulkDoc[EnrichedArticle]
Homes = Callable[[list[str]], Awaitable[dict[str, str]]]


class BulkWriter(Generic[R]):
    """Bulk-writes documents into one index or alias until each is indexed or rejected.

    The one retry policy for every Elasticsearch writer (articles, alerts): connection
    errors, HTTP 429/5xx and per-item 429/5xx are retried with jittered exponential backoff
    until ``retry_timeout_s``, then :class:`SinkUnavailableError` (the caller must not
    commit; the worker crashes and Kafka redelivers); other per-item errors (400 mapping
    conflicts) are rejected with Elasticsearch's reason, for the caller to dead-letter.
    """

    def __init__(
        self,
        client: AsyncElasticsearch,
        target: str,
        *,
        retry_timeout_s: float,
        require_alias: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self._target = target
        self._require_alias = require_alias
        self._retry_timeout = retry_timeout_s
        self._sleep = sleep

    async def write(
        self, docs: list[BulkDoc[R]], *, homes: Homes | None = None, extra: list[bytes] = ()
    ) -> BulkResult[R]:
        """``homes``: the concrete index of ids already written (rewritten in place);
        ``extra``: best-effort operations sent with the first attempt that gets through."""
        started = time.monotonic()
        deadline = started + self._retry_timeout
        result: BulkResult[R] = BulkResult()
        pending = docs
        extra_ops = list(extra)
        attempt = 0
        while pending:
            attempt += 1
            try:
                where = await homes([d.id for d in pending]) if homes else {}
                response = await self.client.bulk(
                    operations=self._operations(pending, where) + extra_ops, refresh=False
                )
            except (TransportConnectionError, ConnectionTimeout) as exc:
                retry_reason = f"connection: {exc.__class__.__name__}"
            except ApiError as exc:
                if exc.meta.status not in RETRYABLE_STATUS:
                    raise SinkError(f"bulk request refused: {exc.meta.status} {exc}") from exc
                retry_reason = f"HTTP {exc.meta.status}"
            else:
                pending, retry_reason = self._sort_items(pending, response, result)
                extra_ops = []
                if not pending:
                    break
            if time.monotonic() >= deadline:
                raise SinkUnavailableError(
                    f"Elasticsearch unavailable for {self._retry_timeout:.0f}s "
                    f"({retry_reason}); {len(pending)} documents not indexed into {self._target}"
                )
            result.retries += 1
            RETRIES.inc()
            delay = min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (attempt - 1))
            delay = min(delay * random.uniform(0.5, 1.0), max(0.0, deadline - time.monotonic()))
            log.warning(
                "bulk: retrying %d documents in %.2fs (attempt %d, %s)",
                len(pending),
                delay,
                attempt,
                retry_reason,
            )
            await self._sleep(delay)
        log.info(
            "bulk %s: docs=%d indexed=%d unchanged=%d rejected=%d retries=%d bytes=%d took=%.3fs",
            self._target,
            len(docs),
            len(result.indexed),
            len(result.unchanged),
            len(result.rejected),
            result.retries,
            sum(len(d.source) for d in docs),
            time.monotonic() - started,
        )
        return result

    def _operations(self, docs: list[BulkDoc[R]], homes: dict[str, str]) -> list[bytes]:
        lines: list[bytes] = []
        for doc in docs:
            home = homes.get(doc.id)
            # A document already written before a rollover is rewritten where it lives, so a
            # replay across a rollover still leaves exactly one copy of it.
            if home:
                action: dict[str, Any] = {"index": {"_index": home, "_id": doc.id}}
            else:
                action = {"index": {"_index": self._target, "_id": doc.id}}
                if self._require_alias:
                    action["index"]["require_alias"] = True
            if doc.version is not None:
                action["index"]["version"] = doc.version
                action["index"]["version_type"] = "external"
            lines += [json.dumps(action).encode(), doc.source]
        return lines

    def _sort_items(
        self, pending: list[BulkDoc[R]], response: dict[str, Any], result: BulkResult[R]
    ) -> tuple[list[BulkDoc[R]], str]:
        """Split bulk item results into indexed, rejected and to-retry."""
        retry: list[BulkDoc[R]] = []
        reason = ""
        outcomes = response["items"]
        for doc, outcome in zip(pending, outcomes[: len(pending)], strict=True):
            op = outcome["index"]
            status = op["status"]
            if status < 300:
                result.indexed.append(doc.id)
            elif status == 409 and doc.version is not None:
                result.unchanged.append(doc.id)
            elif status in RETRYABLE_STATUS:
                retry.append(doc)
                reason = f"item {status} {op.get('error', {}).get('type', '')}".strip()
            elif status == 404 and op.get("error", {}).get("type") == "index_not_found_exception":
                raise SinkError(
                    f"write alias {self._target!r} missing: run `wirewatch setup` "
                    f"({op['error'].get('reason')})"
                )
            else:
                result.rejected.append((doc.record, _reason(status, op.get("error"))))
        for outcome in outcomes[len(pending) :]:
            op = outcome["index"]
            if op["status"] >= 300 and op["status"] != 409:  # 409: a newer count is stored
                log.warning("bulk: extra %s not written: %s", op.get("_id"), op.get("error"))
        return retry, reason


class BulkSink:
    def __init__(
        self,
        client: AsyncElasticsearch,
        settings: Settings,
        *,
        max_in_flight: int = 2,
        stories: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._alias = settings.index_alias
        self._stories_index = settings.stories_index if stories else None
        self._events_index = settings.events_index if stories else None
        self._max_docs = settings.es_bulk_max_docs
        self._max_bytes = settings.es_bulk_max_bytes
        self._retry_timeout = settings.es_retry_timeout_s
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._writer: BulkWriter[EnrichedArticle] = BulkWriter(
            client,
            self._alias,
            retry_timeout_s=self._retry_timeout,
            require_alias=True,
            sleep=sleep,
        )
        self._alias_indices: tuple[float, int] | None = None  # (checked at, index count)

    async def close(self) -> None:
        """Close the client's connections (on worker shutdown)."""
        await self._client.close()

    async def write(self, records: Sequence[EnrichedArticle]) -> SinkResult:
        result = SinkResult()
        for batch in self._batches(records):
            async with self._in_flight:
                result.extend(await self._write_batch(batch))
        return result

    # --- batching -------------------------------------------------------------------------

    def _batches(self, records: Sequence[EnrichedArticle]) -> Iterator[list[_Item]]:
        batch: list[_Item] = []
        size = 0
        now = utcnow()
        for record in records:
            source = json.dumps(to_document(record, ingested_at=now)).encode()
            if batch and (len(batch) >= self._max_docs or size + len(source) > self._max_bytes):
                yield batch
                batch, size = [], 0
            batch.append(BulkDoc(record, document_id(record), source))
            size += len(source)
        if batch:
            yield batch

    # --- one batch ------------------------------------------------------------------------

    async def _write_batch(self, items: list[_Item]) -> SinkResult:
        # Several copies of one story in a batch: only the newest count matters; story
        # upserts are best effort once a bulk got through.
        stories = self._story_ops([i.record for i in items])
        stories += self._event_ops([i.record for i in items])
        result = await self._writer.write(items, homes=self._existing_homes, extra=stories)
        DOCUMENTS.labels("indexed").inc(len(result.indexed))
        DOCUMENTS.labels("rejected").inc(len(result.rejected))
        return result

    def _story_ops(self, records: list[EnrichedArticle]) -> list[bytes]:
        if self._stories_index is None:
            return []
        newest: dict[str, EnrichedArticle] = {}
        for record in records:
            seen = newest.get(record.story.cluster_id)
            if seen is None or story_version(record) >= story_version(seen):
                newest[record.story.cluster_id] = record
        lines: list[bytes] = []
        for cluster_id, record in newest.items():
            action = {
                "index": {
                    "_index": self._stories_index,
                    "_id": cluster_id,
                    "version": story_version(record),
                    "version_type": "external_gte",
                }
            }
            lines += [json.dumps(action).encode(), json.dumps(to_story_document(record)).encode()]
        return lines

    def _event_ops(self, records: list[EnrichedArticle]) -> list[bytes]:
        """One write per event of the batch, the newest revision; a replayed revision is a
        409 the writer ignores (``external``: only a higher revision replaces a document)."""
        if self._events_index is None:
            return []
        newest: dict[str, EnrichedArticle] = {}
        for record in records:
            if record.event is None:
                continue  # enriched before the events stage existed
            seen = newest.get(record.event.event_id)
            if seen is None or event_version(record) > event_version(seen):
                newest[record.event.event_id] = record
        lines: list[bytes] = []
        for event_id, record in newest.items():
            action = {
                "index": {
                    "_index": self._events_index,
                    "_id": event_id,
                    "version": event_version(record),
                    "version_type": "external",
                }
            }
            lines += [json.dumps(action).encode(), json.dumps(to_event_document(record)).encode()]
        return lines

    async def _existing_homes(self, ids: list[str]) -> dict[str, str]:
        """Concrete index of each id already indexed, when the alias spans several indices."""
        if await self._alias_index_count() <= 1:
            return {}
        response = await self._client.search(
            index=self._alias,
            query={"ids": {"values": ids}},
            source=False,
            size=len(ids),
        )
        return {hit["_id"]: hit["_index"] for hit in response["hits"]["hits"]}

    async def _alias_index_count(self) -> int:
        now = time.monotonic()
        if self._alias_indices is None or now - self._alias_indices[0] > ALIAS_CACHE_S:
            try:
                aliases = await self._client.indices.get_alias(name=self._alias)
                count = len(aliases)
            except ApiError as exc:
                if exc.meta.status != 404:
                    raise
                count = 0  # bulk's require_alias then reports the missing alias
            self._alias_indices = (now, count)
        return self._alias_indices[1]


def _reason(status: int, error: dict[str, Any] | None) -> str:
    if not error:
        return f"HTTP {status}"
    reason = f"HTTP {status} {error.get('type')}: {error.get('reason')}"
    cause = error.get("caused_by")
    if cause:
        reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
    return reason
