"""``wirewatch stack stop|restart NAME`` on the session's real stack: one server stops and
comes back on the same port with its data, the other keeps running, and a later
``stack up`` after a clean stop reports nothing stale."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from kafka import KafkaAdminClient

from pipeline.stack import LocalStack

pytestmark = pytest.mark.integration


def wirewatch(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env["WIREWATCH_HOME"] = str(stack.state_dir.parent)  # the fixture lays it out as a home
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def status_of(stack: LocalStack) -> dict[str, str]:
    result = wirewatch(stack, "status")
    assert result.returncode == 0, result.stderr
    return {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()}


def test_stop_and_restart_one_server(stack: LocalStack) -> None:
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    admin.create_topics([_topic()])
    admin.close()
    es_pid = stack.elasticsearch.running_pid()

    stopped = wirewatch(stack, "stop", "kafka")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == "stopped kafka"
    assert status_of(stack) == {"kafka": "stopped", "elasticsearch": "running"}
    assert stack.elasticsearch.running_pid() == es_pid  # the other one untouched
    again = wirewatch(stack, "stop", "kafka")
    assert again.stdout.strip() == "kafka was not running"

    # A clean stop leaves nothing stale: `up` just starts what is missing.
    up = wirewatch(stack, "up")
    assert up.returncode == 0, up.stderr
    assert "starting Kafka" in up.stderr and "pid" not in up.stderr, up.stderr
    assert status_of(stack)["kafka"] == "running"

    restarted = wirewatch(stack, "restart", "kafka")
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.startswith("kafka running again after")
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)  # same port
    try:
        assert _topic().name in admin.list_topics()  # same data
    finally:
        admin.close()
    assert stack.elasticsearch.running_pid() == es_pid

    unknown = wirewatch(stack, "restart", "zookeeper")
    assert unknown.returncode == 2 and "zookeeper" in unknown.stderr


def _topic():
    from kafka.admin import NewTopic

    return NewTopic("stack-stop-restart-probe", num_partitions=1, replication_factor=1)
