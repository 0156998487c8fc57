"""The dead-letter topic: records a stage could not process, with the reason.

Value: a ``DeadLetter`` record (the original payload included, so nothing is lost).
Headers repeat the facts for tools that only read headers: stage, reason, time and the
original topic, partition and offset. Each dead letter is counted.

Two writers with one interface (:class:`DeadLetterSink`): :class:`DeadLetters` sends
through a Faust app's topic (the worker), :class:`ProducerDeadLetters` through a plain
kafka-python producer (replay). This module imports no Faust, so replay does not either.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.records import DeadLetter
from pipeline.settings import Settings
from pipeline.topics import DEAD_LETTER, qualified
from pipeline.worker.outcomes import DEAD_LETTERS, count

if TYPE_CHECKING:
    import faust
    from kafka import KafkaProducer

log = logging.getLogger(__name__)

MAX_REASON = 2000


def dead_letter(
    stage: str, message: Any, reason: str, error_type: str
) -> tuple[DeadLetter, dict[str, bytes]]:
    """The record and headers for one failed Kafka message (``faust.types.Message``)."""
    value: bytes = message.value or b""
    key: bytes | None = message.key
    record = DeadLetter(
        stage=stage,
        reason=reason[:MAX_REASON],
        error_type=error_type,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=key.decode("utf-8", "replace") if key else None,
        payload=value.decode("utf-8", "replace"),
    )
    headers = {
        "stage": stage.encode(),
        "reason": record.reason.encode(),
        "error_type": error_type.encode(),
        "failed_at": record.failed_at.isoformat().encode(),
        "original_topic": str(message.topic).encode(),
        "original_partition": str(message.partition).encode(),
        "original_offset": str(message.offset).encode(),
    }
    return record, headers


def record_headers(record: DeadLetter) -> dict[str, bytes]:
    """Headers for a dead letter that is not one input message (a webhook that failed)."""
    return {
        "stage": record.stage.encode(),
        "reason": record.reason.encode(),
        "error_type": record.error_type.encode(),
        "failed_at": record.failed_at.isoformat().encode(),
    }


class DeadLetterSink(Protocol):
    async def send(
        self, stage: str, message: Any, reason: str, error_type: str = "ValueError"
    ) -> None: ...

    async def send_error(self, stage: str, message: Any, exc: BaseException) -> None: ...


class _Writer:
    """What both writers share: build, log and count; ``_emit`` is the transport."""

    async def _emit(self, key: bytes | None, value: bytes, headers: dict[str, bytes]) -> None:
        raise NotImplementedError

    async def send(
        self, stage: str, message: Any, reason: str, error_type: str = "ValueError"
    ) -> None:
        """Dead-letter one input message; await it before the message is acknowledged."""
        record, headers = dead_letter(stage, message, reason, error_type)
        log.warning(
            "dead letter: stage=%s %s:%s:%s %s: %s",
            stage,
            message.topic,
            message.partition,
            message.offset,
            error_type,
            record.reason[:200],
        )
        await self._emit(message.key, record.to_json(), headers)
        DEAD_LETTERS.labels(stage, error_type).inc()
        count(stage, "dead_lettered")

    async def send_error(self, stage: str, message: Any, exc: BaseException) -> None:
        await self.send(stage, message, str(exc) or repr(exc), type(exc).__name__)

    async def send_record(self, record: DeadLetter) -> None:
        """A dead letter built by the stage itself (not one input message)."""
        log.warning(
            "dead letter: stage=%s key=%s %s: %s",
            record.stage,
            record.key,
            record.error_type,
            record.reason[:200],
        )
        key = (record.key or "").encode()
        await self._emit(key, record.to_json(), record_headers(record))
        DEAD_LETTERS.labels(record.stage, record.error_type).inc()


class DeadLetters(_Writer):
    """Sends dead letters through one Faust app's producer."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        from pipeline.worker.channels import raw_topic

        self.topic = raw_topic(app, DEAD_LETTER, settings)

    async def _emit(self, key: bytes | None, value: bytes, headers: dict[str, bytes]) -> None:
        await self.topic.send(key=key, value=value, headers=headers)


class ProducerDeadLetters(_Writer):
    """Sends dead letters through a kafka-python producer; ``flush()`` before exiting."""

    def __init__(self, producer: KafkaProducer, settings: Settings) -> None:
        self.producer = producer
        self.topic = qualified(DEAD_LETTER, settings.topic_prefix)

    async def _emit(self, key: bytes | None, value: bytes, headers: dict[str, bytes]) -> None:
        future = self.producer.send(self.topic, key=key, value=value, headers=list(headers.items()))
        await asyncio.to_thread(future.get, 60)  # acked before the source counts as done
