"""``wirewatch alerts``: manage alert rules and try them against what is already indexed."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from pipeline.alerts.engine import check_rule
from pipeline.alerts.query import QuerySyntaxError
from pipeline.records import AlertRule, Delivery
from pipeline.settings import get_settings


def _store():
    from pipeline.alerts.rules import RuleStore

    store = RuleStore(get_settings())
    store.ensure_topic()
    return store


def _registry():
    from pipeline.enrich.actors import ActorRegistry

    return ActorRegistry.load(get_settings().actors_file)


def _refuse(error: QuerySyntaxError) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(2)


@click.group()
def command() -> None:
    """Alert rules: add, list, remove, test.

    \b
    Query language: words, "quoted phrases", AND, OR, NOT, parentheses; a space means AND.
    Fields: actor: speaker: title: body: outlet: domain: lang: tag:
    Example: actor:"Vladimir Putin" AND (Kursk OR ceasefire) NOT outlet:RT
    """


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


def search_body(rule: AlertRule, registry: Any, since: str, limit: int) -> dict[str, Any]:
    """One bucket per story cluster, the first copy indexed on top, oldest cluster first."""
    from pipeline.alerts.esquery import rule_to_es

    query = rule_to_es(rule, registry)
    query["bool"]["filter"].append({"range": {"ingested_at": {"gte": f"now-{since}"}}})
    return {
        "size": 0,
        "track_total_hits": True,
        "query": query,
        "aggs": {
            "clusters": {
                "terms": {
                    "field": "story.cluster_id",
                    "size": limit,
                    "order": {"first": "asc"},
                },
                "aggs": {
                    "first": {"min": {"field": "ingested_at"}},
                    "top": {
                        "top_hits": {
                            "size": 1,
                            "sort": [{"ingested_at": "asc"}],
                            "_source": ["title", "url", "outlet", "published_at", "ingested_at"],
                        }
                    },
                },
            }
        },
    }


def format_buckets(response: dict[str, Any]) -> list[str]:
    lines = []
    for bucket in response["aggregations"]["clusters"]["buckets"]:
        source = bucket["top"]["hits"]["hits"][0]["_source"]
        when = (source.get("ingested_at") or "")[:16].replace("T", " ")
        lines.append(
            f"{when}  {source.get('outlet') or '-':<18.18}  copies={bucket['doc_count']:<3}"
            f"  {source.get('title', '')[:90]}  {source.get('url', '')}"
        )
    return lines


@command.command("test")
@click.argument("rule_or_query")
@click.option("--since", default="30d", show_default=True, help="How far back (ES date math).")
@click.option("--limit", default=50, show_default=True, help="Story clusters to show.")
@click.option("--show-query", is_flag=True, help="Print the Elasticsearch query too.")
def test(rule_or_query: str, since: str, limit: int, show_query: bool) -> None:
    """Show what RULE_OR_QUERY (a rule id, else a query) would have fired on, one line per
    story cluster, from the articles already indexed."""
    from pipeline.adapters.elastic import make_client

    settings = get_settings()
    rule: AlertRule | None = None
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
    except QuerySyntaxError as exc:
        _refuse(exc)
    body = search_body(rule, _registry(), since, limit)
    if show_query:
        click.echo(json.dumps(body["query"], indent=2))
    es = make_client(settings)
    try:
        response = es.search(index=settings.index_alias, **body)
    finally:
        es.close()
    lines = format_buckets(response)
    total = response["hits"]["total"]["value"]
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} alert(s) would have fired ({total} matching articles): {rule.query}")
