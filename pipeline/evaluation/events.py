"""Score event clustering against BASIL-format triplets (B-cubed precision, recall, F1).

A BASIL folder holds ``articles/<year>/*.json``; each article's ``triplet-uuid`` names the
happening three outlets reported independently. Every article gets a publication time
inside one 48-hour window, in a seeded random order, so dates cannot do the clustering;
then the articles run, in that order, through the real story dedup, the real enrichment
(when actors are used) and the real event clusterer.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.dedup.deduplicator import Deduplicator
from pipeline.events.clusterer import EventClusterer, EventConfig
from pipeline.records import Article, DedupedArticle, EnrichedArticle
from pipeline.urls import article_id, domain_of, normalize_url

WINDOW = timedelta(hours=48)
START = datetime(2026, 1, 5, tzinfo=UTC)
OUTLETS = {"fox": "Fox News", "nyt": "New York Times", "hpo": "HuffPost"}


class BasilError(ValueError):
    """A BASIL-format folder or article that cannot be read."""


@dataclass(frozen=True)
class GoldArticle:
    event: str  # triplet-uuid
    article: Article


def load_basil(directory: Path) -> list[GoldArticle]:
    """Articles of ``directory``/articles/<year>/*.json, sorted by path, times unset."""
    paths = sorted((directory / "articles").glob("*/*.json"))
    if not paths:
        raise BasilError(f"{directory}: no articles/<year>/*.json files")
    out = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            url = data["url"]
            source = str(data["source"]).lower()
            paragraphs = data["body-paragraphs"]
            event = data["triplet-uuid"]
            title = data["title"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BasilError(f"{path}: not a BASIL article ({exc!r})") from exc
        text = "\n\n".join(" ".join(sentences) for sentences in paragraphs)
        normalized = normalize_url(url)
        article = Article(
            id=article_id(url),
            url=url,
            normalized_url=normalized,
            feed_url=f"file://{directory.name}/{source}",
            outlet=OUTLETS.get(source, source),
            domain=domain_of(normalized),
            title=title,
            text=text,
            fetched_at=START,
            language="en",
        )
        out.append(GoldArticle(event=event, article=article))
    return out


def timeline(gold: Sequence[GoldArticle], seed: int) -> list[GoldArticle]:
    """The articles in a seeded random order, each published at a random time in one
    48-hour window (times ascending in that order) and fetched when published."""
    rng = random.Random(seed)
    order = list(gold)
    rng.shuffle(order)
    seconds = sorted(rng.uniform(0, WINDOW.total_seconds()) for _ in order)
    out = []
    for item, offset in zip(order, seconds, strict=True):
        at = START + timedelta(seconds=round(offset))
        article = item.article.model_copy(update={"published_at": at, "fetched_at": at})
        out.append(GoldArticle(event=item.event, article=article))
    return out


@dataclass(frozen=True)
class BCubed:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def bcubed(gold: Sequence[str], predicted: Sequence[str]) -> BCubed:
    """B-cubed (Bagga and Baldwin 1998) of a clustering: per item, the share of its
    predicted cluster in its gold cluster (precision) and the reverse (recall), averaged."""
    if len(gold) != len(predicted) or not gold:
        raise ValueError("bcubed needs one gold and one predicted label per item")
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    gold_size: dict[str, int] = defaultdict(int)
    pred_size: dict[str, int] = defaultdict(int)
    for g, p in zip(gold, predicted, strict=True):
        pairs[(g, p)] += 1
        gold_size[g] += 1
        pred_size[p] += 1
    precision = recall = 0.0
    for (g, p), n in pairs.items():
        precision += n * n / pred_size[p]
        recall += n * n / gold_size[g]
    return BCubed(precision / len(gold), recall / len(gold))


@dataclass(frozen=True)
class EventScores:
    articles: int
    gold_events: int
    predicted_events: int
    scores: BCubed
    stories: int  # story clusters the dedup stage made
    impure_stories: int  # story clusters holding articles of more than one gold event
    matches: dict[str, int]  # how the clusterer decided: new, joined, story, replay

    @property
    def stories_pure(self) -> bool:
        return self.impure_stories == 0

    def summary(self) -> dict:
        return {
            "articles": self.articles,
            "gold_events": self.gold_events,
            "predicted_events": self.predicted_events,
            "precision": round(self.scores.precision, 4),
            "recall": round(self.scores.recall, 4),
            "f1": round(self.scores.f1, 4),
            "stories": self.stories,
            "stories_pure": self.stories_pure,
            "impure_stories": self.impure_stories,
            "matches": self.matches,
        }


Enricher = Callable[[Sequence[DedupedArticle]], Iterable[EnrichedArticle]]


def without_enrichment(deduped: Sequence[DedupedArticle]) -> Iterator[EnrichedArticle]:
    """Enriched articles without actors: the clusterer then compares terms alone."""
    for item in deduped:
        yield EnrichedArticle(article=item.article, story=item.story)


def evaluate(
    gold: Sequence[GoldArticle],
    enricher: Enricher,
    seed: int = 0,
    config: EventConfig | None = None,
) -> EventScores:
    """Run ``gold`` through dedup, ``enricher`` and the clusterer in a seeded order."""
    ordered = timeline(gold, seed)
    dedup = Deduplicator({})
    deduped = [DedupedArticle(article=g.article, story=dedup.assign(g.article)) for g in ordered]
    enriched = list(enricher(deduped))
    clusterer = EventClusterer({}, config)
    assigned = [clusterer.assign(item) for item in enriched]

    labels = [g.event for g in ordered]
    predicted = [a.event_id for a in assigned]
    story_events: dict[str, set[str]] = defaultdict(set)
    for item, label in zip(deduped, labels, strict=True):
        story_events[item.story.cluster_id].add(label)
    matches: dict[str, int] = defaultdict(int)
    for a in assigned:
        matches[a.match] += 1
    return EventScores(
        articles=len(ordered),
        gold_events=len(set(labels)),
        predicted_events=len(set(predicted)),
        scores=bcubed(labels, predicted),
        stories=len(story_events),
        impure_stories=sum(1 for events in story_events.values() if len(events) > 1),
        matches=dict(sorted(matches.items())),
    )


def with_enrichment(deduped: Sequence[DedupedArticle]) -> list[EnrichedArticle]:
    """The worker's own enrichment (spaCy entities and actors): the clusterer sees actors too."""
    from pipeline.enrich import enrich
    from pipeline.enrich.annotate import Annotator

    return enrich(deduped, Annotator())
