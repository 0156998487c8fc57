"""The fault soak: ``wirewatch run`` over loopback news feeds, with an alert rule and a signed
webhook receiver, while the worker, the poller, Elasticsearch and Kafka are taken down.

Shared by ``tests/integration/faults/test_soak.py`` (CI-sized) and ``bench/soak.py``
(a chosen duration). Everything is real: the ``run`` command with its supervised worker and
poller, the broker and node of a ``LocalStack``, HTTP feeds and pages served from loopback
(the fetcher may reach loopback because the run sets ``WIREWATCH_FETCH_ALLOW_NETWORKS``).

The site reveals stories in waves, so each fault meets a backlog. Afterwards the result is
judged by what the pipeline left behind: ``wirewatch audit`` (nothing lost or duplicated),
the index's story membership and canonical copies against the dedup logic run in one piece
over the raw topic's own order (the fault-free result for the same input), one alert per
rule per matching story cluster, and a received webhook for each alert. A story whose
cluster id (its first-seen copy) differs from that run was deduplicated in another order;
that is allowed (the canonical may not depend on it) and reported with the records' history.
"""

from __future__ import annotations

import csv
import html
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import Elasticsearch
from helpers import wait_until
from run_support import Run, audit, run_env

from pipeline.adapters.audit_reader import read_topic
from pipeline.alerts.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from pipeline.audit import AuditReport
from pipeline.records import Article
from pipeline.settings import Settings
from pipeline.stack import LocalStack
from pipeline.topics import ARTICLES_DEDUPED, ARTICLES_RAW, qualified

MARKER = "Zeppelinfeld"  # the alert rule's word; only marked stories carry it
RULE_NAME = "Zeppelinfeld watch"
SECRET = "soak-webhook-secret"
IDEMPOTENCY_HEADER = "Idempotency-Key"
BOILERPLATE = (
    "Sign up for our newsletter to get the day's top stories in your inbox. "
    "All rights reserved. This material may not be published, broadcast or redistributed."
)


def shared_dir() -> Path:
    repo = Path(__file__).resolve().parents[3]
    return Path(os.environ.get("WIREWATCH_SHARED", repo.parent / "shared"))


# --- the site ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    outlet: int  # which feed carries it
    slug: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    marked: bool  # carries MARKER (its copies do too)


def _short(text: str, words: int = 120) -> list[str]:
    body = text.split("\n", 1)[1] if "\n" in text else text
    out: list[str] = []
    count = 0
    for para in body.split("\n"):
        if para.strip():
            out.append(para.strip())
            count += len(para.split())
            if count >= words:
                break
    return out


def build_stories(bases: int, copies: int, outlets: int, marker_every: int = 4) -> list[Story]:
    """``bases`` PolNeAR stories, then ``copies`` copies of them on other outlets (same
    text, added boilerplate, or the last fifth trimmed), interleaved in release order."""
    root = shared_dir() / "data" / "polnear"
    if not root.exists():
        raise AssertionError(f"PolNeAR not found at {root}: set WIREWATCH_SHARED")
    rows = list(csv.DictReader((root / "metadata.tsv").open(), delimiter="\t"))
    rows = [r for r in rows if (root / r["compartment"] / "text" / f"{r['filename']}.txt").exists()]
    rows = sorted(rows, key=lambda r: r["filename"])[:bases]
    t0 = datetime.now(UTC) - timedelta(hours=2)
    originals: list[Story] = []
    for i, row in enumerate(rows):
        paras = _short((root / row["compartment"] / "text" / f"{row['filename']}.txt").read_text())
        marked = i % marker_every == 0
        if marked:  # early, so trimmed copies keep it
            paras = [f"Observers at the {MARKER} talks followed it closely. {paras[0]}", *paras[1:]]
        originals.append(
            Story(i % outlets, row["filename"], row["title"], tuple(paras), t0, marked)
        )
    stories: list[Story] = []
    made = 0
    for i, base in enumerate(originals):
        stories.append(base)
        # copies follow their original within the same wave, as syndication does
        while made < copies and made * len(originals) < copies * (i + 1):
            kind = made % 3
            paras = list(base.paragraphs)
            if kind == 1:
                paras.append(BOILERPLATE)
            elif kind == 2:
                paras = paras[: max(1, int(len(paras) * 0.8))]
            stories.append(
                Story(
                    (base.outlet + 1 + made % (outlets - 1)) % outlets,
                    f"{base.slug}-copy{made}",
                    f"{base.title} (updated)",
                    tuple(paras),
                    t0 + timedelta(minutes=made + 1),
                    base.marked,
                )
            )
            made += 1
    return stories


