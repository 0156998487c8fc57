"""``wirewatch feeds``: edit the feed registry and see each feed's poll state."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from pydantic import ValidationError

from pipeline.poll import registry
from pipeline.poll.registry import FeedSpec, RegistryError
from pipeline.settings import get_settings


def _registry_path(file: Path | None) -> Path:
    settings = get_settings()
    return file or settings.feeds_file or settings.home / "feeds.yaml"


def _load(path: Path) -> list[FeedSpec]:
    try:
        return registry.load(path)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc


file_option = click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Registry YAML (default: WIREWATCH_FEEDS_FILE or $WIREWATCH_HOME/feeds.yaml).",
)


@click.group()
def command() -> None:
    """List, add, remove, import and export the feeds to poll."""


def _ago(ts: float | None) -> str:
    if not ts:
        return "-"
    delta = ts - time.time()
    word = "in " if delta > 0 else ""
    seconds = abs(delta)
    text = f"{seconds / 3600:.1f}h" if seconds >= 3600 else f"{seconds / 60:.0f}m"
    return f"{word}{text}" + ("" if delta > 0 else " ago")


@command.command("list")
@file_option
def list_(file: Path | None) -> None:
    """Feeds with their poll state; parked feeds show why."""
    from pipeline.poll.state import StateStore

    settings = get_settings()
    path = _registry_path(file)
    feeds = _load(path)
    if not feeds:
        click.echo(f"no feeds in {path} (add one with `wirewatch feeds add URL`)")
        return
    db = settings.home / "poller.sqlite3"
    states = StateStore(db).feeds() if db.exists() else {}
    for feed in feeds:
        st = states.get(feed.url)
        tags = f" [{', '.join(feed.tags)}]" if feed.tags else ""
        click.echo(f"{feed.name or '(no name)'}{tags}\n  {feed.url}")
        if st is None:
            click.echo("  never polled")
            continue
        status = f"HTTP {st.last_status}" if st.last_status else "no response"
        line = (
            f"  last poll {_ago(st.last_polled)} ({status}), next {_ago(st.next_poll)}, "
            f"{st.items_sent} articles sent"
        )
        click.echo(line)
        if st.parked_reason:
            click.secho(f"  PARKED: {st.parked_reason}", fg="red")
        elif st.failures:
            click.secho(f"  {st.failures} failures, last: {st.last_error}", fg="yellow")
        if st.bozo_reason:
            click.echo(f"  feed is ill-formed: {st.bozo_reason}")


@command.command()
@click.argument("url")
@click.option(
    "--name",
    help="The outlet, e.g. 'Loopback Times': what `search --outlet` and rules' outlet: match "
    "(default: the page's site name, else the feed's title).",
)
@click.option("--tag", "tags", multiple=True, help="Repeatable.")
@click.option("--language", help="ISO 639-1 code, e.g. en.")
@click.option("--interval", type=int, help="Fixed poll interval in seconds (>= 60).")
@file_option
def add(
    url: str,
    name: str | None,
    tags: tuple[str, ...],
    language: str | None,
    interval: int | None,
    file: Path | None,
) -> None:
    """Add a feed (or update the one with the same URL)."""
    path = _registry_path(file)
    try:
        spec = FeedSpec(url=url, name=name, tags=list(tags), language=language, interval=interval)
    except ValidationError as exc:
        why = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise click.ClickException(f"cannot add {url}: {why}") from exc
    feeds, new = registry.add(_load(path), spec)
    registry.save(path, feeds)
    click.echo(f"{'added' if new else 'updated'} {url} in {path}")


@command.command()
@click.argument("url")
@file_option
def remove(url: str, file: Path | None) -> None:
    """Remove a feed."""
    path = _registry_path(file)
    feeds, removed = registry.remove(_load(path), url)
    if not removed:
        raise click.ClickException(f"{url} is not in {path}")
    registry.save(path, feeds)
    click.echo(f"removed {url} from {path}")


@command.command("import")
@click.argument("opml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@file_option
def import_(opml: Path, file: Path | None) -> None:
    """Add every feed of an OPML subscription list."""
    path = _registry_path(file)
    try:
        incoming = registry.from_opml(opml.read_bytes())
    except RegistryError as exc:
        raise click.ClickException(f"{opml}: {exc}") from exc
    feeds = _load(path)
    added = 0
    for spec in incoming:
        feeds, new = registry.add(feeds, spec)
        added += new
    registry.save(path, feeds)
    click.echo(f"imported {len(incoming)} feeds from {opml} ({added} new) into {path}")


@command.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@file_option
def export(output: Path | None, file: Path | None) -> None:
    """Write the registry as OPML (stdout by default)."""
    data = registry.to_opml(_load(_registry_path(file)))
    if output:
        output.write_bytes(data)
        click.echo(f"wrote {output}")
    else:
        sys.stdout.buffer.write(data + b"\n")


@command.command()
@click.argument("url")
def unpark(url: str) -> None:
    """Poll a parked feed again from the next cycle (`feeds list` shows parked feeds)."""
    from pipeline.poll.state import StateStore

    db = get_settings().home / "poller.sqlite3"
    if not db.exists() or not StateStore(db).unpark(url):
        raise click.ClickException(f"no poll state for {url}")
    click.echo(f"unparked {url}")
