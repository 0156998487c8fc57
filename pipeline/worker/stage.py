"""One stage shape: decode -> process -> dead-letter -> count, written once.

Every stream stage (dedup, enrich, index, the alert agents, replay) reads raw bytes,
decodes them into a record, processes it and then counts exactly one outcome per input
record (pipeline.worker.outcomes): processed, duplicate or dead-lettered. What a record
cannot become goes to the dead-letter topic with its reason:

* ``decode`` raising ``ValueError`` (unparseable, schema-invalid: pydantic's
  ValidationError is one) dead-letters the input message;
* the process step raising :class:`Rejected` dead-letters it too (Elasticsearch refused
  the document, one record triggers a bug the stage contains);
* anything else propagates: a server that stays away or a broken child process is not a
  record's fault, so the crashing supervisor restarts the worker and Kafka redelivers
  what was not committed.

A record is acknowledged (and so committed) only once its stage is done with it. Faust
acknowledges a stream's current events in a ``finally``, even when the agent is leaving
with an exception: cancelled by SIGTERM, or by a crash in another agent. Faust then
commits on stop, so the records in hand would be lost unprocessed. ``keep_unacknowledged``
takes one more reference on their messages first, which makes that acknowledgement a
no-op; Kafka redelivers them to the next worker.

``Stage`` knows nothing of Faust: a "message" is anything with ``key``, ``value``,
``topic``, ``partition`` and ``offset`` (a Faust message, a kafka-python record), and the
dead letters go through any :class:`pipeline.worker.deadletter.DeadLetterSink`, so
``pipeline.index.replay`` uses the same shape without a Faust app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pipeline.worker.deadletter import DeadLetterSink
from pipeline.worker.outcomes import Outcome, count

T = TypeVar("T")


class Rejected(Exception):
    """A record the process step refuses, with the reason the dead letter carries."""

    def __init__(self, reason: str, error_type: str = "Rejected") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type

    @classmethod
    def of(cls, exc: Exception) -> Rejected:
        """A bug only this record triggers, named by its exception."""
        return cls(f"{type(exc).__name__}: {exc}", type(exc).__name__)


class ElasticsearchRejected(Rejected):
    """Elasticsearch refused the document (mapping conflict, strict mapping): will not heal."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "ElasticsearchRejected")


@dataclass(frozen=True)
class Item(Generic[T]):
    """One decoded record and the message it came in."""

    record: T
    message: Any


#: the process step of a batch stage: the items, and back the (item, reason) it rejected
BatchHandler = Callable[[list[Item[T]]], Awaitable[Iterable[tuple[Item[T], Rejected]]]]
#: the process step of a per-record stage: the outcome to count (None: counted elsewhere)
EachHandler = Callable[[Item[T]], Awaitable[Outcome | None]]


def keep_unacknowledged(events: Iterable[Any]) -> None:
    """Leave these events' records uncommitted when the agent exits now (see module doc)."""
    for event in events:
        message = getattr(event, "message", None)
        if message is not None and hasattr(message, "incref"):
            message.incref()


@dataclass
class Stage(Generic[T]):
    name: str
    decode: Callable[[bytes], T]
    dead_letters: DeadLetterSink

    async def decoded(self, message: Any) -> Item[T] | None:
        """The decoded record, or None once the message is dead-lettered."""
        try:
            return Item(self.decode(message.value or b""), message)
        except ValueError as exc:
            reason = f"unparseable input: {exc}"
            await self.dead_letters.send(self.name, message, reason, type(exc).__name__)
            return None

    async def decode_all(self, messages: Iterable[Any]) -> list[Item[T]]:
        items = []
        for message in messages:
            item = await self.decoded(message)
            if item is not None:
                items.append(item)
        return items

    async def reject(self, item: Item[T], rejected: Rejected) -> None:
        await self.dead_letters.send(self.name, item.message, rejected.reason, rejected.error_type)

    async def process_batch(self, messages: Sequence[Any], handle: BatchHandler[T]) -> int:
        """Decode, process and count one batch; returns how many were processed."""
        items = await self.decode_all(messages)
        if not items:
            return 0
        refused = list(await handle(items))
        for item, rejected in refused:
            await self.reject(item, rejected)
        processed = len(items) - len(refused)
        count(self.name, "processed", processed)
        return processed

    async def run(
        self, stream: Any, handle: BatchHandler[T], *, size: int, within: float
    ) -> AsyncIterator[int]:
        """A batch stage over a Faust stream; yields the processed count of each batch."""
        async for events in stream.take_events(size, within=within):
            try:
                processed = await self.process_batch([e.message for e in events], handle)
            except BaseException:
                keep_unacknowledged(events)
                raise
            yield processed

    async def run_each(self, stream: Any, handle: EachHandler[T]) -> AsyncIterator[Outcome]:
        """A per-record stage over a Faust stream; yields each record's outcome."""
        async for event in stream.events():
            try:
                item = await self.decoded(event.message)
                if item is None:
                    continue
                try:
                    outcome = await handle(item)
                except Rejected as rejected:
                    await self.reject(item, rejected)
                    continue
            except BaseException:
                keep_unacknowledged([event])
                raise
            if outcome is not None:
                count(self.name, outcome)
                yield outcome
