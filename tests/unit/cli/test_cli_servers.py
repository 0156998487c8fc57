"""No silent fallback: a command uses the managed stack only while it runs; otherwise a
missing server address is one line naming the variable (pipeline.cli.servers)."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.adapters.elastic import ElasticsearchNotConfiguredError, es_url
from pipeline.adapters.kafka import KafkaNotConfiguredError, bootstrap_servers
from pipeline.cli import cli, servers
from pipeline.settings import Settings, get_settings

PIPELINE = Path(__file__).resolve().parents[3] / "pipeline"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A WIREWATCH_HOME with no managed stack and no server addresses configured."""
    for variable in ("WIREWATCH_KAFKA_BOOTSTRAP", "WIREWATCH_ES_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("WIREWATCH_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def listener() -> Iterator[int]:
    """Something listening on loopback, where a silent fallback would connect."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def _fake_running_broker(home: Path, port: int) -> subprocess.Popen[bytes]:
    """A process the stack takes for its broker: a pid file and the marker in its cmdline."""
    kafka = home / "stack" / "kafka"
    (kafka / "config").mkdir(parents=True)
    state = {
        "kafka_port": port,
        "kafka_controller_port": port + 1,
        "es_port": port + 2,
        "es_transport_port": port + 3,
        "cluster_id": "x",
    }
    (home / "stack" / "stack.json").write_text(json.dumps(state))
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", str(kafka / "config")]
    )
    (kafka / "kafka.pid").write_text(f"{child.pid}\n")
    return child


@pytest.mark.parametrize(
    ("args", "variable"),
    [
        (["poll", "--once", "--feeds", "{feeds}"], "WIREWATCH_KAFKA_BOOTSTRAP"),
        (["worker"], "WIREWATCH_KAFKA_BOOTSTRAP"),
        (["search", "ceasefire"], "WIREWATCH_ES_URL"),
        (["setup", "--no-kafka"], "WIREWATCH_ES_URL"),
        (["replay", "--from", "earliest"], "WIREWATCH_KAFKA_BOOTSTRAP"),
        (["alerts", "list"], "WIREWATCH_KAFKA_BOOTSTRAP"),
    ],
)
def test_a_missing_server_is_one_line_naming_the_variable(
    home: Path, listener: int, monkeypatch: pytest.MonkeyPatch, args: list[str], variable: str
) -> None:
    # The managed stack's default ports point at a live listener: still not used.
    monkeypatch.setenv("WIREWATCH_STACK_KAFKA_PORT", str(listener))
    monkeypatch.setenv("WIREWATCH_STACK_ES_PORT", str(listener))
    feeds = home / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    args = [arg.replace("{feeds}", str(feeds)) for arg in args]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == servers.EXIT_NOT_CONFIGURED, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert variable in lines[0] and "wirewatch stack up" in lines[0]
    assert "Traceback" not in result.output


def test_worker_process_without_kafka_exits_with_one_line(home: Path) -> None:
    """The real process: no aiokafka traceback, one line on stderr, exit non-zero."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env["WIREWATCH_HOME"] = str(home)
    env["WIREWATCH_ES_URL"] = "http://127.0.0.1:1"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "worker", "--no-setup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == servers.EXIT_NOT_CONFIGURED
    assert done.stderr.strip().splitlines() == [
        "Error: WIREWATCH_KAFKA_BOOTSTRAP is not set and the managed local stack is not "
        "running: set WIREWATCH_KAFKA_BOOTSTRAP, or start the stack with `wirewatch stack up`"
    ]


def test_configured_servers_win_without_looking_at_the_stack(home: Path) -> None:
    settings = Settings(kafka_bootstrap="broker:9093", es_url="https://es:9200")
    assert servers.resolve(settings) is settings
    assert not servers.decided(settings).managed


def test_a_running_managed_broker_is_used(home: Path) -> None:
    port = 49152
    child = _fake_running_broker(home, port)
    try:
        resolved = servers.resolve(Settings(), elasticsearch=False)
        assert resolved.kafka_bootstrap == f"127.0.0.1:{port}"
        assert servers.decided(Settings()).managed == {"kafka"}
        # The node is not running: a command that needs it is refused by name.
        with pytest.raises(servers.ServerNotConfigured, match="WIREWATCH_ES_URL"):
            servers.resolve(Settings())
    finally:
        child.kill()
        child.wait()


def test_adapters_never_guess() -> None:
    with pytest.raises(KafkaNotConfiguredError, match="WIREWATCH_KAFKA_BOOTSTRAP"):
        bootstrap_servers(Settings(kafka_bootstrap=None))
    with pytest.raises(ElasticsearchNotConfiguredError, match="WIREWATCH_ES_URL"):
        es_url(Settings(es_url=None))


def _imports(package: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[path.name] = names
    return found


def test_adapters_do_not_import_the_stack_and_the_stack_not_the_index() -> None:
    for name, modules in _imports(PIPELINE / "adapters").items():
        assert not any(m.startswith("pipeline.stack") for m in modules), name
    for name, modules in _imports(PIPELINE / "stack").items():
        assert not any(m.startswith("pipeline.index") for m in modules), name
