"""What the event clusterer compares: an article's content terms and its actors.

Terms are lower-cased words of the title and body with English stop words and a few
reporting words dropped, reduced by Harman's S-stemmer ("troops" and "troop" are one term),
so the same happening told by two outlets shares them. Actors are the canonical names the
enrichment stage resolved ("Mr. Putin", "Putin" and "Vladimir Putin" are one actor), kept
apart from terms under an ``@`` prefix so an actor named "Kursk" and the word never collide.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from pipeline.events.stop_words import STOP_WORDS
from pipeline.records import EnrichedArticle

ACTOR_PREFIX = "@"
# Words every news report uses whatever happened: reporting verbs and honorifics. They are
# not in spaCy's general stop list, and the running document frequency only learns to
# discount them after many articles.
_REPORTING = frozenset(
    [
        "said",
        "says",
        "saying",
        "told",
        "tells",
        "according",
        "reported",
        "reports",
        "reporting",
        "added",
        "adding",
        "asked",
        "statement",
        "mr",
        "mrs",
        "ms",
        "dr",
        "th",
        "news",
        "percent",
    ]
)
_STOP = frozenset(w.casefold() for w in STOP_WORDS) | _REPORTING
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
MIN_LENGTH = 3


def s_stem(word: str) -> str:
    """Harman's S-stemmer (1991): plural endings only, so it never merges unrelated words."""
    if len(word) > 4 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Content terms of ``text`` in order of appearance."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    out = []
    for word in _WORD.findall(folded):
        word = word.replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if len(word) < MIN_LENGTH or word in _STOP:
            continue
        out.append(s_stem(word))
    return out


@dataclass(frozen=True)
class Features:
    """Counts of an article's terms and actors (actor keys carry ``ACTOR_PREFIX``).

    ``order`` ranks keys by first appearance (title first), which breaks ties between equal
    counts when a vector must be cut short: what a report says first is what it is about.
    """

    terms: dict[str, float]
    actors: dict[str, float]
    order: dict[str, int]


def article_features(enriched: EnrichedArticle, title_weight: float = 2.0) -> Features:
    article = enriched.article
    title_terms = terms(article.title)
    body_terms = terms(article.text)
    counts: Counter[str] = Counter()
    for term in title_terms:
        counts[term] += title_weight
    for term in body_terms:
        counts[term] += 1.0
    order: dict[str, int] = {}
    for term in title_terms + body_terms:
        order.setdefault(term, len(order))
    actors: dict[str, float] = {}
    for actor in enriched.actors:
        key = ACTOR_PREFIX + actor.canonical
        actors[key] = actors.get(key, 0.0) + float(actor.mentions)
        order.setdefault(key, len(order))
    return Features(terms=dict(counts), actors=actors, order=order)
