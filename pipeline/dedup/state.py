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
    canonical_id: str
    match: Match
    seen: float  # epoch seconds of the article's fetch time; orders eviction
    content: str  # sha1 of the normalised body
    url_keys: list[str] = field(default_factory=list)
    outlet: str = ""
    similarity: float | None = None
    signature: str | None = None  # base64 uint32 MinHash; None when too short to compare

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(**data)
