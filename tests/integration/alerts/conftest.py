"""Alert-stage integration fixtures: per-test names on the shared stack, a loopback webhook
receiver, and a real Faust worker process running the alert agents."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from alert_support import WORKER, Receiver, Worker, worker_script
from elasticsearch import Elasticsearch
from helpers import drop_indices_and_templates

from pipeline.adapters.kafka import ensure_topics
from pipeline.index.setup import install
from pipeline.index.templates import HUNSPELL_DIR
from pipeline.settings import Settings
from pipeline.stack import LocalStack
from pipeline.stack.process import free_port


@pytest.fixture
def alert_settings(stack: LocalStack) -> Settings:
    target = stack.elasticsearch.config_dir / "hunspell" / "en_US"
    if not (target / "en_US.dic").exists():  # the articles template's stemmer needs it
        shutil.copytree(HUNSPELL_DIR, target, dirs_exist_ok=True)
        target.chmod(0o755)
        target.parent.chmod(0o755)
    prefix = f"a{uuid.uuid4().hex[:8]}"
    return Settings(
        es_url=stack.es_url,
        kafka_bootstrap=stack.kafka_bootstrap,
        index_alias=f"{prefix}-articles",
        stories_index=f"{prefix}-stories",
        events_index=f"{prefix}-events",
        alerts_index=f"{prefix}-alerts",
        claims_index=f"{prefix}-claims",
        topic_prefix=f"{prefix}.",
        alert_webhook_attempts=2,
        alert_webhook_timeout_s=2.0,
    )


@pytest.fixture
def es(alert_settings: Settings) -> Iterator[Elasticsearch]:
    client = Elasticsearch(alert_settings.es_url, request_timeout=60)
    install(client, alert_settings)
    ensure_topics(alert_settings)
    yield client
    drop_indices_and_templates(client, alert_settings)
    client.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server: ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
            status = 500 if self.path == "/fail" else 204
            if self.path == "/hold":
                status = 204 if state.release.wait(3.0) else 503
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def alert_worker(alert_settings: Settings, es: Elasticsearch, tmp_path: Path) -> Iterator[Worker]:
    worker = _worker(alert_settings, tmp_path)
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def claims_worker(alert_settings: Settings, es: Elasticsearch, tmp_path: Path) -> Iterator[Worker]:
    """A worker running the claims stage and the alert stage (claim rules are alerts)."""
    worker = _worker(
        alert_settings,
        tmp_path,
        worker_script(("pipeline.worker.claims_agent", "pipeline.worker.alert_agent")),
        # the corpus spans January to April 2025: keep every claim (the default 30-day
        # window would forget January's claims once April's arrive; a replay then re-tracks
        # them, as it should)
        {"WIREWATCH_CLAIMS_WINDOW_DAYS": "365"},
    )
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()


def _worker(
    alert_settings: Settings,
    tmp_path: Path,
    script: str = WORKER,
    extra_env: dict[str, str] | None = None,
) -> Worker:
    port = free_port()
    env = {
        **os.environ,
        "WIREWATCH_KAFKA_BOOTSTRAP": alert_settings.kafka_bootstrap or "",
        "WIREWATCH_ES_URL": alert_settings.es_url or "",
        "WIREWATCH_TOPIC_PREFIX": alert_settings.topic_prefix,
        "WIREWATCH_ALERTS_INDEX": alert_settings.alerts_index,
        "WIREWATCH_CLAIMS_INDEX": alert_settings.claims_index,
        "WIREWATCH_INDEX_ALIAS": alert_settings.index_alias,
        "WIREWATCH_HOME": str(tmp_path / "home"),
        "WIREWATCH_WORKER_WEB_PORT": str(port),
        "WIREWATCH_ALERT_WEBHOOK_ATTEMPTS": "2",
        "WIREWATCH_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",  # the receiver is on loopback
        "WIREWATCH_ALERT_WEBHOOK_TIMEOUT_S": "2",
        "HOOK_SECRET": "s3cret",
        **(extra_env or {}),
    }
    (tmp_path / "home" / "worker").mkdir(parents=True)  # faust creates only the last level
    return Worker(env, f"http://127.0.0.1:{port}", tmp_path / "worker.log", script=script)
