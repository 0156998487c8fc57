"""EnrichedArticle -> index documents."""

from __future__ import annotations

from pipeline.index import samples
from pipeline.index.documents import document_id, story_version, to_document, to_story_document


def test_document_id_is_the_article_id() -> None:
    record = samples.enriched(3)
    assert document_id(record) == record.article.id
    assert to_document(record)["id"] == record.article.id


def test_claims_carry_speaker_cue_and_quantities() -> None:
    doc = to_document(samples.enriched(1))
    gerasimov = next(c for c in doc["claims"] if c["speaker"] == "Valery Gerasimov")
    assert gerasimov["cue"] == "claimed" and gerasimov["has_quantity"] is True
    assert {q["value"] for q in gerasimov["quantities"]} == {86.0, 430.0}
    peskov = next(c for c in doc["claims"] if c["speaker"] == "Dmitry Peskov")
    assert peskov["has_quantity"] is False and peskov["quantities"] == []
    assert doc["has_claims"] is True and doc["claim_count"] == 2
    assert doc["claim_speaker"] == ["Valery Gerasimov", "Dmitry Peskov"]


def test_actors_flat_and_nested() -> None:
    doc = to_document(samples.enriched(1))
    assert doc["actor"] == ["Vladimir Putin", "Valery Gerasimov"]
    assert doc["actor_type"] == ["PERSON"]
    assert {a["canonical"]: a["mentions"] for a in doc["actors"]}["Valery Gerasimov"] == 2


def test_story_facts_and_canonical_flag() -> None:
    first, third = samples.enriched(1, cluster=7), samples.enriched(2, cluster=7, copy=2)
    assert to_document(first)["story"]["is_canonical"] is True
    story = to_document(third)["story"]
    assert story["is_canonical"] is False and story["cluster_id"] == "c00000007"
    assert story["size"] == 3 and story["outlet_count"] == 3
    assert story_version(third) == 3 > story_version(first)
    assert to_story_document(third)["latest_id"] == third.article.id


def test_no_claims_article() -> None:
    doc = to_document(samples.enriched(1, text="Nothing was said today.", claims=False))
    assert doc["has_claims"] is False and doc["claims"] == [] and doc["claim_speaker"] == []
