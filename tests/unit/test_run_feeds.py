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


def test_the_samples_are_served_on_the_demo_port(settings: Settings) -> None:
    """WIREWATCH_DEMO_PORT (issue 14 item 8) decides the sample feeds' URLs."""
    import yaml

    from pipeline.cli.run import _demo_feeds
    from pipeline.stack.process import free_port

    port = free_port()
    env: dict[str, str] = {}
    path = _demo_feeds(settings.model_copy(update={"demo_port": port}), env)
    urls = [feed["url"] for feed in yaml.safe_load(path.read_text())["feeds"]]
    assert urls and all(url.startswith(f"http://127.0.0.1:{port}/") for url in urls)
    assert env["WIREWATCH_FETCH_ALLOW_NETWORKS"] == "127.0.0.0/8,::1/128"
