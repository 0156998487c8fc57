"""Re-index enriched articles from Kafka."""

from __future__ import annotations

import asyncio

import click
from kafka import KafkaConsumer

from pipeline.adapters.elastic import make_async_client
from pipeline.adapters.kafka import client_options, make_producer
from pipeline.cli.servers import resolve
from pipeline.index.replay import ReplayReport, ReplayStartError, parse_start, replay
from pipeline.index.sink import BulkSink, SinkError
from pipeline.settings import get_settings


def _progress(report: ReplayReport, total: int) -> None:
    click.echo(
        f"\r{report.read}/{total} read, {report.indexed} indexed, {report.rejected} dead-lettered",
        nl=False,
        err=True,
    )


async def _run(start_text: str, batch_size: int) -> ReplayReport:
    try:  # the user's input first: a bad --from is refused even with no servers configured
        start = parse_start(start_text)
    except ReplayStartError as exc:
        raise click.BadParameter(str(exc), param_hint="--from") from exc
    settings = resolve(get_settings())
    options = {**client_options(settings), "client_id": "wirewatch-replay"}
    consumer = KafkaConsumer(**options, group_id=None, enable_auto_commit=False)
    producer = make_producer(settings)
    client = make_async_client(settings)
    try:
        sink = BulkSink(client, settings)
        return await replay(
            settings, consumer, producer, sink, start, batch_size=batch_size, progress=_progress
        )
    finally:
        consumer.close()
        producer.close()
        await client.close()


@click.command(help=__doc__)
@click.option(
    "--from",
    "start",
    required=True,
    help="ISO time (2025-03-13T09:00Z), an offset for every partition (1200), "
    "'partition:offset,...' or 'earliest'.",
)
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 5000))
def command(start: str, batch_size: int) -> None:
    try:
        report = asyncio.run(_run(start, batch_size))
    except SinkError as exc:  # no alias (setup not run), no permission, node gone for good
        raise click.ClickException(str(exc)) from exc
    click.echo("", err=True)
    click.echo(report.line())
