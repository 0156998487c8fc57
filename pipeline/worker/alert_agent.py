"""The alert stage's Faust agents (the logic they run is in pipeline.alerts, server-free).

    wirewatch.articles.enriched --evaluate--> wirewatch.alert-matches (key: alert id)
    wirewatch.claim-changes     --claims----> wirewatch.alert-matches (claim:changed/disputed)
    wirewatch.alert-matches     --track-----> wirewatch.alerts        (key: alert id)
    wirewatch.alerts            --deliver---> the alerts index
    wirewatch.alerts            --webhooks--> the rules' webhooks (first firings only)

* Rules: a GlobalTable whose changelog *is* the compacted rules topic, so every worker
  holds every rule and sees additions and tombstones as they are written, without a
  restart; each changelog event updates the worker's RuleIndex.
* evaluate: one EnrichedArticle -> the candidate alerts of the rules it matches, re-keyed
  by alert id so every copy of a story reaches the same ``track`` partition.
* claims: a claim link (pipeline.worker.claims_agent) -> the candidate alerts of the
  rules with a ``claim:`` term it matches, keyed rule id + pair key: once per pair.
* track: once per rule per story cluster (AlertTracker over the ``alert-state`` table);
  a surge rule's matches are keyed by its rule id instead and counted per window of event
  time (SurgeTracker over the ``alert-surge`` table, pipeline.alerts.surge).
* deliver: bulk-indexes alerts through the same BulkWriter as articles (retried to the
  deadline then the worker crashes; 400s dead-lettered). An update overwrites by id.
* webhooks: a second agent on the alerts topic, ``alert_webhook_concurrency`` instances,
  each posting one first firing at a time with bounded retries. Faust acknowledges a
  message only when every agent reading it is done, and commits only contiguous acked
  offsets, so a delivery cut short by kill -9 is redelivered after the restart
  (at-least-once; each request carries an ``Idempotency-Key`` for receivers to drop
  repeats). A slow or dead webhook holds back only this agent: the backlog waits in
  Kafka, not in memory. On shutdown deliveries in flight get a few seconds to finish.

Failures are data: an unreadable record is dead-lettered, a bug in one rule is counted
and skipped, a webhook that finally fails is dead-lettered; no rule can crash a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import faust
import httpx
from prometheus_client import Counter

from pipeline.alerts.delivery import (
    DeliveryConfigError,
    PostedHere,
    RetryPolicy,
    build_request,
    dead_letter,
    deliver,
    redact,
)
from pipeline.alerts.engine import (
    AlertTracker,
    RuleIndex,
    candidate_alert,
    candidate_link_alert,
    is_first_firing,
)
from pipeline.alerts.matcher import ActorNames
from pipeline.alerts.rules import apply_message
from pipeline.alerts.surge import SurgeTracker, is_surge_firing, surge_candidate
from pipeline.index.sink import BulkDoc, BulkWriter
from pipeline.records import Alert, AlertRule, ClaimLink, Delivery, EnrichedArticle
from pipeline.settings import Settings
from pipeline.topics import (
    ALERT_MATCHES,
    ALERT_RULES,
    ALERTS,
    ARTICLES_ENRICHED,
    CLAIM_CHANGES,
    qualified,
)
from pipeline.worker.channels import raw_topic
from pipeline.worker.deadletter import DeadLetters
from pipeline.worker.outcomes import Outcome
from pipeline.worker.rebuilt import rebuild_on_recovery
from pipeline.worker.stage import (
    ElasticsearchRejected,
    Item,
    Rejected,
    Stage,
    keep_unacknowledged,
)
from pipeline.worker.tables import JSON_CODEC, CodecTable, bytes_table

log = logging.getLogger(__name__)

STAGE = "alert"
#: how long deliveries in flight may finish when the worker stops (SIGTERM: 10 s in all)
DRAIN_S = 5.0

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


class AlertStage:
    """The topics, tables and agents of the alert stage on one app; see the module doc."""

    def __init__(
        self, app: faust.App, settings: Settings, registry: ActorNames | None = None
    ) -> None:
        if registry is None:
            from pipeline.enrich.actors import ActorRegistry

            registry = ActorRegistry.load(settings.actors_file)
        self.app = app
        self.settings = settings
        self.index = RuleIndex(registry)
        self.retry = RetryPolicy(
            attempts=settings.alert_webhook_attempts, timeout_s=settings.alert_webhook_timeout_s
        )
        self.enriched_topic = raw_topic(app, ARTICLES_ENRICHED, settings)
        self.matches_topic = raw_topic(app, ALERT_MATCHES, settings)
        self.claim_changes_topic = raw_topic(app, CLAIM_CHANGES, settings)
        self.alerts_topic = raw_topic(app, ALERTS, settings)
        self.alerts_topic_name = qualified(ALERTS, settings.topic_prefix)
        self.dead_letters = DeadLetters(app, settings)
        self.rules_table = self._declare_rules_table()
        self.state_table = bytes_table(
            app,
            "alert-state",
            partitions=ALERT_MATCHES.partitions,
            help="alert id -> the alert fired and the article ids seen (JSON)",
        )
        self.tracker = AlertTracker(
            CodecTable(self.state_table, JSON_CODEC),
            window_s=settings.alert_state_window_hours * 3600.0,
            max_entries=settings.alert_state_max_entries,
        )
        rebuild_on_recovery(self.state_table, self.tracker)  # its eviction order
        self.surge_table = bytes_table(
            app,
            "alert-surge",
            partitions=ALERT_MATCHES.partitions,
            help="surge rule id -> its windows' counts, watermark and arming (JSON)",
        )
        self.surge = SurgeTracker(CodecTable(self.surge_table, JSON_CODEC))
        self.removed_surges: set[str] = set()  # removed surge rules whose state may remain
        self.in_flight = 0  # webhook deliveries being posted now
        self.posted = PostedHere()  # what a record handed over twice must not post again
        self._idle = asyncio.Event()  # set while none is
        self._idle.set()
        self.draining = False
        self.agents: dict[str, Any] = {}
        self._http: httpx.AsyncClient | None = None

    # --- declaration ------------------------------------------------------------------

    def _declare_rules_table(self) -> Any:
        rules_topic = self.app.topic(
            qualified(ALERT_RULES, self.settings.topic_prefix),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=ALERT_RULES.partitions,
            compacting=True,
            deleting=False,
        )

        async def on_rule_changelog(event: Any) -> None:
            try:
                self.on_rule_event(event.message.key, event.message.value)
            except Exception:  # a rule must never stop the table's recovery loop
                log.exception("rules topic event at offset %s ignored", event.message.offset)

        # Every worker reads the whole rules topic (a GlobalTable); a buffer of 1 applies
        # each change as it comes, as faust.tables.globaltable advises for several workers.
        return self.app.tables.add(
            _RulesTable(
                self.app,
                name="alert-rules",
                partitions=ALERT_RULES.partitions,
                changelog_topic=rules_topic,  # its raw codecs decode; workers never write it
                key_type=bytes,
                value_type=bytes,
                recovery_buffer_size=1,
                standby_buffer_size=1,
                is_global=True,
                beacon=self.app.tables.beacon,
                on_changelog_event=on_rule_changelog,
                help="alert rules by id, read from the compacted rules topic",
            )
        )

    def declare_agents(self) -> None:
        ident = self.app.conf.id
        self.agents["evaluate"] = self.app.agent(
            self.enriched_topic, name=f"{ident}.alerts-evaluate"
        )(self.evaluate_agent)
        self.agents["claims"] = self.app.agent(
            self.claim_changes_topic, name=f"{ident}.alerts-claims"
        )(self.evaluate_links_agent)
        self.agents["track"] = self.app.agent(self.matches_topic, name=f"{ident}.alerts-track")(
            self.track_agent
        )
        self.agents["deliver"] = self.app.agent(self.alerts_topic, name=f"{ident}.alerts-deliver")(
            self.deliver_agent
        )
        self.agents["webhooks"] = self.app.agent(
            self.alerts_topic,
            name=f"{ident}.alerts-webhooks",
            concurrency=self.settings.alert_webhook_concurrency,
        )(self.webhook_agent)
        self.app.on_before_shutdown.connect(self._drain)

    # --- rules ------------------------------------------------------------------------

    def on_rule_event(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one rules-topic message to the live index (tombstone removes)."""
        if key is None:
            return
        rule_id = key.decode("utf-8", "replace")
        live: dict[str, AlertRule] = {}
        apply_message(live, key, value)
        old = self.index.rules.get(rule_id)
        if old is not None and old.rule.surge is not None:
            self.removed_surges.add(rule_id)  # its state goes when its partition is next seen
        if rule_id in live:
            self.index.upsert(live[rule_id])
            if live[rule_id].surge is not None:
                self.removed_surges.discard(rule_id)
        else:
            self.index.remove(rule_id)

    # --- evaluate ---------------------------------------------------------------------

    async def evaluate_agent(self, stream: Any) -> None:
        shape = Stage(STAGE, EnrichedArticle.from_json, self.dead_letters)
        async for _ in shape.run_each(stream, self.evaluate):
            pass

    async def evaluate_links_agent(self, stream: Any) -> None:
        shape = Stage("alert-claims", ClaimLink.from_json, self.dead_letters)
        async for _ in shape.run_each(stream, self.evaluate_link):
            pass

    async def evaluate_link(self, item: Item[ClaimLink]) -> Outcome:
        """A claim link against the claim rules: once per rule per pair (the track agent
        drops a redelivered link: same alert id, same article)."""
        matches = self.index.evaluate_link(item.record)
        ALERT_EVENTS.labels("claim_matched" if matches else "claim_no_match").inc()
        for match in matches:
            candidate = candidate_link_alert(match, item.record)
            await self.matches_topic.send(key=candidate.id.encode(), value=candidate.to_json())
        return "processed"

    async def evaluate(self, item: Item[EnrichedArticle]) -> Outcome:
        matches = self.index.evaluate(item.record)  # never raises: a failing rule is skipped
        ALERT_EVENTS.labels("matched" if matches else "no_match").inc()
        for match in matches:
            if match.rule.surge is not None:
                candidate = surge_candidate(match, item.record)
            else:
                candidate = candidate_alert(match, item.record)
            await self.matches_topic.send(key=candidate.id.encode(), value=candidate.to_json())
        return "processed"

    # --- track ------------------------------------------------------------------------

    async def track_agent(self, stream: Any) -> None:
        shape = Stage("alert-track", Alert.from_json, self.dead_letters)
        async for _ in shape.run_each(stream, self.track):
            pass

    async def track(self, item: Item[Alert]) -> Outcome:
        if item.record.event_time is not None:
            return await self.track_surge(item)
        alert = self.tracker.observe(item.record, partition=item.message.partition)
        if alert is None:
            ALERT_EVENTS.labels("redelivered").inc()
            return "duplicate"
        ALERT_EVENTS.labels("fired" if is_first_firing(alert) else "updated").inc()
        await self.alerts_topic.send(key=alert.id.encode(), value=alert.to_json())
        return "processed"

    async def track_surge(self, item: Item[Alert]) -> Outcome:
        """A surge rule's match: counted in its window; fires and updates go on."""
        partition = item.message.partition
        for rule_id in list(self.removed_surges):
            if self.surge.partition_of(rule_id) in (partition, None):
                self.surge.forget(rule_id)
                self.removed_surges.discard(rule_id)
        compiled = self.index.rules.get(item.record.rule_id)
        if compiled is None or compiled.rule.surge is None:
            ALERT_EVENTS.labels("surge_stale").inc()  # removed or no longer a surge rule
            return "duplicate"
        outcome = self.surge.observe(compiled.rule, item.record, partition=partition)
        counted = outcome.counted
        ALERT_EVENTS.labels(
            "surge_counted"
            if counted == "counted"
            else ("surge_late" if counted == "late" else "surge_repeat")
        ).inc()
        for alert in outcome.alerts:
            ALERT_EVENTS.labels("fired" if is_surge_firing(alert) else "updated").inc()
            await self.alerts_topic.send(key=alert.id.encode(), value=alert.to_json())
        return "processed" if outcome.counted == "counted" else "duplicate"

    # --- deliver: the alerts index ----------------------------------------------------

    async def deliver_agent(self, stream: Any) -> None:
        from pipeline.adapters.elastic import make_async_client

        shape = Stage("alert-deliver", Alert.from_json, self.dead_letters)
        writer: BulkWriter[Item[Alert]] = BulkWriter(
            make_async_client(self.settings),
            self.settings.alerts_index,
            retry_timeout_s=self.settings.es_retry_timeout_s,
        )
        try:
            async for _ in shape.run(
                stream, lambda items: self.index_alerts(writer, items), size=200,
                within=self.settings.batch_within_s,
            ):  # fmt: skip
                pass
        finally:
            await writer.client.close()

    async def index_alerts(
        self, writer: BulkWriter[Item[Alert]], items: list[Item[Alert]]
    ) -> list[tuple[Item[Alert], Rejected]]:
        """Index by alert id (an update overwrites); Elasticsearch's refusals come back."""
        docs = [BulkDoc(item, item.record.id, item.record.to_json()) for item in items]
        result = await writer.write(docs)
        return [(item, ElasticsearchRejected(reason)) for item, reason in result.rejected]

    # --- webhooks ---------------------------------------------------------------------

    def http_client(self) -> httpx.AsyncClient:
        if self._http is None:  # created on the worker's event loop
            from pipeline.fetch.guard import AddressPolicy, guarded_transport

            # Rule authors choose the URLs: guard them like feed URLs (no internal services).
            guard = AddressPolicy(self.settings.webhook_allow_networks)
            self._http = httpx.AsyncClient(
                transport=guarded_transport(guard, self.settings.alert_webhook_concurrency),
                trust_env=False,
                follow_redirects=False,
            )
        return self._http

    async def webhook_agent(self, stream: Any) -> None:
        # Parse errors are the deliver agent's to dead-letter; here they are skipped.
        async for event in stream.events():
            try:
                alert = Alert.from_json(event.message.value or b"")
            except ValueError:
                continue
            compiled = self.index.rules.get(alert.rule_id)
            first = is_surge_firing(alert) if alert.surge else is_first_firing(alert)
            if not (first and compiled and compiled.rule.deliver):
                continue
            if not self.posted.claim(alert.id):
                log.debug("alert %s: posted or being posted here already", alert.id)
                continue
            try:
                if self.draining:  # stopping: leave it unacknowledged, a restart sends it
                    await asyncio.Event().wait()  # parked until the agent is cancelled
                self.in_flight += 1
                self._idle.clear()
                try:
                    await self.post_webhooks(alert, compiled.rule)
                except Exception:  # one delivery's bug must never take the worker down
                    log.exception("webhook delivery for alert %s failed", alert.id)
                finally:
                    self.in_flight -= 1
                    if not self.in_flight:
                        self._idle.set()
                self.posted.done(alert.id)
            except BaseException:  # cancelled mid-delivery: a restart sends it again
                self.posted.release(alert.id)
                keep_unacknowledged([event])
                raise

    async def post_webhooks(self, alert: Alert, rule: AlertRule) -> None:
        for target in rule.deliver:
            await self.post_one(alert, target)

    async def post_one(self, alert: Alert, target: Delivery) -> None:
        try:
            request = build_request(alert, target)
        except DeliveryConfigError as exc:
            WEBHOOKS.labels(target.type, "dead_lettered").inc()
            await self.dead_letters.send_record(
                dead_letter(alert, target, str(exc), type(exc).__name__, self.alerts_topic_name)
            )
            return
        outcome = await deliver(self.http_client(), request, self.retry)
        if outcome.delivered:
            WEBHOOKS.labels(target.type, "delivered").inc()
            return
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
        await self.dead_letters.send_record(
            dead_letter(alert, target, reason, "WebhookFailed", self.alerts_topic_name)
        )

    async def _drain(self, sender: Any = None, **kwargs: Any) -> None:
        """Let deliveries in flight finish (up to DRAIN_S); start no new ones."""
        self.draining = True
        if self.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), DRAIN_S)
        if self.in_flight:
            log.info("stopping with %d webhook deliveries unsent; resent on start", self.in_flight)
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def register(app: faust.App, settings: Settings, registry: ActorNames | None = None) -> AlertStage:
    """Declare the alert stage's topics, tables and agents on ``app``."""
    stage = AlertStage(app, settings, registry)
    stage.declare_agents()
    return stage
