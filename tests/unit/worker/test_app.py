"""The Faust app as configured from Settings (no broker needed to build it)."""

from __future__ import annotations

import faust
import pytest
from pydantic import SecretStr

from pipeline.settings import Settings
from pipeline.topics import ARTICLES_RAW
from pipeline.worker.app import app_id, broker_credentials, create_app


@pytest.fixture(scope="module")
def app() -> faust.App:
    settings = Settings(
        kafka_bootstrap="10.0.0.1:9092,10.0.0.2:9092",
        es_url="http://127.0.0.1:1",
        topic_prefix="unit.",
        worker_web_port=16066,
    )
    return create_app(settings)


def test_app_is_isolated_by_prefix_and_reads_settings(app: faust.App) -> None:
    assert app.conf.id == "unit.wirewatch-worker"
    assert [str(url) for url in app.conf.broker] == [
        "kafka://10.0.0.1:9092",
        "kafka://10.0.0.2:9092",
    ]
    assert app.conf.web_port == 16066
    assert app.conf.agent_supervisor.__name__ == "CrashingSupervisor"


def test_every_stage_has_an_agent(app: faust.App) -> None:
    names = set(app.agents)
    for stage in ("dedup", "enrich", "index"):
        assert f"unit.wirewatch-worker.{stage}" in names
    topics = {t for agent in app.agents.values() for t in agent.channel.topics}
    assert "unit.wirewatch.articles.raw" in topics
    assert "unit.wirewatch.articles.deduped" in topics
    assert "unit.wirewatch.articles.enriched" in topics


def test_dedup_table_is_copartitioned_with_its_single_partition_source(app: faust.App) -> None:
    table = app.tables["dedup"]
    assert ARTICLES_RAW.partitions == 1
    assert table.partitions == ARTICLES_RAW.partitions
    assert table.changelog_topic.get_topic_name() == "unit.wirewatch-worker-dedup-changelog"


def test_health_routes_are_served(app: faust.App) -> None:
    paths = {route.resource.canonical for route in app.web.web_app.router.routes()}
    assert {"/healthz", "/readyz", "/metrics"} <= paths


def test_broker_credentials_follow_the_security_protocol() -> None:
    assert broker_credentials(Settings()) is None
    sasl = broker_credentials(
        Settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_username="wirewatch",
            kafka_password=SecretStr("s3cret"),
        )
    )
    assert isinstance(sasl, faust.SASLCredentials)
    assert sasl.mechanism.value == "SCRAM-SHA-512"
    assert sasl.protocol.value == "SASL_SSL"
    assert sasl.password == "s3cret"
    assert "s3cret" not in repr(sasl)
    tls = broker_credentials(Settings(kafka_security_protocol="SSL"))
    assert isinstance(tls, faust.SSLCredentials)


def test_app_id_uses_topic_prefix() -> None:
    assert app_id(Settings(topic_prefix="")) == "wirewatch-worker"
