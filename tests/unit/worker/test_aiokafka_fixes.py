"""pipeline/worker/aiokafka_fixes.py: a stop during a Kafka outage, without the broker.

The fetch task is aiokafka's own ``Fetcher._proc_fetch_request`` after a failed send
(the broker is away): it sleeps ``retry_backoff`` in its ``except KafkaError`` branch,
which is where ``close()`` finds it during an outage.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import pytest
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.errors import NodeNotReadyError

from pipeline.worker import aiokafka_fixes


class _Client:
    async def send(self, node_id: int, request: Any) -> Any:
        raise NodeNotReadyError(f"Attempt to send a request to node which is not ready ({node_id})")


class _Request:
    topics: ClassVar[list[Any]] = []


class StubFetcher:
    """The attributes ``Fetcher.close`` and ``_proc_fetch_request`` use."""

    _proc_fetch_request = Fetcher._proc_fetch_request
    _invalidate_preferred_read_replica_for_node = (
        Fetcher._invalidate_preferred_read_replica_for_node
    )

    def __init__(self) -> None:
        self._closed = False
        self._client = _Client()
        self._retry_backoff = 60.0
        self._preferred_read_replica: dict[Any, Any] = {}
        self._fetch_waiters: set[asyncio.Future[None]] = set()
        self._fetch_task = asyncio.ensure_future(asyncio.sleep(3600))
        self._pending_tasks: set[asyncio.Task[Any]] = set()

    def _notify(self, future: asyncio.Future[None]) -> None:
        if not future.done():
            future.set_result(None)

    async def fetch_failing(self) -> asyncio.Task[Any]:
        """A fetch to the absent broker, left in its retry backoff."""
        task = asyncio.ensure_future(self._proc_fetch_request(None, 1, _Request()))
        self._pending_tasks.add(task)
        for _ in range(10):  # a few loop turns: the send fails, the backoff sleep begins
            await asyncio.sleep(0)
        assert not task.done()
        return task


def test_aiokafkas_close_raises_the_cancelled_fetch_out_of_consumer_stop() -> None:
    """The defect: ``CancelledError`` escapes ``close()`` (and so ``AIOKafkaConsumer.stop``)."""

    async def main() -> None:
        fetcher = StubFetcher()
        await fetcher.fetch_failing()
        with pytest.raises(asyncio.CancelledError):
            await aiokafka_fixes.ORIGINAL_FETCHER_CLOSE(fetcher)

    asyncio.run(main())


def test_fixed_close_waits_for_the_cancelled_fetches_and_returns() -> None:
    async def main() -> None:
        fetcher = StubFetcher()
        tasks = [await fetcher.fetch_failing(), await fetcher.fetch_failing()]
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fetcher._fetch_waiters.add(waiter)
        await aiokafka_fixes.fetcher_close(fetcher)
        assert fetcher._closed and fetcher._fetch_task.cancelled()
        assert all(t.done() for t in tasks)
        assert waiter.done()  # pending fetchone/fetchall calls are released, as before

    asyncio.run(main())


def test_fixed_close_still_propagates_its_own_cancellation() -> None:
    async def main() -> None:
        fetcher = StubFetcher()
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def stubborn() -> None:  # a pending task that takes its time to finish
            try:
                await never
            except asyncio.CancelledError:
                await asyncio.sleep(3600)

        fetcher._pending_tasks.add(asyncio.ensure_future(stubborn()))
        await asyncio.sleep(0)
        closing = asyncio.ensure_future(aiokafka_fixes.fetcher_close(fetcher))
        for _ in range(5):
            await asyncio.sleep(0)
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing

    asyncio.run(main())


def test_a_consumer_that_fails_to_close_is_one_line_and_the_thread_stop_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def failing(self: Any) -> None:
        raise NodeNotReadyError("Attempt to send a request to node which is not ready (1)")

    async def cancelled(self: Any) -> None:
        raise asyncio.CancelledError

    with caplog.at_level(logging.WARNING, logger=aiokafka_fixes.__name__):
        for original in (failing, cancelled):
            monkeypatch.setattr(aiokafka_fixes, "ORIGINAL_ON_THREAD_STOP", original)
            asyncio.run(aiokafka_fixes.on_thread_stop(object()))
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Kafka consumer did not close cleanly (NodeNotReadyError: Attempt to send a request to"
        " node which is not ready (1)); stopping anyway, uncommitted records will be redelivered",
        "Kafka consumer did not close cleanly (CancelledError); stopping anyway, uncommitted"
        " records will be redelivered",
    ]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback


def test_install_replaces_both() -> None:
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    aiokafka_fixes.install()
    assert Fetcher.close is aiokafka_fixes.fetcher_close
    assert AIOKafkaConsumerThread.on_thread_stop is aiokafka_fixes.on_thread_stop
