"""``wirewatch run``: the whole product in one command.

On the embedded default (no WIREWATCH_KAFKA_BOOTSTRAP / WIREWATCH_ES_URL) it starts the
managed local stack; without ``--feeds`` it serves the bundled sample feeds on loopback.
Then it installs topics and index templates, starts a worker and a poller as child
processes, and reports progress until interrupted (or, with ``--once``, until everything
polled in one cycle is processed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import yaml

from pipeline.settings import Settings, get_settings

LOOPBACK = "127.0.0.0/8,::1/128"
DEMO_PORT = 8765


@dataclass
class Children:
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "pipeline", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def failed(self) -> tuple[str, int] | None:
        for name, proc in self.procs.items():
            code = proc.poll()
            if code not in (None, 0):
                return name, code
        return None

    def stop(self, timeout: float = 20.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _connected(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """Settings (and child environment) with concrete server addresses."""
    env = dict(os.environ)
    if settings.embedded:
        from pipeline.stack import StackError, ensure_stack

        click.echo("starting the managed local stack (Kafka + Elasticsearch) ...", err=True)
        try:
            stack = ensure_stack(settings)
        except StackError as error:
            raise click.ClickException(str(error)) from error
        settings = settings.model_copy(
            update={"kafka_bootstrap": stack.kafka_bootstrap, "es_url": stack.es_url}
        )
        click.echo(f"  kafka {stack.kafka_bootstrap}   elasticsearch {stack.es_url}", err=True)
    env["WIREWATCH_KAFKA_BOOTSTRAP"] = settings.kafka_bootstrap or ""
    env["WIREWATCH_ES_URL"] = settings.es_url or ""
    return settings, env


def _demo_feeds(settings: Settings, env: dict[str, str]) -> Path:
    from pipeline.demo import SAMPLE_DIR, sample_feeds, serve_directory

    try:  # a fixed port keeps the sample URLs, and so the article ids, stable across runs
        _server, base = serve_directory(SAMPLE_DIR, DEMO_PORT)
    except OSError:
        _server, base = serve_directory(SAMPLE_DIR)
    feeds = [spec.model_dump(mode="json", exclude_none=True) for spec in sample_feeds(base)]
    path = settings.home / "demo" / "feeds.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"feeds": feeds}, sort_keys=False))
    # The sample site is on loopback, which the fetcher refuses unless allowed.
    env["WIREWATCH_FETCH_ALLOW_NETWORKS"] = LOOPBACK
    click.echo(f"serving the bundled sample feeds at {base}", err=True)
    return path


@click.command()
@click.option(
    "--feeds",
    "feeds_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your feed registry (YAML). Default: the bundled sample feeds, served on loopback.",
)
@click.option("--once", is_flag=True, help="Poll once, wait until all of it is indexed, exit.")
@click.option(
    "--timeout",
    default=600.0,
    show_default=True,
    help="With --once: give up after this many seconds.",
)
def command(feeds_file: Path | None, once: bool, timeout: float) -> None:
    """Run the whole pipeline: managed stack (unless servers are set), poller and worker.

    Logs of the child processes go to ~/.wirewatch/logs/. Stop with Ctrl-C; the managed
    stack keeps running (`wirewatch stack down` stops it).
    """
    from pipeline.adapters.elastic import make_client
    from pipeline.adapters.kafka import ensure_topics
    from pipeline.adapters.kafka_progress import distinct_keys, group_lag
    from pipeline.index.setup import install
    from pipeline.topics import (
        ARTICLES_DEDUPED,
        ARTICLES_ENRICHED,
        ARTICLES_RAW,
        DEAD_LETTER,
        qualified,
    )
    from pipeline.worker.app import app_id

    embedded = get_settings().embedded
    settings, env = _connected(get_settings())
    feeds = feeds_file or _demo_feeds(settings, env)
    ensure_topics(settings)
    es = make_client(settings)
    install(es, settings)

    logs = settings.home / "logs"
    children = Children()
    poll_args = ["poll", "--feeds", str(feeds), "--quiet"] + (["--once"] if once else [])
    children.start(
        "worker", ["worker", "--no-setup", "--loglevel", "warning"], env, logs / "worker.log"
    )
    children.start("poller", poll_args, env, logs / "poller.log")
    click.echo(f"worker and poller started; logs in {logs}", err=True)

    dead_letter = qualified(DEAD_LETTER, settings.topic_prefix)
    topics = [
        qualified(t, settings.topic_prefix)
        for t in (ARTICLES_RAW, ARTICLES_DEDUPED, ARTICLES_ENRICHED)
    ]
    started = time.monotonic()
    exit_code = 0
    try:
        while True:
            time.sleep(3)  # progress report cadence, not synchronisation
            if once and time.monotonic() - started > timeout:
                exit_code = 1
                click.secho(f"gave up after {timeout:.0f}s; see {logs}", fg="red", err=True)
                break
            failure = children.failed()
            if failure:
                name, code = failure
                raise click.ClickException(
                    f"the {name} exited with status {code}; see {logs / (name + '.log')}"
                )
            try:
                backlog = sum(group_lag(settings, app_id(settings), topics).values())
                indexed = es.count(index=settings.index_alias)["count"]
            except Exception as exc:  # servers warming up: report and look again
                click.echo(f"progress not readable yet ({type(exc).__name__})", err=True)
                continue
            click.echo(f"indexed {indexed:>6} articles   backlog {backlog:>5}", err=True)
            if once and children.procs["poller"].poll() == 0 and backlog == 0:
                # Lag alone misses batches in flight inside the worker: finish when every
                # article polled is in the index or dead-lettered.
                polled = len(distinct_keys(settings, topics[0]))
                dead = len(distinct_keys(settings, dead_letter))
                if indexed + dead >= polled:
                    click.echo(
                        f"done: {polled} articles polled, {indexed} indexed, {dead} dead-lettered."
                        " Try: wirewatch search Kursk"
                    )
                    break
    except KeyboardInterrupt:
        click.echo("stopping ...", err=True)
    finally:
        children.stop()
        es.close()
    if embedded:
        click.echo("the local stack keeps running; `wirewatch stack down` stops it", err=True)
    raise SystemExit(exit_code)
