"""``wirewatch events`` and ``search --event`` without a node: the queries and the lines."""

from __future__ import annotations

from pipeline.index.events import EventRow, event_lines, events_query
from pipeline.index.search import SearchRequest, build_search

DOC = {
    "event_id": "e1",
    "revision": 5,
    "title": "Russian troops retake Kursk villages",
    "first_seen": "2026-01-05T10:00:00+00:00",
    "last_seen": "2026-01-05T14:30:00+00:00",
    "story_count": 3,
    "article_count": 5,
    "outlets": ["Fox News", "New York Times", "HuffPost"],
    "outlet_count": 3,
    "actor": ["Vladimir Putin", "Kursk"],
    "claim_count": 2,
    "latest_id": "a5",
    "updated_at": "2026-01-05T14:31:00+00:00",
}


def test_events_are_filtered_by_activity_and_actor_newest_first() -> None:
    body = events_query("now-2d", ["Vladimir Putin"], 7)
    assert body["query"]["bool"]["filter"] == [
        {"range": {"last_seen": {"gte": "now-2d"}}},
        {"terms": {"actor": ["Vladimir Putin"]}},
    ]
    assert body["sort"][0] == {"last_seen": {"order": "desc"}} and body["size"] == 7
    assert events_query(None, [], 3)["query"] == {"match_all": {}}


def test_an_event_prints_its_counts_outlets_and_actors() -> None:
    text = event_lines(EventRow.from_document(DOC))
    head, detail = text.split("\n")
    assert head.startswith("2026-01-05 14:30  Russian troops retake Kursk villages")
    assert "[3 stories, 5 articles, 3 outlets]" in head
    assert "e1" in detail and "Fox News, New York Times, HuffPost" in detail
    assert "actors: Vladimir Putin, Kursk" in detail


def test_many_outlets_are_cut_with_a_count() -> None:
    many = {**DOC, "outlets": [f"Outlet {n}" for n in range(9)]}
    assert "Outlet 5 +3" in event_lines(EventRow.from_document(many))


def test_search_by_event_filters_on_the_article_event_id() -> None:
    body = build_search(SearchRequest(event_id="e1"))
    assert {"term": {"event_id": "e1"}} in body["query"]["bool"]["filter"]
    assert not any(
        "event_id" in str(f) for f in build_search(SearchRequest())["query"]["bool"]["filter"]
    )
