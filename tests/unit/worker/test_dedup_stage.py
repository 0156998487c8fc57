"""The dedup agent's per-record logic and its dead-letter records, without a broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from pipeline.dedup import DedupConfig
from pipeline.records import Article, DeadLetter
from pipeline.worker.deadletter import dead_letter
from pipeline.worker.dedup_agent import DedupStage

TEXT = (
    "Russian President Vladimir Putin visited the Kursk region on Wednesday, wearing a "
    "military uniform, and told commanders that Moscow's goal was to completely liberate "
    "the territory as soon as possible, a day after Ukraine accepted a ceasefire proposal."
)


def raw(url: str, text: str = TEXT, **extra: object) -> bytes:
    article = Article(
        id=url.rsplit("/", 1)[-1],
        url=url,
        normalized_url=url,
        feed_url="https://example.com/rss",
        domain=url.split("/")[2],
        title="Putin in Kursk",
        text=text,
        fetched_at=datetime(2025, 3, 13, tzinfo=UTC),
        **extra,
    )
    return article.to_json()


def test_copies_pass_on_with_their_story() -> None:
    stage = DedupStage({}, DedupConfig())
    first = stage.process(raw("https://a.example/1"))
    copy = stage.process(raw("https://b.example/2", TEXT + " Reporting by B."))
    assert first.story.match == "new"
    assert copy.story.match == "near"
    assert copy.story.cluster_id == first.article.id
    assert copy.article.text.endswith("Reporting by B.")  # the copy itself flows on


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"{not json",
        b'{"id": "x"}',  # schema-invalid: required fields missing
        json.dumps({"unknown": 1}).encode(),
        raw("https://a.example/1").replace(b'"title"', b'"headline"'),
    ],
)
def test_poison_records_raise_value_error_and_leave_state_alone(value: bytes | None) -> None:
    store: dict[str, dict] = {}
    stage = DedupStage(store, DedupConfig())
    with pytest.raises(ValueError):
        stage.process(value)
    assert store == {}


def test_state_is_rebuilt_after_recovery() -> None:
    store: dict[str, dict] = {}
    stage = DedupStage(store, DedupConfig())
    first = stage.process(raw("https://a.example/1"))
    # as if the table were recovered from its changelog by another worker
    fresh = DedupStage(json.loads(json.dumps(store)), DedupConfig())
    fresh.invalidate()
    copy = fresh.process(raw("https://b.example/2", TEXT))
    assert copy.story.match == "content"
    assert copy.story.cluster_id == first.story.cluster_id


def test_dead_letter_keeps_payload_reason_and_origin() -> None:
    message = SimpleNamespace(
        topic="p.wirewatch.articles.raw", partition=0, offset=41, key=b"k1", value=b"\xff{bad"
    )
    record, headers = dead_letter("dedup", message, "Invalid JSON", "ValidationError")
    assert DeadLetter.from_json(record.to_json()) == record
    assert record.payload == "\ufffd{bad"
    assert (record.topic, record.partition, record.offset, record.key) == (
        "p.wirewatch.articles.raw",
        0,
        41,
        "k1",
    )
    assert headers["stage"] == b"dedup"
    assert headers["reason"] == b"Invalid JSON"
    assert headers["original_offset"] == b"41"
    assert headers["original_partition"] == b"0"
    assert headers["original_topic"] == b"p.wirewatch.articles.raw"
    assert datetime.fromisoformat(headers["failed_at"].decode()).tzinfo is not None
