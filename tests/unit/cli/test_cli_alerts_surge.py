"""`wirewatch alerts add/test --surge`: the options become a SurgeSpec, and a bad value is
refused in one line naming the option before any server is contacted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.cli.alerts import surge_spec
from pipeline.records import SurgeSpec
from pipeline.settings import get_settings


@pytest.fixture(autouse=True)
def no_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("WIREWATCH_KAFKA_BOOTSTRAP", "WIREWATCH_ES_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("WIREWATCH_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_options_make_the_spec() -> None:
    assert surge_spec("3x/1h", 5, None, None, None) == SurgeSpec(
        factor=3.0, window_s=3600, min_stories=5
    )
    spec = surge_spec("2.5x/30m", None, 12, "event", "5m")
    assert spec == SurgeSpec(
        factor=2.5, window_s=1800, min_stories=5, baseline_windows=12, per="event", lateness_s=300
    )
    assert surge_spec(None, None, None, None, None) is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--surge", "3/1h"], "--surge '3/1h': expected FACTORx/DURATION"),
        (["--surge", "1x/1h"], "--surge (factor): Input should be greater than 1"),
        (["--surge", "3x/10s"], "--surge (duration): Input should be greater than or equal to 60"),
        (["--surge", "3x/1h", "--min-stories", "0"], "--min-stories: Input should be greater"),
        (["--surge", "3x/1h", "--min-stories", "5000"], "--min-stories: Input should be less"),
        (["--surge", "3x/1h", "--lateness", "soon"], "--lateness 'soon': expected a duration"),
        (["--surge", "3x/1m", "--lateness", "7m"], "--lateness: at most 6 windows"),
        (["--min-stories", "5"], "--min-stories needs --surge FACTORx/DURATION"),
    ],
)
def test_bad_values_are_one_line_naming_the_option(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["alerts", "add", "Kursk surge", "Kursk", *arguments])
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: ") and message in line, line


def test_a_good_rule_goes_on_to_look_for_kafka() -> None:
    # valid: the command gets as far as resolving the servers (none configured here)
    result = CliRunner().invoke(
        cli, ["alerts", "add", "Kursk surge", "Kursk", "--surge", "3x/1h", "--min-stories", "5"]
    )
    assert result.exit_code == 2
    assert "WIREWATCH_KAFKA_BOOTSTRAP" in result.output
