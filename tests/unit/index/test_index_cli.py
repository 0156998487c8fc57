"""The index commands fail with one clear line when Elasticsearch does not answer."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.settings import get_settings


@pytest.fixture
def nobody_listening(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with socket.socket() as s:  # a port that was free a moment ago: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("WIREWATCH_ES_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


@pytest.mark.parametrize("args", [["search", "ceasefire"], ["setup", "--no-kafka"]])
def test_unreachable_node_is_one_clear_error(nobody_listening: str, args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert f"Error: cannot reach Elasticsearch at {nobody_listening}" in result.output
    assert "Traceback" not in result.output


def test_replay_refuses_a_bad_start() -> None:
    result = CliRunner().invoke(cli, ["replay", "--from", "last tuesday"])
    assert result.exit_code == 2 and "expected an ISO time" in result.output