class Site:
    """Loopback feeds (RSS, one per outlet) and article pages; ``release`` reveals more."""

    def __init__(self, stories: list[Story], outlets: int, page_delay_s: float = 0.2) -> None:
        self.stories = stories
        self.outlets = outlets
        self.page_delay_s = page_delay_s
        self.revealed = 0
        self.page_hits: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def release(self, count: int) -> list[Story]:
        with self.lock:
            start = self.revealed
            self.revealed = min(len(self.stories), start + count)
            return self.stories[start : self.revealed]

    def pages_fetched(self, stories: list[Story]) -> int:
        with self.lock:
            return sum(1 for s in stories if self.page_hits.get(s.slug))

    def feeds_file(self, path: Path) -> Path:
        feeds = [
            {"url": f"{self.base}/feed/{n}.xml", "name": f"Soak Outlet {n}", "language": "en"}
            for n in range(self.outlets)
        ]
        path.write_text(yaml.safe_dump({"feeds": feeds}, sort_keys=False))
        return path

    def url(self, story: Story) -> str:
        return f"{self.base}/o{story.outlet}/{story.slug}.html"

    def _feed(self, outlet: int) -> bytes:
        with self.lock:
            items = [s for s in self.stories[: self.revealed] if s.outlet == outlet]
        body = "".join(
            f"<item><title>{html.escape(s.title)}</title><link>{self.url(s)}</link>"
            f"<guid>{self.url(s)}</guid><pubDate>{format_datetime(s.published)}</pubDate>"
            f"<description>{html.escape(s.paragraphs[0][:200])}</description></item>"
            for s in reversed(items)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Soak Outlet {outlet}</title><link>{self.base}/o{outlet}/</link>"
            f"<description>soak</description>{body}</channel></rss>"
        ).encode()

    def _page(self, slug: str) -> bytes | None:
        story = next((s for s in self.stories if s.slug == slug), None)
        if story is None:
            return None
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in story.paragraphs)
        return (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(story.title)}</title>"
            f'<meta property="og:site_name" content="Soak Outlet {story.outlet}"></head>'
            f"<body><main><article><h1>{html.escape(story.title)}</h1>{paras}"
            f"</article></main></body></html>"
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                body: bytes | None = None
                kind = "text/html"
                if path.startswith("/feed/") and path.endswith(".xml"):
                    body = site._feed(int(path[6:-4]))
                    kind = "application/rss+xml"
                elif path.endswith(".html") and path.count("/") == 2:
                    slug = path.rsplit("/", 1)[1][:-5]
                    time.sleep(site.page_delay_s)  # a slow site: fetches are in flight
                    body = site._page(slug)
                    if body is not None:
                        with site.lock:
                            site.page_hits[slug] += 1
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", f"{kind}; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the poller was killed mid-fetch: that is the point

        return Handler


# --- the webhook receiver --------------------------------------------------------------------


