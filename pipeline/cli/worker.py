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
from typing import Any

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
    - Kafka outages as state changes (``KafkaOutage``): one line when the client
      libraries start failing, one when Kafka answers again, and a "still failing" line
      per 30 s in between, instead of one per failed attempt.
    - A bounded stop: after SIGTERM/SIGINT a timer ends the process once the grace period
      is over. With the broker away, Faust's shutdown waits on commits and the producer
      flush for minutes; at-least-once delivery makes the hard exit safe.
    """

    def __init__(self, *args: object, stop_grace_s: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.stop_grace_s = stop_grace_s
        if not _isatty(self.stdout):
            self.spinner = None
        self.outage = KafkaOutage()
        self.app.sensors.add(KafkaAnswers(self.outage))

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        for handler in logger.handlers:
            handler.addFilter(self.outage)

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


class KafkaOutage(logging.Filter):
    """Kafka trouble as state changes, one line each (issue 11 item 8).

    Warnings and errors from the client libraries (``CHATTY_LOGGERS``) are held back. If
    they go on for ``announce_after_s`` without Kafka answering, one ERROR line says the
    worker is retrying (with the first failure and the count); then one WARNING per
    ``window_s`` says it still is. When Kafka does something for the worker again (a
    commit, a send, a fetched record, an assignment: :class:`KafkaAnswers`), one WARNING
    says it is back, after how long. A blip shorter than ``announce_after_s`` (a group
    coordinator still loading at start or just after a broker restart, one lost
    heartbeat) is no outage and prints nothing. No tracebacks: a retry is not a bug. Our
    own records (dead letters, stage lines) and the clients' INFO lines pass untouched.
    """

    def __init__(
        self,
        window_s: float = 30.0,
        announce_after_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__()
        self.window_s = window_s
        self.announce_after_s = announce_after_s
        self.clock = clock
        self.since: float | None = None  # when the current trouble began
        self.first = ""  # its first failure
        self.announced = False
        self.noted = 0.0  # when the last line about it was let through
        self.held = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(CHATTY_LOGGERS):
            return True
        decided = getattr(record, "_wirewatch_outage", None)
        if decided is not None:  # a second handler sees the record this filter rewrote
            return bool(decided)
        with self._lock:
            passed = self._decide(record)
        record._wirewatch_outage = passed
        return passed

    def _decide(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        message = record.getMessage()
        if self.since is None:
            self.since, self.first, self.announced, self.held = now, message, False, 1
            return False
        self.held += 1
        if not self.announced:
            if now - self.since < self.announce_after_s:
                return False
            self.announced, self.noted = True, now
            record.msg = (
                f"Kafka failing for {now - self.since:.0f}s, retrying: %s"
                f" ({self.held} client errors held back until Kafka answers again)"
            )
            record.args = (self.first,)
            record.levelno, record.levelname = logging.ERROR, "ERROR"
        elif now - self.noted >= self.window_s:
            self.noted = now
            record.msg = (
                f"Kafka still failing after {now - self.since:.0f}s, retrying"
                f" ({self.held} client errors held back; latest: %s)"
            )
            record.args = (message,)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        else:
            return False
        record.exc_info = record.exc_text = record.stack_info = None
        return True

    def answered(self) -> None:
        """Kafka did something for the worker: the trouble, if any, is over."""
        if self.since is None:  # the common case, on every record: one comparison
            return
        with self._lock:
            if self.since is None:
                return
            elapsed, held, announced = self.clock() - self.since, self.held, self.announced
            self.since, self.held, self.announced = None, 0, False
        if announced:
            log.warning(
                "Kafka answering again after %.0fs (%d client errors held back)", elapsed, held
            )


class KafkaAnswers(faust.Sensor):
    """Tells :class:`KafkaOutage` whenever Kafka did something for the worker."""

    def __init__(self, outage: KafkaOutage, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outage = outage

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        self.outage.answered()

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        self.outage.answered()

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        self.outage.answered()

    def on_assignment_completed(self, assignor: Any, state: Any) -> None:
        self.outage.answered()


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
