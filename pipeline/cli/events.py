"""``wirewatch events [--since T] [--actor NAME]``: current events, newest first."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from pipeline.cli.articles import TIME
from pipeline.cli.servers import resolve
from pipeline.settings import get_settings


@click.command("events")
@click.option("--since", type=TIME, help="Active at or after: 30d, now-7d or ISO date/time.")
@click.option(
    "--actor",
    "actors",
    multiple=True,
    help='Among the event\'s top actors: "Vladimir Putin" (or an alias: Putin); repeat for any of.',
)
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON lines.")
def command(since: str | None, actors: tuple[str, ...], limit: int, as_json: bool) -> None:
    """List events: independently written stories of one happening, across outlets.

    One event per happening, with its stories, articles, outlets and top actors, by the
    time of its latest article. `wirewatch search --event ID` lists its articles. Reads the
    events index the worker's index stage writes.
    """
    from elasticsearch import NotFoundError

    from pipeline.adapters.elastic import make_client
    from pipeline.enrich.actors import ActorRegistry
    from pipeline.index.events import EventRow, event_lines, events_query

    settings = resolve(get_settings(), kafka=False)
    registry = ActorRegistry.load(settings.actors_file)
    names = sorted({registry.canonical(a) for a in actors})
    client = make_client(settings)
    try:
        response = client.search(index=settings.events_index, **events_query(since, names, limit))
    except NotFoundError as exc:
        raise click.ClickException(
            f"no events index {settings.events_index!r}; run `wirewatch setup` first"
        ) from exc
    finally:
        client.close()
    rows = [EventRow.from_document(h["_source"]) for h in response["hits"]["hits"]]
    if as_json:
        for row in rows:
            click.echo(json.dumps(asdict(row), ensure_ascii=False))
        return
    for row in rows:
        click.echo(event_lines(row))
    total = response["hits"]["total"]["value"]
    click.echo(f"{len(rows)} shown of {total} events", err=True)
