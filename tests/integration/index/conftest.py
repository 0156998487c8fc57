"""Per-test Elasticsearch names on the shared session node, removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from helpers import drop_indices_and_templates

from pipeline.index.setup import install
from pipeline.index.templates import Names
from pipeline.settings import Settings
from pipeline.stack import LocalStack


@pytest.fixture
def es_settings(stack: LocalStack) -> Settings:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    return Settings(
        es_url=stack.es_url,
        kafka_bootstrap=stack.kafka_bootstrap,
        index_alias=f"{prefix}-articles",
        stories_index=f"{prefix}-stories",
        events_index=f"{prefix}-events",
        alerts_index=f"{prefix}-alerts",
        claims_index=f"{prefix}-claims",
        topic_prefix=f"{prefix}.",
        es_bulk_max_docs=200,
    )


@pytest.fixture
def es(es_settings: Settings) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_settings.es_url, request_timeout=60)
    yield client
    drop_indices_and_templates(client, es_settings)
    client.close()


@pytest.fixture
def installed(es: Elasticsearch, es_settings: Settings) -> Names:
    install(es, es_settings)
    return Names.from_settings(es_settings)


@pytest.fixture
def cli_env(es_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point `wirewatch` commands (which read the environment) at this test's names."""
    from pipeline.settings import get_settings

    for name in (
        "es_url",
        "kafka_bootstrap",
        "index_alias",
        "stories_index",
        "events_index",
        "alerts_index",
        "claims_index",
        "topic_prefix",
    ):
        monkeypatch.setenv(f"WIREWATCH_{name.upper()}", str(getattr(es_settings, name)))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
