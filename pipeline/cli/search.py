"""Search indexed articles from the terminal, one line per story.

\b
QUERY is the alert rule language: words, "quoted phrases", AND, OR, NOT, parentheses,
and the field prefixes {fields}
Words are stemmed and ranked; phrases match exactly; actor names resolve through the actor
registry, so --actor Putin finds Vladimir Putin. Options of one kind mean "any of".
Example: wirewatch search 'ceasefire NOT outlet:RT' --actor Putin --since 7d
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click
from elasticsearch import ApiError, AuthenticationException, AuthorizationException

from pipeline import vocabulary
from pipeline.cli.articles import TIME, article_lines, option_fields, vocabulary_options
from pipeline.cli.servers import resolve
from pipeline.settings import get_settings


def refuse_query(error: Exception) -> None:
    """A malformed query: its message with position and caret, exit 2 (as alerts add)."""
    click.echo(f"error: {error}", err=True)
    sys.exit(2)


@click.command(help=(__doc__ or "").replace("{fields}", vocabulary.prefixes()))
@click.argument("query", required=False)
@vocabulary_options
@click.option("--since", type=TIME, help="Published at or after: 30d, now-7d or ISO date/time.")
@click.option("--until", type=TIME, help="Published at or before (same forms as --since).")
@click.option("--claims-only", is_flag=True, help="Only articles with attributed claims.")
@click.option("--with-number", is_flag=True, help="Only claims that carry a quantity.")
@click.option("--all-copies", is_flag=True, help="One line per copy instead of per story.")
@click.option("--event", "event_id", help="Only the articles of this event (`wirewatch events`).")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="Print hits as JSON lines.")
def command(
    query: str | None,
    since: str | None,
    until: str | None,
    claims_only: bool,
    with_number: bool,
    all_copies: bool,
    event_id: str | None,
    limit: int,
    as_json: bool,
    **options: Any,
) -> None:
    from pipeline.adapters.elastic import make_client
    from pipeline.alerts.query import QuerySyntaxError
    from pipeline.enrich.actors import ActorRegistry
    from pipeline.index.search import SearchRequest, search

    settings = resolve(get_settings(), kafka=False)
    request = SearchRequest(
        query=query,
        fields=option_fields(options),
        since=since,
        until=until,
        claims_only=claims_only,
        claim_with_number=with_number,
        collapse=not all_copies,
        event_id=event_id,
        size=limit,
    )
    registry = ActorRegistry.load(settings.actors_file)
    client = make_client(settings)
    try:
        result = search(client, settings.index_alias, request, registry)
    except QuerySyntaxError as exc:
        refuse_query(exc)
        return
    except (AuthenticationException, AuthorizationException):
        raise  # the wirewatch group's line names the setting to fix (pipeline.cli.errors)
    except ApiError as exc:
        # ES refusing a well-formed query: show its own reason.
        cause = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
        root = (cause.get("root_cause") or [cause])[0]
        raise click.ClickException(f"search refused: {root.get('reason') or exc}") from exc
    finally:
        client.close()
    if as_json:
        for hit in result.hits:
            click.echo(json.dumps(asdict(hit), ensure_ascii=False))
        return
    color = sys.stdout.isatty()
    for hit in result.hits:
        click.echo(article_lines(hit, color))
    click.echo(
        f"{len(result.hits)} shown; {result.total_stories} stories, "
        f"{result.total_documents} articles match",
        err=True,
    )
