"""Per-test Elasticsearch names on the shared session node, removed afterwards."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from pipeline.index.setup import install
from pipeline.index.templates import HUNSPELL_DIR, Names
from pipeline.settings import Settings
from pipeline.stack import LocalStack


def _ensure_dictionary(stack: LocalStack) -> None:
    # The node loads <config>/hunspell/<locale> on first use. The stack is meant to ship it;
    # copying here too keeps these tests independent of that (same files either way).
    target = stack.elasticsearch.config_dir / "hunspell" / "en_US"
    if not (target / "en_US.dic").exists():
        shutil.copytree(HUNSPELL_DIR, target, dirs_exist_ok=True)
        target.chmod(0o755)
        target.parent.chmod(0o755)


@pytest.fixture
def es_settings(stack: LocalStack) -> Settings:
    _ensure_dictionary(stack)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    return Settings(
        es_url=stack.es_url,
        kafka_bootstrap=stack.kafka_bootstrap,
        index_alias=f"{prefix}-articles",
        stories_index=f"{prefix}-stories",
        alerts_index=f"{prefix}-alerts",
        topic_prefix=f"{prefix}.",
        es_bulk_max_docs=200,
    )


@pytest.fixture
def es(es_settings: Settings) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_settings.es_url, request_timeout=60)
    yield client
    names = Names.from_settings(es_settings)
    # Deleting by wildcard is refused (destructive_requires_name): resolve the names first.
    pattern = f"{names.alias}-*,{names.stories}*,{names.alerts}*"
    indices = list(client.indices.get(index=pattern, allow_no_indices=True))
    if indices:
        client.indices.delete(index=",".join(indices))
    for kind in ("articles", "stories", "alerts"):
        client.options(ignore_status=404).indices.delete_index_template(
            name=names.template_name(kind)
        )
    client.close()


@pytest.fixture
def installed(es: Elasticsearch, es_settings: Settings) -> Names:
    install(es, es_settings)
    return Names.from_settings(es_settings)
