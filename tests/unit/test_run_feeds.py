"""Which feeds ``wirewatch run`` polls, and the line saying so (issue 11 item 9)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from pipeline.cli.run import choose_feeds
from pipeline.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path)


def test_the_registry_wins_once_it_holds_feeds(settings: Settings) -> None:
    registry = settings.home / "feeds.yaml"
    registry.write_text("feeds:\n  - url: https://a.example/rss\n  - url: https://b.example/rss\n")
    path, line = choose_feeds(None, False, settings)
    assert path == registry
    assert line == f"polling the feed registry {registry} (2 feeds)"


def test_an_empty_or_missing_registry_means_the_samples_and_says_so(settings: Settings) -> None:
    path, line = choose_feeds(None, False, settings)
    assert path is None
    assert "is empty: polling the bundled sample feeds" in line
    (settings.home / "feeds.yaml").write_text("feeds: []\n")
    assert choose_feeds(None, False, settings)[0] is None


def test_explicit_choices_override_the_registry(settings: Settings, tmp_path: Path) -> None:
    (settings.home / "feeds.yaml").write_text("feeds:\n  - url: https://a.example/rss\n")
    assert choose_feeds(None, True, settings) == (
        None,
        "polling the bundled sample feeds (--sample-feeds)",
    )
    mine = tmp_path / "mine.yaml"
    assert choose_feeds(mine, False, settings) == (mine, f"polling the feeds in {mine}")


def test_a_broken_registry_is_an_error_not_a_fallback(settings: Settings) -> None:
    (settings.home / "feeds.yaml").write_text("feeds: {not: a list}\n")
    with pytest.raises(click.ClickException, match=r"feeds\.yaml.*--sample-feeds"):
        choose_feeds(None, False, settings)
