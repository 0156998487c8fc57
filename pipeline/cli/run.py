"""``wirewatch run``: the whole product in one command.

On the embedded default (no WIREWATCH_KAFKA_BOOTSTRAP / WIREWATCH_ES_URL) it starts the
managed local stack. It polls ``--feeds FILE`` if given, else the feed registry when it
holds feeds, else (or with ``--sample-feeds``) the bundled sample feeds served on loopback,
and says which. Then it installs topics and index templates, starts a worker and a poller
as supervised child processes (``pipeline.supervisor``: restarted with backoff when they
crash) and reports progress until interrupted (or, with ``--once``, until everything
polled in one cycle is processed). Outages of Kafka or Elasticsearch read as one line when
they start and one when they end.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import click
import yaml

from pipeline.cli import CLIENT_LOGGERS, servers
from pipeline.settings import Settings, get_settings

LOOPBACK = "127.0.0.0/8,::1/128"
REPORT_EVERY_S = 3.0


def say(line: str) -> None:
    click.echo(line, err=True)


@dataclass
class ServerState:
    """Up/down of one server as ``run`` sees it: a line on each change, none per retry."""

    name: str
    down_since: float | None = None

    def failed(self, exc: Exception, now: float) -> None:
        if self.down_since is None:
            self.down_since = now
            say(
                f"{self.name} unreachable ({type(exc).__name__}); retrying every"
                f" {REPORT_EVERY_S:.0f}s"
            )

    def answered(self, now: float) -> None:
        if self.down_since is not None:
            say(f"{self.name} back after {now - self.down_since:.0f}s")
            self.down_since = None


def _connected(settings: Settings) -> tuple[servers.Decision, dict[str, str]]:
    """The servers decided (as the setup user) and the children's common environment."""
    env = dict(os.environ)
    if settings.embedded:
        say("starting the managed local stack (Kafka + Elasticsearch) ...")
    # The one place that decides the servers (pipeline.cli.servers); children inherit it,
    # each as its own service (servers.service_env: on a secured stack, its own users).
    decision = servers.embedded(settings, service="setup")
    settings = decision.settings
    if get_settings().embedded:
        say(f"  kafka {settings.kafka_bootstrap}   elasticsearch {settings.es_url}")
    env["WIREWATCH_KAFKA_BOOTSTRAP"] = settings.kafka_bootstrap or ""
    env["WIREWATCH_ES_URL"] = settings.es_url or ""
    return decision, env


def _demo_feeds(settings: Settings, env: dict[str, str]) -> Path:
    from pipeline.demo import SAMPLE_DIR, sample_feeds, serve_directory

    try:  # a fixed port keeps the sample URLs, and so the article ids, stable across runs
        _server, base = serve_directory(SAMPLE_DIR, settings.demo_port)
    except OSError:  # taken: any free port (new URLs, so the samples are new articles)
        _server, base = serve_directory(SAMPLE_DIR)
    feeds = [spec.model_dump(mode="json", exclude_none=True) for spec in sample_feeds(base)]
    path = settings.home / "demo" / "feeds.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"feeds": feeds}, sort_keys=False))
    # The sample site is on loopback, which the fetcher refuses unless allowed.
    env["WIREWATCH_FETCH_ALLOW_NETWORKS"] = LOOPBACK
    return path


def registry_path(settings: Settings) -> Path:
    return settings.feeds_file or settings.home / "feeds.yaml"


def choose_feeds(
    feeds_file: Path | None, sample_feeds: bool, settings: Settings
) -> tuple[Path | None, str]:
    """(registry file to poll, the line saying which); None means: serve the samples."""
    from pipeline.poll.registry import RegistryError, load

    if feeds_file is not None:
        return feeds_file, f"polling the feeds in {feeds_file}"
    registry = registry_path(settings)
    if sample_feeds:
        return None, "polling the bundled sample feeds (--sample-feeds)"
    try:
        count = len(load(registry))
    except RegistryError as exc:
        raise click.ClickException(f"{exc} (fix it, or run with --sample-feeds)") from exc
    if count:
        return registry, f"polling the feed registry {registry} ({count} feeds)"
    return None, (
        f"the feed registry {registry} is empty: polling the bundled sample feeds"
        " (add yours with `wirewatch feeds add` or `feeds import`)"
    )


