"""Account for every article that reached the raw topic: indexed, dead-lettered, pending
(a stage has not read it yet), lost (every stage moved past it and it is nowhere) or
duplicated (two documents, or two story clusters, for one id).

Reads the real topics, the worker group's committed offsets and the articles index; changes
nothing. Exits 1 when anything is lost or duplicated, so scripts and tests can rely on it.
"""

from __future__ import annotations

import json
from datetime import datetime

import click

from pipeline.cli.servers import resolve
from pipeline.settings import get_settings
from pipeline.vocabulary import TIME_HELP, TimeSyntaxError


def _time(value: str | None, name: str) -> datetime | None:
    from pipeline.audit import parse_time

    if value is None:
        return None
    try:
        return parse_time(value)
    except TimeSyntaxError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from exc


@click.command(help=__doc__)
@click.option("--since", help=f"Only raw records produced from this time: {TIME_HELP}.")
@click.option("--until", help="Only raw records produced before this time (same syntax).")
@click.option(
    "--show",
    default=20,
    show_default=True,
    type=click.IntRange(0),
    help="Ids printed per kind of problem.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole report, every id, as JSON.")
def command(since: str | None, until: str | None, show: int, as_json: bool) -> None:
    from pipeline.adapters.audit_reader import collect
    from pipeline.adapters.elastic import make_client
    from pipeline.audit import format_report, reconcile
    from pipeline.worker.app import app_id

    start, end = _time(since, "--since"), _time(until, "--until")
    if start and end and start >= end:
        raise click.BadParameter("must be later than --since", param_hint="--until")
    settings = resolve(get_settings())
    es = make_client(settings)
    try:
        inputs = collect(
            settings, es, app_id(settings), start, end, progress=lambda s: click.echo(s, err=True)
        )
    finally:
        es.close()
    report = reconcile(inputs)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        scope = "everything on the raw topic"
        if start or end:
            scope = (
                f"raw records from {start.isoformat() if start else 'the beginning'}"
                f" to {end.isoformat() if end else 'now'}"
            )
        for line in format_report(report, scope, show):
            click.echo(line)
    raise SystemExit(0 if report.ok else 1)
