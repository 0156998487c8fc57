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
from pipeline.records import AlertRule, Delivery, SurgeSpec
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


def _refuse(error: Exception) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(2)


def surge_options(function: Any) -> Any:
    """``--surge FACTORx/DURATION`` and what refines it (alerts add, alerts test)."""
    options = [
        click.option(
            "--surge",
            "surge",
            metavar="FACTORx/DURATION",
            help="Watch the rate instead of each match: fire when the distinct stories "
            "matching in one window (e.g. 3x/1h) reach FACTOR times the trailing baseline.",
        ),
        click.option(
            "--min-stories",
            type=int,
            help="With --surge: the window needs at least this many stories (default 5).",
        ),
        click.option(
            "--baseline-windows",
            type=int,
            help="With --surge: the baseline is the mean over this many windows (default 24).",
        ),
        click.option(
            "--per",
            type=click.Choice(["story", "event"]),
            help="With --surge: count stories (default) or events.",
        ),
        click.option(
            "--lateness",
            help="With --surge: how late a match may arrive and still count (default 10m).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def surge_spec(
    surge: str | None,
    min_stories: int | None,
    baseline_windows: int | None,
    per: str | None,
    lateness: str | None,
) -> SurgeSpec | None:
    """The SurgeSpec the options describe; one line naming the option when refused."""
    from pydantic import ValidationError

    from pipeline.alerts.surge import SurgeSyntaxError, parse_duration, parse_surge

    refinements = {
        "--min-stories": min_stories,
        "--baseline-windows": baseline_windows,
        "--per": per,
        "--lateness": lateness,
    }
    if surge is None:
        given = [name for name, value in refinements.items() if value is not None]
        if given:
            _refuse(ValueError(f"{given[0]} needs --surge FACTORx/DURATION"))
        return None
    try:
        factor, window_s = parse_surge(surge)
        fields: dict[str, Any] = {"factor": factor, "window_s": window_s, "min_stories": 5}
        if min_stories is not None:
            fields["min_stories"] = min_stories
        if baseline_windows is not None:
            fields["baseline_windows"] = baseline_windows
        if per is not None:
            fields["per"] = per
        if lateness is not None:
            fields["lateness_s"] = parse_duration(lateness, "--lateness")
        return SurgeSpec(**fields)
    except SurgeSyntaxError as exc:
        _refuse(exc)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = str(error["loc"][0]) if error["loc"] else "lateness_s"  # the spec's own check
        option = {
            "factor": "--surge (factor)",
            "window_s": "--surge (duration)",
            "min_stories": "--min-stories",
            "baseline_windows": "--baseline-windows",
            "lateness_s": "--lateness",
        }.get(where, where)
        message = str(error["msg"]).removeprefix("Value error, ").removeprefix("lateness_s: ")
        _refuse(ValueError(f"{option}: {message}"))
    return None


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
@surge_options
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
    **surge: Any,
) -> None:
    """Add a rule NAME watching QUERY. A malformed QUERY is refused with its position.

    With --surge the rule watches the rate: `alerts add "Kursk surge" Kursk --surge 3x/1h
    --min-stories 5` fires once when the distinct stories matching in one hour of event
    time reach 3x the mean of the 24 hours before and at least 5, and again only after an
    hour below half that level (docs/decisions.md, issue 15.4)."""
    from pipeline.alerts.rules import rule_id_for

    spec = surge_spec(**surge)
    deliver = [Delivery(type="webhook", url=u, secret_env=secret_env) for u in webhooks]
    deliver += [Delivery(type="slack", url=u) for u in slacks]
    rule = AlertRule(
        id=rule_id or rule_id_for(name),
        name=name,
        query=query,
        outlets=list(outlets),
        languages=list(languages),
        deliver=deliver,
        surge=spec,
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
        if rule.surge is not None:
            from pipeline.alerts.surge import describe

            filters += f"  surge={describe(rule.surge)}"
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
@click.option(
    "--max-articles",
    default=100_000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="With a surge rule: read at most this many matching articles.",
)
@surge_options
def test(
    rule_or_query: str,
    since: str,
    until: str | None,
    limit: int,
    show_query: bool,
    max_articles: int,
    surge: str | None,
    min_stories: int | None,
    baseline_windows: int | None,
    per: str | None,
    lateness: str | None,
    **options: Any,
) -> None:
    """Show what RULE_OR_QUERY (a rule id, else a query) would have fired on: one alert per
    story cluster, oldest first, printed as `wirewatch search` prints articles. Options
    narrow it further, as in search.

    A surge rule (or --surge) runs the stream's surge logic over the matching articles in
    event-time order and prints each window it would have fired on, with its counts."""
    from pipeline.adapters.elastic import make_client
    from pipeline.alerts.esquery import rule_node
    from pipeline.index.search import SearchRequest, build_search, search

    settings = resolve(get_settings(), kafka=False)
    rule: AlertRule | None = None
    note = ""  # printed once the search answered: an unreachable node is the only line
    if _RULE_ID.match(rule_or_query):
        try:
            rule = _store().get(rule_or_query)
        except Exception as exc:  # no Kafka: then the argument must be a query
            note = f"(rules topic not readable: {type(exc).__name__}; treating as a query)"
    if rule is None:
        rule = AlertRule(id="adhoc", name="ad hoc", query=rule_or_query)
    spec = surge_spec(surge, min_stories, baseline_windows, per, lateness)
    if spec is not None:
        rule = rule.model_copy(update={"surge": spec})
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
        if rule.surge is not None:
            _test_surge(es, settings.index_alias, rule, body, until, limit, max_articles)
            return
        result = search(es, settings.index_alias, request, registry)
    finally:
        es.close()
    if note:
        click.echo(note, err=True)
    for hit in result.hits:
        click.echo(article_lines(hit, sys.stdout.isatty()))
    click.echo(
        f"{result.total_stories} alert(s) would have fired "
        f"({result.total_documents} matching articles): {rule.query}"
    )


#: what a surge test reads of each matching article
_SURGE_SOURCE = ["id", "title", "url", "outlet", "published_at", "fetched_at", "story.cluster_id"]


def _test_surge(
    es: Any,
    index: str,
    rule: AlertRule,
    body: dict[str, Any],
    until: str | None,
    limit: int,
    max_articles: int,
) -> None:
    """Every matching article (by id, search_after), through the stream's surge logic."""
    from datetime import datetime

    from pipeline.alerts.surge import candidate, describe, replay
    from pipeline.records import utcnow

    assert rule.surge is not None
    candidates = []
    after: list[Any] | None = None
    while True:
        page = es.search(
            index=index,
            query=body["query"],
            sort=[{"id": "asc"}],
            size=min(5000, max_articles + 1),
            source_includes=[*_SURGE_SOURCE, "event_id"],
            track_total_hits=False,
            **({"search_after": after} if after else {}),
        )
        hits = page["hits"]["hits"]
        for hit in hits:
            doc = hit["_source"]
            candidates.append(
                candidate(
                    rule,
                    cluster_id=doc["story"]["cluster_id"],
                    article_id=doc["id"],
                    title=doc.get("title") or "",
                    url=doc.get("url") or "",
                    outlet=doc.get("outlet"),
                    published_at=_when(doc.get("published_at")),
                    fetched_at=_when(doc.get("fetched_at")) or utcnow(),
                    event_id=doc.get("event_id"),
                )
            )
        if len(candidates) > max_articles:
            raise click.ClickException(
                f"more than {max_articles} matching articles: narrow --since/--until or "
                "raise --max-articles"
            )
        if len(hits) < min(5000, max_articles + 1):
            break
        after = hits[-1]["sort"]
    end = datetime.fromisoformat(until) if until and until[:1].isdigit() else utcnow()
    alerts, late = replay(rule, candidates, end)
    for alert in alerts[:limit]:
        assert alert.surge is not None
        w = alert.surge
        unit = "events" if w.per == "event" else "stories"
        click.echo(
            f"{w.window_start:%Y-%m-%d %H:%M}-{w.window_end:%H:%M} UTC  {w.count} {unit} "
            f"(fired at {w.fired_with}; needed {w.threshold:g}, baseline {w.baseline:.2f})  "
            f"first: {alert.title}" + (f" ({alert.outlet})" if alert.outlet else "")
        )
    late_note = f", {late} too late for their window" if late else ""
    click.echo(
        f"{len(alerts)} surge alert(s) would have fired ({len(candidates)} matching articles"
        f"{late_note}): {rule.query} [{describe(rule.surge)}]"
    )
    click.echo(
        f"(history before the first match counts as zero, as for a rule added then; windows "
        f"are decided {describe_lateness(rule)} after they start)",
        err=True,
    )


def describe_lateness(rule: AlertRule) -> str:
    assert rule.surge is not None
    minutes = rule.surge.lateness_s / 60
    return f"{minutes:g} min"


def _when(value: str | None) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value) if value else None
