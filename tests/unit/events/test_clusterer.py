"""EventClusterer without servers or spaCy: enriched articles built by hand."""

from __future__ import annotations

from event_articles import BUDGET, KURSK, KURSK_OTHER_WORDS, enriched

from pipeline.evaluation.events import bcubed
from pipeline.events.clusterer import EventClusterer, EventConfig


def test_independent_reports_of_one_happening_share_an_event() -> None:
    clusterer = EventClusterer({})
    first = clusterer.assign(enriched("a", KURSK, 0))
    second = clusterer.assign(enriched("b", KURSK_OTHER_WORDS, 2))
    other = clusterer.assign(enriched("c", BUDGET, 3))
    assert second.event_id == first.event_id and second.match == "joined"
    assert other.event_id != first.event_id and other.match == "new"


def test_copies_of_one_story_inherit_its_event_whatever_their_text() -> None:
    clusterer = EventClusterer({})
    first = clusterer.assign(enriched("a", KURSK, 0, story="s1"))
    copy = clusterer.assign(enriched("b", BUDGET, 1, story="s1"))
    assert copy.event_id == first.event_id and copy.match == "story"


def test_an_event_takes_no_story_after_its_window() -> None:
    clusterer = EventClusterer({}, EventConfig(window_s=24 * 3600.0))
    first = clusterer.assign(enriched("a", KURSK, 0))
    late = clusterer.assign(enriched("b", KURSK_OTHER_WORDS, 30))
    assert late.event_id != first.event_id


def test_a_replay_and_a_rebuilt_clusterer_reproduce_the_decisions() -> None:
    stream = [
        enriched("a", KURSK, 0),
        enriched("b", BUDGET, 1),
        enriched("c", KURSK_OTHER_WORDS, 2),
        enriched("d", BUDGET + " and defence", 3),
    ]
    once = [EventClusterer({}).assign(item).event_id for item in stream[:1]]
    store: dict = {}
    clusterer = EventClusterer(store)
    first_run = [clusterer.assign(item).event_id for item in stream]
    again = [EventClusterer({}).assign(item) for item in stream[:1]]
    assert [a.event_id for a in again] == once == first_run[:1]
    fresh = EventClusterer({})
    assert [fresh.assign(item).event_id for item in stream] == first_run
    # After a restart the state is the persisted store only; re-delivered articles keep
    # their events and a new report still joins.
    rebuilt = EventClusterer(dict(store))
    assert [rebuilt.assign(item).event_id for item in stream] == first_run
    joined = rebuilt.assign(enriched("e", KURSK, 4))
    assert joined.event_id == first_run[0]


def test_bcubed_scores_a_known_clustering() -> None:
    perfect = bcubed(["x", "x", "y"], ["1", "1", "2"])
    assert (perfect.precision, perfect.recall) == (1.0, 1.0)
    split = bcubed(["x", "x"], ["1", "2"])
    assert split.precision == 1.0 and split.recall == 0.5
    merged = bcubed(["x", "y"], ["1", "1"])
    assert merged.precision == 0.5 and merged.recall == 1.0
