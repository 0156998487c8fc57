"""Run the stream stages: dedup, enrichment, alerting and indexing.

Run as many as there are cores to spare, on as many machines as you like: they share the
work through Kafka partitions. Exits non-zero when an agent fails (Kubernetes restarts it).
On SIGTERM or Ctrl-C it stops within the grace period (WIREWATCH_WORKER_STOP_GRACE_S,
default 8 s), and about a second after the stop began when Kafka is down: what it had not
committed is redelivered.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import click
import faust

from pipeline.cli.servers import resolve
from pipeline.settings import Settings, get_settings

if TYPE_CHECKING:
    from pipeline.worker.startup import StartTimeline

log = logging.getLogger(__name__)

EXIT_STOP_OVERDUE = 75  # EX_TEMPFAIL: stopped hard; nothing lost, uncommitted is redelivered


class Worker(faust.Worker):
    """Faust's worker with its operating fixes (issue 11 item 8).

    - No progress spinner unless stdout is a terminal: the spinner writes cursor escape
      codes and backspaces unconditionally, which end up in log files (issue 11 item 8).
    - A Kafka ACL taken away while running is one line naming the user and what it lacks
      (``KafkaRefusal``), not the client's traceback repeated on the way out.
    - Kafka and Elasticsearch outages as state changes (``Outage``): one line when the
      client libraries have been failing for 3 s, one when the server answers again, and a
      "still failing" line per 30 s in between, instead of one (or a traceback) per attempt.
    - A bounded stop (``StopTimer``): after SIGTERM/SIGINT the process ends within a second
      of Kafka being known down, and at the latest when the grace period is over. With the
      broker away, Faust's shutdown waits on commits and the producer flush for minutes;
      at-least-once delivery makes the exit safe.
    - One "start:" line when first ready: where the start's seconds went
      (pipeline.worker.startup, issue 11.7).
    """

    def __init__(
        self,
        *args: object,
        stop_grace_s: float,
        kafka_username: str | None = None,
        timeline: StartTimeline | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stop_grace_s = stop_grace_s
        self.timeline = timeline
        if not _isatty(self.stdout):
            self.spinner = None
        self.outage = KafkaOutage(schedule=after)
        self.es_outage = ElasticsearchOutage(schedule=after)
        self.stop_timer: StopTimer | None = None
        self.refusal = KafkaRefusal(kafka_username)
        self.app.sensors.add(KafkaAnswers(self.outage))

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        for handler in logger.handlers:
            handler.addFilter(self.refusal)
            handler.addFilter(self.outage)
            handler.addFilter(self.es_outage)

    async def on_first_start(self) -> None:
        if self.timeline is not None:
            self.timeline.mark("Faust start")
        await super().on_first_start()

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        if self.timeline is not None:  # once: the first recovery, not every rebalance
            log.info("%s", self.timeline.line())
            self.timeline = None

    def _on_sigint(self) -> None:
        self._arm_stop_timer("SIGINT")
        super()._on_sigint()

    def _on_sigterm(self) -> None:
        self._arm_stop_timer("SIGTERM")
        super()._on_sigterm()

    def _arm_stop_timer(self, name: str) -> None:
        if self.stop_timer is None:  # a second signal changes nothing
            self.stop_timer = StopTimer(self.stop_grace_s, self.outage, signal_name=name)
            self.stop_timer.start()


class StopTimer:
    """Ends the process when a stop cannot finish (issue 11 item 8).

    Every step left in Faust's stop needs the broker: the producer flush and the producer's
    close wait for unsent records (Faust's producer request timeout is 20 minutes), the
    final commit waits for a group coordinator, the consumer's close for its requests. So
    when Kafka is known to be down (``kafka`` has been failing for its announce delay
    without an answer) the stop waits ``down_wait_s`` for what needs no broker, then says
    so in one line and exits 0: a requested stop, done as far as it can be. Otherwise the
    process gets ``grace_s``; a stop still running then is unexplained, an ERROR, and
    status 75. Either way nothing is lost: Faust commits an input's offset only after the
    producer flushed its outputs, so what Kafka did not take is redelivered on start.
    """

    def __init__(
        self,
        grace_s: float,
        kafka: Outage,
        *,
        signal_name: str = "SIGTERM",
        down_wait_s: float = 1.0,
        poll_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        self.grace_s = grace_s
        self.kafka = kafka
        self.signal_name = signal_name
        self.down_wait_s = down_wait_s
        self.poll_s = poll_s
        self.clock = clock
        self.exit = exit
        self.started = clock()
        self._done = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._watch, name="wirewatch-stop-timer", daemon=True).start()

    def _watch(self) -> None:
        while not self._done.wait(self.poll_s):
            self.check()

    def check(self) -> bool:
        """Exits (and returns True) if the stop has waited long enough; False otherwise."""
        elapsed = self.clock() - self.started
        down_for = self.kafka.failing_for()
        if down_for is not None and elapsed >= self.down_wait_s:
            log.warning(
                "stopped without Kafka (unreachable for %.0fs): records not yet committed"
                " will be redelivered",
                down_for,
            )
            return self._exit(0)
        if elapsed >= self.grace_s:
            log.error(
                "not stopped %.0fs after %s (Elasticsearch or a stage hanging?);"
                " exiting now, uncommitted records will be redelivered",
                self.grace_s,
                self.signal_name,
            )
            return self._exit(EXIT_STOP_OVERDUE)
        return False

    def _exit(self, status: int) -> bool:
        self._done.set()
        logging.shutdown()
        self.exit(status)
        return True


#: Client libraries that log every failed attempt while a broker is away (a 9 s Kafka
#: restart: ~1,000 ERROR lines from aiokafka alone, issue 11 item 8).
CHATTY_LOGGERS = ("aiokafka", "kafka", "faust.transport")
#: elastic_transport logs a traceback per failed request and a line per node timeout; the
#: index sink a line per bulk retry of a connection failure (pipeline.index.sink).
ELASTIC_LOGGERS = ("elastic_transport", "pipeline.index.sink.connection")


class Outage(logging.Filter):
    """A server's trouble as state changes, one line each (issue 11 item 8).

    Warnings and errors from the server's client libraries (``loggers``) are held back. If
    they go on for ``announce_after_s`` without the server answering, one ERROR line says
    the worker is retrying (with the first failure and the count); then one WARNING per
    ``window_s`` says it still is. When the server answers again (``answered()``: for Kafka
    a Faust sensor, :class:`KafkaAnswers`; for Elasticsearch the client's own "marked
    alive" record), one WARNING says it is back, after how long. A blip shorter than
    ``announce_after_s`` (a group coordinator still loading just after a broker restart, one
    lost heartbeat) is no outage and prints nothing. No tracebacks: a retry is not a bug.
    Our own records (dead letters, stage and bulk lines) and the clients' INFO lines pass
    untouched. With ``schedule`` (a timer: delay, callback -> cancel) the ERROR line comes
    ``announce_after_s`` after the first failure even if the client then falls silent (a
    consumer only retrying its connection says little); without, at the next failure.
    """

    def __init__(
        self,
        server: str,
        loggers: tuple[str, ...],
        *,
        alive_marker: str | None = None,
        window_s: float = 30.0,
        announce_after_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        schedule: Callable[[float, Callable[[], None]], Callable[[], None]] | None = None,
    ):
        super().__init__()
        self.schedule = schedule
        self._cancel: Callable[[], None] | None = None
        self.server = server
        self.loggers = loggers
        self.alive_marker = alive_marker
        self.window_s = window_s
        self.announce_after_s = announce_after_s
        self.clock = clock
        self.since: float | None = None  # when the current trouble began
        self.first = ""  # its first failure
        self.announced = False
        self.noted = 0.0  # when the last line about it was let through
        self.held = 0
        self._lock = threading.Lock()
        self._mark = f"_wirewatch_outage_{server}"

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.loggers):
            return True
        if getattr(record, REFUSAL_MARK, None) is not None:
            return True  # an ACL refusal is no outage: KafkaRefusal has decided it
        decided = getattr(record, self._mark, None)
        if decided is not None:  # a second handler sees the record this filter rewrote
            return bool(decided)
        if self.alive_marker is not None and self.alive_marker in str(record.msg):
            passed = False  # said as "answering again", if there was an outage to end
            self.answered()
        elif record.levelno < logging.WARNING:
            return True
        else:
            with self._lock:
                passed = self._decide(record)
        setattr(record, self._mark, passed)
        return passed

    def _decide(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        message = record.getMessage()
        if self.since is None:
            self.since, self.first, self.announced, self.held = now, message, False, 1
            if self.schedule is not None:
                self._cancel = self.schedule(self.announce_after_s, self._announce_due)
            return False
        self.held += 1
        if not self.announced:
            if now - self.since < self.announce_after_s:
                return False
            self.announced, self.noted = True, now
            record.msg, record.args = self._failing_line(now)
            record.levelno, record.levelname = logging.ERROR, "ERROR"
        elif now - self.noted >= self.window_s:
            self.noted = now
            record.msg = (
                f"{self.server} still failing after {now - self.since:.0f}s, retrying"
                f" ({self.held} client errors held back; latest: %s)"
            )
            record.args = (message,)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        else:
            return False
        record.exc_info = record.exc_text = record.stack_info = None
        return True

    def _failing_line(self, now: float) -> tuple[str, tuple[str]]:
        return (
            f"{self.server} failing for {now - self.since:.0f}s, retrying: %s"  # type: ignore[operator]
            f" ({self.held} client errors held back until {self.server} answers again)",
            (self.first,),
        )

    def _announce_due(self) -> None:
        """The scheduled announcement: the outage has lasted ``announce_after_s``."""
        with self._lock:
            if self.since is None or self.announced:
                return
            now = self.clock()
            self.announced, self.noted = True, now
            message, args = self._failing_line(now)
        log.error(message, *args)

    def failing_for(self) -> float | None:
        """Seconds the server has been failing without an answer, once that is an outage
        (announced); None while it answers or only blips."""
        with self._lock:
            if self.since is None or not self.announced:
                return None
            return self.clock() - self.since

    def answered(self) -> None:
        """The server did something for the worker: the trouble, if any, is over."""
        if self.since is None:  # the common case, on every record: one comparison
            return
        with self._lock:
            if self.since is None:
                return
            elapsed, held, announced = self.clock() - self.since, self.held, self.announced
            self.since, self.held, self.announced = None, 0, False
            cancel, self._cancel = self._cancel, None
        if cancel is not None:
            cancel()
        if announced:
            log.warning(
                "%s answering again after %.0fs (%d client errors held back)",
                self.server,
                elapsed,
                held,
            )


REFUSAL_MARK = "_wirewatch_refusal"


class KafkaRefusal(logging.Filter):
    """A Kafka ACL refusal of a running worker as one line (issue 11 item 8, secured stack).

    When an ACL is taken away while the worker runs, the client raises an authorization
    error that crashes an agent or the consumer; Faust then logs the same exception with a
    traceback several times on its way out ("Crashed reason=...", "Error: ..."), and the
    process exits non-zero (``wirewatch run`` and Kubernetes restart it with backoff). The
    first such record becomes one ERROR line naming the user, what it lacks and what to fix,
    like the refusal at startup; the others are dropped. Everything else passes. Installed
    before the ``Outage`` filters, which would otherwise hold the crash record of Faust's
    fetcher (logger ``faust.transport.consumer``) as one more client error: without this
    the worker exited 1 with "We experienced a crash!" and no reason at all.
    """

    def __init__(self, username: str | None) -> None:
        super().__init__()
        self.username = username or "(anonymous)"
        self.said = False
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info is None or record.exc_info[1] is None:
            return True
        decided = getattr(record, REFUSAL_MARK, None)
        if decided is not None:  # a second handler sees the record this filter rewrote
            return bool(decided)
        refusal = _kafka_refusal(record.exc_info[1])
        if refusal is None:
            return True
        with self._lock:
            passed, self.said = not self.said, True
        if passed:
            record.msg = (
                f"Kafka user {self.username!r} is not allowed {refusal}: grant the ACL"
                " (k8s/base/kafka/users.yaml) or set WIREWATCH_KAFKA_USERNAME to the"
                " service's own user; stopping"
            )
            record.args = ()
            record.levelno, record.levelname = logging.ERROR, "ERROR"
            record.exc_info = record.exc_text = record.stack_info = None
        setattr(record, REFUSAL_MARK, passed)
        return passed


def _kafka_refusal(exc: BaseException) -> str | None:
    """What an authorization error in ``exc``'s chain says the user lacks, e.g. "Read on
    topic wirewatch.articles.raw (TopicAuthorizationFailedError)"; None if there is none."""
    from aiokafka import errors

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, errors.TopicAuthorizationFailedError):
            side = _client_side(current)
            operation = {"producer": "Write", "consumer": "Read"}.get(side, "Read or Write")
            return f"{operation} on topic {_names(current)} ({type(current).__name__})"
        if isinstance(current, errors.GroupAuthorizationFailedError):
            return f"Read on group {_names(current)} ({type(current).__name__})"
        if isinstance(current, errors.TransactionalIdAuthorizationFailed):
            return f"Write on the transactional id ({type(current).__name__})"
        if isinstance(current, errors.ClusterAuthorizationFailedError):
            return f"this on the cluster ({type(current).__name__})"
        current = current.__cause__ or current.__context__
    return None


def _names(exc: BaseException) -> str:
    """The topic or group an aiokafka authorization error was raised for (one or several)."""
    names: list[str] = []
    for arg in exc.args:
        if isinstance(arg, str):
            names.append(arg)
        elif isinstance(arg, set | frozenset | list | tuple):
            names.extend(sorted(str(a) for a in arg))
    return ", ".join(names) or "(not named)"


def _client_side(exc: BaseException) -> str:
    """ "producer" or "consumer": which aiokafka client raised ``exc`` (its innermost frame)."""
    side = ""
    tb = exc.__traceback__
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if "/aiokafka/producer/" in path:
            side = "producer"
        elif "/aiokafka/consumer/" in path:
            side = "consumer"
        tb = tb.tb_next
    return side


def after(delay_s: float, callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` in ``delay_s`` on a daemon timer thread; returns its cancel."""
    timer = threading.Timer(delay_s, callback)
    timer.daemon = True
    timer.start()
    return timer.cancel


class KafkaOutage(Outage):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("Kafka", CHATTY_LOGGERS, **kwargs)


class ElasticsearchOutage(Outage):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            "Elasticsearch", ELASTIC_LOGGERS, alive_marker="has been marked alive", **kwargs
        )


class KafkaAnswers(faust.Sensor):
    """Tells :class:`KafkaOutage` whenever Kafka did something for the worker."""

    def __init__(self, outage: KafkaOutage, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outage = outage

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        self.outage.answered()

    def on_commit_initiated(self, consumer: Any) -> Any:
        return dict(consumer._committed_offset)

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        # Faust's commit timer completes every 2.8 s, also with nothing to commit and with
        # the broker away: only offsets that moved mean the coordinator took a commit (a
        # refused commit crashes the worker). Counting every tick hid most Kafka outages.
        if state is not None and dict(consumer._committed_offset) != state:
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
    # Ordered for a quick restart (issue 11.7, pipeline.worker.startup): the enrichment
    # processes first (each loads spaCy while the rest happens), the setup calls in a
    # thread beside the stage imports, then Faust.
    from pipeline.worker import enrich_agent
    from pipeline.worker.app import create_app, stage_modules
    from pipeline.worker.startup import StartTimeline

    timeline = StartTimeline()
    if setup:
        # As the setup Job does it: the worker's own user may not create topics.
        setup_settings = resolve(get_settings(), service="setup")
    settings = resolve(get_settings(), service="worker")
    timeline.mark("python and settings")
    if enrich_agent.__name__ in stage_modules(settings):
        enrich_agent.spawn_early(settings)
        timeline.mark("enrichment processes spawned")
    with ThreadPoolExecutor(1, thread_name_prefix="setup") as background:
        # imported here, not in the thread: two threads importing one package can deadlock
        done = background.submit(setup_step(), setup_settings) if setup else None
        app = create_app(settings)
        timeline.mark("app and stages")
        if done is not None:
            done.result()  # its error, if any, as if it had run first
            timeline.mark("setup")
    # The CLI silences elastic_transport (a command says "unreachable" itself); in the
    # worker its failure and "marked alive" records are what ElasticsearchOutage turns into
    # the outage's down and back lines.
    for name in ELASTIC_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    worker = Worker(
        app,
        loglevel=loglevel,
        stdout=sys.stdout,
        stop_grace_s=settings.worker_stop_grace_s,
        kafka_username=settings.kafka_username,
        timeline=timeline,
    )
    worker.execute_from_commandline()


def setup_step() -> Callable[[Settings], None]:
    """What ``--setup`` runs (pipeline.cli.setup.prepare_servers), its modules imported here,
    in the calling thread: two threads importing one package can deadlock."""
    from pipeline.cli.setup import prepare_servers

    return prepare_servers
