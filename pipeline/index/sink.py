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
- A story's canonical copy can move (pipeline.dedup: a later-arriving copy published
  earlier takes it over). The copies already indexed are then re-pointed in place (one
  update-by-query per batch, idempotent), see :meth:`BulkSink._repoint`.
One INFO line per batch summarises it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
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
#: retries of an unreachable node: the worker shows them as one outage (down, back)
connection_log = logging.getLogger(f"{__name__}.connection")

DOCUMENTS = Counter(
    "wirewatch_index_documents_total", "Articles the index sink finished with", ["status"]
)
RETRIES = Counter("wirewatch_index_retries_total", "Bulk attempts retried after a transient error")
REPOINTED = Counter(
    "wirewatch_index_canonical_repointed_total",
    "Indexed copies re-pointed to their story's new canonical copy",
)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
BACKOFF_INITIAL_S = 0.2
BACKOFF_MAX_S = 10.0
ALIAS_CACHE_S = 30.0
REPOINT_ROUNDS = 5  # re-reads when copies were rewritten while being re-pointed
REPOINT_MAX_COPIES = 1000  # copies re-pointed per round (a story that big takes rounds)


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
    # (index, id) of extra operations refused with 409: a newer version is stored
    stale_extras: list[tuple[str, str]] = field(default_factory=list)

    def extend(self, other: BulkResult[R]) -> None:
        self.indexed += other.indexed
        self.rejected += other.rejected
        self.retries += other.retries
        self.unchanged += other.unchanged
        self.stale_extras += other.stale_extras


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
                retry_log = connection_log
            except ApiError as exc:
                if exc.meta.status not in RETRYABLE_STATUS:
                    raise SinkError(f"bulk request refused: {exc.meta.status} {exc}") from exc
                retry_reason, retry_log = f"HTTP {exc.meta.status}", log
            else:
                retry_log = log
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
            retry_log.warning(
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
            if op["status"] == 409:  # a newer version is stored
                result.stale_extras.append((str(op.get("_index")), str(op.get("_id"))))
            elif op["status"] >= 300:
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
        self._sleep = sleep
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
        newest = _newest_views(records)
        for record in records:
            # copies of one story in one write carry its newest view of the canonical
            canonical = newest[record.story.cluster_id].story.canonical_id
            if record.story.canonical_id != canonical:
                story = record.story.model_copy(update={"canonical_id": canonical})
                record = record.model_copy(update={"story": story})
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
        records = [i.record for i in items]
        stories = self._story_ops(records)
        stories += self._event_ops(records)
        result = await self._writer.write(items, homes=self._existing_homes, extra=stories)
        DOCUMENTS.labels("indexed").inc(len(result.indexed))
        DOCUMENTS.labels("rejected").inc(len(result.rejected))
        stale = {id_ for index, id_ in result.stale_extras if index == self._stories_index}
        moved = _moved_canonicals(records, stale)
        if moved:
            await self._repoint(moved)
        return result

    # --- canonical moves ------------------------------------------------------------------

    async def _repoint(self, hints: dict[str, str]) -> None:
        """Re-point the indexed copies of each story in ``hints`` (cluster id -> canonical
        id as this batch saw it) to the story's current canonical.

        The current canonical is the stories-index document's (written with the newest
        cluster view, ``external_gte`` on the size, read back in real time), else the
        batch's. The alias is refreshed so the copies just written are found, then every
        copy of the story naming another canonical is rewritten whole (the node has no
        update-by-query or scripts), each guarded by its sequence number; a copy written
        meanwhile is read again on the next round. Idempotent, and monotone: a batch with an
        older view of a story either loses its story write (409) and reads the newer
        canonical back, or carries the newer one itself.
        """
        started = time.monotonic()
        deadline = started + self._retry_timeout
        canonical = dict(hints)
        if self._stories_index is not None:
            response = await self._retrying(
                deadline,
                lambda: self._client.mget(
                    index=self._stories_index, ids=sorted(hints), source=["canonical_id"]
                ),
            )
            for doc in response["docs"]:
                if doc.get("found"):
                    canonical[doc["_id"]] = doc["_source"]["canonical_id"]
        query = {
            "bool": {
                "should": [
                    {
                        "bool": {
                            "filter": [{"term": {"story.cluster_id": cluster}}],
                            "must_not": [{"term": {"story.canonical_id": canon}}],
                        }
                    }
                    for cluster, canon in sorted(canonical.items())
                ],
                "minimum_should_match": 1,
            }
        }
        repointed = conflicts = 0
        for _round in range(REPOINT_ROUNDS):
            await self._retrying(deadline, lambda: self._client.indices.refresh(index=self._alias))
            found = await self._retrying(
                deadline,
                lambda: self._client.search(
                    index=self._alias,
                    query=query,
                    size=REPOINT_MAX_COPIES,
                    seq_no_primary_term=True,
                ),
            )
            hits = found["hits"]["hits"]
            if not hits:
                break
            lines: list[bytes] = []
            for hit in hits:
                source = hit["_source"]
                story = source["story"]
                story["canonical_id"] = canonical[story["cluster_id"]]
                story["is_canonical"] = hit["_id"] == story["canonical_id"]
                action = {
                    "index": {
                        "_index": hit["_index"],
                        "_id": hit["_id"],
                        "if_seq_no": hit["_seq_no"],
                        "if_primary_term": hit["_primary_term"],
                    }
                }
                lines += [json.dumps(action).encode(), json.dumps(source).encode()]
            response = await self._retrying(
                deadline, lambda ops=lines: self._client.bulk(operations=ops, refresh=False)
            )
            statuses = [item["index"]["status"] for item in response["items"]]
            repointed += sum(1 for status in statuses if status < 300)
            conflicts += sum(1 for status in statuses if status == 409)
            if all(status < 300 for status in statuses) and len(hits) < REPOINT_MAX_COPIES:
                break
        else:
            log.warning(
                "canonical: some copies of %d stories still name an old canonical after %d"
                " rounds; they do until the story's canonical is re-pointed again",
                len(canonical),
                REPOINT_ROUNDS,
            )
        REPOINTED.inc(repointed)
        log.info(
            "canonical: %d stories checked, %d copies re-pointed (%d written meanwhile) took=%.3fs",
            len(canonical),
            repointed,
            conflicts,
            time.monotonic() - started,
        )

    async def _retrying(self, deadline: float, call: Callable[[], Awaitable[Any]]) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except (TransportConnectionError, ConnectionTimeout) as exc:
                reason = f"connection: {exc.__class__.__name__}"
            except ApiError as exc:
                if exc.meta.status not in RETRYABLE_STATUS:
                    raise SinkError(f"re-pointing canonical copies refused: {exc}") from exc
                reason = f"HTTP {exc.meta.status}"
            if time.monotonic() >= deadline:
                raise SinkUnavailableError(
                    f"Elasticsearch unavailable for {self._retry_timeout:.0f}s ({reason}) "
                    "while re-pointing canonical copies; the batch is not acknowledged"
                )
            delay = min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (attempt - 1))
            await self._sleep(min(delay, max(0.0, deadline - time.monotonic())))

    def _story_ops(self, records: list[EnrichedArticle]) -> list[bytes]:
        if self._stories_index is None:
            return []
        return _versioned_writes(
            self._stories_index,
            "external_gte",
            (
                (cluster_id, story_version(record), to_story_document(record))
                for cluster_id, record in _newest_views(records).items()
            ),
        )

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
        return _versioned_writes(
            self._events_index,
            "external",
            (
                (event_id, event_version(record), to_event_document(record))
                for event_id, record in newest.items()
            ),
        )

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


