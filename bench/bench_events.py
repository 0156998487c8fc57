"""Events stage cost per article and memory per 100,000 articles, beside dedup's, one run.

    .venv/bin/python bench/bench_events.py [--articles 100000]

Input: bench_dedup's synthetic articles (150-400 words of PolNeAR text, real word
frequencies, one in five a lightly edited copy of an earlier one), plus one in five
rewritten as another outlet's report of an earlier article's happening (its sentence-sized
chunks reordered, a third of them dropped, a few words changed), each with 1-4 actors
drawn from 2,000 names by a Zipf law (the news has a few actors everywhere). The stream runs
through the real dedup, then the real events stage logic (``EventsStage.assign``: features,
candidates, cosine, state update, eviction, the EventRef), so both figures come from the
same articles in the same run:

- CPU per article (process time, so a loaded machine does not inflate it): dedup assign;
  events assign (alone and with the EnrichedArticle JSON parse and serialisation the stage
  does per record);
- memory of each state per 100,000 articles (tracemalloc: persisted entries + derived
  indexes), and of the persisted event entries alone (what the changelog restores).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dedup import filled, make_articles
from measure import measure_memory, per_item

from pipeline.dedup import DedupConfig, Deduplicator
from pipeline.events.clusterer import EventConfig
from pipeline.records import Actor, Article, EnrichedArticle
from pipeline.worker.events_agent import EventsStage


def rewrite(rng: random.Random, text: str) -> str:
    words = text.split()
    chunks = [words[j : j + 12] for j in range(0, len(words), 12)]
    rng.shuffle(chunks)
    kept = chunks[: max(1, len(chunks) * 2 // 3)]
    out = [w for c in kept for w in c]
    for _ in range(max(1, len(out) // 30)):
        out[rng.randrange(len(out))] = out[rng.randrange(len(out))]
    return " ".join(out)


def stream(n: int, seed: int = 11) -> list[EnrichedArticle]:
    rng = random.Random(seed)
    base = make_articles(n)
    names = [f"Actor {k}" for k in range(2000)]
    weights = [1.0 / (k + 1) for k in range(2000)]
    actors_of: list[list[Actor]] = []
    articles: list[Article] = []
    for i, a in enumerate(base):
        if i > 10 and rng.random() < 0.2:  # another outlet's report of an earlier happening
            j = rng.randrange(max(0, i - 5000), i)
            a = a.model_copy(update={"text": rewrite(rng, articles[j].text)})
            actors = actors_of[j][: rng.randint(1, len(actors_of[j]))]
        else:
            picked = dict.fromkeys(rng.choices(names, weights, k=rng.randint(1, 4)))
            actors = [
                Actor(canonical=name, type="PERSON", mentions=rng.randint(1, 5)) for name in picked
            ]
        articles.append(a)
        actors_of.append(actors)
    dedup = Deduplicator({}, DedupConfig(max_entries=max(n, 200_000)))
    return [
        EnrichedArticle(article=a, story=dedup.assign(a), actors=actors)
        for a, actors in zip(articles, actors_of, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    args = parser.parse_args()
    n = args.articles
    print(f"building {n} articles ...", flush=True)
    records = stream(n)
    articles = [r.article for r in records]
    dedup_config = DedupConfig(max_entries=max(n, 200_000))
    event_config = EventConfig(max_events=max(n, 100_000))

    # --- cost per article ------------------------------------------------------------------
    cpu = time.process_time
    dedup_s, _ = per_item(Deduplicator({}, dedup_config).assign, articles, cpu)

    stage = EventsStage({}, event_config)
    stage.clusterer  # noqa: B018  (built before the clock starts, as after a recovery)
    events_s, out = per_item(stage.assign, records, cpu)
    matches = dict(Counter(r.event.match for r in out if r.event is not None))
    assert sum(matches.values()) == n  # every article leaves with its event

    payloads = [r.to_json() for r in records[: min(n, 20_000)]]
    again = EventsStage({}, event_config)
    record_s, _ = per_item(
        lambda p: again.assign(EnrichedArticle.from_json(p)).to_json(), payloads, cpu
    )

    # --- memory ---------------------------------------------------------------------------
    def build_events() -> EventsStage:
        s = EventsStage({}, event_config)
        for r in records:
            s.assign(r)
        return s

    dedup_bytes, _ = measure_memory(lambda: filled(articles, dedup_config))
    events_bytes, built = measure_memory(build_events)
    store_bytes, _ = measure_memory(lambda: json.loads(json.dumps(built.store)))
    per100k = 100_000 / n
    events = len(built.clusterer)
    stories = sum(len(e["stories"]) for e in built.store.values())

    print(f"\narticles: {n}; events: {events}; stories in events: {stories}")
    print(f"event decisions: {dict(sorted(matches.items()))}")
    print("\nCPU per article (process time; same articles, same run)")
    print(f"  dedup assign                      {dedup_s * 1e3:8.3f} ms")
    print(f"  events assign                     {events_s * 1e3:8.3f} ms")
    print(f"  events stage per record (+JSON)   {record_s * 1e3:8.3f} ms   (first {len(payloads)})")
    print("\nmemory per 100,000 articles of state")
    print(f"  dedup state, total                {dedup_bytes * per100k / 2**20:8.1f} MiB")
    print(f"  events state, total               {events_bytes * per100k / 2**20:8.1f} MiB")
    print(f"    of which persisted entries      {store_bytes * per100k / 2**20:8.1f} MiB")


if __name__ == "__main__":
    main()
