"""Prometheus metrics of the poller, and its /healthz, /readyz, /metrics HTTP endpoint."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal, get_args

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from pipeline.poll.readiness import Readiness

FeedPollOutcome = Literal["new", "no-new", "not-modified", "unchanged", "failed", "refused"]
ArticleOutcome = Literal["queued", "sent", "send-failed", "rejected"]

FEEDS = Counter(
    "wirewatch_poll_feeds_total",
    "Feed polls by outcome (new, no-new, not-modified, unchanged, failed, refused)",
    ["outcome"],
)
ARTICLES = Counter(
    "wirewatch_poll_articles_total",
    "Articles by outcome (queued, sent, send-failed, rejected)",
    ["outcome"],
)
# Every outcome exists from the start at 0: `increase(...{outcome="sent"}[3h]) == 0` (alert
# WirewatchNoNewArticles) must match a poller that never sent anything, and a series that
# was never created matches nothing.
for _outcome in get_args(FeedPollOutcome):
    FEEDS.labels(_outcome)
for _outcome in get_args(ArticleOutcome):
    ARTICLES.labels(_outcome)
TEXT_SOURCE = Counter(
    "wirewatch_poll_article_text_total", "Article text taken from the page or the feed", ["source"]
)
FETCH_SECONDS = Histogram("wirewatch_fetch_seconds", "Duration of feed and page fetches", ["kind"])
OUTBOX = Gauge("wirewatch_poll_outbox_pending", "Articles waiting for a Kafka acknowledgement")
PARKED = Gauge("wirewatch_poll_feeds_parked", "Feeds parked after repeated failures")


def serve_health(
    port: int, ready: Callable[[], Readiness], host: str = "127.0.0.1"
) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread; ``server.shutdown()`` stops it.

    Loopback by default (WIREWATCH_HEALTH_BIND_HOST): metrics are nobody else's business
    unless the operator opens them, as the Kubernetes manifests do with 0.0.0.0.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._answer(200, b"ok\n", "text/plain")
            elif self.path == "/readyz":
                try:
                    state = ready()
                except Exception as exc:  # readiness must answer, never raise
                    state = Readiness(False, f"readiness check failed: {exc}")
                body = (state.reason + "\n").encode()
                self._answer(200 if state.ready else 503, body, "text/plain")
            elif self.path == "/metrics":
                self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
            else:
                self._answer(404, b"not found\n", "text/plain")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes are noise
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="poller-health", daemon=True).start()
    return server
