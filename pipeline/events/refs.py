"""What an article carries of its event (``EnrichedArticle.event``), from the event state.

The reference is the event as the article left it: its revision (articles in the event) is
the external version of the events-index document, so of several copies indexed out of
order the one that saw the most articles wins, and a replay (same revision) changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.events.clusterer import EventAssignment
from pipeline.events.state import EventEntry
from pipeline.records import EventRef

TOP_ACTORS = 10


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def ranked_outlets(entry: EventEntry) -> list[str]:
    """Outlets by articles in the event, most first, then by name."""
    return [o for o, _ in sorted(entry.outlets.items(), key=lambda kv: (-kv[1], kv[0]))]


def event_ref(assignment: EventAssignment) -> EventRef:
    entry = assignment.entry
    if entry is None:
        raise ValueError(f"assignment to {assignment.event_id} carries no event entry")
    return EventRef(
        event_id=entry.event_id,
        match=assignment.match,
        similarity=assignment.similarity,
        revision=len(entry.articles),
        title=entry.title,
        first_seen=_time(entry.first_seen),
        last_seen=_time(entry.last_seen),
        stories=len(entry.stories),
        articles=len(entry.articles),
        outlets=ranked_outlets(entry),
        # mentions are kept sorted by count, then name (clusterer._add_story)
        top_actors=list(entry.mentions)[:TOP_ACTORS],
        claims=entry.claims,
    )
