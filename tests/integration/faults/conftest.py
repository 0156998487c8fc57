"""Fault-test fixtures: per-test topic prefix and index names on the shared real stack."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from helpers import drop_indices_and_templates

from pipeline.adapters.kafka import ensure_topics
from pipeline.index.setup import install
from pipeline.index.templates import HUNSPELL_DIR
from pipeline.settings import Settings
from pipeline.stack import LocalStack
from pipeline.stack.process import free_port


@pytest.fixture
def fault_settings(stack: LocalStack, tmp_path: Path) -> Settings:
    target = stack.elasticsearch.config_dir / "hunspell" / "en_US"
    if not (target / "en_US.dic").exists():  # the articles template's stemmer needs it
        shutil.copytree(HUNSPELL_DIR, target, dirs_exist_ok=True)
        target.chmod(0o755)
        target.parent.chmod(0o755)
    prefix = f"f{uuid.uuid4().hex[:8]}"
    return Settings(
        kafka_bootstrap=stack.kafka_bootstrap,
        es_url=stack.es_url,
        topic_prefix=f"{prefix}.",
        index_alias=f"{prefix}-articles",
        stories_index=f"{prefix}-stories",
        events_index=f"{prefix}-events",
        alerts_index=f"{prefix}-alerts",
        home=tmp_path / "home",
        worker_web_port=free_port(),
    )


@pytest.fixture
def fault_es(fault_settings: Settings) -> Iterator[Elasticsearch]:
    """A client on the test's names, with topics and index templates installed."""
    client = Elasticsearch(fault_settings.es_url, request_timeout=60)
    ensure_topics(fault_settings)
    install(client, fault_settings)
    try:
        yield client
    finally:
        drop_indices_and_templates(client, fault_settings)
        client.close()
