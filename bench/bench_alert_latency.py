"""Time from an item appearing in a served feed to its alert arriving at a webhook.

    .venv/bin/python bench/bench_alert_latency.py [--items 20] [--every 4]

Real processes end to end: a feed and its article pages served on loopback, ``wirewatch
poll`` (polling every 1-2 s), ``wirewatch worker`` (dedup, enrichment, alerting,
indexing) and a webhook receiver on loopback, between a real Kafka broker and
Elasticsearch node (WIREWATCH_KAFKA_BOOTSTRAP and WIREWATCH_ES_URL when both are set, else
a local stack started in a temporary directory and stopped afterwards).

An item is added to the feed every ``--every`` seconds: a distinct PolNeAR article (from
../shared, read at run time) opened by a sentence naming Vladimir Putin and Kursk, so each
is its own story and matches the rule ``actor:Putin AND kursk``.

- feed -> alert: from the first time the feed server *served* a feed containing the item
  (so the wait for the next poll is not counted) to the webhook's arrival;
- baseline, same run: enriched -> alert, an EnrichedArticle produced straight to the
  enriched topic (the alert stage alone: evaluate, once-per-cluster, deliver);
the ratio shows what polling, fetching, dedup and enrichment add.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import yaml
from elasticsearch import Elasticsearch

from pipeline.adapters.kafka import ensure_topics, make_producer
from pipeline.alerts.rules import RuleStore
from pipeline.evaluation import shared_dir
from pipeline.index import samples
from pipeline.index.setup import install
from pipeline.records import AlertRule, Delivery
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_ENRICHED, qualified


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # not answerable yet (a server starting)
            pass
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_stack() -> tuple[object | None, str, str]:
    """The servers from the environment, else a local stack in a temporary directory."""
    if os.environ.get("WIREWATCH_KAFKA_BOOTSTRAP") and os.environ.get("WIREWATCH_ES_URL"):
        return None, os.environ["WIREWATCH_KAFKA_BOOTSTRAP"], os.environ["WIREWATCH_ES_URL"]
    from pipeline.index.templates import hunspell_dictionaries
    from pipeline.stack import scratch_stack

    base = Settings()
    state = Path(tempfile.mkdtemp(prefix="wirewatch-bench-"))
    state.chmod(0o755)  # Elasticsearch runs as another user
    stack = scratch_stack(state, base, hunspell=hunspell_dictionaries())
    print("starting a local Kafka broker and Elasticsearch node ...", flush=True)
    stack.up()
    stack.state_dir_for_cleanup = state  # type: ignore[attr-defined]
    return stack, stack.kafka_bootstrap, stack.es_url


class Site:
    """The served feed and pages, and when each item was first served in the feed."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []  # (slug, title, body)
        self.first_served: dict[str, float] = {}
        self.lock = threading.Lock()

    def rss(self, base: str) -> bytes:
        now = format_datetime(datetime.now(UTC))
        with self.lock:
            entries = "".join(
                f"<item><title>{title}</title><link>{base}/a/{slug}.html</link>"
                f"<guid>{base}/a/{slug}.html</guid><pubDate>{now}</pubDate></item>"
                for slug, title, _ in reversed(self.items)
            )
            served = time.perf_counter()
            for slug, _, _ in self.items:
                self.first_served.setdefault(slug, served)
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Bench wire</title>'
            f"<link>{base}/</link><description>bench</description>{entries}</channel></rss>"
        ).encode()

    def page(self, slug: str) -> bytes | None:
        with self.lock:
            found = next((i for i in self.items if i[0] == slug), None)
        if found is None:
            return None
        _, title, body = found
        paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n") if p.strip())
        return (
            f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"{paragraphs}</article></body></html>"
        ).encode()


