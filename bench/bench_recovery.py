"""Recovery time of each worker table at 100,000 entries, memory of the alert state at
100,000 (rule, story) pairs, and a worker's restart after kill -9, each beside a baseline
from the same run.

    .venv/bin/python bench/bench_recovery.py [--entries 100000] [--kills 3] [--only restart]

Real processes: each table's changelog topic is filled with ``--entries`` records of the
shape the worker writes (dedup entries with 128-value MinHash signatures; alert states
with the alert and its seen article ids), then ``wirewatch worker`` runs that table's
stage alone (WIREWATCH_WORKER_STAGES=dedup or alert) between a real Kafka broker and
Elasticsearch node (WIREWATCH_KAFKA_BOOTSTRAP and WIREWATCH_ES_URL when both are set, else
a local stack started in a temporary directory and stopped afterwards).

- recovery: from the worker's start to its first output record (a raw article deduped;
  a matching article's alert on the alerts topic), so the changelog read, Faust's apply
  and our rebuild (dedup indexes, alert eviction order) all count. Baselines, same run:
  the same stage started over an empty table (what a start costs anyway), and reading
  the same changelog records with a plain kafka-python consumer (the floor for reading
  them at all);
- memory of the alert state at 100,000 pairs (the table's bytes as the memory store
  holds them + the tracker's eviction order, tracemalloc) beside a Python set of the
  same (rule id, cluster id) pairs: the least any once-per-cluster memory could hold;
- restart after kill -9 (issue 11.7): ``wirewatch worker`` with every stage, its tables
  filled as in tests/integration/worker/test_restarts.py (a rule has fired), killed with -9
  ``--kills`` times; each time a new article is sent as the process is spawned again, and
  the figure is spawn -> that article in the index, with the worker's own start timeline
  (its "start:" log line: python and settings, enrichment processes spawned, app and
  stages, setup, Faust start, ready). Baselines, measured just before each restart: a bare
  process loading the spaCy model (what the first enriched record waits for, and the same
  code whatever the worker's start does: the ratio restart / model load compares runs on a
  machine whose load changes), and a bare Python importing the worker's modules.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests/integration/worker"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from pipeline.adapters.kafka import ensure_topics
from pipeline.alerts.engine import AlertTracker
from pipeline.alerts.rules import RuleStore
from pipeline.dedup import signature
from pipeline.index import samples
from pipeline.records import Alert, AlertRule, Article
from pipeline.settings import Settings
from pipeline.stack.process import free_port
from pipeline.topics import ALERT_MATCHES, ALERTS, ARTICLES_DEDUPED, ARTICLES_ENRICHED, ARTICLES_RAW
from pipeline.topics import qualified as q
from pipeline.worker.app import app_id
from pipeline.worker.tables import JSON_CODEC, JSON_KEYS, CodecTable

WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))


def start_stack() -> tuple[object | None, str, str]:
    """The servers from the environment, else a local stack in a temporary directory."""
    if os.environ.get("WIREWATCH_KAFKA_BOOTSTRAP") and os.environ.get("WIREWATCH_ES_URL"):
        return None, os.environ["WIREWATCH_KAFKA_BOOTSTRAP"], os.environ["WIREWATCH_ES_URL"]
    from pipeline.index.templates import hunspell_dictionaries
    from pipeline.stack import scratch_stack

    state = Path(tempfile.mkdtemp(prefix="wirewatch-bench-"))
    state.chmod(0o755)  # Elasticsearch runs as another user
    # the dictionaries the index templates need (the restart part runs the worker's setup)
    stack = scratch_stack(state, Settings(), hunspell=hunspell_dictionaries())
    print("starting a local Kafka broker and Elasticsearch node ...", flush=True)
    stack.up()
    stack.state_dir_for_cleanup = state  # type: ignore[attr-defined]
    return stack, stack.kafka_bootstrap, stack.es_url


def wait(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
            if result:
                return result
        except Exception:  # a server or topic not answerable yet
            pass
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- the records each table holds ---------------------------------------------------------


def dedup_entries(n: int, rng: random.Random) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        aid = f"{i:040x}"
        sig = np.array([rng.getrandbits(32) for _ in range(128)], dtype=np.uint32)
        entry = {
            "article_id": aid, "cluster_id": aid, "canonical_id": aid, "match": "new",
            "seen": 1.7e9 + i, "content": f"{rng.getrandbits(160):040x}",
            "url_keys": [f"https://outlet{i % 300}.example/{aid}"], "outlet": f"outlet{i % 300}",
            "similarity": None, "signature": signature.encode(sig),
        }  # fmt: skip
        out.append((JSON_KEYS.encode(aid), JSON_CODEC.encode(entry)))
    return out


def alert_states(n: int) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) as AlertTracker writes them, over n (rule, story) pairs."""
    raw: dict[bytes, bytes] = {}
    tracker = AlertTracker(CodecTable(raw, JSON_CODEC), window_s=1e12, max_entries=10**9)
    now = time.time()
    for i in range(n):
        rule, cluster = f"rule-{i % 50}", f"{i:040x}"
        candidate = Alert(
            id=f"{rule}:{cluster}", rule_id=rule, rule_name=rule.title(), cluster_id=cluster,
            article_id=cluster, title=f"Story {i} about the talks in Kursk",
            url=f"https://outlet.example/{cluster}", outlet="outlet", matched_terms=["kursk"],
        )  # fmt: skip
        tracker.observe(candidate, partition=i % ALERT_MATCHES.partitions, now=now)
    return [(json.loads(v)["p"], k, v) for k, v in raw.items()]


