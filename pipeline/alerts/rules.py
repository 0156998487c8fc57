"""The rule store: the compacted topic ``wirewatch.alert-rules``, keyed by rule id.

A rule is added by producing its AlertRule JSON and removed by producing a tombstone (null
value) under its id; compaction keeps the latest value per id. Reading the store means
reading the topic from the beginning to its current end. Workers read the same topic as a
Faust GlobalTable (pipeline.worker.alert_agent), so every worker sees changes without restart.

Rules are checked before they are written: a malformed rule never reaches the topic.
"""

from __future__ import annotations

import logging
import re
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from pipeline.adapters.kafka import client_options
from pipeline.alerts.engine import check_rule
from pipeline.records import AlertRule
from pipeline.settings import Settings
from pipeline.topics import ALERT_RULES, qualified

log = logging.getLogger(__name__)


class RuleStoreError(RuntimeError):
    """The rules topic could not be read in time."""


def rule_id_for(name: str) -> str:
    """A readable, stable id from the rule name: "Putin in Kursk" -> "putin-in-kursk"."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    if not slug:
        raise ValueError(f"rule name {name!r} has no letters or digits")
    return slug[:80]


class RuleStore:
    """add / list / remove rules on the compacted rules topic (kafka-python)."""

    def __init__(self, settings: Settings, timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.topic = qualified(ALERT_RULES, settings.topic_prefix)
        self.timeout_s = timeout_s
        self._config = {**client_options(settings), "client_id": "wirewatch-alerts"}

    def ensure_topic(self) -> None:
        """Create the compacted rules topic if the broker lacks it (idempotent)."""
        admin = KafkaAdminClient(**self._config)
        try:
            if self.topic in admin.list_topics():
                return
            admin.create_topics(
                [
                    NewTopic(
                        self.topic,
                        num_partitions=ALERT_RULES.partitions,
                        replication_factor=1,
                        topic_configs={"cleanup.policy": "compact"},
                    )
                ]
            )
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()

    def _send(self, key: str, value: bytes | None) -> None:
        producer = KafkaProducer(acks="all", **self._config)
        try:
            producer.send(self.topic, key=key.encode(), value=value).get(timeout=self.timeout_s)
            producer.flush(self.timeout_s)
        finally:
            producer.close(self.timeout_s)

    def add(self, rule: AlertRule) -> AlertRule:
        """Validate and write a rule; raises QuerySyntaxError for a malformed query."""
        check_rule(rule)
        self._send(rule.id, rule.to_json())
        return rule

    def remove(self, rule_id: str) -> bool:
        """Write the tombstone; False if no such rule exists."""
        if rule_id not in {r.id for r in self.list()}:
            return False
        self._send(rule_id, None)
        return True

    def get(self, rule_id: str) -> AlertRule | None:
        return next((r for r in self.list() if r.id == rule_id), None)

    def list(self) -> list[AlertRule]:
        """Every live rule: the topic read from its start to its current end."""
        rules: dict[str, AlertRule] = {}
        consumer = KafkaConsumer(
            group_id=None, enable_auto_commit=False, consumer_timeout_ms=1000, **self._config
        )
        try:
            partitions = consumer.partitions_for_topic(self.topic)
            if not partitions:
                return []
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            deadline = time.monotonic() + self.timeout_s
            while any(consumer.position(tp) < end[tp] for tp in tps):
                if time.monotonic() > deadline:
                    raise RuleStoreError(f"timed out reading {self.topic}")
                for records in consumer.poll(timeout_ms=500).values():
                    for message in records:
                        apply_message(rules, message.key, message.value)
        finally:
            consumer.close()
        return sorted(rules.values(), key=lambda r: r.id)


def apply_message(rules: dict[str, AlertRule], key: bytes | None, value: bytes | None) -> None:
    """Fold one rules-topic message into a dict of live rules; skip what cannot be read."""
    if key is None:
        log.warning("rules topic message without a key ignored")
        return
    rule_id = key.decode("utf-8", "replace")
    if value is None:
        rules.pop(rule_id, None)
        return
    try:
        rules[rule_id] = AlertRule.from_json(value)
    except ValueError as exc:
        log.warning("unreadable rule %s ignored: %s", rule_id, exc)
