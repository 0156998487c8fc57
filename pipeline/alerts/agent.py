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
from datetime import UTC, datetime
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
from pipeline.records import Alert, AlertRule, DeadLetter, EnrichedArticle
from pipeline.settings import Settings
from pipeline.topics import (
    ALERT_MATCHES,
    ALERT_RULES,
    ALERTS,
    ARTICLES_ENRICHED,
    DEAD_LETTER,
    qualified,
)

log = logging.getLogger(__name__)

ALERT_EVENTS = Counter(
    "wirewatch_alert_events_total",
    "Alert stage outcomes, each record counted once",
    ["outcome"],
)
WEBHOOKS = Counter(
    "wirewatch_alert_webhooks_total", "Webhook deliveries by final outcome", ["type", "outcome"]
)


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


def _raw_topic(app: faust.App, name: str, partitions: int, **kw: Any) -> Any:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        **kw,
    )


def _dlq_headers(stage: str, reason: str, message: Any) -> dict[str, bytes]:
    return {
        "stage": stage.encode(),
        "reason": reason.encode()[:1000],
        "failed_at": datetime.now(UTC).isoformat().encode(),
        "original": f"{message.topic}:{message.partition}:{message.offset}".encode(),
    }


def register(
    app: faust.App,
    settings: Settings,
    registry: ActorNames | None = None,
    retry: RetryPolicy | None = None,
    max_concurrent_webhooks: int = 16,
) -> AlertStage:
    """Declare the alert stage's topics, tables and agents on ``app``."""
    if registry is None:
        from pipeline.enrich.actors import ActorRegistry

        registry = ActorRegistry.load(settings.actors_file)
    retry = retry or RetryPolicy()
    prefix = settings.topic_prefix
    enriched_topic = _raw_topic(
        app, qualified(ARTICLES_ENRICHED, prefix), ARTICLES_ENRICHED.partitions
    )
    matches_topic = _raw_topic(app, qualified(ALERT_MATCHES, prefix), ALERT_MATCHES.partitions)
    alerts_topic = _raw_topic(app, qualified(ALERTS, prefix), ALERTS.partitions)
    dlq_topic = _raw_topic(app, qualified(DEAD_LETTER, prefix), DEAD_LETTER.partitions)
    rules_topic = _raw_topic(
        app,
        qualified(ALERT_RULES, prefix),
        ALERT_RULES.partitions,
        compacting=True,
        deleting=False,
    )

    index = RuleIndex(registry)
    stage_ref: list[AlertStage] = []

    async def on_rule_changelog(event: Any) -> None:
        try:
            stage_ref[0].on_rule_event(event.message.key, event.message.value)
        except Exception:  # a rule must never stop the table's recovery loop
            log.exception("rules topic event at offset %s ignored", event.message.offset)

    # partitions=1 and small buffers: the documented way to run a GlobalTable on many
    # workers (see faust.tables.globaltable); the rules topic has one partition anyway.
    rules_table = app.GlobalTable(
        "alert-rules",
        partitions=ALERT_RULES.partitions,
        # values are never written by workers; the changelog topic's raw codecs decode
        changelog_topic=rules_topic,
        recovery_buffer_size=1,
        on_changelog_event=on_rule_changelog,
    )
    state_table = app.Table(
        f"{prefix}alert-state",
        default=None,
        partitions=ALERT_MATCHES.partitions,
        value_type=dict,
    )
    stage = AlertStage(app, settings, index, rules_table, state_table)
    stage_ref.append(stage)
    tracker = AlertTracker(state_table)

    async def send_dead_letter(record: DeadLetter, message: Any | None = None) -> None:
        headers = _dlq_headers(record.stage, record.reason, message) if message else {}
        await dlq_topic.send(
            key=(record.key or "").encode(), value=record.to_json(), headers=headers
        )

    def message_dead_letter(stage_name: str, exc: Exception, message: Any) -> DeadLetter:
        value = message.value or b""
        return DeadLetter(
            stage=stage_name,
            reason=str(exc)[:2000],
            error_type=type(exc).__name__,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key.decode("utf-8", "replace") if message.key else None,
            payload=value.decode("utf-8", "replace"),
        )

    async def evaluate(stream: Any) -> Any:
        async for event in stream.events():
            message = event.message
            try:
                enriched = EnrichedArticle.from_json(message.value)
            except ValueError as exc:
                ALERT_EVENTS.labels("rejected").inc()
                await send_dead_letter(message_dead_letter("alert", exc, message), message)
                continue
            matches = index.evaluate(enriched)  # never raises: bad rules are skipped
            ALERT_EVENTS.labels("matched" if matches else "no_match").inc()
            for match in matches:
                candidate = candidate_alert(match, enriched)
                await matches_topic.send(key=candidate.id.encode(), value=candidate.to_json())
            yield len(matches)

    async def track(stream: Any) -> Any:
        async for event in stream.events():
            message = event.message
            try:
                candidate = Alert.from_json(message.value)
            except ValueError as exc:
                ALERT_EVENTS.labels("rejected").inc()
                await send_dead_letter(message_dead_letter("alert", exc, message), message)
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
                WEBHOOKS.labels(target.type, "misconfigured").inc()
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

    alerts_topic_name = qualified(ALERTS, prefix)
    semaphore = asyncio.Semaphore(max_concurrent_webhooks)

    async def bounded(client: httpx.AsyncClient, alert: Alert, rule: AlertRule) -> None:
        async with semaphore:
            try:
                await post_webhooks(client, alert, rule)
            except Exception:  # a delivery task must never take the worker down
                log.exception("webhook delivery for alert %s failed", alert.id)

    async def deliver_alerts(stream: Any) -> Any:
        from pipeline.adapters.elastic import make_async_client

        es = make_async_client(settings)
        client = httpx.AsyncClient(follow_redirects=False)
        try:
            async for batch in stream.take(200, within=0.5):
                alerts = []
                for value in batch:
                    try:
                        alerts.append(Alert.from_json(value))
                    except ValueError:
                        ALERT_EVENTS.labels("rejected").inc()
                        log.warning("unreadable alert on %s skipped", alerts_topic_name)
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

    async def index_alerts(es: Any, alerts: list[Alert]) -> None:
        if not alerts:
            return
        operations: list[dict[str, Any]] = []
        for alert in alerts:
            operations.append({"index": {"_index": settings.alerts_index, "_id": alert.id}})
            operations.append(alert.model_dump(mode="json"))
        for attempt in range(1, retry.attempts + 1):
            try:
                response = await es.bulk(operations=operations, refresh=False)
            except Exception as exc:  # connection or 429/5xx: back off and retry
                error = f"{type(exc).__name__}: {exc}"
            else:
                failed = [
                    (alert, item["index"])
                    for alert, item in zip(alerts, response["items"], strict=True)
                    if item["index"].get("error")
                ]
                for alert, item in failed:  # mapping errors will not heal with retries
                    await send_dead_letter(
                        DeadLetter(
                            stage="alert-index",
                            reason=str(item["error"])[:2000],
                            error_type="BulkItemError",
                            topic=alerts_topic_name,
                            key=alert.id,
                            payload=alert.to_json().decode(),
                        )
                    )
                return
            log.warning("alerts index write failed (attempt %d): %s", attempt, error)
            if attempt < retry.attempts:
                await asyncio.sleep(retry.delay(attempt))
        for alert in alerts:
            await send_dead_letter(
                DeadLetter(
                    stage="alert-index",
                    reason=error[:2000],
                    error_type="IndexUnavailable",
                    topic=alerts_topic_name,
                    key=alert.id,
                    payload=alert.to_json().decode(),
                )
            )

    stage.agents["evaluate"] = app.agent(enriched_topic, name=f"{prefix}alerts.evaluate")(evaluate)
    stage.agents["track"] = app.agent(matches_topic, name=f"{prefix}alerts.track")(track)
    stage.agents["deliver"] = app.agent(alerts_topic, name=f"{prefix}alerts.deliver")(
        deliver_alerts
    )
    return stage