# --- one table ---------------------------------------------------------------------------


class Run:
    def __init__(self, bootstrap: str, es_url: str, stage: str, home: Path) -> None:
        self.prefix = f"rec{uuid.uuid4().hex[:6]}."
        self.stage = stage
        self.settings = Settings(
            kafka_bootstrap=bootstrap, es_url=es_url, topic_prefix=self.prefix,
            alerts_index=f"{self.prefix}alerts", home=home, worker_web_port=free_port(),
        )  # fmt: skip
        (home / "worker").mkdir(parents=True, exist_ok=True)  # faust makes the last level
        ensure_topics(self.settings)

    def changelog(self, table: str, partitions: int) -> str:
        name = f"{app_id(self.settings)}-{table}-changelog"
        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        try:
            admin.create_topics(
                [NewTopic(name, partitions, 1, topic_configs={"cleanup.policy": "compact"})]
            )
        finally:
            admin.close()
        return name

    def worker(self, log: Path) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
        env.update(
            WIREWATCH_KAFKA_BOOTSTRAP=str(self.settings.kafka_bootstrap),
            WIREWATCH_ES_URL=str(self.settings.es_url),
            WIREWATCH_TOPIC_PREFIX=self.prefix,
            WIREWATCH_ALERTS_INDEX=self.settings.alerts_index,
            WIREWATCH_HOME=str(self.settings.home),
            WIREWATCH_WORKER_WEB_PORT=str(self.settings.worker_web_port),
            WIREWATCH_WORKER_STAGES=self.stage,
        )
        return subprocess.Popen(
            [WIREWATCH, "worker", "--no-setup", "--loglevel", "warning"],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )


