"""Dedup cost per article and memory per 100,000 articles of state, beside baselines.

    .venv/bin/python bench/bench_dedup.py [--articles 100000]

Input: synthetic articles of 150-400 words drawn from the PolNeAR vocabulary (real word
frequencies), one in five a lightly edited copy of an earlier one, so the LSH has real
candidates to check. Figures, each beside a baseline from the same run:

- cost per article of ``Deduplicator.assign`` (all layers, state updates, eviction
  checks) beside datasketch used as its README shows (MinHash of the same shingles,
  ``MinHashLSH`` query + insert): the near-duplicate layer alone, without state;
- memory of the dedup state per 100,000 articles (persisted entries + derived indexes,
  measured with tracemalloc) beside datasketch ``MinHashLSH`` holding the same
  signatures (its index only, without our entries).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasketch import MinHash, MinHashLSH
from measure import measure_memory, per_item

from pipeline.dedup import DedupConfig, Deduplicator, normalize, signature
from pipeline.records import Article

SHARED = Path(__file__).resolve().parents[2] / "shared"


def vocabulary() -> list[str]:
    root = SHARED / "data" / "polnear"
    words: list[str] = []
    for path in sorted(root.glob("*/text/*.txt")):
        words += path.read_text().split()
    if not words:
        sys.exit(f"PolNeAR not found under {root}")
    return words


def make_articles(n: int, seed: int = 7) -> list[Article]:
    rng = random.Random(seed)
    words = vocabulary()
    t0 = datetime(2025, 3, 13, tzinfo=UTC)
    texts: list[str] = []
    out: list[Article] = []
    for i in range(n):
        if texts and rng.random() < 0.2:
            base = rng.choice(texts[-5000:]).split()
            for _ in range(max(1, len(base) // 50)):  # ~2% of words edited
                base[rng.randrange(len(base))] = rng.choice(words)
            text = " ".join(base)
        else:
            start = rng.randrange(len(words) - 400)
            length = rng.randint(150, 400)
            # sampled runs of real text, shuffled by sentence-sized chunks: unique bodies
            chunks = [words[start + j : start + j + 12] for j in range(0, length, 12)]
            rng.shuffle(chunks)
            text = " ".join(w for c in chunks for w in c) + f" ref{i}"
        texts.append(text)
        url = f"https://outlet{i % 50}.example/story/{i}"
        out.append(
            Article(
                id=f"{i:040x}",
                url=url,
                normalized_url=url,
                feed_url="https://example/rss",
                domain=f"outlet{i % 50}.example",
                outlet=f"Outlet {i % 50}",
                title=f"Story {i}",
                text=text,
                fetched_at=t0 + timedelta(seconds=i),
            )
        )
    return out


def filled(articles: list[Article], config: DedupConfig) -> Deduplicator:
    """A deduplicator that has seen ``articles``: the state whose memory is measured."""
    dedup = Deduplicator({}, config)
    for a in articles:
        dedup.assign(a)
    return dedup


def datasketch_cost(articles: list[Article], config: DedupConfig, perms: Any) -> float:
    """Seconds per article of datasketch's MinHash + ``MinHashLSH`` query and insert."""
    lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)

    def step(a: Article) -> None:
        m = MinHash(num_perm=config.num_perm, permutations=perms)
        m.update_batch(normalize.shingles(normalize.words(a.text), config.shingle_words))
        lsh.query(m)
        lsh.insert(a.id, m)

    return per_item(step, articles)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    args = parser.parse_args()
    n = args.articles
    print(f"building {n} articles ...", flush=True)
    articles = make_articles(n)
    payloads = [a.to_json() for a in articles]
    config = DedupConfig(max_entries=max(n, 200_000))

    # --- cost per article ------------------------------------------------------------------
    parse_s, _ = per_item(Article.from_json, payloads)
    dedup_s, stories = per_item(Deduplicator({}, config).assign, articles)
    matches = dict(Counter(story.match for story in stories))

    # datasketch as its README uses it (shared permutations, else it is far slower):
    # shingle, MinHash, query, insert; near-duplicates only, no state, no clusters.
    perms = MinHash(num_perm=config.num_perm, seed=signature.SEED).permutations
    lib_lsh_s = datasketch_cost(articles, config, perms)
    hasher = signature.MinHasher(config.num_perm)
    sigs = [
        hasher.signature(normalize.shingles(normalize.words(a.text), config.shingle_words))
        for a in articles
    ]

    # --- memory ---------------------------------------------------------------------------
    ours_bytes, ours = measure_memory(lambda: filled(articles, config))
    # the persisted entries alone, as fresh objects (what a recovered table holds)
    store_bytes, _ = measure_memory(lambda: json.loads(json.dumps(ours.store)))

    def build_lib() -> MinHashLSH:
        index = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
        for a, s in zip(articles, sigs, strict=True):
            index.insert(a.id, MinHash(num_perm=config.num_perm, hashvalues=s, permutations=perms))
        return index

    lib_bytes, _ = measure_memory(build_lib)
    per100k = 100_000 / n

    print(f"\narticles: {n}; decisions: {matches}")
    print(f"bands x rows: {signature.band_params(config.threshold, config.num_perm)}")
    print("\ncost per article")
    print(f"  dedup assign (all layers)         {dedup_s * 1e3:8.3f} ms")
    print(
        f"  baseline: datasketch MinHash+LSH  {lib_lsh_s * 1e3:8.3f} ms   "
        f"ratio {dedup_s / lib_lsh_s:5.2f}x  (near layer only, no state or clusters)"
    )
    print(f"  for scale: parse Article JSON     {parse_s * 1e3:8.3f} ms")
    print("\nmemory per 100,000 articles of state")
    print(f"  dedup state, total                {ours_bytes * per100k / 2**20:8.1f} MiB")
    print(f"    of which persisted entries      {store_bytes * per100k / 2**20:8.1f} MiB")
    print(
        f"  baseline: datasketch MinHashLSH   {lib_bytes * per100k / 2**20:8.1f} MiB   "
        f"ratio {ours_bytes / lib_bytes:5.2f}x"
    )


if __name__ == "__main__":
    main()
