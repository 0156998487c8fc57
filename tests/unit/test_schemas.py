"""The code's records and the checked-in JSON Schemas agree."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline import schemas
from pipeline.records import (
    TOPIC_RECORDS,
    Alert,
    AlertRule,
    Article,
    Claim,
    ClaimLink,
    ClaimStatements,
    DeadLetter,
    DedupedArticle,
    EnrichedArticle,
    Entity,
    EventRef,
    Span,
    StoryRef,
)
from pipeline.topics import ALL_TOPICS

ARTICLE = Article(
    id="0" * 40,
    url="https://example.com/a?utm_source=x",
    normalized_url="https://example.com/a",
    feed_url="https://example.com/feed.xml",
    domain="example.com",
    title="Putin visits Kursk",
    text="Body",
)
STORY = StoryRef(cluster_id="c1", canonical_id="0" * 40, match="new")

SAMPLES = {
    "wirewatch.articles.raw": ARTICLE,
    "wirewatch.articles.deduped": DedupedArticle(article=ARTICLE, story=STORY),
    "wirewatch.articles.annotated": EnrichedArticle(article=ARTICLE, story=STORY),
    "wirewatch.articles.enriched": EnrichedArticle(
        article=ARTICLE,
        story=STORY,
        event=EventRef(
            event_id="0" * 40,
            match="new",
            title="Putin visits Kursk",
            first_seen=datetime(2026, 1, 5, tzinfo=UTC),
            last_seen=datetime(2026, 1, 5, tzinfo=UTC),
            outlets=["Example"],
            top_actors=["Vladimir Putin"],
        ),
        entities=[Entity(start=0, end=5, text="Putin", label="PERSON", canonical="Vladimir Putin")],
        claims=[
            Claim(
                source=Span(start=0, end=5, text="Putin"),
                cue=Span(start=6, end=10, text="said"),
                content=Span(start=11, end=20, text="something"),
                speaker="Vladimir Putin",
                kind="indirect",
            )
        ],
    ),
    "wirewatch.alerts": Alert(
        id="r1:c1",
        rule_id="r1",
        rule_name="Putin",
        cluster_id="c1",
        article_id="0" * 40,
        title="t",
        url="https://example.com/a",
    ),
    "wirewatch.alert-matches": Alert(
        id="r1:c1",
        rule_id="r1",
        rule_name="Putin",
        cluster_id="c1",
        article_id="0" * 40,
        title="t",
        url="https://example.com/a",
    ),
    "wirewatch.alert-rules": AlertRule(id="r1", name="Putin", query='actor:"Vladimir Putin"'),
    "wirewatch.dead-letter": DeadLetter(
        stage="dedup", reason="bad json", error_type="ValueError", payload="{"
    ),
    "wirewatch.claim-statements": ClaimStatements(
        article_id="0" * 40,
        cluster_id="c1",
        url="https://example.com/a",
        title="t",
        seen_at=datetime(2026, 1, 1, tzinfo=UTC),
        claims=[
            Claim(
                content=Span(start=11, end=20, text="something"),
                speaker="Vladimir Putin",
                kind="indirect",
                terms=["something"],
            )
        ],
    ),
    "wirewatch.claim-changes": ClaimLink(
        kind="changed",
        pair_key="updates:b:a",
        claim_id="b",
        other_id="a",
        speakers=["Valery Gerasimov", "Valery Gerasimov"],
        contents=["retook 90 per cent", "retook 86 per cent"],
        unit="percent",
        value=90.0,
        other_value=86.0,
        article_id="0" * 40,
        cluster_id="c1",
        url="https://example.com/a",
        title="t",
        seen_at=datetime(2026, 1, 1, tzinfo=UTC),
    ),
}


def test_every_topic_has_a_record_and_a_schema_file() -> None:
    assert {t.name for t in ALL_TOPICS} == set(TOPIC_RECORDS) == set(SAMPLES)
    for topic in ALL_TOPICS:
        assert (schemas.SCHEMA_DIR / topic.schema).is_file(), topic.schema


@pytest.mark.parametrize("topic", [t.name for t in ALL_TOPICS])
def test_checked_in_schema_matches_the_code(topic: str) -> None:
    path = schemas.SCHEMA_DIR / next(t.schema for t in ALL_TOPICS if t.name == topic)
    assert json.loads(path.read_text()) == schemas.generated_schema(topic), (
        "schema drifted from pipeline.records: run `wirewatch schemas export`"
    )


@pytest.mark.parametrize("topic", list(SAMPLES))
def test_records_the_code_writes_validate(topic: str) -> None:
    value = json.loads(SAMPLES[topic].to_json())
    schemas.validate(topic, value)
    # and round-trip back into the record type
    assert TOPIC_RECORDS[topic].model_validate(value) == SAMPLES[topic]


def test_schema_rejects_what_the_code_rejects() -> None:
    value = json.loads(ARTICLE.to_json())
    value["surprise"] = 1
    with pytest.raises(schemas.SchemaError, match="surprise"):
        schemas.validate("wirewatch.articles.raw", value)
    del value["surprise"]
    del value["title"]
    with pytest.raises(schemas.SchemaError, match="title"):
        schemas.validate("wirewatch.articles.raw", value)
