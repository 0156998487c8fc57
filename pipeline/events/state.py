"""The persisted event state: one JSON-able entry per live event.

Only these entries are persisted (a changelog-backed table keyed by event id in the worker,
a dict in tests). The story -> event map, the inverted index and the document frequencies
the clusterer uses are derived from them, so one write per article keeps the state
consistent even if a crash cuts the changelog short, and a rebuilt clusterer decides
exactly as the one that wrote the entries would have.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class EventEntry:
    event_id: str  # id of the event's first article
    title: str  # title of the event's first article
    first_seen: float  # epoch seconds, event time (see clusterer.event_time)
    last_seen: float
    # centroid: summed log term frequencies of the member stories, cut to the heaviest
    terms: dict[str, float] = field(default_factory=dict)
    actors: dict[str, float] = field(default_factory=dict)  # same for actors ('@' keys)
    stories: list[str] = field(default_factory=list)  # story cluster ids, first seen first
    articles: list[str] = field(default_factory=list)  # article ids, first seen first
    outlets: dict[str, int] = field(default_factory=dict)  # articles per outlet
    mentions: dict[str, int] = field(default_factory=dict)  # actor -> mentions, over stories
    claims: int = 0  # claims in the stories' first copies

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventEntry:
        entry = cls(**data)
        # one string object per distinct term across events: a term costs its bytes once
        entry.terms = {sys.intern(k): v for k, v in entry.terms.items()}
        entry.actors = {sys.intern(k): v for k, v in entry.actors.items()}
        return entry
