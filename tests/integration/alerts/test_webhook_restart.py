"""Webhook delivery is at-least-once across a worker crash (issue 11.5): the worker is
killed with -9 while its webhook request is in flight; the restarted worker sends it
again, under the same Idempotency-Key, and nothing is dead-lettered."""

from __future__ import annotations

import pytest
from alert_support import Receiver, Worker, dead_letters, produce
from elasticsearch import Elasticsearch
from helpers import wait_until

from pipeline.alerts.delivery import IDEMPOTENCY_HEADER
from pipeline.alerts.rules import RuleStore
from pipeline.index import samples
from pipeline.records import AlertRule, Delivery
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def test_webhook_in_flight_at_kill9_is_sent_after_restart(
    alert_settings: Settings, es: Elasticsearch, receiver: Receiver, alert_worker: Worker
) -> None:
    hook = Delivery(type="webhook", url=f"{receiver.url}/hold")
    RuleStore(alert_settings).add(
        AlertRule(id="putin", name="Putin in Kursk", query="actor:Putin AND kursk", deliver=[hook])
    )
    article = samples.enriched(1, cluster=1, copy=0)
    produce(alert_settings, [article])
    # the receiver holds the request: the worker is mid-delivery when it is killed
    first = wait_until(lambda: receiver.received("/hold"), timeout=90, message="webhook sent")
    alert_worker.kill9()
    key = first[0]["headers"][IDEMPOTENCY_HEADER]
    assert key == f"putin:{article.story.cluster_id}"
    receiver.release.set()
    sent_before = len(receiver.received("/hold"))

    alert_worker.start()
    again = wait_until(
        lambda: receiver.received("/hold")[sent_before:],
        timeout=120,
        message=f"webhook re-sent after the restart; log:\n{alert_worker.tail()}",
    )
    assert {r["headers"][IDEMPOTENCY_HEADER] for r in again} == {key}
    assert not [d for d in dead_letters(alert_settings) if d.stage == "alert-delivery"]
