"""Score claim tracking on a timeline corpus: grouping (pairwise) and links.

A corpus directory holds ``articles/*.txt`` and ``expected.json``. Each article file opens
with ``key: value`` header lines (``id``, ``outlet``, ``published`` ISO time, ``url``,
``title``), then a blank line, then the text. ``expected.json``::

    {"groups": [{"id": "g-86", "speaker": "Valery Gerasimov",
                 "claims": [{"article": "a01", "contains": "86 per cent"}, ...]}, ...],
     "links": [{"type": "updates", "from": "g-90", "to": "g-86"},
               {"type": "disputed", "between": ["g-86", "g-40"]}]}

A gold claim is the first predicted claim (with a speaker) of its article whose content
holds ``contains`` (case-insensitive), one of the group's ``speaker`` first when given;
one found nowhere counts against recall. The
articles run through the real extraction (pipeline.enrich) and the real tracker, in
publication order.

- Grouping: pairs of gold claims in one gold group are the gold pairs; predicted pairs are
  pairs of statements in one tracked claim, among gold claims and the unlisted statements
  the tracker put with them (a distractor merged into a gold claim is a false pair; pairs of
  unlisted statements are not judged).
- Links: each tracked claim maps to the gold group most of its gold claims belong to (none:
  unmapped). A predicted ``updates`` (later -> earlier) or ``disputed`` (unordered) link is
  right when its mapped pair is a gold link of that type; links are counted once per pair
  of groups.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.claims.tracker import ClaimTracker, Statement, statements
from pipeline.records import Article, DedupedArticle, EnrichedArticle, StoryRef


class CorpusError(ValueError):
    """The corpus directory is not in the format described above."""


@dataclass(frozen=True)
class GoldClaim:
    group: str
    article: str
    contains: str


@dataclass
class Gold:
    claims: list[GoldClaim]
    speakers: dict[str, str]
    links: set[tuple[str, str, str]]  # (type, a, b); disputed: a < b


def parse_article(path: Path) -> Article:
    raw = path.read_text(encoding="utf-8")
    head, sep, body = raw.partition("\n\n")
    if not sep:
        raise CorpusError(f"{path}: no blank line between the header and the text")
    meta: dict[str, str] = {}
    for line in head.splitlines():
        key, colon, value = line.partition(":")
        if not colon:
            raise CorpusError(f"{path}: header line without 'key: value': {line!r}")
        meta[key.strip().lower()] = value.strip()
    for key in ("id", "url", "published"):
        if not meta.get(key):
            raise CorpusError(f"{path}: header lacks {key!r}")
    try:
        published = datetime.fromisoformat(meta["published"].replace("Z", "+00:00"))
    except ValueError as exc:
        raise CorpusError(f"{path}: published: {exc}") from exc
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    url = meta["url"]
    return Article(
        id=meta["id"],
        url=url,
        normalized_url=url,
        feed_url=f"file://{path.parent}",
        outlet=meta.get("outlet"),
        domain=(urlsplit(url).hostname or "").lower(),
        title=meta.get("title", ""),
        text=body,
        published_at=published,
        fetched_at=published,
    )


def load_articles(directory: Path) -> list[Article]:
    folder = directory / "articles"
    paths = sorted(folder.glob("*.txt"))
    if not paths:
        raise CorpusError(f"{folder}: no *.txt articles")
    articles = [parse_article(p) for p in paths]
    ids = Counter(a.id for a in articles)
    dup = sorted(i for i, n in ids.items() if n > 1)
    if dup:
        raise CorpusError(f"{folder}: article ids used twice: {', '.join(dup)}")
    return sorted(articles, key=lambda a: (a.published_at, a.id))


def load_gold(directory: Path, article_ids: set[str]) -> Gold:
    path = directory / "expected.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        claims, speakers = [], {}
        for g in data["groups"]:
            speakers[g["id"]] = g.get("speaker", "")
            for c in g["claims"]:
                if c["article"] not in article_ids:
                    raise CorpusError(f"{path}: group {g['id']}: no article {c['article']!r}")
                claims.append(GoldClaim(g["id"], c["article"], c["contains"]))
        links: set[tuple[str, str, str]] = set()
        for link in data.get("links", []):
            if link["type"] == "updates":
                pair = (link["from"], link["to"])
            elif link["type"] == "disputed":
                a, b = sorted(link["between"])
                pair = (a, b)
            else:
                raise CorpusError(f"{path}: unknown link type {link['type']!r}")
            for g in pair:
                if g not in speakers:
                    raise CorpusError(f"{path}: link names unknown group {g!r}")
            links.add((link["type"], *pair))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CorpusError(f"{path}: {type(exc).__name__}: {exc}") from exc
    return Gold(claims, speakers, links)


def enrich_articles(articles: Iterable[Article]) -> list[EnrichedArticle]:
    from pipeline.enrich import enrich
    from pipeline.enrich.annotate import Annotator

    deduped = [
        DedupedArticle(article=a, story=StoryRef(cluster_id=a.id, canonical_id=a.id, match="new"))
        for a in articles
    ]
    return enrich(deduped, Annotator())


@dataclass
class PR:
    right: int = 0
    predicted: int = 0
    gold: int = 0

    @property
    def precision(self) -> float:
        return self.right / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.gold if self.gold else 1.0

    def summary(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "right": self.right,
            "predicted": self.predicted,
            "gold": self.gold,
        }


@dataclass
class TrackingScore:
    grouping: PR
    links: PR
    gold_claims: int
    found_claims: int
    predicted_links: list[dict[str, Any]] = field(default_factory=list)
    missed_links: list[list[str]] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "gold_claims": self.gold_claims,
            "found_claims": self.found_claims,
            "grouping": self.grouping.summary(),
            "links": self.links.summary(),
            "predicted_links": self.predicted_links,
            "missed_links": self.missed_links,
            "groups": self.groups,
        }


def run_tracking(
    records: list[EnrichedArticle], tracker: ClaimTracker | None = None
) -> tuple[ClaimTracker, list[tuple[Statement, str]]]:
    """Each statement with the claim id it went to, in stream order."""
    tracker = tracker or ClaimTracker()
    assigned: list[tuple[Statement, str]] = []
    for record in records:
        for st in statements(record):
            changes = tracker.observe_statement(st)
            if changes:
                assigned.append((st, changes[0].claim.claim_id))
    return tracker, assigned


def tracker_ids_of(tracker: ClaimTracker, speaker: str) -> set[str]:
    return {c.claim_id for c in tracker.claims(speaker)} if speaker else set()


def score_tracking(
    gold: Gold, tracker: ClaimTracker, assigned: list[tuple[Statement, str]]
) -> TrackingScore:
    by_article: dict[str, list[tuple[Statement, str]]] = {}
    for st, cid in assigned:
        by_article.setdefault(st.article_id, []).append((st, cid))
    # gold claim index -> (statement key, claim id)
    found: dict[int, tuple[tuple[str, int], str]] = {}
    for i, g in enumerate(gold.claims):
        holding = [
            (st, cid)
            for st, cid in by_article.get(g.article, [])
            if g.contains.lower() in st.claim.content.text.lower()
        ]
        # the gold group's speaker first (a headline may hold the same words)
        speaker = gold.speakers.get(g.group, "")
        holding.sort(key=lambda sc: sc[1] not in tracker_ids_of(tracker, speaker))
        if holding:
            st, cid = holding[0]
            found[i] = ((st.article_id, st.ordinal), cid)
    gold_pairs = {
        (i, j)
        for i, j in combinations(range(len(gold.claims)), 2)
        if gold.claims[i].group == gold.claims[j].group
    }
    # items: gold claims found, plus unlisted statements in the same tracked claims
    listed = {key for key, _ in found.values()}
    gold_claim_ids = {cid for _, cid in found.values()}
    items: list[tuple[str, str]] = [(f"g{i}", cid) for i, (_, cid) in found.items()]
    items += [
        (f"u{st.article_id}:{st.ordinal}", cid)
        for st, cid in assigned
        if (st.article_id, st.ordinal) not in listed and cid in gold_claim_ids
    ]
    predicted_pairs = right = 0
    for (a, ca), (b, cb) in combinations(items, 2):
        if ca != cb or (a[0] == "u" and b[0] == "u"):
            continue
        predicted_pairs += 1
        if a[0] == "g" and b[0] == "g":
            i, j = sorted((int(a[1:]), int(b[1:])))
            right += (i, j) in gold_pairs
    grouping = PR(right, predicted_pairs, len(gold_pairs))

    votes: dict[str, Counter[str]] = {}
    for i, (_, cid) in found.items():
        votes.setdefault(cid, Counter())[gold.claims[i].group] += 1
    group_of = {
        cid: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for cid, c in votes.items()
    }

    def name(cid: str) -> str:
        return group_of.get(cid, f"unmapped:{cid}")

    predicted: dict[tuple[str, str, str], dict[str, Any]] = {}
    for c in tracker.claims():
        for u in c.updates:
            key = ("updates", name(c.claim_id), name(u.claim_id))
            predicted.setdefault(key, {"speaker": c.speaker, "content": c.content})
        for d in c.disputed_by:
            a, b = sorted((name(c.claim_id), name(d.claim_id)))
            predicted.setdefault(("disputed", a, b), {"speaker": c.speaker, "content": c.content})
    links = PR(len(set(predicted) & gold.links), len(predicted), len(gold.links))
    groups: dict[str, list[str]] = {}
    for c in tracker.claims():
        if c.claim_id in gold_claim_ids:
            groups.setdefault(name(c.claim_id), []).append(
                f"{c.speaker}: {len(c.sources)} sources: {c.content[:80]}"
            )
    return TrackingScore(
        grouping=grouping,
        links=links,
        gold_claims=len(gold.claims),
        found_claims=len(found),
        predicted_links=[
            {"type": k[0], "a": k[1], "b": k[2], "right": k in gold.links, **v}
            for k, v in sorted(predicted.items())
        ],
        missed_links=[list(k) for k in sorted(gold.links - set(predicted))],
        groups=groups,
    )


def evaluate(directory: Path) -> TrackingScore:
    articles = load_articles(directory)
    gold = load_gold(directory, {a.id for a in articles})
    tracker, assigned = run_tracking(enrich_articles(articles))
    return score_tracking(gold, tracker, assigned)
