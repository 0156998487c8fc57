"""``wirewatch claims --speaker NAME [--since T]``: a speaker's distinct claims over time."""

from __future__ import annotations

import click

from pipeline.cli.articles import TIME
from pipeline.cli.servers import resolve
from pipeline.settings import get_settings


@click.command("claims")
@click.option("--speaker", required=True, help='Who: "Valery Gerasimov" (or an alias: Gerasimov).')
@click.option("--since", type=TIME, help="Seen at or after: 30d, now-7d or ISO date/time.")
@click.option("-n", "--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print the claims as JSON lines.")
def command(speaker: str, since: str | None, limit: int, as_json: bool) -> None:
    """List a speaker's distinct claims in time order, with outlet counts and figures.

    One claim however many outlets reported it, in whatever words; "changes" marks a later
    claim that changed a figure of an earlier one, "disputed by" another speaker's
    incompatible figure or denial. Reads the claims index the worker's claims stage writes.
    """
    from elasticsearch import NotFoundError

    from pipeline.adapters.elastic import make_client
    from pipeline.claims.model import TrackedClaim
    from pipeline.claims.timeline import timeline_lines, timeline_query
    from pipeline.enrich.actors import ActorRegistry

    settings = resolve(get_settings(), kafka=False)
    canonical = ActorRegistry.load(settings.actors_file).canonical(speaker)
    client = make_client(settings)
    try:
        response = client.search(
            index=settings.claims_index, **timeline_query(canonical, since, limit)
        )
    except NotFoundError as exc:
        raise click.ClickException(
            f"no claims index {settings.claims_index!r}; run `wirewatch setup` first"
        ) from exc
    finally:
        client.close()
    claims = [TrackedClaim.from_document(h["_source"]) for h in response["hits"]["hits"]]
    if as_json:
        for c in claims:
            click.echo(c.model_dump_json())
        return
    for line in timeline_lines(claims):
        click.echo(line)
    click.echo(f"{len(claims)} claims of {canonical}", err=True)