@dataclass
class Receiver:
    """Verifies each signed POST, records it, answers 204 after ``delay_s`` (so deliveries
    are in flight when the worker is killed)."""

    delay_s: float = 1.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                good = verify(
                    SECRET.encode(),
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
                with receiver.lock:
                    if not good:
                        receiver.bad_signatures += 1
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                time.sleep(receiver.delay_s)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def by_alert(self) -> dict[str, list[dict[str, str]]]:
        """alert id -> headers of every POST received for it."""
        out: dict[str, list[dict[str, str]]] = defaultdict(list)
        with self.lock:
            for request in self.requests:
                alert = json.loads(request["body"])["alert"]
                out[alert["id"]].append(request["headers"])
        return out


# --- the soak ----------------------------------------------------------------------------------


@dataclass
class Figures:
    articles: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    resent: int = 0
    wrong_canonical: int = 0  # articles whose indexed canonical differs from the one-piece run
    canonical_flags_wrong: int = 0  # stories without exactly one is_canonical copy, the right one
    wrong_members: int = 0  # articles whose story holds other articles than in that run
    order_differs: int = 0  # stories first seen through another copy than in that run
    clusters: int = 0
    alerts_expected: int = 0
    alerts_indexed: int = 0
    alert_duplicates: int = 0
    webhooks_missing: int = 0
    webhook_posts: int = 0
    webhook_repeats_without_key: int = 0
    wrong_examples: list[str] = field(default_factory=list)
    order_examples: list[str] = field(default_factory=list)
    restart_to_processing_s: list[float] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        restarts = ", ".join(f"{s:.1f}" for s in self.restart_to_processing_s) or "-"
        return [
            f"faults           {', '.join(self.faults)}",
            f"articles         {self.articles} ({self.resent} re-sent raw records)",
            f"lost             {self.lost}",
            f"duplicated       {self.duplicated}",
            f"dead-lettered    {self.dead_lettered}",
            f"wrong members    {self.wrong_members} articles in a story with other members"
            " than the one-piece run",
            f"wrong canonical  {self.wrong_canonical} articles name another canonical copy,"
            f" {self.canonical_flags_wrong} of {self.clusters} stories without exactly one"
            " is_canonical copy"
            + (f" ({'; '.join(self.wrong_examples[:5])})" if self.wrong_examples else ""),
            f"order differs    {self.order_differs} stories first seen through another copy"
            " than in the raw topic's order (allowed; history below)",
            *self.order_examples[:5],
            f"alerts           {self.alerts_indexed} indexed of {self.alerts_expected} expected"
            f" ({self.alert_duplicates} duplicate)",
            f"webhooks         {self.webhook_posts} posts, {self.webhooks_missing} alerts never"
            f" delivered, {self.webhook_repeats_without_key} repeats without one key",
            f"worker restart -> processing (s)  {restarts}",
            f"took             {self.seconds:.0f}s",
        ]


class Soak:
    """One soak on ``stack``: start ``run``, feed waves, inject faults, judge."""

    def __init__(
        self,
        stack: LocalStack,
        settings: Settings,
        workdir: Path,
        *,
        bases: int = 48,
        copies: int = 36,
        outlets: int = 8,
        es_outage_s: float = 30.0,
        say: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.stack = stack
        self.settings = settings
        self.workdir = workdir
        self.es_outage_s = es_outage_s
        self.say = say
        self.stories = build_stories(bases, copies, outlets)
        self.site = Site(self.stories, outlets)
        self.receiver = Receiver()
        self.receiver.start()
        self.es = Elasticsearch(settings.es_url, request_timeout=30)
        self.figures = Figures()
        self.env = run_env(
            settings,
            WIREWATCH_FETCH_ALLOW_NETWORKS="127.0.0.0/8",
            WIREWATCH_WEBHOOK_ALLOW_NETWORKS="127.0.0.0/8",
            WIREWATCH_POLL_MIN_INTERVAL_S="1",
            WIREWATCH_POLL_MAX_INTERVAL_S="2",
            WIREWATCH_POLL_PER_HOST_SPACING_S="0.05",
            WIREWATCH_POLL_PER_HOST_CONCURRENCY="2",
            WIREWATCH_RESPECT_ROBOTS="false",
            WIREWATCH_ALERT_WEBHOOK_TIMEOUT_S="5",
            # small batches: the index count moves in steps, so a kill meets work in flight
            WIREWATCH_ENRICH_BATCH_SIZE="4",
            WIREWATCH_ES_BULK_MAX_DOCS="8",
            SOAK_HOOK_SECRET=SECRET,
        )
        self.run: Run | None = None
        self.expected_alert_clusters: set[str] = set()
        self.started = time.monotonic()

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        if self.run is not None:
            self.run.stop()
        self.site.close()
        self.receiver.close()
        self.es.close()

    def diagnostics(self, lines: int = 40) -> str:
        """The ends of run's output and of the children's logs, for a failure message."""
        parts = [f"indexed {self.indexed_or_none()}, receiver {len(self.receiver.requests)} posts"]
        files = [self.workdir / "run.out", *sorted((self.settings.home / "logs").glob("*.log"))]
        for path in files:
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def indexed_or_none(self) -> int | None:
        try:
            return self.indexed()
        except Exception:
            return None

    def wirewatch(self, *args: str) -> str:
        import subprocess
        import sys

        result = subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"wirewatch {args}: {result.stderr[-2000:]}"
        return result.stdout

    def start(self) -> None:
        self.wirewatch("setup")
        self.wirewatch(
            "alerts",
            "add",
            RULE_NAME,
            MARKER,
            "--webhook",
            self.receiver.url,
            "--secret-env",
            "SOAK_HOOK_SECRET",
        )
        feeds = self.site.feeds_file(self.workdir / "feeds.yaml")
        # WIREWATCH_TEST_LOGLEVEL=debug to read a failure (the log assertions then fail)
        level = os.environ.get("WIREWATCH_TEST_LOGLEVEL", "warning")
        self.run = Run(
            self.env, self.workdir / "run.out", "--feeds", str(feeds), "--worker-loglevel", level
        )
        self.run.wait_for("worker and poller started", timeout=180)

    # --- observations ------------------------------------------------------------------------

    def indexed(self) -> int:
        self.es.indices.refresh(index=self.settings.index_alias)
        return int(self.es.count(index=self.settings.index_alias)["count"])

    def wave(self, count: int) -> list[Story]:
        stories = self.site.release(count)
        self.say(f"released {len(stories)} stories ({self.site.revealed} of {len(self.stories)})")
        return stories

    def wait_polled(self, stories: list[Story], timeout: float = 300) -> None:
        wait_until(
            lambda: self.site.pages_fetched(stories) == len(stories),
            timeout=timeout,
            interval=0.5,
            message=f"{len(stories)} pages fetched",
        )

    # --- faults ------------------------------------------------------------------------

    def backlog(self) -> int:
        """Stories whose page was fetched but that are not indexed yet (roughly)."""
        return self.site.pages_fetched(self.stories[: self.site.revealed]) - self.indexed()

    def backlog_in_flight(self) -> bool:
        """The worker has indexed some and has more to do. On an idle machine it may drain
        a wave between two looks: then more stories are released, until a look meets work
        in flight (the later waves shrink by as much)."""
        indexed, backlog = self.indexed(), self.backlog()
        if indexed >= 1 and backlog >= 2:
            return True
        if indexed >= 1 and backlog <= 0:
            self.wave(4)
        return False

    def kill_worker(self, when: Callable[[], bool], label: str, timeout: float = 600) -> None:
        assert self.run is not None
        wait_until(when, timeout=timeout, interval=0.2, message=f"moment to kill: {label}")
        restarts = self.run.text().count("worker restarted")
        self.run.kill_child("worker")
        self.figures.faults.append(f"kill -9 worker ({label})")
        self.say(f"kill -9 worker: {label}, backlog {self.backlog()}")
        self.run.wait_for("worker restarted", timeout=60, count=restarts + 1)
        restarted = time.monotonic()
        before = self.indexed()
        if self.backlog() <= 0:
            return  # nothing left to process: no restart-to-processing figure this time
        wait_until(
            lambda: self.indexed() > before,
            timeout=600,
            interval=0.5,
            message="the restarted worker indexes again",
        )
        self.figures.restart_to_processing_s.append(time.monotonic() - restarted)
        self.say(f"worker processing {self.figures.restart_to_processing_s[-1]:.1f}s after restart")

    def kill_poller_while_fetching(self, stories: list[Story]) -> None:
        assert self.run is not None
        wait_until(
            lambda: 0 < self.site.pages_fetched(stories) < len(stories),
            timeout=300,
            interval=0.05,
            message="poller fetching pages",
        )
        self.run.kill_child("poller")
        self.figures.faults.append("kill -9 poller (fetching pages)")
        self.say(f"kill -9 poller after {self.site.pages_fetched(stories)} of {len(stories)}")
        self.run.wait_for("poller restarted", timeout=60, count=1)

    def stop_elasticsearch(self) -> None:
        self.stack.stop_elasticsearch()
        self.figures.faults.append(f"Elasticsearch stopped {self.es_outage_s:.0f}s")
        self.say("Elasticsearch stopped")
        assert self.run is not None
        deadline = time.monotonic() + self.es_outage_s
        wait_until(
            lambda: time.monotonic() >= deadline,
            timeout=self.es_outage_s + 5,
            interval=0.5,
            message="outage held",
        )
        assert self.run.proc.poll() is None, "run must ride out the outage"
        self.stack.start_elasticsearch()
        self.say("Elasticsearch back")

    def restart_kafka(self) -> None:
        self.stack.stop_kafka()
        self.figures.faults.append("Kafka restart")
        self.say("Kafka stopped")
        self.stack.start_kafka()
        self.say("Kafka back")

    # --- the sequence ------------------------------------------------------------------

    def faults(self) -> None:
        """Every fault once, each with a backlog; the stories run out as the faults do."""
        per_wave = max(1, len(self.stories) // 5)
        first = self.wave(per_wave)
        self.kill_worker(self.backlog_in_flight, "backlog in flight")
        self.wait_polled(first)
        self.wave(per_wave)
        self.kill_worker(lambda: len(self.receiver.requests) >= 1, "alerts pending")
        third = self.wave(per_wave)
        self.kill_poller_while_fetching(third)
        self.wait_polled(third)
        fourth = self.wave(per_wave)
        self.wait_polled(fourth)
        self.stop_elasticsearch()
        fifth = self.wave(len(self.stories))
        self.wait_polled(fifth[: max(1, len(fifth) // 3)])
        self.restart_kafka()
        self.wait_polled(fifth)

    # --- judging ---------------------------------------------------------------------

    def settle(self, timeout: float = 900) -> AuditReport:
        """Wait until every story was polled and nothing is pending; return the audit."""
        urls = {self.site.url(s) for s in self.stories}

        def settled() -> AuditReport | None:
            report = audit(self.settings, self.es)
            if report.pending or report.articles < len(urls):
                return None
            return report

        return wait_until(settled, timeout=timeout, interval=3, message="nothing pending")

    def raw_records(self) -> list[tuple[int, Article]]:
        """Every raw record in the topic's own order, with its offset."""
        topic = qualified(ARTICLES_RAW, self.settings.topic_prefix)
        return [
            (record.offset, Article.from_json(record.value))
            for record in read_topic(self.settings, topic)
            if record.value
        ]

    def judge(self, report: AuditReport) -> Figures:
        f = self.figures
        f.articles, f.resent = report.articles, report.resent
        f.lost, f.duplicated = len(report.lost), len(report.duplicated)
        f.dead_lettered = len(report.dead_lettered)
        # The dedup logic in one piece over the same input, first record of each id in the
        # raw topic's order: the fault-free result. Replays at the end give each article
        # its story's final view (its canonical after every copy was seen).
        from pipeline.dedup import Deduplicator

        raw = self.raw_records()
        firsts: dict[str, Article] = {}
        for _, article in raw:
            firsts.setdefault(article.id, article)
        articles = list(firsts.values())
        dedup = Deduplicator({})
        expected = {a.id: dedup.assign(a).cluster_id for a in articles}
        canonical = {a.id: dedup.assign(a).canonical_id for a in articles}
        got = self._indexed_stories()
        f.clusters = len(set(expected.values()))

        # Membership: which articles share a story, whatever its ids.
        def members(assigned: dict[str, str | None]) -> dict[str, frozenset[str]]:
            groups: dict[str | None, set[str]] = defaultdict(set)
            for aid, cid in assigned.items():
                groups[cid].add(aid)
            return {aid: frozenset(groups[cid]) for aid, cid in assigned.items()}

        want = members(dict(expected))
        have = members({aid: got[aid][0] if aid in got else None for aid in expected})
        f.wrong_members = sum(1 for aid in expected if want[aid] != have[aid])
        # Canonical: the same copy as the fault-free run, named by every copy, flagged once.
        wrong = [aid for aid in expected if aid not in got or got[aid][1] != canonical[aid]]
        f.wrong_canonical = len(wrong)
        f.wrong_examples = [
            f"{aid[:12]} names {got[aid][1][:12] if aid in got else None},"
            f" expected {canonical[aid][:12]}"
            for aid in wrong
        ]
        flagged: dict[str, list[str]] = defaultdict(list)
        for aid, (_, _, is_canonical) in got.items():
            if is_canonical:
                flagged[canonical.get(aid, aid)].append(aid)
        f.canonical_flags_wrong = sum(
            1 for c in set(canonical.values()) if flagged.get(c, []) != [c]
        )
        # Arrival order: a story's id is its first-seen copy; where that differs from the
        # raw topic's order, show each copy's raw offsets and what dedup emitted for it.
        differs = {
            expected[aid]: got[aid][0]
            for aid in expected
            if aid in got and got[aid][0] != expected[aid]
        }
        f.order_differs = len(differs)
        if differs:
            f.order_examples = self._order_history(raw, want, differs)
        # alerts: one per matching story cluster, as the pipeline named the clusters
        marked = {aid for aid in expected if self._marked(firsts[aid])}
        expected_alert_clusters = {got[aid][0] for aid in marked if aid in got}
        self.expected_alert_clusters = expected_alert_clusters
        alerts = self._alerts()
        per_cluster: dict[str, int] = defaultdict(int)
        for alert in alerts:
            per_cluster[alert["cluster_id"]] += 1
        f.alerts_expected = len(expected_alert_clusters)
        f.alerts_indexed = len(set(per_cluster) & expected_alert_clusters)
        f.alert_duplicates = sum(n - 1 for n in per_cluster.values()) + len(
            set(per_cluster) - expected_alert_clusters
        )
        # webhooks: each alert delivered at least once; repeats carry one idempotency key
        posts = self.receiver.by_alert()
        f.webhook_posts = sum(len(v) for v in posts.values())
        f.webhooks_missing = sum(1 for a in alerts if a["id"] not in posts)
        for headers in posts.values():
            keys = {h.get(IDEMPOTENCY_HEADER) for h in headers}
            if len(headers) > 1 and (len(keys) != 1 or None in keys):
                f.webhook_repeats_without_key += 1
        f.seconds = time.monotonic() - self.started
        return f

    def _order_history(
        self,
        raw: list[tuple[int, Article]],
        members: dict[str, frozenset[str]],
        differs: dict[str, str],
    ) -> list[str]:
        """For each story seen in another order: per copy, its raw offsets and the
        (match, size, cluster) of each record the dedup stage emitted for it."""
        offsets: dict[str, list[int]] = defaultdict(list)
        for offset, article in raw:
            offsets[article.id].append(offset)
        emitted: dict[str, list[str]] = defaultdict(list)
        topic = qualified(ARTICLES_DEDUPED, self.settings.topic_prefix)
        for record in read_topic(self.settings, topic):
            story = json.loads(record.value or b"{}").get("story", {})
            emitted[record.key].append(
                f"{story.get('match')}/{story.get('size')}/{str(story.get('cluster_id'))[:8]}"
            )
        lines = []
        for raw_first, seen_first in list(differs.items())[:5]:
            copies = sorted(members[raw_first], key=lambda aid: offsets[aid][0])
            parts = [
                f"{aid[:8]} raw@{','.join(map(str, offsets[aid]))} -> {' '.join(emitted[aid])}"
                for aid in copies
            ]
            lines.append(
                f"  story raw-first {raw_first[:8]}, seen first {seen_first[:8]}: "
                + "; ".join(parts)
            )
        return lines

    def alerted_clusters(self) -> set[str]:
        """Story clusters the webhook receiver got an alert for."""
        with self.receiver.lock:
            bodies = [json.loads(r["body"])["alert"] for r in self.receiver.requests]
        return {alert["cluster_id"] for alert in bodies}

    def _marked(self, article: Article) -> bool:
        return MARKER in article.text or MARKER in article.title

    def _indexed_stories(self) -> dict[str, tuple[str, str, bool]]:
        """article id -> (cluster id, canonical id, is_canonical) as indexed."""
        self.es.indices.refresh(index=self.settings.index_alias)
        hits = self.es.search(
            index=self.settings.index_alias,
            size=10_000,
            source=["story.cluster_id", "story.canonical_id", "story.is_canonical"],
            query={"match_all": {}},
        )["hits"]["hits"]
        return {
            h["_id"]: (
                h["_source"]["story"]["cluster_id"],
                h["_source"]["story"]["canonical_id"],
                h["_source"]["story"]["is_canonical"],
            )
            for h in hits
        }

    def _alerts(self) -> list[dict[str, Any]]:
        index = self.settings.alerts_index
        if not self.es.indices.exists(index=index):
            return []
        self.es.indices.refresh(index=index)
        hits = self.es.search(index=index, size=10_000, query={"match_all": {}})["hits"]["hits"]
        return [h["_source"] for h in hits]


def iter_lines(figures: Figures) -> Iterator[str]:
    yield from figures.lines()
