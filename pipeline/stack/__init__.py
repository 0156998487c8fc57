"""The managed local stack: a real Kafka broker and Elasticsearch node on loopback.

``LocalStack`` is the Python API (tests, ``wirewatch run``); ``wirewatch stack`` is the CLI.
"""

from pipeline.stack.errors import StackError
from pipeline.stack.manager import (
    LocalStack,
    ServerStatus,
    ensure_stack,
    local_es_url,
    local_kafka_bootstrap,
    local_stack,
    scratch_stack,
    stack_for,
)

__all__ = [
    "LocalStack",
    "ServerStatus",
    "StackError",
    "ensure_stack",
    "local_es_url",
    "local_kafka_bootstrap",
    "local_stack",
    "scratch_stack",
    "stack_for",
]
