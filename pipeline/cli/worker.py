"""Run the stream stages: dedup, enrichment, alerting and indexing.

Run as many as there are cores to spare, on as many machines as you like: they share the
work through Kafka partitions. Exits non-zero when an agent fails (Kubernetes restarts it).
On SIGTERM or Ctrl-C it stops within the grace period (WIREWATCH_WORKER_STOP_GRACE_S,
default 10 s) even when Kafka is gone: what it had not committed is redelivered.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable

import click
import faust

from pipeline.cli.servers import resolve
from pipeline.settings import get_settings

log = logging.getLogger(__name__)

EXIT_STOP_OVERDUE = 75  # EX_TEMPFAIL: stopped hard; nothing lost, uncommitted is redelivered


class Worker(faust.Worker):
    """Faust's worker with two operating fixes.

    - No progress spinner unless stdout is a terminal: the spinner writes cursor escape
      codes and backspaces unconditionally, which end up in log files (issue 11 item 8).
    - Client-library retry noise collapsed (``RepeatFilter``): one line per kind of
      failure per 30 s while a broker is away, with the count held back.
    - A bounded stop: after SIGTERM/SIGINT a timer ends the process once the grace period
      is over. With the broker away, Faust's shutdown waits on commits and the producer
      flush for minutes; at-least-once delivery makes the hard exit safe.
    """

    def __init__(self, *args: object, stop_grace_s: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.stop_grace_s = stop_grace_s
        if not _isatty(self.stdout):
            self.spinner = None

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        repeats = RepeatFilter()
        for handler in logger.handlers:
            handler.addFilter(repeats)

    def _on_sigint(self) -> None:
        self._arm_stop_timer("SIGINT")
        super()._on_sigint()

    def _on_sigterm(self) -> None:
        self._arm_stop_timer("SIGTERM")
        super()._on_sigterm()

    def _arm_stop_timer(self, name: str) -> None:
        def overdue() -> None:
            log.error(
                "not stopped %.0fs after %s (Kafka or Elasticsearch unreachable?);"
                " exiting now, uncommitted records will be redelivered",
                self.stop_grace_s,
                name,
            )
            logging.shutdown()
            os._exit(EXIT_STOP_OVERDUE)

        timer = threading.Timer(self.stop_grace_s, overdue)
        timer.daemon = True
        timer.start()


#: Client libraries that log every failed attempt while a broker is away (a 9 s Kafka
#: restart: ~1,000 ERROR lines from aiokafka alone, issue 11 item 8).
CHATTY_LOGGERS = ("aiokafka", "kafka", "faust.transport")


class RepeatFilter(logging.Filter):
    """Passes the first record of each (logger, message template) per ``window_s``; the
    next one after the window says how many like it were held back. Our own records
    (dead letters, stage summaries) are not touched: only ``CHATTY_LOGGERS``."""

    def __init__(self, window_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self.seen: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(CHATTY_LOGGERS):
            return True
        key = (record.name, record.msg)
        now = self.clock()
        first, held = self.seen.get(key, (None, 0))
        if first is not None and now - first < self.window_s:
            self.seen[key] = (first, held + 1)
            return False
        if held:
            record.msg = f"{record.msg} ({held} more like this in the last {self.window_s:.0f}s)"
        self.seen[key] = (now, 0)
        return True


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


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
    from pipeline.worker.app import create_app

    if setup:
        from pipeline.adapters.elastic import make_client
        from pipeline.adapters.kafka import ensure_topics
        from pipeline.index.setup import install

        # As the setup Job does it: the worker's own user may not create topics.
        setup_settings = resolve(get_settings(), service="setup")
        ensure_topics(setup_settings)
        client = make_client(setup_settings)
        try:
            install(client, setup_settings)
        finally:
            client.close()
    settings = resolve(get_settings(), service="worker")
    app = create_app(settings)
    worker = Worker(
        app, loglevel=loglevel, stdout=sys.stdout, stop_grace_s=settings.worker_stop_grace_s
    )
    worker.execute_from_commandline()
