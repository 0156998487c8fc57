"""Create the Kafka topics and install the Elasticsearch templates,
lifecycle policy and first index behind the write alias. Safe to run again."""

from __future__ import annotations

import importlib
import logging

import click

from pipeline.adapters.elastic import make_client
from pipeline.adapters.kafka import ensure_topics
from pipeline.cli.servers import resolve
from pipeline.index.setup import install, rollover
from pipeline.settings import Settings, get_settings

log = logging.getLogger(__name__)


def _kibana_import(url: str) -> None:
    """Hand over to the Kibana assets importer (`wirewatch kibana`), when it is installed."""
    kibana = importlib.import_module("pipeline.cli.kibana")
    kibana.command.main(
        args=["import", "--url", url], prog_name="wirewatch kibana", standalone_mode=False
    )


def prepare_servers(settings: Settings) -> None:
    """Create missing topics, then the index templates and alias (idempotent, silent): what
    ``run`` and ``worker --setup`` do before they start, as the setup Job does."""
    ensure_topics(settings)
    client = make_client(settings)
    try:
        install(client, settings)
    finally:
        client.close()


@click.command(help=__doc__)
@click.option("--kafka/--no-kafka", default=True, show_default=True, help="Create topics.")
@click.option(
    "--elasticsearch/--no-elasticsearch",
    "elastic",
    default=True,
    show_default=True,
    help="Install index templates, lifecycle policy and the write alias.",
)
@click.option(
    "--rollover",
    "roll",
    is_flag=True,
    help="Then roll the write alias over to a new index (what ILM does where it exists; "
    "also applies a changed analyzer or field type).",
)
@click.option("--kibana-url", help="Also import the Kibana saved objects into this Kibana.")
def command(kafka: bool, elastic: bool, roll: bool, kibana_url: str | None) -> None:
    settings = resolve(get_settings(), kafka=kafka, elasticsearch=elastic, service="setup")
    if kafka:
        created = ensure_topics(settings)
        click.echo(
            f"kafka: {len(created)} topics created" + (f" ({', '.join(created)})" * bool(created))
        )
    if elastic:
        client = make_client(settings)
        try:
            report = install(client, settings)
            new_index = rollover(client, settings) if roll else None
        finally:
            client.close()
        for line in report.lines():
            click.echo(f"elasticsearch: {line}")
        if new_index:
            click.echo(f"elasticsearch: {settings.index_alias} rolled over to {new_index}")
    if kibana_url:
        _kibana_import(kibana_url)
