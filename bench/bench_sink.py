"""Index sink throughput beside a plain `elasticsearch.helpers.bulk` of the same documents.

    .venv/bin/python bench/bench_sink.py [--articles 20000] [--rounds 3]

Both sides index the same EnrichedArticles (stories of 4 copies, claims, nested
quantities) into a fresh index made from the same template, 500 documents per request,
one request in flight, documents built with `to_document` inside the timed region:

- baseline: `helpers.bulk(client, actions)` with the sync client (what one would write
  without a sink);
- sink: `BulkSink.write` with the async client, which also upserts the story documents
  (one per cluster per batch) and checks the alias for rollover homes.

Rounds alternate baseline/sink; the best round of each counts (the machine is shared).
The ratio sink/baseline should be >= 0.8. Uses WIREWATCH_ES_URL if set, else starts a
local Elasticsearch node (no Kafka) in a temporary directory and stops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elasticsearch import AsyncElasticsearch, Elasticsearch, helpers

from pipeline.index import samples
from pipeline.index.documents import document_id, to_document
from pipeline.index.setup import install
from pipeline.index.sink import BulkSink
from pipeline.index.templates import Names
from pipeline.records import EnrichedArticle
from pipeline.settings import Settings


def fresh(es: Elasticsearch, settings: Settings) -> Names:
    names = Names.from_settings(settings)
    existing = list(
        es.indices.get(index=f"{names.alias}-*,{names.stories}*", allow_no_indices=True)
    )
    if existing:
        es.indices.delete(index=",".join(existing))
    install(es, settings)
    return names


def run_baseline(es: Elasticsearch, settings: Settings, records: list[EnrichedArticle]) -> float:
    names = fresh(es, settings)
    started = time.perf_counter()
    actions = (
        {"_index": names.alias, "_id": document_id(r), "_source": to_document(r)} for r in records
    )
    ok, errors = helpers.bulk(es, actions, chunk_size=500, raise_on_error=False)
    elapsed = time.perf_counter() - started
    assert ok == len(records) and not errors, errors
    return elapsed


def run_sink(es: Elasticsearch, settings: Settings, records: list[EnrichedArticle]) -> float:
    fresh(es, settings)

    async def go() -> float:
        client = AsyncElasticsearch(settings.es_url, request_timeout=60)
        try:
            sink = BulkSink(client, settings)
            started = time.perf_counter()
            result = await sink.write(records)
            elapsed = time.perf_counter() - started
        finally:
            await client.close()
        assert len(result.indexed) == len(records) and not result.rejected, result.rejected[:1]
        return elapsed

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    records = [samples.enriched(n, cluster=n // 4, copy=n % 4) for n in range(args.articles)]
    doc_bytes = sum(len(r.to_json()) for r in records[:100]) / 100

    stack = state_dir = None
    url = os.environ.get("WIREWATCH_ES_URL")
    if not url:
        from pipeline.index.templates import hunspell_dictionaries
        from pipeline.stack import scratch_stack

        state_dir = Path(tempfile.mkdtemp(prefix="wirewatch-bench-"))
        state_dir.chmod(0o755)
        stack = scratch_stack(state_dir, hunspell=hunspell_dictionaries())
        print("starting a local Elasticsearch node ...", file=sys.stderr)
        stack.start_elasticsearch()
        url = stack.es_url
    es = Elasticsearch(url, request_timeout=120)
    base = Settings(es_url=url, index_alias="bench-base-articles", stories_index="bench-base-st")
    sink = Settings(es_url=url, index_alias="bench-sink-articles", stories_index="bench-sink-st")
    try:
        run_sink(es, sink, records[:1000])  # warm-up: JIT, caches, connections
        run_baseline(es, base, records[:1000])
        base_times, sink_times = [], []
        for n in range(args.rounds):
            base_times.append(run_baseline(es, base, records))
            sink_times.append(run_sink(es, sink, records))
            print(
                f"round {n + 1}: baseline {base_times[-1]:.2f}s, sink {sink_times[-1]:.2f}s",
                file=sys.stderr,
            )
    finally:
        for settings in (base, sink):
            names = Names.from_settings(settings)
            found = list(es.indices.get(index=f"{names.alias}-*,{names.stories}*"))
            if found:
                es.indices.delete(index=",".join(found))
            for kind in ("articles", "stories", "alerts"):
                es.options(ignore_status=404).indices.delete_index_template(
                    name=names.template_name(kind)
                )
        es.close()
        if stack is not None:
            stack.stop_elasticsearch()
            shutil.rmtree(state_dir, ignore_errors=True)

    best_base, best_sink = min(base_times), min(sink_times)
    rate_base, rate_sink = len(records) / best_base, len(records) / best_sink
    size = f"~{doc_bytes / 1024:.1f} KiB each as JSON"
    print(f"articles: {len(records)} ({size}), best of {args.rounds}")
    print(f"helpers.bulk baseline: {rate_base:8.0f} articles/s ({best_base:.2f}s)")
    print(f"BulkSink:              {rate_sink:8.0f} articles/s ({best_sink:.2f}s)")
    print(f"ratio sink/baseline:   {rate_sink / rate_base:8.2f}  (target >= 0.8)")


if __name__ == "__main__":
    main()
