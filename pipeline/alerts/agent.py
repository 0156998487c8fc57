"""Faust agents of the alert stage.

    wirewatch.articles.enriched --evaluate--> wirewatch.alert-matches (key: alert id)
    wirewatch.alert-matches     --track-----> wirewatch.alerts        (key: alert id)
    wirewatch.alerts            --deliver---> alerts index + webhooks (+ dead letters)

* Rules: a GlobalTable whose changelog *is* the compacted rules topic, so every worker
  holds every rule and sees additions and tombstones as they are written, without a
  restart; each changelog event updates the worker's RuleIndex.
* evaluate: one EnrichedArticle -> the candidate alerts of the rules it matches, re-keyed
  by alert id so every copy of a story reaches the same ``track`` partition.
* track: once per rule per story cluster (AlertTracker over a Table keyed by alert id).
* deliver: bulk-indexes alerts (same id: updates overwrite) and, for first firings, posts
  webhooks in background tasks with bounded concurrency and retries; a final failure goes
  to the dead-letter topic. A slow or dead webhook never holds up a stream.

Failures are data: an unreadable article or a bug in one rule is counted and
dead-lettered (or skipped), never raised, so no rule can crash a worker.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import faust
import httpx
from prometheus_client import Counter

from pipeline.alerts.delivery import (
    DeliveryConfigError,
    RetryPolicy,
    build_request,
    dead_letter,
    deliver,
    redact,
)
from pipeline.alerts.engine import AlertTracker, RuleIndex, candidate_alert, is_first_firing
from pipeline.alerts.matcher import ActorNames
from pipeline.alerts.rules import apply_message
from pipeline.fetch.guard import AddressPolicy, guarded_transport
from pipeline.records import Alert, AlertRule, DeadLetter, EnrichedArticle
from pipeline.settings import Settings
from pipeline.topics import ALERT_MATCHES, ALERT_RULES, ALERTS, ARTICLES_ENRICHED, qualified
from pipeline.worker.channels import raw_topic
from pipeline.worker.deadletter import DeadLetters
from pipeline.worker.outcomes import DEAD_LETTERS, count
from pipeline.worker.tables import JSON_CODEC, CodecTable, bytes_table

log = logging.getLogger(__name__)

STAGE = "alert"
ALERT_EVENTS = Counter(
    "wirewatch_alert_events_total",
    "Alert stage decisions: articles matched or not, alerts fired, updated, redelivered",
    ["outcome"],
)
WEBHOOKS = Counter(
    "wirewatch_alert_webhooks_total", "Webhook deliveries by final outcome", ["type", "outcome"]
)


class _RulesTable(faust.GlobalTable):
    """A GlobalTable over an existing topic. Faust's partition assignor finds a table's
    changelog by the conventional name ``<app id>-<table>-changelog`` even when another
    topic was given; report the real name so the assignment includes it."""

    def _changelog_topic_name(self) -> str:
        if self._changelog_topic is not None:
            return self._changelog_topic.get_topic_name()
        return super()._changelog_topic_name()


@dataclass
class AlertStage:
    """The agents, tables and live rule index one worker runs; returned by ``register``."""

    app: faust.App
    settings: Settings
    index: RuleIndex
    rules_table: Any
    state_table: Any
    agents: dict[str, Any] = field(default_factory=dict)
    webhook_tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def on_rule_event(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one rules-topic message to the live index (tombstone removes)."""
        if key is None:
            return
        rule_id = key.decode("utf-8", "replace")
        live: dict[str, AlertRule] = {}
        apply_message(live, key, value)
        if rule_id in live:
            self.index.upsert(live[rule_id])
        else:
            self.index.remove(rule_id)


