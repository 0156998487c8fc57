"""``wirewatch stack up | status | down | stop | restart | logs``: the managed local servers."""

from __future__ import annotations

import sys
import time
from typing import Any, NoReturn

import click

from pipeline.cli.servers import stack_options
from pipeline.settings import get_settings
from pipeline.stack import StackError, ensure_stack, local_stack, stack_for
from pipeline.stack.process import tail


class DownloadProgress:
    """Download progress on stderr: a live line on a terminal, every 10% otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last_step = -1
        self.last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // total
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw < 0.2 and done < total:
                return
            self.last_draw = now
            end = "\n" if done >= total else ""
            click.echo(
                f"\r  {percent:3d}%  {done / 2**20:6.1f} / {total / 2**20:.1f} MiB",
                err=True,
                nl=False,
            )
            click.echo(end, err=True, nl=False)
        elif percent // 10 != self.last_step:
            self.last_step = percent // 10
            click.echo(f"  {percent}% of {total / 2**20:.0f} MiB", err=True)


def _notify(message: str) -> None:
    click.echo(message, err=True)


def _fail(error: StackError) -> NoReturn:
    raise click.ClickException(str(error))


@click.group(name="stack")
def command() -> None:
    """Manage the local Kafka broker and Elasticsearch node (state in $WIREWATCH_HOME/stack)."""


@command.command()
@click.option("--kafka-port", type=int, help="Kafka listener port [WIREWATCH_STACK_KAFKA_PORT].")
@click.option(
    "--kafka-controller-port",
    type=int,
    help="KRaft controller port [WIREWATCH_STACK_KAFKA_CONTROLLER_PORT].",
)
@click.option("--es-port", type=int, help="Elasticsearch HTTP port [WIREWATCH_STACK_ES_PORT].")
@click.option(
    "--secure",
    is_flag=True,
    default=None,
    help=(
        "Secured like production: SASL_SSL broker (SCRAM-SHA-512, ACLs per service) and "
        "Elasticsearch with TLS and a user per role. Kept by the state dir until "
        "`stack down --purge`."
    ),
)
def up(
    kafka_port: int | None,
    kafka_controller_port: int | None,
    es_port: int | None,
    secure: bool | None,
) -> None:
    """Download (once), start and health-check both servers. Running it twice is harmless."""
    settings = get_settings()
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("kafka_port", kafka_port),
            ("kafka_controller_port", kafka_controller_port),
            ("es_port", es_port),
            ("secure", secure),
        )
        if value is not None
    }
    options: dict[str, Any] = {"progress": DownloadProgress(), "notify": _notify}
    started = time.monotonic()
    try:
        ports = {k: v for k, v in overrides.items() if k != "secure"}
        if ports:
            stack = stack_for(settings, **options, **overrides, **stack_options())
            stack.up()
        else:  # no ports asked for: a running stack is fine wherever it listens
            stack = ensure_stack(settings, **options, **overrides, **stack_options())
    except StackError as error:
        _fail(error)
    click.echo(f"kafka          {stack.kafka_bootstrap}")
    click.echo(f"elasticsearch  {stack.es_url}")
    if stack.secure:
        click.echo(f"secured        CA {stack.ca_file}; passwords in {stack.credentials.path}")
    click.echo(
        f"ready in {time.monotonic() - started:.1f}s (state: {settings.stack_dir})", err=True
    )


@command.command()
def status() -> None:
    """Show each server's state, address, pid and resident memory."""
    stack = local_stack(get_settings())
    if stack.secure:
        click.echo(f"secured (CA {stack.ca_file})")
    for server in stack.status():
        pid = str(server.pid) if server.pid is not None else "-"
        rss = f"{server.rss_bytes / 2**20:.0f} MiB" if server.rss_bytes is not None else "-"
        click.echo(f"{server.name:<14} {server.state:<8} {server.address:<16} pid {pid:<8} {rss}")


@command.command()
@click.option("--purge", is_flag=True, help="Also delete the servers' data, config and logs.")
def down(purge: bool) -> None:
    """Stop both servers (SIGTERM, then SIGKILL after a grace period); clear stale pid files."""
    try:
        stopped = local_stack(get_settings()).down(purge=purge)
    except StackError as error:
        _fail(error)
    click.echo(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


SERVER = click.argument("server", type=click.Choice(["kafka", "elasticsearch"]))


@command.command()
@SERVER
def stop(server: str) -> None:
    """Stop one server, keeping its data and port; `stack up` or `restart` brings it back."""
    try:
        was_running = local_stack(get_settings(), notify=_notify).stop_server(server)
    except StackError as error:
        _fail(error)
    click.echo(f"stopped {server}" if was_running else f"{server} was not running")


@command.command()
@SERVER
def restart(server: str) -> None:
    """Stop one server if it runs and start it again (same port and data), healthy."""
    started = time.monotonic()
    try:
        local_stack(get_settings(), notify=_notify).restart_server(server)
    except StackError as error:
        _fail(error)
    click.echo(f"{server} running again after {time.monotonic() - started:.1f}s")


@command.command()
@SERVER
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines.")
def logs(server: str, lines: int) -> None:
    """Print the end of a server's log."""
    stack = local_stack(get_settings())
    path = stack.kafka.log_file if server == "kafka" else stack.elasticsearch.log_file
    text = tail(path, lines)
    if not text:
        raise click.ClickException(f"no log at {path}: has `wirewatch stack up` run?")
    click.echo(text)
