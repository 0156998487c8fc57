"""The events stage's per-record logic over a bytes table, without a broker: copies share
their story's event, a redelivery and a replay from the persisted table decide the same, and
what the articles carry becomes the events-index document and its external version."""

from __future__ import annotations

import asyncio
import json

from event_articles import BUDGET, KURSK, KURSK_OTHER_WORDS, enriched

from pipeline.events.clusterer import EventConfig
from pipeline.index import samples
from pipeline.index.documents import (
    event_version,
    to_document,
    to_event_document,
    to_story_document,
)
from pipeline.index.sink import BulkSink
from pipeline.index.templates import mapping_fields
from pipeline.records import Actor, EnrichedArticle
from pipeline.settings import Settings
from pipeline.worker.events_agent import EventsStage, decode_annotated, event_config
from pipeline.worker.tables import JSON_CODEC, CodecTable


class RecordingClient:
    """Takes bulk() requests and answers every item 201."""

    def __init__(self) -> None:
        self.bulks: list[list[dict]] = []
        self.indices = self

    async def get_alias(self, name: str) -> dict:
        return {f"{name}-000001": {}}

    async def bulk(self, operations: list[bytes], refresh: bool) -> dict:
        lines = [json.loads(line) for line in operations]
        self.bulks.append(lines)
        items = [{"index": {"_id": a["index"]["_id"], "status": 201}} for a in lines[0::2]]
        return {"errors": False, "items": items}


def stream() -> list[EnrichedArticle]:
    putin = Actor(canonical="Vladimir Putin", type="PERSON", mentions=2)
    return [
        enriched("a", KURSK, 0, story="s1").model_copy(update={"actors": [putin]}),
        enriched("b", KURSK, 0.5, story="s1"),  # a copy of story s1
        enriched("c", BUDGET, 1),
        enriched("d", KURSK_OTHER_WORDS, 2),  # another outlet's report of the Kursk event
        enriched("e", BUDGET + " and defence", 3),
    ]


def stage(table: dict[bytes, bytes]) -> EventsStage:
    return EventsStage(CodecTable(table, JSON_CODEC), EventConfig())


def test_copies_and_other_reports_share_the_event_and_carry_it() -> None:
    events = stage({})
    out = [events.assign(r) for r in stream()]
    ids = [r.event.event_id for r in out if r.event]
    assert len(ids) == 5
    assert ids[0] == ids[1] == ids[3] and ids[2] == ids[4] and ids[0] != ids[2]
    assert [r.event.match for r in out if r.event] == ["new", "story", "new", "joined", "joined"]
    kursk = out[3].event
    assert kursk is not None
    assert kursk.revision == 3 and kursk.articles == 3 and kursk.stories == 2
    assert kursk.top_actors == ["Vladimir Putin"] and kursk.outlets == ["Outlet"]
    assert kursk.first_seen < kursk.last_seen and kursk.title == out[0].article.title


def test_a_redelivered_article_keeps_its_event_and_changes_nothing() -> None:
    table: dict[bytes, bytes] = {}
    events = stage(table)
    first = [events.assign(r) for r in stream()]
    before = dict(table)
    again = events.assign(stream()[3])
    assert again.event is not None and first[3].event is not None
    assert again.event.match == "replay" and again.event.event_id == first[3].event.event_id
    assert again.event.revision == first[3].event.revision
    assert table == before


def test_a_replay_into_an_empty_state_and_a_rebuilt_one_decide_the_same() -> None:
    table: dict[bytes, bytes] = {}
    running = stage(table)
    first = [running.assign(r).event for r in stream()[:3]]
    # the worker restarts: the table came back from its changelog, the rest is rebuilt
    rebuilt = stage(dict(table))
    rest = [rebuilt.assign(r).event for r in stream()[3:]]
    replaying = stage({})
    replay = [replaying.assign(r).event for r in stream()]
    assert [e.event_id for e in first + rest if e] == [e.event_id for e in replay if e]
    assert [e.revision for e in first + rest if e] == [e.revision for e in replay if e]


def test_the_table_holds_bytes_that_decode_back() -> None:
    table: dict[bytes, bytes] = {}
    stage(table).assign(stream()[0])
    (key, value), *_ = table.items()
    assert json.loads(key) == "a" and json.loads(value)["stories"] == ["s1"]


def test_settings_reach_the_clusterer() -> None:
    config = event_config(
        Settings(events_threshold=0.5, events_window_hours=2, events_max_events=10)
    )
    assert (config.threshold, config.window_s, config.max_events) == (0.5, 7200.0, 10)


def test_an_empty_value_is_refused_for_the_dead_letter_topic() -> None:
    try:
        decode_annotated(b"")
    except ValueError as exc:
        assert "tombstone" in str(exc)
    else:
        raise AssertionError("empty value accepted")


def test_article_story_and_event_documents_carry_the_event_and_are_mapped() -> None:
    record = stage({}).assign(samples.enriched(1))
    assert record.event is not None
    assert to_document(record)["event_id"] == record.event.event_id
    assert to_story_document(record)["event_id"] == record.event.event_id
    doc = to_event_document(record)
    assert set(doc) <= set(mapping_fields("events")), set(doc) - set(mapping_fields("events"))
    assert doc["story_count"] == 1 and doc["revision"] == event_version(record) == 1
    assert to_document(samples.enriched(2))["event_id"] is None  # before the events stage


def test_the_sink_writes_each_event_once_at_its_newest_revision() -> None:
    events = stage({})
    records = [events.assign(r) for r in stream()]
    client = RecordingClient()
    sink = BulkSink(client, Settings())  # type: ignore[arg-type]
    # out of order, as copies from different partitions of the enriched topic may be
    asyncio.run(sink.write([records[3], records[0], records[4], records[2]]))
    actions = [
        a["index"] for a in client.bulks[0][0::2] if a["index"]["_index"] == "wirewatch-events"
    ]
    assert {(a["_id"], a["version"], a["version_type"]) for a in actions} == {
        ("a", 3, "external"),
        ("c", 2, "external"),
    }
