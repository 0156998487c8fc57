"""Query the articles index from the terminal, one line per story."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict

import click
from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import ApiError

from pipeline.adapters.elastic import make_client, unreachable_message
from pipeline.index.search import HIGHLIGHT_POST, HIGHLIGHT_PRE, Hit, SearchRequest, search
from pipeline.settings import get_settings

_MARK = re.compile(re.escape(HIGHLIGHT_PRE) + "(.*?)" + re.escape(HIGHLIGHT_POST))


def _emphasise(text: str, color: bool) -> str:
    return _MARK.sub(
        (lambda m: click.style(m.group(1), bold=True, fg="yellow")) if color else r"*\1*", text
    )


def _line(hit: Hit, color: bool) -> str:
    when = (hit.published_at or "")[:16].replace("T", " ") or "????-??-?? ??:??"
    story = f"  [{hit.copies} copies, {len(hit.outlets)} outlets]" if hit.copies > 1 else ""
    out = [f"{when}  {hit.outlet or '?'}: {_emphasise(hit.title, color)}{story}"]
    out += [f"    … {_emphasise(' '.join(s.split()), color)} …" for s in hit.snippets[:1]]
    out += [f"    claim — {c}" for c in hit.claims]
    out.append(f"    {hit.url}")
    return "\n".join(out)


@click.command(help=__doc__)
@click.argument("query", required=False)
@click.option("--actor", "actors", multiple=True, help="Canonical actor (repeatable: any of).")
@click.option("--outlet", "outlets", multiple=True, help="Outlet name, any case (repeatable).")
@click.option("--lang", "languages", multiple=True, help="Language code, e.g. en (repeatable).")
@click.option("--since", help="Published at or after: ISO date/time or 'now-7d'.")
@click.option("--until", help="Published at or before: ISO date/time or date math.")
@click.option("--claims-only", is_flag=True, help="Only articles with attributed claims.")
@click.option("--speaker", help="Only articles with claims made by this canonical actor.")
@click.option("--with-number", is_flag=True, help="Only claims that carry a quantity.")
@click.option("--all-copies", is_flag=True, help="One line per copy instead of per story.")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="Print hits as JSON lines.")
def command(
    query: str | None,
    actors: tuple[str, ...],
    outlets: tuple[str, ...],
    languages: tuple[str, ...],
    since: str | None,
    until: str | None,
    claims_only: bool,
    speaker: str | None,
    with_number: bool,
    all_copies: bool,
    limit: int,
    as_json: bool,
) -> None:
    settings = get_settings()
    request = SearchRequest(
        query=query,
        actors=actors,
        outlets=outlets,
        languages=languages,
        since=since,
        until=until,
        claims_only=claims_only,
        speaker=speaker,
        claim_with_number=with_number,
        collapse=not all_copies,
        size=limit,
    )
    client = make_client(settings)
    try:
        result = search(client, settings.index_alias, request)
    except ApiError as exc:
        # A malformed query string is the usual cause: show ES's own reason.
        cause = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
        root = (cause.get("root_cause") or [cause])[0]
        raise click.ClickException(f"search refused: {root.get('reason') or exc}") from exc
    except TransportConnectionError as exc:
        raise click.ClickException(unreachable_message(settings, exc)) from exc
    finally:
        client.close()
    if as_json:
        for hit in result.hits:
            click.echo(json.dumps(asdict(hit), ensure_ascii=False))
        return
    color = sys.stdout.isatty()
    for hit in result.hits:
        click.echo(_line(hit, color))
    click.echo(
        f"{len(result.hits)} shown; {result.total_stories} stories, "
        f"{result.total_documents} articles match",
        err=True,
    )
