"""A secured managed stack hands each service its own users; refusals are one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka.errors import TopicAuthorizationFailedError

from pipeline.adapters import elastic_probe, kafka_probe
from pipeline.cli import errors, servers
from pipeline.settings import Settings
from pipeline.stack import LocalStack


def _secured_decision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> servers.Decision:
    stack = LocalStack(
        tmp_path / "stack",
        19092,
        19200,
        kafka_controller_port=19093,
        cache_dir=tmp_path,
        secure=True,
    )
    stack._save_state()
    monkeypatch.setattr("pipeline.stack.local_stack", lambda settings, **_: stack)
    settings = Settings(home=tmp_path, kafka_bootstrap=stack.kafka_bootstrap, es_url=stack.es_url)
    return servers.Decision(settings, frozenset({"kafka", "elasticsearch"}))


def test_each_child_of_run_gets_its_own_service_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decision = _secured_decision(tmp_path, monkeypatch)
    worker = servers.service_env(decision, "worker")
    poller = servers.service_env(decision, "poller")
    assert worker["WIREWATCH_KAFKA_USERNAME"] == "wirewatch-worker"
    assert worker["WIREWATCH_ES_USERNAME"] == "wirewatch-worker"
    assert worker["WIREWATCH_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert worker["WIREWATCH_KAFKA_SSL_CAFILE"].endswith("ca.pem")
    assert poller["WIREWATCH_KAFKA_USERNAME"] == "wirewatch-poller"
    assert "WIREWATCH_ES_PASSWORD" not in poller  # the poller has no Elasticsearch user
    assert worker["WIREWATCH_KAFKA_PASSWORD"] != poller["WIREWATCH_KAFKA_PASSWORD"]
    assert worker["WIREWATCH_ES_URL"] == "https://127.0.0.1:19200"


def test_configured_servers_carry_no_stack_credentials(tmp_path: Path) -> None:
    decision = servers.Decision(Settings(kafka_bootstrap="k:9092", es_url="http://e:9200"))
    env = servers.service_env(decision, "worker")
    assert env == {"WIREWATCH_KAFKA_BOOTSTRAP": "k:9092", "WIREWATCH_ES_URL": "http://e:9200"}


def test_probes_leave_plain_servers_alone() -> None:
    assert kafka_probe.diagnose(Settings(kafka_bootstrap="127.0.0.1:1")) is None
    assert elastic_probe.diagnose(Settings(es_url="http://127.0.0.1:1")) is None
    # Secured but unreachable: not a refusal; the command's "cannot reach" line follows.
    secured = Settings(
        kafka_bootstrap="127.0.0.1:1",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        es_url="https://127.0.0.1:1",
    )
    assert kafka_probe.diagnose(secured, timeout_s=1) is None
    assert elastic_probe.diagnose(secured, timeout_s=1) is None


def test_a_missing_acl_is_one_line_naming_the_user_setting() -> None:
    settings = Settings(kafka_bootstrap="k:9092", kafka_username="wirewatch-ops")
    servers._decision = servers.Decision(settings)
    try:
        error = TopicAuthorizationFailedError("... CreatableTopicResult(name='wirewatch.x') ...")
        line = errors.server_error_line(RuntimeError("wrapped"), settings)
        assert line is None
        line = errors.server_error_line(error, settings)
    finally:
        servers._decision = None
    assert line is not None and "\n" not in line
    assert "'wirewatch-ops'" in line and "wirewatch.x" in line
    assert "WIREWATCH_KAFKA_USERNAME" in line
