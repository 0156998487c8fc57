"""Elasticsearch client options from settings: auth kinds, CA certs, secrets not logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.adapters.elastic import client_options, make_client
from pipeline.settings import Settings


def test_api_key_wins_over_basic_auth() -> None:
    settings = Settings(
        es_url="https://es:9200",
        es_api_key=SecretStr("key-123"),
        es_username="elastic",
        es_password=SecretStr("pw"),
    )
    options = client_options(settings)
    assert options["api_key"] == "key-123" and "basic_auth" not in options


def test_basic_auth_and_ca_certs(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    settings = Settings(
        es_url="https://es:9200", es_username="u", es_password=SecretStr("pw"), es_ca_certs=ca
    )
    options = client_options(settings)
    assert options["basic_auth"] == ("u", "pw") and options["ca_certs"] == str(ca)


def test_no_auth_and_the_transport_leaves_retries_to_the_sink() -> None:
    options = client_options(Settings(es_url="http://127.0.0.1:9200"))
    assert "api_key" not in options and "basic_auth" not in options
    assert options["max_retries"] <= 1


def test_secrets_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(es_url="http://es:9200", es_api_key=SecretStr("very-secret-key"))
    with caplog.at_level(logging.DEBUG, logger="pipeline.adapters.elastic"):
        client = make_client(settings)
        client.close()
    assert "very-secret-key" not in caplog.text and "auth=api_key" in caplog.text
    assert "very-secret-key" not in repr(settings)
