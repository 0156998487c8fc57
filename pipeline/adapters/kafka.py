"""Kafka for the poller: a producer built from Settings, topic creation, an article sink.

The producer is configured so an acknowledged record is durable and never duplicated by
the client's own retries (acks=all + idempotence), and so a dead broker surfaces as an error
within bounded time instead of an unbounded block: ``max_block_ms`` bounds ``send()``
waiting for metadata, ``delivery_timeout_ms`` bounds the whole retry sequence of a batch.
"""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from pipeline import topics
from pipeline.settings import Settings

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_MS = 30_000
REQUEST_TIMEOUT_MS = 10_000
MAX_BLOCK_MS = 10_000
RETRIES = 10


class KafkaNotConfiguredError(RuntimeError):
    """No bootstrap servers in the settings (the CLI decides them: pipeline.cli.servers)."""


NOT_CONFIGURED = (
    "WIREWATCH_KAFKA_BOOTSTRAP is not set: set it to the Kafka bootstrap servers, "
    "or start the managed local stack with `wirewatch stack up`"
)


def bootstrap_servers(settings: Settings) -> str:
    """The bootstrap servers of the settings; never a guess (no local fallback here)."""
    if not settings.kafka_bootstrap:
        raise KafkaNotConfiguredError(NOT_CONFIGURED)
    return settings.kafka_bootstrap


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection and security options shared by producer and admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings).split(","),
        "security_protocol": settings.kafka_security_protocol,
        "client_id": "wirewatch-poller",
        # Bounds the first metadata round trip of every client built here; a closed port
        # fails within it (WIREWATCH_KAFKA_CONNECT_TIMEOUT_S) instead of 30 s.
        "bootstrap_timeout_ms": int(settings.kafka_connect_timeout_s * 1000),
    }
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_username
        if settings.kafka_password is not None:
            options["sasl_plain_password"] = settings.kafka_password.get_secret_value()
    if settings.kafka_ssl_cafile:
        options["ssl_cafile"] = str(settings.kafka_ssl_cafile)
    return options


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """The poller's producer; ``overrides`` are KafkaProducer options (tests shorten
    timeouts with them)."""
    options: dict[str, Any] = dict(
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",  # stdlib codec: no native library to ship
        retries=RETRIES,
        delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        max_block_ms=MAX_BLOCK_MS,
        linger_ms=20,
        max_in_flight_requests_per_connection=5,  # the idempotence ceiling keeping order
    )
    options.update(overrides)
    return KafkaProducer(**client_options(settings), **options)


def ensure_topics(settings: Settings, timeout_ms: int = 30_000) -> list[str]:
    """Create every topic of pipeline.topics that is missing; returns the names created."""
    admin = KafkaAdminClient(**client_options(settings), request_timeout_ms=timeout_ms)
    try:
        existing = set(admin.list_topics())
        wanted: dict[str, dict[str, Any]] = {}
        for topic in topics.ALL_TOPICS:
            name = topics.qualified(topic, settings.topic_prefix)
            if name in existing:
                continue
            # A compacted topic keeps the latest value per key for good (deletion is by
            # tombstone), so it carries no retention.ms; the k8s KafkaTopics agree.
            if topic.compacted:
                configs = {"cleanup.policy": "compact"}
            else:
                configs = {"cleanup.policy": "delete", "retention.ms": str(topic.retention_ms)}
            wanted[name] = {"num_partitions": topic.partitions, "configs": configs}
        created: list[str] = []
        for name, spec in wanted.items():  # one by one: a racing creator is not an error
            try:
                admin.create_topics({name: spec}, timeout_ms=timeout_ms, wait_for_metadata=True)
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


class KafkaArticleSink:
    """Sends (key, value) pairs and reports which were acknowledged. Blocking: call it from
    a worker thread (``asyncio.to_thread``)."""

    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self.producer, self.topic = producer, topic

    def deliver(self, items: list[tuple[str, bytes]]) -> tuple[list[str], dict[str, str]]:
        """(acknowledged keys, {key: error} for the rest)."""
        futures = []
        failed: dict[str, str] = {}
        for index, (key, value) in enumerate(items):
            try:
                futures.append((key, self.producer.send(self.topic, key=key.encode(), value=value)))
            except KafkaError as exc:
                # Metadata unavailable: the broker is down; the rest would block in turn.
                reason = f"{type(exc).__name__}: {exc}"
                for later_key, _ in items[index:]:
                    failed[later_key] = reason
                break
        acked: list[str] = []
        for key, future in futures:
            try:
                future.get(timeout=DELIVERY_TIMEOUT_MS / 1000 + 5)
                acked.append(key)
            except KafkaError as exc:
                failed[key] = f"{type(exc).__name__}: {exc}"
        return acked, failed

    def close(self) -> None:
        self.producer.close(timeout=10)


class TopicLeaderProbe:
    """Can the poller deliver? Asks the brokers for the articles topic's metadata, bounded.

    Not ``KafkaProducer.bootstrap_connected()``: that is only the bootstrap connection, which
    the client closes once it knows the cluster, so it reads false on a healthy producer.
    ``check`` raises unless a broker answered a metadata request within ``timeout_s`` and
    every partition of the topic has a leader (what a send needs). Blocking: call it from a
    thread of its own. A failed client is dropped and rebuilt, so a restarted broker is
    found again whatever state the old connection was left in.
    """

    def __init__(self, settings: Settings, topic: str, timeout_s: float = 3.0) -> None:
        self.settings, self.topic = settings, topic
        self.timeout_ms = int(timeout_s * 1000)
        self._admin: KafkaAdminClient | None = None

    def check(self) -> None:
        try:
            if self._admin is None:
                options = {
                    **client_options(self.settings),
                    "bootstrap_timeout_ms": self.timeout_ms,
                    "request_timeout_ms": self.timeout_ms,
                }
                self._admin = KafkaAdminClient(**options)
            (described,) = self._admin.describe_topics([self.topic])
        except Exception:
            self.close()
            raise
        error = described.get("error_code", 0)
        if error:
            raise KafkaError(f"topic {self.topic}: {for_code(error).__name__}")
        partitions = described.get("partitions") or []
        if not partitions or any(p.get("leader_id", -1) < 0 for p in partitions):
            raise KafkaError(f"topic {self.topic} has a partition without a leader")

    def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            try:
                admin.close()
            except Exception:  # closing a broken client must not hide why it broke
                log.debug("closing the readiness admin client failed", exc_info=True)
