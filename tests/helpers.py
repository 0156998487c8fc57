"""Small helpers shared by tests (importable as ``helpers``: tests/ is on sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 30.0, message: str = "", interval: float = 0.1
) -> T:
    """Poll ``predicate`` until it returns something truthy; return that value.

    Fails with ``message`` (and the last exception, if the predicate kept raising) once
    ``timeout`` seconds pass. Use this instead of sleeping to synchronise with servers.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = predicate()
        except Exception as exc:  # the condition may not be checkable yet
            last_error = exc
        else:
            if result:
                return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s: {message or predicate}{detail}")
        time.sleep(interval)


def wait_for_count(
    count: Callable[[], int],
    target: int,
    stall: float,
    message: str = "",
    describe: Callable[[], str] | None = None,
    interval: float = 0.5,
) -> int:
    """Poll ``count()`` until it reaches ``target``; fail once it has not moved for ``stall``
    seconds (a stuck pipeline fails in ``stall``, a slow but moving one is given time).

    ``describe()`` is appended to the failure (worker log tails, lag) to say why it stuck.
    """
    last = -1
    moved_at = time.monotonic()
    while True:
        try:
            now = count()
        except Exception:  # the server may not answer yet: no progress
            now = last
        if now >= target:
            return now
        if now != last:
            last, moved_at = now, time.monotonic()
        elif time.monotonic() - moved_at >= stall:
            detail = f"\n{describe()}" if describe else ""
            raise AssertionError(f"stuck at {last}/{target} for {stall:.0f}s: {message}{detail}")
        time.sleep(interval)


def drop_indices_and_templates(client: Any, settings: Any) -> None:
    """Delete the indices and templates (articles, stories, alerts, claims, events) a
    test's settings named.

    By name: the node refuses wildcard deletes (action.destructive_requires_name).
    """
    from pipeline.index.templates import Names

    names = Names.from_settings(settings)
    pattern = f"{names.alias}-*,{names.stories}*,{names.alerts}*,{names.claims}*,{names.events}*"
    created = list(client.indices.get(index=pattern, allow_no_indices=True))
    if created:
        client.indices.delete(index=",".join(created))
    for kind in ("articles", "stories", "alerts", "claims", "events"):
        client.options(ignore_status=404).indices.delete_index_template(
            name=names.template_name(kind)
        )


def index_articles(settings: Any, es: Any, records: list[Any]) -> None:
    """Write enriched records to the articles index as the index stage does (BulkSink), all
    accepted, and refresh the alias so that searches see them."""
    import asyncio

    from elasticsearch import AsyncElasticsearch

    from pipeline.index.sink import BulkSink

    async def write() -> None:
        client = AsyncElasticsearch(settings.es_url, request_timeout=30)
        try:
            result = await BulkSink(client, settings).write(records)
        finally:
            await client.close()
        assert result.rejected == []

    asyncio.run(write())
    es.indices.refresh(index=settings.index_alias)