@click.command()
@click.option(
    "--feeds",
    "feeds_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Poll this registry file (YAML) instead of the feed registry.",
)
@click.option(
    "--sample-feeds",
    is_flag=True,
    help="Poll the bundled sample feeds (served on loopback) even if the registry has feeds.",
)
@click.option("--once", is_flag=True, help="Poll once, wait until all of it is indexed, exit.")
@click.option(
    "--timeout",
    default=600.0,
    show_default=True,
    help="With --once: give up after this many seconds.",
)
@click.option(
    "--max-restarts",
    default=5,
    show_default=True,
    type=click.IntRange(0),
    help="Restarts of a crashed worker or poller in a row before run gives up (exit 1).",
)
@click.option(
    "--worker-loglevel",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Level of worker.log (debug or info to follow a problem; warning keeps it to faults).",
)
def command(
    feeds_file: Path | None,
    sample_feeds: bool,
    once: bool,
    timeout: float,
    max_restarts: int,
    worker_loglevel: str,
) -> None:
    """Run the whole pipeline: managed stack (unless servers are set), poller and worker.

    Feeds: --feeds FILE, else the feed registry (WIREWATCH_FEEDS_FILE or
    $WIREWATCH_HOME/feeds.yaml) when it holds feeds, else the bundled sample feeds.
    A crashed worker or poller is restarted with backoff (1 s doubling to 30 s). Logs of the
    children go to $WIREWATCH_HOME/logs/ (default ~/.wirewatch/logs). Stop with Ctrl-C or
    SIGTERM; the managed stack keeps running (`wirewatch stack down` stops it).
    """
    from pipeline.supervisor import ChildKeepsFailing, StopRequested, Supervisor, stop_on_signals

    if feeds_file is not None and sample_feeds:
        raise click.UsageError("--feeds and --sample-feeds exclude each other")
    stop_on_signals()  # SIGTERM / SIGHUP unwind like Ctrl-C: the children are stopped
    for name in CLIENT_LOGGERS:  # run reports outages itself, as state, even with -v
        logging.getLogger(name).setLevel(logging.CRITICAL)
    embedded = get_settings().embedded
    settings = get_settings()
    feeds, which = choose_feeds(feeds_file, sample_feeds, settings)
    try:
        decision, env = _connected(settings)
        settings = decision.settings
        from pipeline.adapters.elastic import make_client
        from pipeline.cli.setup import prepare_servers

        # Before any other line: servers that do not answer are the one line to print.
        prepare_servers(settings)
        # Watching reads every topic's keys and the index: as the stack's admin when the
        # servers are managed (no production user may read the dead letters).
        settings = servers.service_settings(decision, servers.STACK_ADMIN)
        es = make_client(settings)
        if feeds is None:
            feeds = _demo_feeds(settings, env)
        say(which)
    except (KeyboardInterrupt, StopRequested):
        say("stopped before the worker and poller started")
        raise SystemExit(0) from None

    logs = settings.home / "logs"
    supervisor = Supervisor(env=env, say=say, max_restarts=max_restarts)
    worker_args = ["worker", "--no-setup", "--loglevel", worker_loglevel]
    worker_env = servers.service_env(decision, "worker")
    supervisor.add("worker", worker_args, logs / "worker.log", env=worker_env)
    poll_args = ["poll", "--feeds", str(feeds), "--quiet"] + (["--once"] if once else [])
    poller_env = servers.service_env(decision, "poller")
    supervisor.add("poller", poll_args, logs / "poller.log", may_finish=once, env=poller_env)
    exit_code = 0
    try:
        supervisor.start_all()
        say(f"worker and poller started; logs in {logs}")
        exit_code = _watch(settings, es, supervisor, once, timeout, logs)
    except ChildKeepsFailing as exc:
        say(str(exc))
        exit_code = 1
    except (KeyboardInterrupt, StopRequested):
        say("stopping ...")
    finally:
        supervisor.stop()
        es.close()
    if embedded:
        say("the local stack keeps running; `wirewatch stack down` stops it")
    raise SystemExit(exit_code)


def _watch(settings: Settings, es, supervisor, once: bool, timeout: float, logs: Path) -> int:
    """Report progress every few seconds; with ``--once``, return when all is processed."""
    from pipeline.adapters.kafka_progress import distinct_keys, group_lag
    from pipeline.topics import (
        ARTICLES_ANNOTATED,
        ARTICLES_DEDUPED,
        ARTICLES_ENRICHED,
        ARTICLES_RAW,
        DEAD_LETTER,
        qualified,
    )
    from pipeline.worker.app import app_id

    dead_letter = qualified(DEAD_LETTER, settings.topic_prefix)
    topics = [
        qualified(t, settings.topic_prefix)
        for t in (ARTICLES_RAW, ARTICLES_DEDUPED, ARTICLES_ANNOTATED, ARTICLES_ENRICHED)
    ]
    kafka, elastic = ServerState("kafka"), ServerState("elasticsearch")
    started = time.monotonic()
    last_line = ""
    while True:
        next_report = time.monotonic() + REPORT_EVERY_S
        while time.monotonic() < next_report:  # notice crashes within a second
            supervisor.check()
            time.sleep(0.5)  # supervision cadence, not synchronisation
        now = time.monotonic()
        if once and now - started > timeout:
            say(f"gave up after {timeout:.0f}s; see {logs}")
            return 1
        try:
            backlog = sum(group_lag(settings, app_id(settings), topics).values())
        except Exception as exc:
            kafka.failed(exc, now)
            continue
        kafka.answered(now)
        try:
            indexed = es.count(index=settings.index_alias)["count"]
        except Exception as exc:
            elastic.failed(exc, now)
            continue
        elastic.answered(now)
        line = f"indexed {indexed:>6} articles   backlog {backlog:>5}"
        if line != last_line or not once:
            say(line)
            last_line = line
        if once and supervisor.finished("poller") and backlog == 0:
            # Lag alone misses batches in flight inside the worker: finish when every
            # article polled is in the index or dead-lettered.
            polled = len(distinct_keys(settings, topics[0]))
            dead = len(distinct_keys(settings, dead_letter))
            if indexed + dead >= polled:
                click.echo(
                    f"done: {polled} articles polled, {indexed} indexed, {dead} dead-lettered."
                    " Try: wirewatch search Kursk"
                )
                return 0
