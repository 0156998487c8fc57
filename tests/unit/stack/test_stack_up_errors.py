"""`stack up` failures: one actionable line, non-zero exit, nothing left running.

No real servers: ports are held by test sockets, Java is hidden via PATH, and artifacts
come from a fake repository (or none) on loopback.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_maven import FakeRepo, serve

from pipeline.cli import cli
from pipeline.cli.stack import DownloadProgress
from pipeline.settings import get_settings
from pipeline.stack import LocalStack, local_es_url, local_kafka_bootstrap, manager
from pipeline.stack.java import Java
from pipeline.stack.pins import Artifact
from pipeline.stack.process import free_port


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Isolated WIREWATCH_HOME and cache; the settings cache is reset around the test."""
    monkeypatch.setenv("WIREWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WIREWATCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WIREWATCH_MAVEN_URL", f"http://127.0.0.1:{free_port()}/maven2")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _up(*ports: str) -> Result:
    return CliRunner().invoke(cli, ["stack", "up", *ports])


def _ports() -> list[str]:
    return [
        "--kafka-port",
        str(free_port()),
        "--kafka-controller-port",
        str(free_port()),
        "--es-port",
        str(free_port()),
    ]


def _assert_one_line_failure(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0]


def _nothing_running(home: Path) -> None:
    stack = LocalStack(home / "stack", cache_dir=home.parent / "cache")
    assert [s.state for s in stack.status()] == ["stopped", "stopped"]
    assert not list((home / "stack").rglob("*.pid"))


def test_port_taken(env: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = _ports()
        ports[1] = str(taken)
        result = _up(*ports)
    _assert_one_line_failure(
        result, f"port {taken}", "already in use", "--kafka-port", "WIREWATCH_STACK_KAFKA_PORT"
    )
    _nothing_running(env / "home")
    assert not (env / "cache").exists()  # failed before downloading anything


def test_controller_port_taken_names_its_own_option(env: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = _ports()
        ports[3] = str(taken)
        result = _up(*ports)
    _assert_one_line_failure(result, f"port {taken}", "--kafka-controller-port")
    _nothing_running(env / "home")


def test_java_missing(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = env / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    result = _up(*_ports())
    _assert_one_line_failure(result, "Java 17+", "JAVA_HOME")
    _nothing_running(env / "home")
    assert not (env / "cache").exists()


def test_java_missing_for_elasticsearch(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWATCH_ES_JAVA_HOME", str(env / "no-such-jdk"))
    result = _up(*_ports())
    _assert_one_line_failure(result, "WIREWATCH_ES_JAVA_HOME", "JDK 21")
    _nothing_running(env / "home")


def _fake_java(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Java(Path("/nonexistent-jdk"), 25)
    monkeypatch.setattr(manager, "find_kafka_java", lambda: fake)
    monkeypatch.setattr(manager, "find_elasticsearch_java", lambda configured=None: fake)


def test_download_failure(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_java(monkeypatch)
    result = _up(*_ports())  # WIREWATCH_MAVEN_URL points at a closed port
    _assert_one_line_failure(result, "could not download", "WIREWATCH_MAVEN_URL")
    _nothing_running(env / "home")


def test_checksum_mismatch(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_java(monkeypatch)
    repo = FakeRepo()
    tampered = Artifact("org.example", "broker", "1.0", 5, "0" * 64)
    repo.files[tampered.repo_path] = b"evil!"
    monkeypatch.setattr(manager, "KAFKA_JARS", (tampered,))
    monkeypatch.setattr(manager, "ELASTICSEARCH_ZIP", tampered)
    with serve(repo) as url:
        monkeypatch.setenv("WIREWATCH_MAVEN_URL", url)
        get_settings.cache_clear()
        result = _up(*_ports())
    _assert_one_line_failure(result, "checksum mismatch for broker-1.0.jar")
    _nothing_running(env / "home")
    assert not (env / "cache" / "maven" / tampered.repo_path).exists()


def test_down_after_a_crash_clears_stale_pid_files(env: Path) -> None:
    state = env / "home" / "stack"
    stack = LocalStack(state, cache_dir=env / "cache")
    # A pid that is alive but not ours (this test process): what a reboot can leave.
    stack.kafka.pid_file.write(99999999)
    stack.elasticsearch.pid_file.write(os.getpid())
    assert [s.state for s in stack.status()] == ["crashed", "crashed"]

    result = CliRunner().invoke(cli, ["stack", "down"])

    assert result.exit_code == 0, result.output
    assert "nothing was running" in result.output
    _nothing_running(env / "home")


def test_status_when_never_started(env: Path) -> None:
    result = CliRunner().invoke(cli, ["stack", "status"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["kafka", "stopped", "127.0.0.1:9092"]
    assert lines[1].split()[:3] == ["elasticsearch", "stopped", "127.0.0.1:9200"]


def test_ports_are_remembered_for_later_commands(env: Path) -> None:
    state = env / "home" / "stack"
    first = LocalStack(state, kafka_port=free_port(), es_port=free_port())
    first._save_state()  # what `up` records before starting the servers
    later = LocalStack(state)  # e.g. `stack status` / `stack down`, no ports given
    assert later.kafka_bootstrap == first.kafka_bootstrap
    assert later.es_url == first.es_url
    assert later.kafka.controller_port == first.kafka.controller_port


def test_adapters_find_the_recorded_ports(env: Path) -> None:
    settings = get_settings()
    assert local_es_url(settings) == "http://127.0.0.1:9200"  # never started: the defaults
    kafka_port, es_port = free_port(), free_port()
    LocalStack(settings.stack_dir, kafka_port=kafka_port, es_port=es_port)._save_state()
    assert local_kafka_bootstrap(settings) == f"127.0.0.1:{kafka_port}"
    assert local_es_url(settings) == f"http://127.0.0.1:{es_port}"


def test_download_progress_without_a_terminal_prints_every_tenth(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = DownloadProgress()
    progress.tty = False
    total = 100 * 2**20
    for done in range(0, total + 1, total // 50):
        progress(done, total)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "  0% of 100 MiB"
    assert lines[-1] == "  100% of 100 MiB"
    assert len(lines) == 11
