"""End-to-end throughput and production-to-searchable latency of the worker.

    .venv/bin/python bench/bench_pipeline.py [--articles 600] [--latency-articles 120]
                                             [--rate R] [--processes 1]

A real ``wirewatch worker`` process (dedup, enrichment with spaCy in a child process,
indexing) between a real Kafka broker and Elasticsearch node: WIREWATCH_KAFKA_BOOTSTRAP and
WIREWATCH_ES_URL when both are set, else a local stack started in a temporary directory
and stopped afterwards. Input: PolNeAR articles (full text) and copies of them from other
outlets (about one in four), the mix the dedup stage sees.

- throughput: all articles produced at once; articles/s from the first send until every
  unique article is searchable. Baseline, same run, same articles: the same stages called
  in one process with no Kafka and no Faust (Deduplicator.assign, pipeline.enrich.enrich,
  elasticsearch.helpers.bulk), i.e. what the streaming machinery costs or gains.
- latency: articles produced one by one at ``--rate`` per second (default: half the
  measured throughput, so the figure is the pipeline's, not a queue's); p50/p95 from
  send to the first search that finds the document (searches every 100 ms, no forced
  refresh).
- sink vs plain bulk: see bench/bench_sink.py (same documents, same run, ratio).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from elasticsearch import Elasticsearch, helpers

from pipeline.adapters.kafka import ensure_topics, make_producer
from pipeline.index.documents import document_id, to_document
from pipeline.index.setup import install
from pipeline.records import Article
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_RAW, qualified

SHARED = Path(os.environ.get("WIREWATCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
BOILERPLATE = "\nSign up for our newsletter. © Example Media. All rights reserved."


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # not answerable yet (server starting)
            pass
        if time.monotonic() > deadline:
            sys.exit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def corpus(n: int, tag: str) -> list[Article]:
    files = sorted((SHARED / "data" / "polnear").glob("*/text/*.txt"))
    if not files:
        sys.exit(f"PolNeAR not found under {SHARED}")
    originals = max(1, int(n * 0.75))
    out: list[Article] = []

    def article(url: str, title: str, text: str, outlet: str) -> Article:
        return Article(
            id=hashlib.sha1(url.encode()).hexdigest(),
            url=url,
            normalized_url=url,
            feed_url=f"https://{outlet}.example/rss",
            domain=f"{outlet}.example",
            outlet=outlet,
            title=title,
            text=text,
            fetched_at=datetime.now(UTC),
        )

    for i in range(originals):
        path = files[i % len(files)]
        title, _, body = path.read_text().partition("\n")
        pub = path.name.split("_")[0]
        out.append(article(f"https://{pub}.example/{tag}/{i}", title, body, pub))
    i = 0
    while len(out) < n:
        base = out[i % originals]
        out.append(
            article(f"https://copy.example/{tag}/{i}", base.title, base.text + BOILERPLATE, "copy")
        )
        i += 1
    return out


def baseline(settings: Settings, es: Elasticsearch, articles: list[Article]) -> float:
    """The same stages in one process: dedup, enrich, bulk. Returns articles/s."""
    from pipeline.dedup import Deduplicator
    from pipeline.enrich import enrich
    from pipeline.enrich.annotate import Annotator
    from pipeline.records import DedupedArticle

    annotator = Annotator()  # loaded outside the timed region, like the worker's child
    alias = settings.index_alias
    dedup = Deduplicator({})
    started = time.perf_counter()
    for i in range(0, len(articles), 16):  # the worker's enrich batch size
        chunk = articles[i : i + 16]
        deduped = [DedupedArticle(article=a, story=dedup.assign(a)) for a in chunk]
        records = enrich(deduped, annotator)
        helpers.bulk(
            es,
            ({"_index": alias, "_id": document_id(r), "_source": to_document(r)} for r in records),
        )
    es.indices.refresh(index=alias)
    return len(articles) / (time.perf_counter() - started)


def start_stack(keep: bool) -> tuple[object | None, str, str]:
    if os.environ.get("WIREWATCH_KAFKA_BOOTSTRAP") and os.environ.get("WIREWATCH_ES_URL"):
        return None, os.environ["WIREWATCH_KAFKA_BOOTSTRAP"], os.environ["WIREWATCH_ES_URL"]
    from pipeline.index.templates import hunspell_dictionaries
    from pipeline.stack import scratch_stack

    base = Settings()
    state = Path(tempfile.mkdtemp(prefix="wirewatch-bench-"))
    state.chmod(0o755)
    stack = scratch_stack(state, base, hunspell=hunspell_dictionaries())
    print("starting a local Kafka broker and Elasticsearch node ...", flush=True)
    stack.up()
    stack.state_dir_for_cleanup = None if keep else state  # type: ignore[attr-defined]
    return stack, stack.kafka_bootstrap, stack.es_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--latency-articles", type=int, default=120)
    parser.add_argument(
        "--rate", type=float, help="latency phase, articles/s (default: half the throughput)"
    )
    parser.add_argument("--processes", type=int, default=1, help="enrichment child processes")
    args = parser.parse_args()

    stack, bootstrap, es_url = start_stack(keep=False)
    run = uuid.uuid4().hex[:6]
    from pipeline.stack.process import free_port

    home = Path(tempfile.mkdtemp(prefix="wirewatch-bench-home-"))
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
        enrich_processes=args.processes,
    )
    base_settings = settings.model_copy(
        update={"index_alias": f"bench{run}b-articles", "stories_index": f"bench{run}b-stories"}
    )
    es = Elasticsearch(es_url, request_timeout=60)
    worker: subprocess.Popen[bytes] | None = None
    try:
        ensure_topics(settings)
        install(es, settings)
        install(es, base_settings)
        articles = corpus(args.articles, "t")
        unique = len({a.id for a in articles})

        print(f"baseline: {len(articles)} articles in one process ...", flush=True)
        base_rate = baseline(base_settings, es, articles)

        env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
        for name in (
            "kafka_bootstrap", "es_url", "topic_prefix", "index_alias", "stories_index",
            "events_index",
            "alerts_index", "home", "worker_web_port", "enrich_processes",
        ):  # fmt: skip
            env[f"WIREWATCH_{name.upper()}"] = str(getattr(settings, name))
        env["WIREWATCH_WORKER_STAGES"] = "dedup,enrich,events,index"
        log = (home / "worker.log").open("wb")
        worker = subprocess.Popen(
            [str(Path(sys.executable).with_name("wirewatch")), "worker", "--loglevel", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        ready = f"http://127.0.0.1:{settings.worker_web_port}/readyz"
        wait_for(lambda: httpx.get(ready, timeout=2).status_code == 200, 300, "worker ready")
        producer = make_producer(settings)
        topic = qualified(ARTICLES_RAW, settings.topic_prefix)

        def count() -> int:
            return int(es.count(index=settings.index_alias)["count"])

        # warm-up: the enrichment child loads spaCy on its first batch
        warm = corpus(8, "w")
        for a in warm:
            producer.send(topic, key=a.id.encode(), value=a.to_json())
        producer.flush()
        wait_for(lambda: count() >= len(warm), 300, "warm-up indexed")
        done_before = count()

        print(f"pipeline: {len(articles)} articles through the worker ...", flush=True)
        started = time.perf_counter()
        for a in articles:
            producer.send(topic, key=a.id.encode(), value=a.to_json())
        producer.flush()
        wait_for(lambda: count() >= done_before + unique, 1800, "all articles searchable")
        pipe_rate = unique / (time.perf_counter() - started)

        rate = args.rate or round(pipe_rate / 2, 2)
        print(f"latency: {args.latency_articles} articles at {rate}/s ...", flush=True)
        lat_articles = corpus(args.latency_articles, "l")
        sent: dict[str, float] = {}
        latencies: list[float] = []
        interval = 1.0 / rate
        next_send = time.perf_counter()
        queue = list(lat_articles)
        deadline = time.perf_counter() + len(queue) * interval + 300
        while (queue or sent) and time.perf_counter() < deadline:
            now = time.perf_counter()
            if queue and now >= next_send:
                a = queue.pop(0)
                if a.id not in sent:
                    producer.send(topic, key=a.id.encode(), value=a.to_json())
                    producer.flush()
                    sent[a.id] = time.perf_counter()
                next_send += interval
            if sent:
                hits = es.search(
                    index=settings.index_alias,
                    query={"ids": {"values": list(sent)}},
                    source=False,
                    size=len(sent),
                )["hits"]["hits"]
                seen_at = time.perf_counter()
                for hit in hits:
                    latencies.append(seen_at - sent.pop(hit["_id"]))
            time.sleep(0.1)
        producer.close()
        latencies.sort()
        p50 = statistics.median(latencies)
        p95 = latencies[int(0.95 * (len(latencies) - 1))]

        print(f"\nmachine: {os.cpu_count()} cores (shared); enrichment processes: {args.processes}")
        print(f"articles: {len(articles)} ({unique} unique), PolNeAR full texts + copies")
        print("\nend-to-end throughput (dedup + enrichment + indexing)")
        print(f"  worker (Kafka + Faust)          {pipe_rate:7.2f} articles/s")
        print(
            f"  baseline: same stages in-process {base_rate:6.2f} articles/s   "
            f"ratio {pipe_rate / base_rate:5.2f}"
        )
        print(f"\nproduction -> searchable latency at {rate}/s ({len(latencies)} articles)")
        print(f"  p50 {p50 * 1000:7.0f} ms   p95 {p95 * 1000:7.0f} ms")
        if len(latencies) < len(lat_articles):
            print(f"  ({len(lat_articles) - len(latencies)} not searchable before the deadline)")
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
        es.close()
        shutil.rmtree(home, ignore_errors=True)
        if stack is not None:
            stack.down()  # type: ignore[attr-defined]
            state = getattr(stack, "state_dir_for_cleanup", None)
            if state:
                shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
