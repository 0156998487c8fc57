"""Faust topic objects for the pipeline topics: raw bytes in, raw bytes out.

Agents read bytes and parse them themselves, so an unparseable or schema-invalid record
becomes a dead letter instead of an exception inside Faust's deserialiser that would kill
the agent.
"""

from __future__ import annotations

from typing import Any

import faust

from pipeline.settings import Settings
from pipeline.topics import Topic, qualified


def raw_topic(app: faust.App, topic: Topic, settings: Settings, **options: Any) -> faust.TopicT:
    return app.topic(
        qualified(topic, settings.topic_prefix),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=topic.partitions,
        retention=topic.retention_ms / 1000,
        **options,
    )