def serve(site: Site) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path.startswith("/feed"):
                body, kind = site.rss(base), "application/rss+xml"
            elif self.path.startswith("/a/"):
                body, kind = site.page(self.path[3:].removesuffix(".html")), "text/html"
            else:
                body, kind = None, ""
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Receiver:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}  # alert url or title -> arrival

    def start(self) -> tuple[ThreadingHTTPServer, str]:
        import json

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                alert = json.loads(body)["alert"]
                receiver.arrived.setdefault(alert["url"], time.perf_counter())
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def texts(n: int) -> list[tuple[str, str]]:
    dev = shared_dir() / "data" / "polnear" / "dev" / "text"
    paths = sorted(dev.glob("*.txt"))
    if len(paths) < n:
        sys.exit(f"need {n} PolNeAR dev texts under {dev} (set WIREWATCH_SHARED)")
    out = []
    for path in paths[:n]:
        title, _, body = path.read_text(encoding="utf-8", errors="replace").partition("\n")
        out.append((title.strip(), body.strip()))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--every", type=float, default=4.0, help="seconds between new items")
    args = parser.parse_args()

    stack, bootstrap, es_url = start_stack()
    run = uuid.uuid4().hex[:6]
    from pipeline.stack.process import free_port

    home = Path(tempfile.mkdtemp(prefix="wirewatch-bench-home-"))
    (home / "worker").mkdir()
    settings = Settings(
        kafka_bootstrap=bootstrap,
        es_url=es_url,
        topic_prefix=f"bench{run}.",
        index_alias=f"bench{run}-articles",
        stories_index=f"bench{run}-stories",
        events_index=f"bench{run}-events",
        alerts_index=f"bench{run}-alerts",
        home=home,
        worker_web_port=free_port(),
        poller_port=free_port(),
    )
    site = Site()
    feed_server, base = serve(site)
    receiver = Receiver()
    hook_server, hook = receiver.start()
    (home / "feeds.yaml").write_text(
        yaml.safe_dump({"feeds": [{"url": f"{base}/feed.xml", "name": "Bench", "language": "en"}]})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    for name in (
        "kafka_bootstrap", "es_url", "topic_prefix", "index_alias", "stories_index", "events_index",
        "alerts_index", "home", "worker_web_port", "poller_port",
    ):  # fmt: skip
        env[f"WIREWATCH_{name.upper()}"] = str(getattr(settings, name))
    env.update(
        WIREWATCH_FEEDS_FILE=str(home / "feeds.yaml"),
        WIREWATCH_FETCH_ALLOW_NETWORKS="127.0.0.0/8",
        WIREWATCH_WEBHOOK_ALLOW_NETWORKS="127.0.0.0/8",
        WIREWATCH_RESPECT_ROBOTS="false",
        WIREWATCH_POLL_MIN_INTERVAL_S="1",
        WIREWATCH_POLL_MAX_INTERVAL_S="2",
    )
    wirewatch = str(Path(sys.executable).with_name("wirewatch"))
    es = Elasticsearch(es_url, request_timeout=60)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ensure_topics(settings)
        install(es, settings)
        RuleStore(settings).add(
            AlertRule(
                id="putin-kursk",
                name="Putin in Kursk",
                query="actor:Putin AND kursk",
                deliver=[Delivery(type="webhook", url=hook)],
            )
        )
        for cmd, log in ((["worker", "--loglevel", "warning"], "worker"), (["poll"], "poll")):
            processes.append(
                subprocess.Popen(
                    [wirewatch, *cmd],
                    env=env,
                    stdout=(home / f"{log}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        ready = f"http://127.0.0.1:{settings.worker_web_port}/readyz"
        wait_for(lambda: httpx.get(ready, timeout=2).status_code == 200, 300, "worker ready")

        # baseline: the alert stage alone, enriched record -> webhook; also warms the worker
        producer = make_producer(settings)
        topic = qualified(ARTICLES_ENRICHED, settings.topic_prefix)
        base_latency: list[float] = []
        for i in range(args.items):
            record = samples.enriched(1000 + i, title=f"Putin in Kursk, baseline {i}")
            sent = time.perf_counter()
            producer.send(topic, key=record.article.id.encode(), value=record.to_json())
            producer.flush()
            wait_for(lambda url=record.article.url: url in receiver.arrived, 60, "baseline alert")
            base_latency.append(receiver.arrived[record.article.url] - sent)

        print(f"feed items: {args.items}, one every {args.every}s ...", flush=True)
        slugs = []
        for i, (title, body) in enumerate(texts(args.items)):
            slug = f"item-{i}"
            opening = f"Vladimir Putin visited troops in Kursk on Wednesday, report {i} says."
            with site.lock:
                site.items.append((slug, f"{title} ({i})", f"{opening}\n{body}"))
            slugs.append(slug)
            time.sleep(args.every)  # pacing the *source*; measurement is by timestamps
        url = f"{base}/a/{{}}.html"
        wait_for(lambda: all(url.format(s) in receiver.arrived for s in slugs), 600, "all alerts")
        latency = [receiver.arrived[url.format(s)] - site.first_served[s] for s in slugs]

        p50, p95 = statistics.median(latency), pct(latency, 0.95)
        b50, b95 = statistics.median(base_latency), pct(base_latency, 0.95)
        print(f"\nmachine: {os.cpu_count()} cores (shared)")
        print(f"{'':28}{'p50 s':>8}{'p95 s':>8}")
        print(f"{'feed -> alert (no poll wait)':28}{p50:>8.2f}{p95:>8.2f}")
        print(f"{'baseline enriched -> alert':28}{b50:>8.2f}{b95:>8.2f}")
        print(f"{'ratio':28}{p50 / b50:>8.1f}{p95 / b95:>8.1f}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        feed_server.shutdown()
        hook_server.shutdown()
        es.close()
        if stack is not None:
            stack.down()  # type: ignore[attr-defined]
            shutil.rmtree(stack.state_dir_for_cleanup or "", ignore_errors=True)  # type: ignore[attr-defined]
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
