"""Online event clustering: which earlier event, if any, a new story reports on.

One centroid per event (summed log term and actor frequencies of its stories, cut to the
heaviest keys). A new story is compared, by TF-IDF cosine, with the events that share its
most telling terms or any of its actors (found through an inverted index) and whose last
article lies within the window of its own time; it joins the most similar one at or above
the threshold, else it starts an event. This is the single-pass scheme of the streaming
news clustering literature (Miranda et al. 2018, "Multilingual Clustering of Streaming
News"), without their learnt weights.

Document frequencies are counted over the live events (how many events' centroids hold a
key), a running estimate that needs no corpus and follows what the news is about this week:
an actor in every event stops counting for much.

Copies of one story never split: the first copy of a story decides, every later copy (same
story cluster id) inherits its event and does not move the centroid. Decisions depend only
on the state and the input, so a replay, or a clusterer rebuilt from the persisted entries,
reproduces them.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from pipeline.events.features import ACTOR_PREFIX, Features, article_features
from pipeline.events.state import EventEntry
from pipeline.records import EnrichedArticle

Match = Literal["new", "joined", "story", "replay"]
# A published time later than the fetch by more than this is a feed's mistake.
FUTURE_SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class EventConfig:
    threshold: float = 0.3  # cosine to join an event
    window_s: float = 72 * 3600.0  # an event takes stories within this of its last one
    max_events: int = 100_000
    centroid_terms: int = 64
    centroid_actors: int = 16
    query_terms: int = 20  # an article's heaviest terms used to find candidate events
    max_candidates: int = 50  # events scored exactly, by index hits
    actor_weight: float = 1.0  # actor keys' weight against terms in the cosine
    title_weight: float = 2.0  # a title word counts as this many body words
    top_mentions: int = 20  # actors kept per event for its record


@dataclass(frozen=True)
class EventAssignment:
    event_id: str
    match: Match  # new event, joined by similarity, inherited from its story, replayed
    similarity: float | None = None  # cosine to the event joined ('joined' only)
    # the event as this article left it (kept even if the event was evicted at once)
    entry: EventEntry | None = field(default=None, compare=False, repr=False)


def event_time(enriched: EnrichedArticle) -> float:
    """Published time when the feed gives a plausible one, else the fetch time."""
    article = enriched.article
    published = article.published_at
    if published is not None and published <= article.fetched_at + FUTURE_SLACK:
        return published.timestamp()
    return article.fetched_at.timestamp()


def _log_weight(count: float) -> float:
    return 1.0 + math.log(count) if count >= 1.0 else count


class EventClusterer:
    """Assigns each enriched article an event, keeping the events in ``store``.

    ``store`` maps event id -> ``EventEntry.to_dict()``; it is the only state that must
    survive a restart. Call ``rebuild()`` after the store was filled from elsewhere.
    """

    def __init__(self, store: MutableMapping[str, Any], config: EventConfig | None = None):
        self.store = store
        self.config = config or EventConfig()
        self._entries: dict[str, EventEntry] = {}
        self._by_story: dict[str, str] = {}
        self._by_article: dict[str, str] = {}
        self._postings: dict[str, set[str]] = defaultdict(set)
        self._order: list[tuple[float, str]] = []  # min-heap of (last seen, event id)
        self.watermark = 0.0
        self.rebuild()

    # --- derived state ----------------------------------------------------------------

    def rebuild(self) -> None:
        """Recompute every derived index from ``store`` (after recovery from a changelog)."""
        self._entries.clear()
        self._by_story.clear()
        self._by_article.clear()
        self._postings.clear()
        self._order = []
        entries = sorted(
            (EventEntry.from_dict(v) for v in self.store.values()),
            key=lambda e: (e.last_seen, e.event_id),
        )
        for entry in entries:
            self._index(entry)
        self.watermark = max((e.last_seen for e in entries), default=0.0)

    def _index(self, entry: EventEntry) -> None:
        eid = entry.event_id
        self._entries[eid] = entry
        for story in entry.stories:
            self._by_story[story] = eid
        for article in entry.articles:
            self._by_article[article] = eid
        for key in entry.terms:
            self._postings[key].add(eid)
        for key in entry.actors:
            self._postings[key].add(eid)
        heapq.heappush(self._order, (entry.last_seen, eid))

    def _unindex(self, entry: EventEntry) -> None:
        eid = entry.event_id
        self._entries.pop(eid, None)
        for story in entry.stories:
            if self._by_story.get(story) == eid:
                del self._by_story[story]
        for article in entry.articles:
            if self._by_article.get(article) == eid:
                del self._by_article[article]
        for key in (*entry.terms, *entry.actors):
            posting = self._postings.get(key)
            if posting is not None:
                posting.discard(eid)
                if not posting:
                    del self._postings[key]

    def idf(self, key: str) -> float:
        """Smoothed inverse event frequency of a term or actor key."""
        df = len(self._postings.get(key, ()))
        return math.log((len(self._entries) + 1) / (df + 1)) + 1.0

    # --- decisions --------------------------------------------------------------------

    def assign(self, enriched: EnrichedArticle) -> EventAssignment:
        """Put ``enriched`` in an event, record it in the state and say which."""
        article, story = enriched.article, enriched.story
        seen = event_time(enriched)
        known = self._by_article.get(article.id)
        if known is not None:
            return EventAssignment(known, "replay", entry=self._entries[known])
        inherited = self._by_story.get(story.cluster_id)
        if inherited is not None:
            entry = self._entries[inherited]
            self._unindex(entry)
            self._add_copy(entry, enriched, seen)
            self._commit(entry)
            return EventAssignment(inherited, "story", entry=entry)

        features = article_features(enriched, self.config.title_weight)
        vector = self._vector(features.terms, features.actors)
        best = self._best_event(vector, seen)
        if best is not None and best[0] >= self.config.threshold:
            similarity, event_id = best
            entry = self._entries[event_id]
            self._unindex(entry)
            self._add_story(entry, enriched, features, seen)
            self._commit(entry)
            return EventAssignment(event_id, "joined", round(similarity, 4), entry)
        entry = EventEntry(
            event_id=article.id, title=article.title, first_seen=seen, last_seen=seen
        )
        self._add_story(entry, enriched, features, seen)
        self._commit(entry)
        return EventAssignment(entry.event_id, "new", entry=entry)

    def _vector(self, terms: dict[str, float], actors: dict[str, float]) -> dict[str, float]:
        """TF-IDF weights of summed log counts under the current event frequencies."""
        vector = {key: _log_weight(count) * self.idf(key) for key, count in terms.items()}
        weight = self.config.actor_weight
        for key, count in actors.items():
            vector[key] = _log_weight(count) * self.idf(key) * weight
        return vector

    def _best_event(self, vector: dict[str, float], seen: float) -> tuple[float, str] | None:
        if not vector:
            return None
        window = self.config.window_s
        terms = sorted(
            (k for k in vector if not k.startswith(ACTOR_PREFIX)), key=lambda k: (-vector[k], k)
        )[: self.config.query_terms]
        query = terms + [k for k in vector if k.startswith(ACTOR_PREFIX)]
        hits: dict[str, float] = defaultdict(float)
        for key in query:
            for eid in self._postings.get(key, ()):
                hits[eid] += vector[key]
        entries = self._entries
        candidates = heapq.nsmallest(
            self.config.max_candidates,
            (
                (-score, eid)
                for eid, score in hits.items()
                if seen - window <= entries[eid].last_seen
                and entries[eid].first_seen <= seen + window
            ),
        )
        norm = math.sqrt(sum(w * w for w in vector.values()))
        # The document frequencies do not change while one article is scored: one idf per
        # key, computed as idf() does, inline (this loop is the stage's main cost).
        postings, events, log = self._postings, len(entries) + 1, math.log
        idf: dict[str, float] = {}
        actor_weight = self.config.actor_weight
        best: tuple[float, str] | None = None
        for _, eid in candidates:
            entry = entries[eid]
            centroid: dict[str, float] = {}
            for k, c in entry.terms.items():
                w = idf.get(k)
                if w is None:
                    w = idf[k] = log(events / (len(postings.get(k, ())) + 1)) + 1.0
                centroid[k] = (1.0 + log(c) if c >= 1.0 else c) * w  # _log_weight(c) * idf
            for k, v in entry.actors.items():
                w = idf.get(k)
                if w is None:
                    w = idf[k] = log(events / (len(postings.get(k, ())) + 1)) + 1.0
                centroid[k] = v * w * actor_weight
            dot = sum(w * vector[k] for k, w in centroid.items() if k in vector)
            if dot <= 0.0:
                continue
            similarity = dot / (norm * math.sqrt(sum(w * w for w in centroid.values())))
            # the most similar event wins; ties go to the older event, then the smaller id
            if best is None or (similarity, -entry.first_seen) > (
                best[0],
                -entries[best[1]].first_seen,
            ):
                best = (similarity, eid)
        return best

    # --- updates ----------------------------------------------------------------------

    def _add_copy(self, entry: EventEntry, enriched: EnrichedArticle, seen: float) -> None:
        article = enriched.article
        entry.articles.append(article.id)
        outlet = article.outlet or article.domain
        entry.outlets[outlet] = entry.outlets.get(outlet, 0) + 1
        entry.first_seen = min(entry.first_seen, seen)
        entry.last_seen = max(entry.last_seen, seen)

    def _add_story(
        self, entry: EventEntry, enriched: EnrichedArticle, features: Features, seen: float
    ) -> None:
        self._add_copy(entry, enriched, seen)
        entry.stories.append(enriched.story.cluster_id)
        entry.claims += len(enriched.claims)
        for actor in enriched.actors:
            entry.mentions[actor.canonical] = (
                entry.mentions.get(actor.canonical, 0) + actor.mentions
            )
        entry.mentions = dict(
            sorted(entry.mentions.items(), key=lambda kv: (-kv[1], kv[0]))[
                : self.config.top_mentions
            ]
        )
        entry.terms = _merge(
            entry.terms, features.terms, features.order, self.config.centroid_terms
        )
        entry.actors = _merge(
            entry.actors, features.actors, features.order, self.config.centroid_actors
        )

    def _commit(self, entry: EventEntry) -> None:
        self.store[entry.event_id] = entry.to_dict()
        self._index(entry)
        self.watermark = max(self.watermark, entry.last_seen)
        self._evict()

    # --- bounds -----------------------------------------------------------------------

    def _evict(self) -> None:
        """Forget events quiet for longer than the window, then the oldest beyond the cap."""
        horizon = self.watermark - self.config.window_s
        order = self._order
        while order and (order[0][0] < horizon or len(self._entries) > self.config.max_events):
            last_seen, eid = heapq.heappop(order)
            entry = self._entries.get(eid)
            if entry is None or entry.last_seen != last_seen:
                continue  # stale heap item: the event was updated and re-pushed
            self._unindex(entry)
            del self.store[eid]

    def __len__(self) -> int:
        return len(self._entries)

    def event(self, event_id: str) -> EventEntry | None:
        return self._entries.get(event_id)


def _merge(
    centroid: dict[str, float], counts: dict[str, float], order: dict[str, int], keep: int
) -> dict[str, float]:
    """Add a story's log counts to a centroid and keep the ``keep`` heaviest keys.

    Ties between equal weights go to the key the new story names first, then to the key.
    """
    merged = dict(centroid)
    for key, count in counts.items():
        merged[key] = merged.get(key, 0.0) + _log_weight(count)
    ranked = sorted(merged, key=lambda k: (-merged[k], order.get(k, len(order)), k))[:keep]
    return {k: round(merged[k], 6) for k in ranked}