def _versioned_writes(
    index: str, version_type: str, documents: Iterable[tuple[str, int, dict[str, Any]]]
) -> list[bytes]:
    """Bulk lines writing each (id, version, document) to ``index`` under external
    versioning (``version_type``): a write older than the indexed version is refused (409),
    so the order the writes arrive in does not matter."""
    lines: list[bytes] = []
    for doc_id, version, document in documents:
        action = {
            "index": {
                "_index": index,
                "_id": doc_id,
                "version": version,
                "version_type": version_type,
            }
        }
        lines += [json.dumps(action).encode(), json.dumps(document).encode()]
    return lines


def _newest_views(records: Sequence[EnrichedArticle]) -> dict[str, EnrichedArticle]:
    """Per story cluster, the record that saw the most copies (the newest dedup view)."""
    newest: dict[str, EnrichedArticle] = {}
    for record in records:
        seen = newest.get(record.story.cluster_id)
        if seen is None or story_version(record) >= story_version(seen):
            newest[record.story.cluster_id] = record
    return newest


def _moved_canonicals(records: Sequence[EnrichedArticle], stale: set[str]) -> dict[str, str]:
    """Stories whose indexed copies may name an old canonical: cluster id -> canonical.

    A copy that is its story's canonical without being its first copy ("new") took the
    canonical over (on its first processing or a redelivery, so a lost re-point is retried); a story
    whose stories-index write lost to a newer one (409) was written here with an old view.
    """
    newest = _newest_views(records)
    moved: dict[str, str] = {}
    for record in records:
        story = record.story
        took_over = story.canonical_id == record.article.id and story.match != "new"
        if took_over or story.cluster_id in stale:
            moved[story.cluster_id] = newest[story.cluster_id].story.canonical_id
    return moved


def _reason(status: int, error: dict[str, Any] | None) -> str:
    if not error:
        return f"HTTP {status}"
    reason = f"HTTP {status} {error.get('type')}: {error.get('reason')}"
    cause = error.get("caused_by")
    if cause:
        reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
    return reason
