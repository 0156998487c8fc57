"""The dead-letter topic: records a stage could not process, with the reason.

Value: a ``DeadLetter`` record (the original payload included, so nothing is lost).
Headers repeat the facts for tools that only read headers: stage, reason, time and the
original topic, partition and offset. Each dead letter is counted.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from pipeline.records import DeadLetter
from pipeline.settings import Settings
from pipeline.topics import DEAD_LETTER
from pipeline.worker.channels import raw_topic
from pipeline.worker.outcomes import DEAD_LETTERS, count

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


class DeadLetters:
    """Sends dead letters for one app; ``await send(...)`` before acking the message."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.topic = raw_topic(app, DEAD_LETTER, settings)

    async def send(
        self, stage: str, message: Any, reason: str, error_type: str = "ValueError"
    ) -> None:
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
        await self.topic.send(key=message.key, value=record.to_json(), headers=headers)
        DEAD_LETTERS.labels(stage, error_type).inc()
        count(stage, "dead_lettered")

    async def send_error(self, stage: str, message: Any, exc: BaseException) -> None:
        await self.send(stage, message, str(exc) or repr(exc), type(exc).__name__)