def fill(name: str, bootstrap: str, records: list[tuple[int, bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=1 << 20)
    for partition, key, value in records:
        producer.send(name, key=key, value=value, partition=partition)
    producer.flush()
    producer.close()


def read_all(name: str, bootstrap: str, partitions: int, n: int) -> float:
    """Seconds for a plain consumer to read the n records of a changelog."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(name, p) for p in range(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    started = time.monotonic()
    got = 0
    while got < n:
        got += sum(len(b) for b in consumer.poll(timeout_ms=1000, max_records=10_000).values())
    took = time.monotonic() - started
    consumer.close()
    return took


def first_output(run: Run, log: Path, probe: Callable[[], None], out_topic: str) -> float:
    """Seconds from the worker's start to its first record on ``out_topic``."""
    consumer = KafkaConsumer(bootstrap_servers=run.settings.kafka_bootstrap)
    tps = [TopicPartition(out_topic, p) for p in consumer.partitions_for_topic(out_topic)]
    consumer.assign(tps)
    consumer.seek_to_end(*tps)
    for tp in tps:
        consumer.position(tp)  # resolved now, before the worker can write
    started = time.monotonic()
    proc = run.worker(log)
    try:
        probe()
        wait(
            lambda: proc.poll() is None and any(consumer.poll(timeout_ms=200).values()),
            900,
            f"first output of {run.stage} (log: {log})",
        )
        return time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        consumer.close()


def bench_table(
    bootstrap: str, es_url: str, home: Path, stage: str, table: str, partitions: int,
    records: list[tuple[int, bytes, bytes]], probe: Callable[[Run], None], out_topic,
) -> None:  # fmt: skip
    times: dict[str, float] = {}
    raw_read = 0.0
    for label, recs in (("empty", []), ("full", records)):
        run = Run(bootstrap, es_url, stage, home / f"{stage}-{label}")
        name = run.changelog(table, partitions)
        if recs:
            fill(name, bootstrap, recs)
            raw_read = read_all(name, bootstrap, partitions, len(recs))
        times[label] = first_output(
            run, home / f"{stage}-{label}.log", lambda r=run: probe(r), q(out_topic, run.prefix)
        )
    n = len(records)
    added = times["full"] - times["empty"]
    print(
        f"{table:<12} {n:>7} entries: start -> first record {times['full']:6.1f}s; "
        f"empty table {times['empty']:5.1f}s (recovery adds {added:5.1f}s); "
        f"plain consumer reads the changelog in {raw_read:5.1f}s "
        f"(recovery / read: {added / raw_read:4.1f}x)",
        flush=True,
    )


def probe_dedup(run: Run) -> None:
    article = Article(
        id="f" * 40, url="https://probe.example/1", normalized_url="https://probe.example/1",
        feed_url="https://probe.example/rss", domain="probe.example", title="Probe",
        text="A probe article for the recovery bench. " * 10,
    )  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=run.settings.kafka_bootstrap)
    producer.send(q(ARTICLES_RAW, run.prefix), key=article.id.encode(), value=article.to_json())
    producer.flush()
    producer.close()


def probe_alert(run: Run) -> None:
    RuleStore(run.settings).add(AlertRule(id="probe", name="Probe", query="actor:Putin AND kursk"))
    enriched = samples.enriched(1, cluster=1, copy=0)
    producer = KafkaProducer(bootstrap_servers=run.settings.kafka_bootstrap)
    producer.send(
        q(ARTICLES_ENRICHED, run.prefix), key=enriched.article.id.encode(), value=enriched.to_json()
    )
    producer.flush()
    producer.close()


def alert_state_memory(n: int) -> None:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    raw: dict[bytes, bytes] = {}
    tracker = AlertTracker(CodecTable(raw, JSON_CODEC), window_s=1e12, max_entries=10**9)
    now = time.time()
    for i in range(n):
        rule, cluster = f"rule-{i % 50}", f"{i:040x}"
        candidate = Alert(
            id=f"{rule}:{cluster}", rule_id=rule, rule_name=rule.title(), cluster_id=cluster,
            article_id=cluster, title=f"Story {i} about the talks in Kursk",
            url=f"https://outlet.example/{cluster}", outlet="outlet", matched_terms=["kursk"],
        )  # fmt: skip
        tracker.observe(candidate, partition=i % ALERT_MATCHES.partitions, now=now)
    gc.collect()
    state = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del raw, tracker
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    pairs = {(f"rule-{i % 50}", f"{i:040x}") for i in range(n)}
    baseline = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del pairs
    print(
        f"alert state  {n:>7} (rule, story) pairs: {state / 2**20:6.1f} MiB "
        f"({state / n:5.0f} B/pair); a set of the pairs {baseline / 2**20:5.1f} MiB "
        f"(ratio {state / baseline:4.1f}x)",
        flush=True,
    )


# --- restart after kill -9 ----------------------------------------------------------------

#: what every worker process imports before it can process (pipeline.worker.app.STAGE_MODULES)
IMPORTS = (
    "import pipeline.cli.worker, pipeline.worker.app as a, importlib;"
    " [importlib.import_module(m) for m in a.STAGE_MODULES.values()]"
)
MODEL = "from pipeline.enrich.annotate import Annotator; Annotator()"


def timed_python(code: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.monotonic() - started


def bench_restart(bootstrap: str, es_url: str, home: Path, kills: int) -> None:
    import statistics

    from elasticsearch import Elasticsearch
    from helpers import wait_until
    from worker_harness import Worker, build_corpus, indexed, produce, settings_env

    run_id = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap=bootstrap, es_url=es_url, topic_prefix=f"rs{run_id}.",
        index_alias=f"rs{run_id}-articles", stories_index=f"rs{run_id}-stories",
        events_index=f"rs{run_id}-events", alerts_index=f"rs{run_id}-alerts",
        claims_index=f"rs{run_id}-claims", home=home / "restart", worker_web_port=free_port(),
    )  # fmt: skip
    log = home / "restart-worker.log"
    worker = Worker(settings_env(settings), log)
    es = Elasticsearch(es_url, request_timeout=30)
    corpus = build_corpus(bases=40, total=80)
    first = corpus[0]
    word = max(first.title.split(), key=len).strip(".,:;'\"()")
    took: list[float] = []
    floors: dict[str, list[float]] = {"imports": [], "model": []}
    timeline = ""
    try:
        worker.start()
        worker.wait_ready(300)
        RuleStore(settings).add(AlertRule(id="bench-restart", name="Bench", query=word))
        produce(settings, corpus[:5])
        wait_until(
            lambda: {a.id for a in corpus[:5]} <= indexed(es, settings).keys(), timeout=300,
            message="the first five articles indexed",
        )  # fmt: skip
        for kill in range(kills):
            floors["imports"].append(timed_python(IMPORTS))
            floors["model"].append(timed_python(MODEL))
            worker.kill9()
            new = corpus[10 + kill]
            spawned = time.monotonic()
            worker.start()
            produce(settings, [new])
            wait_until(
                lambda n=new: not worker.alive() or n.id in indexed(es, settings),
                timeout=300, interval=0.1, message="the article sent at the restart indexed",
            )  # fmt: skip
            assert worker.alive(), worker.tail()
            took.append(time.monotonic() - spawned)
            lines = log.read_text(errors="replace").splitlines()
            timeline = next((x for x in reversed(lines) if "start: ready" in x), "start: -")
            print(f"  kill -9 #{kill + 1}: spawn -> article indexed {took[-1]:.1f}s", flush=True)
    finally:
        worker.stop()
        es.close()
    imports, model = (statistics.median(floors[k]) for k in ("imports", "model"))
    restart = statistics.median(took)
    print(
        f"restart after kill -9, every stage, tables filled ({kills} kills, load "
        f"{os.getloadavg()[0]:.1f}): spawn -> new article indexed median {restart:.1f}s, "
        f"max {max(took):.1f}s; same run: a bare process loading the spaCy model "
        f"{model:.1f}s (restart / model load: {restart / model:.1f}x), a bare python "
        f"importing the worker's modules {imports:.1f}s\n"
        f"  last restart's own timeline: {timeline[timeline.find('start:') :]}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=3, help="kill -9 restarts to time")
    parser.add_argument(
        "--only", choices=("tables", "memory", "restart"), help="run one part of the bench"
    )
    args = parser.parse_args()
    if args.only in (None, "memory"):
        alert_state_memory(args.entries)
    if args.only == "memory":
        return
    stack, bootstrap, es_url = start_stack()
    home = Path(tempfile.mkdtemp(prefix="wirewatch-bench-recovery-"))
    try:
        if args.only in (None, "restart"):
            bench_restart(bootstrap, es_url, home, args.kills)
        if args.only == "restart":
            return
        rng = random.Random(7)
        dedup = [(0, k, v) for k, v in dedup_entries(args.entries, rng)]
        bench_table(
            bootstrap, es_url, home, "dedup", "dedup", ARTICLES_RAW.partitions, dedup,
            probe_dedup, ARTICLES_DEDUPED,
        )  # fmt: skip
        bench_table(
            bootstrap, es_url, home, "alert", "alert-state", ALERT_MATCHES.partitions,
            alert_states(args.entries), probe_alert, ALERTS,
        )  # fmt: skip
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if stack is not None:
            stack.down()  # type: ignore[attr-defined]
            shutil.rmtree(stack.state_dir_for_cleanup, ignore_errors=True)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