def register(
    app: faust.App,
    settings: Settings,
    registry: ActorNames | None = None,
) -> AlertStage:
    """Declare the alert stage's topics, tables and agents on ``app``."""
    if registry is None:
        from pipeline.enrich.actors import ActorRegistry

        registry = ActorRegistry.load(settings.actors_file)
    retry = RetryPolicy(
        attempts=settings.alert_webhook_attempts, timeout_s=settings.alert_webhook_timeout_s
    )
    enriched_topic = raw_topic(app, ARTICLES_ENRICHED, settings)
    matches_topic = raw_topic(app, ALERT_MATCHES, settings)
    alerts_topic = raw_topic(app, ALERTS, settings)
    alerts_topic_name = qualified(ALERTS, settings.topic_prefix)
    rules_topic = app.topic(
        qualified(ALERT_RULES, settings.topic_prefix),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=ALERT_RULES.partitions,
        compacting=True,
        deleting=False,
    )
    dead_letters = DeadLetters(app, settings)

    index = RuleIndex(registry)
    stage_ref: list[AlertStage] = []

    async def on_rule_changelog(event: Any) -> None:
        try:
            stage_ref[0].on_rule_event(event.message.key, event.message.value)
        except Exception:  # a rule must never stop the table's recovery loop
            log.exception("rules topic event at offset %s ignored", event.message.offset)

    # Every worker reads the whole rules topic (a GlobalTable); a buffer of 1 applies each
    # change as it comes, as faust.tables.globaltable advises for several workers.
    rules_table = app.tables.add(
        _RulesTable(
            app,
            name="alert-rules",
            partitions=ALERT_RULES.partitions,
            changelog_topic=rules_topic,  # its raw codecs decode; workers never write it
            key_type=bytes,
            value_type=bytes,
            recovery_buffer_size=1,
            standby_buffer_size=1,
            is_global=True,
            beacon=app.tables.beacon,
            on_changelog_event=on_rule_changelog,
            help="alert rules by id, read from the compacted rules topic",
        )
    )
    # bytes in the table, JSON through a codec: Faust never calls ``from_data`` on it
    state_table = bytes_table(
        app,
        "alert-state",
        partitions=ALERT_MATCHES.partitions,
        help="alert id -> the alert fired and the article ids seen (JSON)",
    )
    stage = AlertStage(app, settings, index, rules_table, state_table)
    stage_ref.append(stage)
    tracker = AlertTracker(CodecTable(state_table, JSON_CODEC))

    async def send_dead_letter(record: DeadLetter) -> None:
        """A dead letter that is not one input message (a webhook or index failure)."""
        headers = {
            "stage": record.stage.encode(),
            "reason": record.reason.encode(),
            "error_type": record.error_type.encode(),
            "failed_at": record.failed_at.isoformat().encode(),
        }
        key = (record.key or "").encode()
        await dead_letters.topic.send(key=key, value=record.to_json(), headers=headers)
        DEAD_LETTERS.labels(record.stage, record.error_type).inc()

    @app.agent(enriched_topic, name=f"{app.conf.id}.alerts-evaluate")
    async def evaluate(stream: Any) -> Any:
        async for event in stream.events():
            message = event.message
            try:
                enriched = EnrichedArticle.from_json(message.value or b"")
            except ValueError as exc:
                await dead_letters.send_error(STAGE, message, exc)
                continue
            matches = index.evaluate(enriched)  # never raises: a failing rule is skipped
            ALERT_EVENTS.labels("matched" if matches else "no_match").inc()
            for match in matches:
                candidate = candidate_alert(match, enriched)
                await matches_topic.send(key=candidate.id.encode(), value=candidate.to_json())
            count(STAGE, "processed")
            yield len(matches)

    @app.agent(matches_topic, name=f"{app.conf.id}.alerts-track")
    async def track(stream: Any) -> Any:
        async for event in stream.events():
            message = event.message
            try:
                candidate = Alert.from_json(message.value or b"")
            except ValueError as exc:
                await dead_letters.send_error("alert-track", message, exc)
                continue
            alert = tracker.observe(candidate)
            if alert is None:
                ALERT_EVENTS.labels("redelivered").inc()
                continue
            ALERT_EVENTS.labels("fired" if is_first_firing(alert) else "updated").inc()
            await alerts_topic.send(key=alert.id.encode(), value=alert.to_json())
            yield alert.id

    async def post_webhooks(client: httpx.AsyncClient, alert: Alert, rule: AlertRule) -> None:
        for target in rule.deliver:
            try:
                request = build_request(alert, target)
            except DeliveryConfigError as exc:
                WEBHOOKS.labels(target.type, "dead_lettered").inc()
                await send_dead_letter(
                    dead_letter(alert, target, str(exc), type(exc).__name__, alerts_topic_name)
                )
                continue
            outcome = await deliver(client, request, retry)
            if outcome.delivered:
                WEBHOOKS.labels(target.type, "delivered").inc()
                continue
            WEBHOOKS.labels(target.type, "dead_lettered").inc()
            log.warning(
                "alert %s: %s %s failed after %d attempts: %s",
                alert.id,
                target.type,
                redact(target.url),
                outcome.attempts,
                outcome.error,
            )
            reason = f"{outcome.error} after {outcome.attempts} attempts"
            await send_dead_letter(
                dead_letter(alert, target, reason, "WebhookFailed", alerts_topic_name)
            )

    semaphore = asyncio.Semaphore(settings.alert_webhook_concurrency)

    async def bounded(client: httpx.AsyncClient, alert: Alert, rule: AlertRule) -> None:
        async with semaphore:
            try:
                await post_webhooks(client, alert, rule)
            except Exception:  # a delivery task must never take the worker down
                log.exception("webhook delivery for alert %s failed", alert.id)

    async def index_alerts(es: Any, alerts: list[Alert]) -> None:
        """Bulk-write alerts by id (an update overwrites); dead-letter what cannot be."""
        operations: list[dict[str, Any]] = []
        for alert in alerts:
            operations.append({"index": {"_index": settings.alerts_index, "_id": alert.id}})
            operations.append(alert.model_dump(mode="json"))
        error = ""
        for attempt in range(1, retry.attempts + 1):
            try:
                response = await es.bulk(operations=operations)
            except Exception as exc:  # connection, 429, 5xx: back off and retry
                error = f"{type(exc).__name__}: {exc}"
                log.warning("alerts index write failed (attempt %d): %s", attempt, error)
                if attempt < retry.attempts:
                    await asyncio.sleep(retry.delay(attempt))
                continue
            for alert, item in zip(alerts, response["items"], strict=True):
                if item["index"].get("error"):  # a mapping error will not heal with retries
                    await send_dead_letter(
                        _index_dead_letter(alert, str(item["index"]["error"]), alerts_topic_name)
                    )
            return
        for alert in alerts:
            await send_dead_letter(_index_dead_letter(alert, error, alerts_topic_name))

    @app.agent(alerts_topic, name=f"{app.conf.id}.alerts-deliver")
    async def deliver_alerts(stream: Any) -> Any:
        from pipeline.adapters.elastic import make_async_client

        es = make_async_client(settings)
        # Rule authors choose the URLs: guard them like feed URLs (no internal services).
        guard = AddressPolicy(settings.webhook_allow_networks)
        client = httpx.AsyncClient(
            transport=guarded_transport(guard, settings.alert_webhook_concurrency),
            trust_env=False,
            follow_redirects=False,
        )
        try:
            async for events in stream.take_events(200, within=settings.batch_within_s):
                alerts = []
                for event in events:
                    try:
                        alerts.append(Alert.from_json(event.message.value or b""))
                    except ValueError as exc:
                        await dead_letters.send_error("alert-deliver", event.message, exc)
                if not alerts:
                    continue
                await index_alerts(es, alerts)
                for alert in alerts:
                    compiled = index.rules.get(alert.rule_id)
                    if is_first_firing(alert) and compiled and compiled.rule.deliver:
                        task = asyncio.create_task(bounded(client, alert, compiled.rule))
                        stage.webhook_tasks.add(task)
                        task.add_done_callback(stage.webhook_tasks.discard)
                yield len(alerts)
        finally:
            await client.aclose()
            await es.close()

    stage.agents.update(evaluate=evaluate, track=track, deliver=deliver_alerts)
    return stage


def _index_dead_letter(alert: Alert, reason: str, topic: str) -> DeadLetter:
    return DeadLetter(
        stage="alert-index",
        reason=reason[:2000],
        error_type="ElasticsearchRejected",
        topic=topic,
        key=alert.id,
        payload=alert.to_json().decode(),
    )
