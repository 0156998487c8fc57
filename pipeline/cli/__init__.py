"""The ``wirewatch`` command. Subcommands load lazily so ``--help`` stays fast.

To add a subcommand, add a module under pipeline/cli/ exposing a click command or group
and name it in COMMANDS.
"""

from __future__ import annotations

import importlib
import io
import logging
import sys

import click

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, help shown in `wirewatch --help`)
    "run": ("pipeline.cli.run", "Run the whole pipeline (embedded stack unless servers are set)."),
    "stack": ("pipeline.cli.stack", "Manage the local Kafka broker and Elasticsearch node."),
    "search": ("pipeline.cli.search", "Search indexed articles from the terminal."),
    "replay": ("pipeline.cli.replay", "Re-index enriched articles from a time or offset."),
    "setup": ("pipeline.cli.setup", "Create Kafka topics, install index templates and alias."),
    "schemas": ("pipeline.cli.schemas", "Export or check the topic JSON Schemas."),
    "annotate": ("pipeline.cli.annotate", "Print entities and claims of texts as JSON lines."),
    "eval": ("pipeline.cli.eval", "Score claim extraction against PolNeAR or the seed gold."),
    "feeds": ("pipeline.cli.feeds", "List, add, remove, import (OPML) and export feeds."),
    "poll": ("pipeline.cli.poll", "Poll feeds and produce new articles to Kafka."),
    "worker": (
        "pipeline.cli.worker",
        "Run the stream worker: dedup, enrich, events, alert, index.",
    ),
    "alerts": ("pipeline.cli.alerts", "Manage alert rules: add, list, remove, test."),
    "kibana": ("pipeline.cli.kibana", "Import the Kibana saved objects and alerting rules."),
    "audit": ("pipeline.cli.audit", "Account for every article: indexed, dead-lettered, lost."),
    "claims": ("pipeline.cli.claims", "A speaker's distinct claims over time, changes, disputes."),
    "events": ("pipeline.cli.events", "Current events: stories of one happening across outlets."),
}


#: Client libraries that log every failed connection attempt, some with a traceback. A
#: command reports an unreachable server itself, as one line (pipeline.cli.errors); their
#: own records show from ``-v`` on.
CLIENT_LOGGERS = ("elastic_transport", "elasticsearch", "kafka", "urllib3")


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        return module.command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.Abort, click.exceptions.Exit, SystemExit):
            raise
        except Exception as exc:
            from pydantic import ValidationError  # here: keeps `--help` from importing it

            if isinstance(exc, ValidationError) and exc.title == "Settings":
                from pipeline.settings import invalid_settings_line

                error = click.ClickException(invalid_settings_line(exc))
                error.exit_code = 2  # a configuration error, like a usage error
                raise error from exc
            from pipeline.cli.errors import ServerUnreachable, server_error_line

            line = server_error_line(exc)
            if line is None:
                raise
            raise ServerUnreachable(line) from exc

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="wirewatch")
def cli(verbose: int) -> None:
    """Wirewatch: poll news feeds, deduplicate stories, extract who said what, alert.

    With no WIREWATCH_KAFKA_BOOTSTRAP / WIREWATCH_ES_URL set, commands use the local Kafka
    broker and Elasticsearch node that `wirewatch stack up` manages under $WIREWATCH_HOME
    (default ~/.wirewatch).
    """
    # A log file or pipe gets each line as it is written: block buffering loses the last
    # lines of a process killed -9 or OOM-killed, the ones an operator needs (Faust logs to
    # stdout; the worker's and poller's files under `wirewatch run`).
    if isinstance(sys.stdout, io.TextIOWrapper) and not sys.stdout.line_buffering:
        sys.stdout.reconfigure(line_buffering=True)
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if verbose == 0:
        for name in CLIENT_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)


def main() -> None:
    cli(prog_name="wirewatch")
