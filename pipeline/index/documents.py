"""EnrichedArticle -> Elasticsearch documents (articles, stories and events indices).

The document id is the article id (sha1 of the normalised URL), so indexing the same
article again (replay, redelivery after a crash) overwrites instead of duplicating.
Every field written here is mapped in ``templates/articles.json`` (``dynamic: strict``):
a unit test keeps the two in step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.records import Claim, EnrichedArticle, Quantity, utcnow


def document_id(record: EnrichedArticle) -> str:
    return record.article.id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _quantity(q: Quantity) -> dict[str, Any]:
    return {"text": q.text, "value": q.value, "unit": q.unit}


def _claim(claim: Claim) -> dict[str, Any]:
    return {
        "speaker": claim.speaker,
        "source": claim.source.text if claim.source else None,
        "cue": claim.cue.text if claim.cue else None,
        "kind": claim.kind,
        # A quotation resumed after "he said" is indexed without the interruption.
        "content": " … ".join(p.text for p in claim.content_parts) or claim.content.text,
        "has_quantity": bool(claim.quantities),
        "quantities": [_quantity(q) for q in claim.quantities],
    }


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def to_document(record: EnrichedArticle, *, ingested_at: datetime | None = None) -> dict[str, Any]:
    """The articles-index document of one copy of a story."""
    a, story = record.article, record.story
    outlets = _unique(story.outlets or ([a.outlet] if a.outlet else []))
    speakers = _unique([c.speaker for c in record.claims if c.speaker])
    return {
        "schema_version": a.schema_version,
        "id": a.id,
        "url": a.url,
        "normalized_url": a.normalized_url,
        "canonical_url": a.canonical_url,
        "feed_url": a.feed_url,
        "feed_name": a.feed_name,
        "outlet": a.outlet,
        "site_name": a.site_name,
        "domain": a.domain,
        "language": a.language,
        "tags": a.tags,
        "authors": a.authors,
        "title": a.title,
        "summary": a.summary,
        "text": a.text,
        "text_source": a.text_source,
        "text_note": a.text_note,
        "published_at": _iso(a.published_at),
        "fetched_at": _iso(a.fetched_at),
        "enriched_at": _iso(record.enriched_at),
        "ingested_at": _iso(ingested_at or utcnow()),
        "event_id": record.event.event_id if record.event else None,
        "story": {
            "cluster_id": story.cluster_id,
            "canonical_id": story.canonical_id,
            "is_canonical": story.canonical_id == a.id,
            "match": story.match,
            "similarity": story.similarity,
            "size": story.size,
            "outlets": outlets,
            "outlet_count": len(outlets),
        },
        "actor": _unique([act.canonical for act in record.actors]),
        "actor_type": _unique([act.type for act in record.actors]),
        "actors": [
            {
                "canonical": act.canonical,
                "type": act.type,
                "mentions": act.mentions,
                "wikidata": act.wikidata,
            }
            for act in record.actors
        ],
        "has_claims": bool(record.claims),
        "claim_count": len(record.claims),
        "claim_speaker": speakers,
        "claims": [_claim(c) for c in record.claims],
        "quantities": [_quantity(q) for q in record.quantities],
        "enrichment_errors": record.enrichment_errors,
    }


def story_version(record: EnrichedArticle) -> int:
    """External version of the story document: the cluster size this copy saw.

    Written with ``version_type=external_gte``, a copy that saw fewer copies (arriving late
    from another partition) cannot overwrite a newer count; equal sizes overwrite
    harmlessly, so replay is idempotent.
    """
    return max(1, record.story.size)


def to_story_document(
    record: EnrichedArticle, *, updated_at: datetime | None = None
) -> dict[str, Any]:
    """The stories-index document (id = cluster id) as this copy knows the cluster."""
    a, story = record.article, record.story
    outlets = _unique(story.outlets or ([a.outlet] if a.outlet else []))
    return {
        "cluster_id": story.cluster_id,
        "canonical_id": story.canonical_id,
        "latest_id": a.id,
        "title": a.title,
        "size": story.size,
        "outlets": outlets,
        "outlet_count": len(outlets),
        "actor": _unique([act.canonical for act in record.actors]),
        "event_id": record.event.event_id if record.event else None,
        "published_at": _iso(a.published_at),
        "updated_at": _iso(updated_at or utcnow()),
    }


def event_version(record: EnrichedArticle) -> int:
    """External version of the event document: the event's revision this copy saw.

    Written with ``version_type=external``: a replay (same revision) is refused as a
    conflict and changes nothing; a copy that saw an older revision (indexed late from
    another partition) never overwrites a newer one.
    """
    if record.event is None:
        raise ValueError(f"article {record.article.id} has no event")
    return max(1, record.event.revision)


def to_event_document(
    record: EnrichedArticle, *, updated_at: datetime | None = None
) -> dict[str, Any]:
    """The events-index document (id = event id) as this article knows its event."""
    event = record.event
    if event is None:
        raise ValueError(f"article {record.article.id} has no event")
    return {
        "event_id": event.event_id,
        "revision": event.revision,
        "title": event.title,
        "first_seen": _iso(event.first_seen),
        "last_seen": _iso(event.last_seen),
        "story_count": event.stories,
        "article_count": event.articles,
        "outlets": event.outlets,
        "outlet_count": len(event.outlets),
        "actor": event.top_actors,
        "claim_count": event.claims,
        "latest_id": record.article.id,
        "updated_at": _iso(updated_at or utcnow()),
    }
