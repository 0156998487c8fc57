"""The poller's /healthz, /readyz and /metrics, and readiness against the real broker."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from helpers import wait_until

from pipeline import topics
from pipeline.adapters.kafka import TopicLeaderProbe, ensure_topics, make_producer
from pipeline.poll.metrics import FEEDS, serve_health
from pipeline.poll.poller import Poller
from pipeline.poll.readiness import Readiness
from pipeline.poll.state import StateStore
from pipeline.settings import Settings
from pipeline.stack import LocalStack


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_healthz_readyz_and_metrics() -> None:
    state = {"value": Readiness(False, "kafka unreachable: KafkaTimeoutError: no broker")}
    server = serve_health(0, lambda: state["value"])
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"  # loopback unless WIREWATCH_HEALTH_BIND_HOST opens it
    base = f"http://127.0.0.1:{port}"
    try:
        FEEDS.labels("not-modified").inc()
        assert _get(f"{base}/healthz") == (200, b"ok\n")
        assert _get(f"{base}/readyz") == (503, b"kafka unreachable: KafkaTimeoutError: no broker\n")
        state["value"] = Readiness(True, "ready")
        assert _get(f"{base}/readyz") == (200, b"ready\n")
        status, body = _get(f"{base}/metrics")
        assert status == 200
        assert b'wirewatch_poll_feeds_total{outcome="not-modified"}' in body
        assert _get(f"{base}/nope")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_the_probe_refuses_a_topic_that_does_not_exist(stack: LocalStack) -> None:
    probe = TopicLeaderProbe(Settings(kafka_bootstrap=stack.kafka_bootstrap), "no-such-topic")
    try:
        with pytest.raises(Exception, match="UnknownTopicOrPartition"):
            probe.check()
    finally:
        probe.close()


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_readyz_means_can_deliver_before_and_after_a_broker_restart(
    stack: LocalStack, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path,
        kafka_bootstrap=stack.kafka_bootstrap,
        topic_prefix=f"ready-{uuid.uuid4().hex[:8]}-",
    )
    ensure_topics(settings)
    topic = topics.qualified(topics.ARTICLES_RAW, settings.topic_prefix)
    # No feeds: nothing is ever delivered, so readiness rests on the probe alone (a poller
    # whose feeds have nothing new must still become ready).
    poller = Poller(settings, [], state=StateStore(tmp_path / "state.sqlite3"))
    poller.watch_readiness(interval_s=0.5, fresh_s=2.0)
    server = serve_health(0, poller.ready)
    readyz = f"http://127.0.0.1:{server.server_address[1]}/readyz"
    try:
        wait_until(lambda: _get(readyz)[0] == 200, 30, "/readyz 200 with the broker up")

        stack.stop_kafka()
        _, body = wait_until(
            lambda: (answer := _get(readyz))[0] == 503 and answer, 30, "/readyz 503, broker down"
        )
        assert body.startswith(b"kafka unreachable")

        stack.start_kafka()
        wait_until(lambda: _get(readyz)[0] == 200, 120, "/readyz 200 after the restart")
        # Ready means a delivery goes through now.
        producer = make_producer(settings)
        try:
            producer.send(topic, key=b"probe", value=b"{}").get(timeout=30)
        finally:
            producer.close(timeout=10)
    finally:
        server.shutdown()
        server.server_close()
        asyncio.run(poller.aclose())  # stops the readiness thread and its client
