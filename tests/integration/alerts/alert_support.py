"""Types and helpers the alert integration tests share with their fixtures (importable by
name: a second `conftest` module in another directory would shadow `from conftest import`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.records import DeadLetter, EnrichedArticle
from pipeline.settings import Settings, get_settings
from pipeline.topics import ARTICLES_ENRICHED, DEAD_LETTER, qualified


@dataclass
class Receiver:
    """A webhook endpoint on loopback: /ok answers 204, /fail always 500, /hold holds
    each request until ``release`` is set (at most 3 s) and then answers 503 or 204."""

    url: str
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    def received(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]


def worker_script(modules: tuple[str, ...]) -> str:
    return (
        "from pipeline.worker.app import create_app\n"
        f"app = create_app(agent_modules={modules!r})\n"
        "app.main()\n"
    )


WORKER = worker_script(("pipeline.worker.alert_agent",))
#: the workers' log level (debug to read a failure; DEVLOG=1 adds Faust's own)
LOGLEVEL = os.environ.get("WIREWATCH_TEST_LOGLEVEL", "info")


@dataclass
class Worker:
    """A worker process running the alert agents; start (until ready), kill -9, stop."""

    env: dict[str, str]
    web: str
    log: Path
    process: subprocess.Popen | None = None
    script: str = WORKER

    def start(self) -> None:
        from helpers import wait_until

        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", self.script, "worker", "--loglevel", LOGLEVEL],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process = self.process

        def ready_or_exited() -> bool:
            if process.poll() is not None:
                return True
            return httpx.get(f"{self.web}/readyz", timeout=2).status_code == 200

        wait_until(ready_or_exited, timeout=120, message="alert worker ready")
        assert process.poll() is None, f"worker exited {process.returncode}:\n{self.tail()}"

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def json_body(request: dict) -> dict:
    return json.loads(request["body"])


def produce(
    settings: Settings, records: Sequence[EnrichedArticle], partition: int | None = None
) -> None:
    """Send enriched records to the test's enriched topic, keyed by article id (all to
    ``partition`` when given: the test then controls the order a stage sees them in)."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    topic = qualified(ARTICLES_ENRICHED, settings.topic_prefix)
    for record in records:
        producer.send(
            topic, key=record.article.id.encode(), value=record.to_json(), partition=partition
        )
    producer.flush(30)
    producer.close()


def dead_letters(settings: Settings) -> list[DeadLetter]:
    """Every record on the test's dead-letter topic so far."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False
    )
    tp = TopicPartition(qualified(DEAD_LETTER, settings.topic_prefix), 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    out = [
        DeadLetter.from_json(m.value)
        for batch in consumer.poll(timeout_ms=2000).values()
        for m in batch
    ]
    consumer.close()
    return out


@contextmanager
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """While inside: the CLI's settings (from the environment) name the test's servers,
    articles alias and topic prefix."""
    for name, value in {
        "WIREWATCH_ES_URL": settings.es_url,
        "WIREWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "WIREWATCH_INDEX_ALIAS": settings.index_alias,
        "WIREWATCH_TOPIC_PREFIX": settings.topic_prefix,
    }.items():
        monkeypatch.setenv(name, value or "")
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()
