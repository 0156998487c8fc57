"""``wirewatch alerts``: manage alert rules and try them against what is already indexed."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

from pipeline import vocabulary
from pipeline.alerts.engine import check_rule
from pipeline.alerts.query import QuerySyntaxError
from pipeline.cli.articles import TIME, article_lines, option_fields, vocabulary_options
from pipeline.cli.servers import resolve
from pipeline.records import AlertRule, Delivery
from pipeline.settings import get_settings
from pipeline.vocabulary import TIME_HELP

#: what a rule id looks like (pipeline.alerts.rules.rule_id_for); anything else is a query
_RULE_ID = re.compile(r"^[^\s:\"()]+$")


def _store():
    from pipeline.alerts.rules import RuleStore

    store = RuleStore(resolve(get_settings(), elasticsearch=False))
    store.ensure_topic()
    return store


def _registry():
    from pipeline.enrich.actors import ActorRegistry

    return ActorRegistry.load(get_settings().actors_file)


def _refuse(error: QuerySyntaxError) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(2)


_HELP = """Alert rules: add, list, remove, test.

\b
Query language (shared with `wirewatch search`): words, "quoted phrases", AND, OR, NOT,
parentheses; a space means AND. Fields: {fields}
Actor and speaker names resolve through the actor registry (actor:Putin matches
Vladimir Putin). Example: actor:"Vladimir Putin" AND (Kursk OR ceasefire) NOT outlet:RT
"""


@click.group(help=_HELP.replace("{fields}", vocabulary.prefixes()))
def command() -> None:
    pass


@command.command("add")
@click.argument("name")
@click.argument("query")
@click.option("--id", "rule_id", help="Rule id (default: from the name).")
@click.option("--outlet", "outlets", multiple=True, help="Only these outlets or domains.")
@click.option("--lang", "languages", multiple=True, help="Only these languages (en, fr ...).")
@click.option("--webhook", "webhooks", multiple=True, help="POST signed JSON to this URL.")
@click.option(
    "--secret-env",
    help="Environment variable holding the HMAC secret for --webhook (the worker reads it).",
)
@click.option("--slack", "slacks", multiple=True, help="Slack incoming-webhook URL.")
@click.option("--replace", is_flag=True, help="Overwrite a rule with the same id.")
def add(
    name: str,
    query: str,
    rule_id: str | None,
    outlets: tuple[str, ...],
    languages: tuple[str, ...],
    webhooks: tuple[str, ...],
    secret_env: str | None,
    slacks: tuple[str, ...],
    replace: bool,
) -> None:
    """Add a rule NAME watching QUERY. A malformed QUERY is refused with its position."""
    from pipeline.alerts.rules import rule_id_for

    deliver = [Delivery(type="webhook", url=u, secret_env=secret_env) for u in webhooks]
    deliver += [Delivery(type="slack", url=u) for u in slacks]
    rule = AlertRule(
        id=rule_id or rule_id_for(name),
        name=name,
        query=query,
        outlets=list(outlets),
        languages=list(languages),
        deliver=deliver,
    )
    try:
        check_rule(rule)  # before touching Kafka: a bad rule never reaches the topic
    except QuerySyntaxError as exc:
        _refuse(exc)
    store = _store()
    if not replace and store.get(rule.id) is not None:
        raise click.ClickException(f"rule {rule.id!r} exists (use --replace or another --id)")
    store.add(rule)
    click.echo(f"added {rule.id}: {rule.query}")


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON rule per line.")
def list_(as_json: bool) -> None:
    """List the live rules."""
    for rule in _store().list():
        if as_json:
            click.echo(rule.to_json().decode())
            continue
        filters = ""
        if rule.outlets:
            filters += f"  outlets={','.join(rule.outlets)}"
        if rule.languages:
            filters += f"  lang={','.join(rule.languages)}"
        targets = ",".join(d.type for d in rule.deliver) or "-"
        click.echo(f"{rule.id}\t{rule.name}\t{rule.query}{filters}\tdeliver={targets}")


@command.command("remove")
@click.argument("rule_id")
def remove(rule_id: str) -> None:
    """Remove rule RULE_ID (a tombstone on the compacted rules topic)."""
    if not _store().remove(rule_id):
        raise click.ClickException(f"no rule {rule_id!r}")
    click.echo(f"removed {rule_id}")


@command.command("test")
@click.argument("rule_or_query")
@vocabulary_options
@click.option("--since", type=TIME, default="30d", show_default=True, help=f"From: {TIME_HELP}.")
@click.option("--until", type=TIME, help="Until (same forms as --since).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--show-query", is_flag=True, help="Print the Elasticsearch query too.")
def test(
    rule_or_query: str,
    since: str,
    until: str | None,
    limit: int,
    show_query: bool,
    **options: Any,
) -> None:
    """Show what RULE_OR_QUERY (a rule id, else a query) would have fired on: one alert per
    story cluster, oldest first, printed as `wirewatch search` prints articles. Options
    narrow it further, as in search."""
    from pipeline.adapters.elastic import make_client
    from pipeline.alerts.esquery import rule_node
    from pipeline.index.search import SearchRequest, build_search, search

    settings = resolve(get_settings(), kafka=False)
    rule: AlertRule | None = None
    if _RULE_ID.match(rule_or_query):
        try:
            rule = _store().get(rule_or_query)
        except Exception as exc:  # no Kafka: then the argument must be a query
            click.echo(
                f"(rules topic not readable: {type(exc).__name__}; treating as a query)", err=True
            )
    if rule is None:
        rule = AlertRule(id="adhoc", name="ad hoc", query=rule_or_query)
    try:
        check_rule(rule)
        request = SearchRequest(
            query=rule_node(rule),
            fields=option_fields(options),
            since=since,
            until=until,
            exact_words=True,  # what the stream matcher matches
            sort="oldest",
            size=limit,
        )
        registry = _registry()
        body = build_search(request, registry)
    except QuerySyntaxError as exc:
        _refuse(exc)
        return
    if show_query:
        click.echo(json.dumps(body["query"], indent=2))
    es = make_client(settings)
    try:
        result = search(es, settings.index_alias, request, registry)
    finally:
        es.close()
    for hit in result.hits:
        click.echo(article_lines(hit, sys.stdout.isatty()))
    click.echo(
        f"{result.total_stories} alert(s) would have fired "
        f"({result.total_documents} matching articles): {rule.query}"
    )
