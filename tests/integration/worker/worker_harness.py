"""Helpers for the worker integration tests: a ``wirewatch worker`` subprocess, the
articles the tests send, and what Elasticsearch holds afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from pipeline.records import Article
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[3]
WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))


class Worker:
    """One ``wirewatch worker`` process; start, kill -9, restart."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = int(env["WIREWATCH_WORKER_WEB_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [WIREWATCH, "worker", "--loglevel", os.environ.get("WIREWATCH_TEST_LOGLEVEL", "info")],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        if not self.alive():
            raise AssertionError(f"worker exited ({self.proc.returncode}):\n{self.tail()}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float, message: str = "worker ready") -> None:
        """Until /readyz answers 200; fails at once (with the log) if the worker exits."""
        from helpers import wait_until

        wait_until(lambda: not self.alive() or self.ready(), timeout=timeout, message=message)
        assert self.alive(), f"worker exited ({self.proc.returncode}):\n{self.tail()}"

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a counter's samples matching ``labels`` (0 when absent)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stream_counts(self) -> str:
        """The stage outcome counters, for a failure message (empty if it cannot answer)."""
        try:
            lines = self.metrics().splitlines()
        except httpx.HTTPError as exc:
            return f"(no metrics: {exc})"
        return "\n".join(x for x in lines if x.startswith("wirewatch_stream_records_total{"))

    def describe(self, lines: int = 80) -> str:
        return f"{self.log_path.name}:\n{self.stream_counts()}\n{self.tail(lines)}"

    def kill9(self) -> None:
        """SIGKILL the worker alone (its enrichment child notices and exits by itself)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def settings_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    for name in (
        "kafka_bootstrap",
        "es_url",
        "topic_prefix",
        "index_alias",
        "stories_index",
        "events_index",
        "alerts_index",
        "claims_index",
        "home",
        "worker_web_port",
    ):
        env[f"WIREWATCH_{name.upper()}"] = str(getattr(settings, name))
    env["WIREWATCH_ENRICH_PROCESSES"] = "1"
    return env


# --- the articles the fault tests send --------------------------------------------------

BOILERPLATE = (
    "\nSign up for our newsletter to get the day's top stories in your inbox."
    "\n© 2016 Example Media. All rights reserved. This material may not be published,"
    " broadcast, rewritten or redistributed."
)


def shared_dir() -> Path:
    return Path(os.environ.get("WIREWATCH_SHARED", REPO.parent / "shared"))


def _short(text: str, words: int = 140) -> str:
    """The headline line dropped and the body cut at a paragraph after ``words`` words:
    real text, but short enough that spaCy on two shared cores keeps the test brisk."""
    body = text.split("\n", 1)[1] if "\n" in text else text
    out: list[str] = []
    count = 0
    for para in body.split("\n"):
        if not para.strip():
            continue
        out.append(para)
        count += len(para.split())
        if count >= words:
            break
    return "\n".join(out)


def build_corpus(bases: int = 250, total: int = 1000) -> list[Article]:
    """``bases`` PolNeAR stories, then copies of them from other outlets until ``total``:
    headline-only changes, added boilerplate, trimmed endings, and plain re-sends."""
    import csv
    import hashlib
    from datetime import UTC, datetime, timedelta

    root = shared_dir() / "data" / "polnear"
    if not root.exists():
        pytest.fail(f"PolNeAR not found at {root}: set WIREWATCH_SHARED")
    rows = list(csv.DictReader((root / "metadata.tsv").open(), delimiter="\t"))
    rows = [r for r in rows if (root / r["compartment"] / "text" / f"{r['filename']}.txt").exists()]
    rows = sorted(rows, key=lambda r: r["filename"])[:bases]
    t0 = datetime.now(UTC)

    def article(url: str, title: str, text: str, outlet: str, i: int) -> Article:
        domain = url.split("/")[2]
        return Article(
            id=hashlib.sha1(url.encode()).hexdigest(),
            url=url,
            normalized_url=url,
            feed_url=f"https://{domain}/rss",
            outlet=outlet,
            domain=domain,
            title=title,
            text=text,
            fetched_at=t0 + timedelta(milliseconds=i),
        )

    originals: list[Article] = []
    for i, row in enumerate(rows):
        text = (root / row["compartment"] / "text" / f"{row['filename']}.txt").read_text()
        originals.append(
            article(
                f"https://{row['publisher']}.example/{row['filename']}",
                row["title"],
                _short(text),
                row["publisher"],
                i,
            )
        )
    out = list(originals)
    i = len(out)
    while len(out) < total:
        base = originals[i % len(originals)]
        kind = (i // len(originals)) % 4
        paras = base.text.split("\n")
        if kind == 3:  # a re-send of an article already sent
            out.append(base)
        else:
            text = {
                0: base.text,
                1: base.text + BOILERPLATE,
                2: "\n".join(paras[: max(1, int(len(paras) * 0.8))]),
            }[kind]
            outlet = f"copy{kind}"
            url = f"https://{outlet}.example/{base.id[:12]}"
            out.append(article(url, f"{base.title} (updated)", text, outlet, i))
        i += 1
    return out


def expected_clusters(articles: list[Article]) -> dict[str, str]:
    """article id -> cluster id, from the dedup logic run in-process over the same order."""
    from pipeline.dedup import Deduplicator

    dedup = Deduplicator({})
    return {a.id: dedup.assign(a).cluster_id for a in articles}


def expected_stories(articles: list[Article]) -> dict[str, tuple[frozenset[str], str]]:
    """article id -> (the ids of its story, the story's canonical id), from the dedup logic
    run in-process over the same input: what a fault-free run indexes, whatever order the
    copies are deduplicated in."""
    from pipeline.dedup import Deduplicator

    dedup = Deduplicator({})
    clusters = {a.id: dedup.assign(a).cluster_id for a in articles}
    canonical = {a.id: dedup.assign(a).canonical_id for a in articles}  # replays: final view
    return _stories(clusters, canonical)


def _stories(
    clusters: dict[str, str], canonical: dict[str, str]
) -> dict[str, tuple[frozenset[str], str]]:
    members: dict[str, set[str]] = {}
    for aid, cid in clusters.items():
        members.setdefault(cid, set()).add(aid)
    return {aid: (frozenset(members[cid]), canonical[aid]) for aid, cid in clusters.items()}


def indexed_stories(es: Elasticsearch, settings: Settings) -> dict[str, tuple[frozenset[str], str]]:
    """article id -> (the ids of its story, its canonical id) as the index holds them."""
    es.indices.refresh(index=settings.index_alias)
    resp = es.search(
        index=settings.index_alias,
        size=10_000,
        source=["story.cluster_id", "story.canonical_id"],
        query={"match_all": {}},
    )
    hits = resp["hits"]["hits"]
    clusters = {h["_id"]: h["_source"]["story"]["cluster_id"] for h in hits}
    canonical = {h["_id"]: h["_source"]["story"]["canonical_id"] for h in hits}
    return _stories(clusters, canonical)


def audit_now(settings: Settings, es: Elasticsearch):  # -> AuditReport
    """What ``wirewatch audit`` reports now (the same code, in-process)."""
    from pipeline.adapters.audit_reader import collect
    from pipeline.audit import reconcile
    from pipeline.worker.app import app_id

    return reconcile(collect(settings, es, app_id(settings)))


def audit_command(settings: Settings) -> tuple[int, dict]:
    """``wirewatch audit --json`` as an operator runs it: (exit status, report)."""
    import json

    result = subprocess.run(
        [WIREWATCH, "audit", "--json"],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError as exc:
        raise AssertionError(
            f"audit printed no report ({result.returncode}): {result.stderr[-2000:]}"
        ) from exc
    return result.returncode, report


def produce(settings: Settings, articles: list[Article]) -> None:
    from pipeline.adapters.kafka import make_producer
    from pipeline.topics import ARTICLES_RAW, qualified

    producer = make_producer(settings)
    try:
        topic = qualified(ARTICLES_RAW, settings.topic_prefix)
        for a in articles:
            producer.send(topic, key=a.id.encode(), value=a.to_json())
        producer.flush(timeout=60)
    finally:
        producer.close()


def indexed(es: Elasticsearch, settings: Settings) -> dict[str, str]:
    """article id -> story.cluster_id of every document in the articles alias."""
    es.indices.refresh(index=settings.index_alias)
    hits: dict[str, str] = {}
    resp = es.search(
        index=settings.index_alias,
        size=10_000,
        source=["story.cluster_id"],
        query={"match_all": {}},
    )
    for hit in resp["hits"]["hits"]:
        hits[hit["_id"]] = hit["_source"]["story"]["cluster_id"]
    return hits


def doc_count(es: Elasticsearch, settings: Settings) -> int:
    es.indices.refresh(index=settings.index_alias)
    return int(es.count(index=settings.index_alias)["count"])
