"""``wirewatch poll``: run the feed poller (one cycle, or until interrupted)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from pipeline.cli.servers import resolve
from pipeline.settings import get_settings

log = logging.getLogger(__name__)


@click.command()
@click.option("--once", is_flag=True, help="Poll every feed once, deliver, and exit.")
@click.option(
    "--feeds",
    "feeds_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Registry YAML (default: WIREWATCH_FEEDS_FILE or $WIREWATCH_HOME/feeds.yaml).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only the cycle summaries.")
def command(once: bool, feeds_file: Path | None, quiet: bool) -> None:
    """Poll feeds, fetch and extract new articles, and produce them to Kafka.

    Serves /healthz, /readyz and /metrics on WIREWATCH_HEALTH_BIND_HOST (default 127.0.0.1)
    port WIREWATCH_POLLER_PORT (default 9100) while running continuously. /readyz answers 200
    while Kafka can take deliveries (a recent acknowledgement or a metadata probe of the
    articles topic), 503 with the reason otherwise.
    """
    from pipeline.adapters.kafka import ensure_topics
    from pipeline.poll.poller import FeedOutcome, Poller

    settings = resolve(get_settings(), elasticsearch=False, service="poller")
    source = feeds_file or settings.feeds_file or settings.home / "feeds.yaml"
    if not source.exists():
        raise click.ClickException(f"no feed registry at {source}; see `wirewatch feeds add`")

    def progress(outcome: FeedOutcome) -> None:
        if quiet:
            return
        colour = {"new": "green", "failed": "yellow", "refused": "red"}.get(outcome.outcome)
        detail = f" +{outcome.new_items}" if outcome.new_items else ""
        if outcome.error:
            detail += f"  {outcome.error}"
        if outcome.malformed:
            detail += f"  (ill-formed: {outcome.bozo_reason})"
        if outcome.parked:
            detail += "  PARKED"
        click.secho(f"{outcome.outcome:>12}  {outcome.url}{detail}", fg=colour, err=True)

    try:
        created = ensure_topics(settings)
        if created:
            click.echo(f"created topics: {', '.join(created)}", err=True)
    except Exception as exc:
        if once:  # nothing could be delivered: say so now, in one line (pipeline.cli.errors)
            raise
        # Polling continuously, the outbox holds articles until Kafka is back.
        click.secho(f"warning: could not check Kafka topics: {exc}", fg="yellow", err=True)

    async def main() -> int:
        poller = Poller(settings, source, progress=progress)
        try:
            if once:
                report = await poller.run_once(ignore_schedule=True)
                click.echo(report.summary())
                for notice in report.park_notices():
                    click.secho(notice, fg="red", err=True)
                if report.pending:
                    click.secho(
                        f"{report.pending} articles wait in the outbox for Kafka; "
                        "the next run sends them",
                        fg="yellow",
                        err=True,
                    )
                    return 2
                return 0
            from pipeline.poll.metrics import serve_health

            poller.watch_readiness()
            server = serve_health(settings.poller_port, poller.ready, settings.health_bind_host)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            click.echo(
                f"polling; health and metrics on "
                f"http://{settings.health_bind_host}:{settings.poller_port}",
                err=True,
            )
            try:
                await poller.run_forever(stop)
            finally:
                server.shutdown()
            return 0
        finally:
            await poller.aclose()

    raise SystemExit(asyncio.run(main()))
