"""Run the stream stages: dedup, enrichment, alerting and indexing.

Run as many as there are cores to spare, on as many machines as you like: they share the
work through Kafka partitions. Exits non-zero when an agent fails (Kubernetes restarts it).
"""

from __future__ import annotations

import click

from pipeline.settings import get_settings


@click.command(help=__doc__)
@click.option(
    "--setup/--no-setup",
    default=True,
    show_default=True,
    help="First create missing topics and the index templates and alias (idempotent).",
)
@click.option(
    "--loglevel",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def command(setup: bool, loglevel: str) -> None:
    import faust

    from pipeline.worker.app import create_app

    settings = get_settings()
    if setup:
        from pipeline.adapters.elastic import make_client
        from pipeline.adapters.kafka import ensure_topics
        from pipeline.index.setup import install

        ensure_topics(settings)
        client = make_client(settings)
        try:
            install(client, settings)
        finally:
            client.close()
    app = create_app(settings)
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
