"""Reading the events index (``wirewatch events``): the query and the printed lines.

The events index holds one document per event, written by the index stage from what each
article carries of its event (pipeline.index.documents.to_event_document), newest revision
wins. Listing is by last article seen, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_OUTLETS_SHOWN = 6
MAX_ACTORS_SHOWN = 5


@dataclass(frozen=True)
class EventRow:
    event_id: str
    title: str
    first_seen: str
    last_seen: str
    stories: int
    articles: int
    outlets: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    claims: int = 0

    @classmethod
    def from_document(cls, source: dict[str, Any]) -> EventRow:
        return cls(
            event_id=source["event_id"],
            title=source.get("title") or "",
            first_seen=source.get("first_seen") or "",
            last_seen=source.get("last_seen") or "",
            stories=int(source.get("story_count") or 0),
            articles=int(source.get("article_count") or 0),
            outlets=list(source.get("outlets") or []),
            actors=list(source.get("actor") or []),
            claims=int(source.get("claim_count") or 0),
        )


def events_query(since: str | None, actors: Sequence[str], limit: int) -> dict[str, Any]:
    """Keyword arguments for ``client.search`` over the events index: events active at or
    after ``since`` (their last article), among whose top actors any of ``actors`` is."""
    filters: list[dict[str, Any]] = []
    if since:
        filters.append({"range": {"last_seen": {"gte": since}}})
    if actors:
        filters.append({"terms": {"actor": list(actors)}})
    return {
        "query": {"bool": {"filter": filters}} if filters else {"match_all": {}},
        "sort": [{"last_seen": {"order": "desc"}}, {"event_id": {"order": "asc"}}],
        "size": limit,
    }


def _shown(values: list[str], limit: int) -> str:
    more = len(values) - limit
    return ", ".join(values[:limit]) + (f" +{more}" if more > 0 else "")


def event_lines(row: EventRow) -> str:
    """Two lines: when, counts and title; then outlets and top actors."""
    when = row.last_seen[:16].replace("T", " ")
    counts = f"{row.stories} stories, {row.articles} articles, {len(row.outlets)} outlets"
    head = f"{when}  {row.title}  [{counts}]"
    outlets = _shown(row.outlets, MAX_OUTLETS_SHOWN) or "-"
    actors = _shown(row.actors, MAX_ACTORS_SHOWN) or "-"
    return f"{head}\n    {row.event_id}  outlets: {outlets}  actors: {actors}"
