"""The persisted dedup state: one JSON-able entry per article in the window.

Only these entries are persisted (a changelog-backed Faust table keyed by article id in the
worker, a dict in tests). Everything else the deduplicator uses (URL and content lookups,
LSH buckets, cluster sizes and outlets, eviction order) is derived from them, so one table
write per article keeps the state consistent even if a crash cuts the changelog short.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Match = Literal["new", "url", "content", "near"]


@dataclass(slots=True)
class Entry:
    article_id: str
    cluster_id: str
    canonical_id: str  # the story's canonical when this entry was written (see below)
    match: Match
    seen: float  # epoch seconds of the article's fetch time; orders eviction
    content: str  # sha1 of the normalised body
    url_keys: list[str] = field(default_factory=list)
    outlet: str = ""
    similarity: float | None = None
    signature: str | None = None  # base64 uint32 MinHash; None when too short to compare
    # Canonical choice (issue 11): the copy with the lowest (time, id) is the story's canonical,
    # time being its publication time (clamped to its fetch time), so the choice depends on
    # the records only. ``published`` is this article's; ``canonical_id``/``canonical_time``
    # the best copy its story had when this entry was written, so a canonical that left the
    # window stays the canonical. None in entries written before this field existed.
    published: float | None = None
    canonical_time: float | None = None

    @property
    def rank(self) -> tuple[float, str]:
        """This copy's claim to be canonical: lower wins (earliest published, then id)."""
        when = self.seen if self.published is None else min(self.published, self.seen)
        return (when, self.article_id)

    @property
    def canonical_rank(self) -> tuple[float, str] | None:
        """The rank of the canonical recorded in this entry, when it was recorded."""
        if self.canonical_time is None:
            return None
        return (self.canonical_time, self.canonical_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(**data)
