"""Alert rule evaluation cost per article with 1, 100 and 10,000 rules.

    .venv/bin/python bench/bench_rules.py [--articles 200] [--min-cpu 1.0]

Articles: PolNeAR dev texts from ../shared (or WIREWATCH_SHARED; first line is the
headline), else the seed article; each gets as actors the registry entries its text names.
Rules: drawn from the articles' own vocabulary (mid-frequency words, bigram phrases) and the
registry's actors, in an analyst-like mix: a keyword, a phrase, actor AND keyword,
(a OR b) NOT c.

Each figure is process CPU time per article (the machine's cores are shared, so wall
time would mostly measure the neighbours), printed beside baselines measured in the same
run:
- regex: one case-insensitive word-boundary regex searched over title + text, i.e. what
  a single naive keyword rule costs;
- 1 rule: the engine with one rule (tokenising the article dominates it);
- scan: for 10,000 rules, evaluating every rule without the index.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.alerts.engine import RuleIndex
from pipeline.alerts.matcher import ArticleView
from pipeline.alerts.query import words
from pipeline.enrich.actors import DEFAULT_ACTORS_FILE, ActorRegistry
from pipeline.evaluation import shared_dir
from pipeline.records import Actor, AlertRule, Article, EnrichedArticle, StoryRef


def load_texts(limit: int) -> list[tuple[str, str]]:
    dev = shared_dir() / "data" / "polnear" / "dev" / "text"
    paths = sorted(dev.glob("*.txt"))[:limit] if dev.is_dir() else []
    if not paths:
        seed = shared_dir() / "fixtures" / "seed" / "article.txt"
        paths = [seed] if seed.exists() else []
    if not paths:
        sys.exit("no texts: ../shared is missing (set WIREWATCH_SHARED)")
    out = []
    for path in paths:
        title, _, body = path.read_text(encoding="utf-8", errors="replace").partition("\n")
        out.append((title.strip(), body.strip()))
    return out


def make_articles(texts: list[tuple[str, str]], registry: ActorRegistry) -> list[EnrichedArticle]:
    articles = []
    for i, (title, body) in enumerate(texts):
        found = [
            entry
            for entry in registry.entries.values()
            if any(name in body or name in title for name in {entry.canonical, *entry.aliases})
        ]
        aid = f"{i:040x}"
        articles.append(
            EnrichedArticle(
                article=Article(
                    id=aid,
                    url=f"https://news.example/{i}",
                    normalized_url=f"https://news.example/{i}",
                    feed_url="https://news.example/rss",
                    domain="news.example",
                    outlet="Example News",
                    title=title,
                    text=body,
                    language="en",
                ),
                story=StoryRef(cluster_id=f"c{i}", canonical_id=aid, match="new"),
                actors=[Actor(canonical=e.canonical, type=e.type, mentions=1) for e in found],
            )
        )
    return articles


def make_rules(
    n: int, articles: list[EnrichedArticle], registry: ActorRegistry, rng: random.Random
) -> list[AlertRule]:
    counts: Counter[str] = Counter()
    bigrams: list[str] = []
    for enriched in articles:
        tokens = words(enriched.article.text)
        counts.update(set(tokens))
        bigrams += [f"{a} {b}" for a, b in pairwise(tokens) if len(a) > 3]
    # mid-frequency words: in a few articles, as watched keywords usually are
    vocab = [w for w, c in counts.items() if 2 <= c <= max(3, len(articles) // 10) and len(w) > 4]
    actors = [e.canonical for e in registry.entries.values()]
    rules = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.4:
            query = rng.choice(vocab)
        elif roll < 0.6:
            query = f'"{rng.choice(bigrams)}"'
        elif roll < 0.85:
            query = f'actor:"{rng.choice(actors)}" AND {rng.choice(vocab)}'
        else:
            a, b, c = rng.sample(vocab, 3)
            query = f"({a} OR {b}) NOT {c}"
        rules.append(AlertRule(id=f"r{i:05d}", name=f"rule {i}", query=query))
    return rules


def cpu_per_call(fn: Callable[[], object], min_cpu: float) -> float:
    """CPU seconds per call of ``fn``, repeated until ``min_cpu`` seconds were spent."""
    calls, start = 0, time.process_time()
    while True:
        fn()
        calls += 1
        spent = time.process_time() - start
        if spent >= min_cpu:
            return spent / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--min-cpu", type=float, default=1.0, help="CPU seconds per figure")
    args = parser.parse_args()

    registry = ActorRegistry.load(DEFAULT_ACTORS_FILE)
    articles = make_articles(load_texts(args.articles), registry)
    n = len(articles)
    mean_words = sum(len(words(a.article.text)) for a in articles) / n
    print(f"{n} articles, {mean_words:.0f} words each on average")

    pattern = re.compile(r"\bceasefire\b", re.IGNORECASE)

    def regex_scan() -> None:
        for enriched in articles:
            pattern.search(enriched.article.title) or pattern.search(enriched.article.text)

    regex = cpu_per_call(regex_scan, args.min_cpu) / n
    print(f"baseline regex scan: {regex * 1e6:8.1f} us/article\n")

    rng = random.Random(6)
    all_rules = make_rules(10_000, articles, registry, rng)
    print(f"{'rules':>6} {'us/article':>11} {'x regex':>8} {'x 1 rule':>9}", end="")
    print(f" {'candidates':>11} {'matches':>8}")
    one_rule = None
    for count in (1, 100, 10_000):
        index = RuleIndex(registry)
        for rule in all_rules[:count]:
            index.upsert(rule)
        hits = sum(len(index.evaluate(a)) for a in articles) / n
        candidates = sum(len(index.candidates(ArticleView.of(a, registry))) for a in articles) / n

        def run(index: RuleIndex = index) -> None:
            for enriched in articles:
                index.evaluate(enriched)

        cost = cpu_per_call(run, args.min_cpu) / n
        one_rule = one_rule or cost
        print(
            f"{count:>6} {cost * 1e6:>11.1f} {cost / regex:>8.1f} {cost / one_rule:>9.2f}"
            f" {candidates:>11.1f} {hits:>8.2f}"
        )
        if count == 10_000:

            def scan(index: RuleIndex = index) -> None:
                for enriched in articles:
                    index.evaluate_all(enriched)

            full = cpu_per_call(scan, args.min_cpu) / n
            print(
                f"\n10,000 rules without the index (every rule evaluated): {full * 1e6:.1f} "
                f"us/article; the index is {full / cost:.1f}x faster"
            )
            print(f"rules refused at load: {len(index.rejected)}")


if __name__ == "__main__":
    main()
