"""Settings with a fixed set of values are typed and numbers bounded: a typo in a manifest
is refused at start, in one line naming the variable."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from pipeline.cli import cli
from pipeline.settings import Settings, get_settings, invalid_settings_line

REFUSED = [
    ("kafka_security_protocol", "SASL_SSLL"),
    ("kafka_security_protocol", "sasl_ssl"),
    ("kafka_sasl_mechanism", "SCRAM-SHA512"),
    ("stack_kafka_port", "0"),
    ("stack_es_port", "70000"),
    ("worker_web_port", "-1"),
    ("stack_es_heap", "512"),
    ("stack_kafka_heap", "-Xmx512m"),
    ("poll_concurrency", "0"),
    ("poller_replicas", "0"),
    ("poller_ordinal", "-1"),
    ("dedup_threshold", "1.5"),
    ("dedup_num_perm", "0"),
    ("es_bulk_max_docs", "0"),
    ("fetch_timeout_s", "0"),
    ("fetch_max_redirects", "100"),
    ("extract_timeout_s", "0"),
    ("extract_workers", "0"),
    ("extract_memory_mib", "16"),
    ("extract_max_bytes", "10"),
    ("enrich_processes", "-1"),
    ("alert_webhook_attempts", "0"),
    ("es_retry_timeout_s", "-5"),
    ("maven_url", "repo1.maven.org/maven2"),
    ("demo_port", "0"),
    ("demo_port", "65536"),
    ("kafka_connect_timeout_s", "0"),
    ("kafka_connect_timeout_s", "3600"),
]


@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_a_typo_is_refused_naming_the_setting(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate({field: value})
    line = invalid_settings_line(refused.value)
    assert f"WIREWATCH_{field.upper()}" in line and "\n" not in line


def test_the_defaults_and_production_values_are_accepted() -> None:
    Settings()
    Settings.model_validate(
        {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "stack_es_heap": "1g",
            "poller_ordinal": "0",
            "enrich_processes": "0",
            "fetch_max_redirects": "0",
        }
    )


def test_the_cli_refuses_at_start_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWATCH_KAFKA_SECURITY_PROTOCOL", "SASL-SSL")
    monkeypatch.setenv("WIREWATCH_POLL_CONCURRENCY", "zero")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["search", "ceasefire"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: invalid setting WIREWATCH_KAFKA_SECURITY_PROTOCOL")
    assert "WIREWATCH_POLL_CONCURRENCY" in line and "'SASL-SSL'" in line
