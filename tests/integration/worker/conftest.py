"""Fixtures for the worker integration tests (helpers live in worker_harness).

Each test gets its own topic prefix and index names, so tests never see each other's
records, and its own worker web port for /readyz and /metrics.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from worker_harness import Worker, build_corpus, settings_env

from pipeline.records import Article
from pipeline.settings import Settings
from pipeline.stack.process import free_port


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def settings(stack, run_id: str, tmp_path: Path) -> Settings:
    return Settings(
        kafka_bootstrap=stack.kafka_bootstrap,
        es_url=stack.es_url,
        topic_prefix=f"t{run_id}.",
        index_alias=f"t{run_id}-articles",
        stories_index=f"t{run_id}-stories",
        events_index=f"t{run_id}-events",
        alerts_index=f"t{run_id}-alerts",
        claims_index=f"t{run_id}-claims",
        home=tmp_path / "home",
        worker_web_port=free_port(),
    )


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    w = Worker(settings_env(settings), tmp_path / "worker.log")
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = Elasticsearch(settings.es_url, request_timeout=30)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def corpus() -> list[Article]:
    return build_corpus()
