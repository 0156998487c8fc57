"""Work-arounds for aiokafka 0.14.0 (under faust-streaming 0.15.3) that turn a stop during a
Kafka outage into a thread-crash traceback and a hung stop (issue 11 item 8).

Applied once by ``install()`` (pipeline.worker.app calls it, beside ``faust_fixes``);
tests/unit/worker/test_aiokafka_fixes.py reproduces the defect each one removes.

``Fetcher.close`` lets its fetch tasks' cancellation escape. While the broker is away
every fetch fails and its task sleeps ``retry_backoff_ms`` in the ``except KafkaError``
branch of ``_proc_fetch_request``. ``close()`` cancels the pending tasks and awaits each:
one cancelled in that sleep raises ``CancelledError`` out of ``close()``, so
``AIOKafkaConsumer.stop()`` ends half done (the client is never closed), Faust's consumer
thread dies with "Exception in thread" and a two-part traceback on stderr, and, because a
``CancelledError`` is no ``Exception``, ``ServiceThread._start_thread`` never tells the
main loop the thread is down: the worker's stop waits for it until the stop timer ends the
process. The fixed ``close`` awaits the cancelled tasks together and keeps their
cancellation to themselves (a cancellation of ``close`` itself still propagates).

Whatever else fails while Faust's consumer thread closes the Kafka consumer (aiokafka has
other reports of ``stop()`` raising, e.g. aio-libs/aiokafka#647) is said in one line and
the thread's shutdown goes on, instead of a traceback and a stop that cannot finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka.consumer.fetcher import Fetcher
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

log = logging.getLogger(__name__)

_installed = False
#: the libraries' own, kept for the tests that show the defect
ORIGINAL_FETCHER_CLOSE = Fetcher.close
ORIGINAL_ON_THREAD_STOP = AIOKafkaConsumerThread.on_thread_stop


async def fetcher_close(self: Any) -> None:
    """``Fetcher.close`` without the pending tasks' ``CancelledError`` (see the module doc)."""
    self._closed = True
    self._fetch_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await self._fetch_task
    for waiter in self._fetch_waiters:  # fail all pending fetchone/fetchall calls
        self._notify(waiter)
    pending = list(self._pending_tasks)
    for task in pending:
        task.cancel()
    if pending:
        # each task's own cancellation comes back as its result; only a cancellation of
        # this coroutine (the gather itself) is raised
        await asyncio.gather(*pending, return_exceptions=True)


async def on_thread_stop(self: Any) -> None:
    """Faust's consumer-thread stop; a failure to close the consumer is one line."""
    try:
        await ORIGINAL_ON_THREAD_STOP(self)
    except (Exception, asyncio.CancelledError) as exc:
        # the thread is stopping either way: what matters is that it finishes, so the
        # main loop learns it is down and the worker's stop can complete
        name, text = type(exc).__name__, str(exc)
        log.warning(
            "Kafka consumer did not close cleanly (%s); stopping anyway,"
            " uncommitted records will be redelivered",
            text if text.startswith(name) else f"{name}: {text}" if text else name,
        )


def install() -> None:
    global _installed
    if not _installed:
        Fetcher.close = fetcher_close  # type: ignore[method-assign]
        AIOKafkaConsumerThread.on_thread_stop = on_thread_stop  # type: ignore[method-assign]
        _installed = True
