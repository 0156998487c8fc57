"""The stage shape leaves what it had not finished unacknowledged when its agent exits.

The streams here follow Faust's own ``Stream.__aiter__`` and ``take_events``: each
acknowledges its current events in a ``finally`` (faust-streaming 0.15.3), whether the
agent finished them or left with an exception. The messages are Faust's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types.tuples import Message

from pipeline.worker.stage import Item, Stage


class Sink:
    def __init__(self) -> None:
        self.letters: list[str] = []

    async def send(self, stage: str, message: Any, reason: str, error_type: str) -> None:
        self.letters.append(reason)


def message(offset: int) -> Message:
    return Message("t", 0, offset, 0.0, 0, None, b"k", b"v", None)


def event(offset: int) -> SimpleNamespace:
    msg = message(offset)
    msg.incref()  # as Faust's conductor does, once per stream it delivers the message to
    return SimpleNamespace(message=msg, ack=lambda: msg.ack(None))


class FaustLikeStream:
    """Acknowledges like Faust: in a ``finally`` around each yield."""

    def __init__(self, events: list[SimpleNamespace]) -> None:
        self._events = events

    async def events(self) -> AsyncIterator[SimpleNamespace]:
        for e in self._events:
            try:
                yield e
            finally:
                e.ack()

    async def take_events(self, size: int, within: float) -> AsyncIterator[list[Any]]:
        batch = list(self._events)
        try:
            yield batch
        finally:
            for e in batch:
                e.ack()


def stage() -> Stage[bytes]:
    return Stage("test", lambda value: value, Sink())


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_records_done_are_acknowledged() -> None:
    events = [event(0), event(1)]

    async def handle(item: Item[bytes]) -> str:
        return "processed"

    async def go() -> None:
        async for _ in stage().run_each(FaustLikeStream(events), handle):
            pass

    run(go())
    assert [e.message.acked for e in events] == [True, True]


def test_a_record_in_hand_when_the_agent_is_cancelled_stays_unacknowledged() -> None:
    events = [event(0), event(1)]
    started = asyncio.Event()

    async def handle(item: Item[bytes]) -> str:
        started.set()
        await asyncio.Event().wait()  # a slow server; SIGTERM arrives
        return "processed"

    async def go() -> None:
        async def agent() -> None:
            async for _ in stage().run_each(FaustLikeStream(events), handle):
                pass

        task = asyncio.ensure_future(agent())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(go())
    assert events[0].message.acked is False  # redelivered after the restart


def test_a_batch_in_hand_when_the_agent_crashes_stays_unacknowledged() -> None:
    events = [event(0), event(1), event(2)]

    async def handle(items: list[Item[bytes]]) -> list[Any]:
        raise RuntimeError("another agent crashed the worker")

    async def go() -> None:
        async for _ in stage().run(FaustLikeStream(events), handle, size=3, within=1.0):
            pass

    with pytest.raises(RuntimeError):
        run(go())
    assert [e.message.acked for e in events] == [False, False, False]


def test_a_batch_done_is_acknowledged() -> None:
    events = [event(0), event(1)]

    async def handle(items: list[Item[bytes]]) -> list[Any]:
        return []

    async def go() -> None:
        async for _ in stage().run(FaustLikeStream(events), handle, size=2, within=1.0):
            pass

    run(go())
    assert [e.message.acked for e in events] == [True, True]
