"""Query building for `wirewatch search` (executed against the real node in integration)."""

from __future__ import annotations

import pytest

from pipeline.enrich.actors import ActorRegistry
from pipeline.index.search import SearchRequest, build_search, build_story_counts, claims_query
from pipeline.index.templates import mapping_fields


@pytest.fixture(scope="module")
def actors() -> ActorRegistry:
    return ActorRegistry.load()  # the bundled registry


def _fields_used(node: object, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("term", "terms", "range", "match_phrase", "match") and isinstance(
                value, dict
            ):
                out |= set(value) - {"field", "size"}  # an aggregation's terms
            if key in ("exists",):
                out.add(value["field"])
            if key == "field" and isinstance(value, str):
                out.add(value)
            if key == "multi_match":
                out |= {f.split("^")[0] for f in value["fields"]}
            _fields_used(value, out)
    elif isinstance(node, list):
        for item in node:
            _fields_used(item, out)
    return out


def test_every_field_the_queries_use_is_mapped(actors: ActorRegistry) -> None:
    body = build_search(
        SearchRequest(
            query='ceasefire "peace talks" title:kursk',
            fields={
                "actor": ("Vladimir Putin",),
                "outlet": ("reuters",),
                "lang": ("en",),
                "speaker": ("Valery Gerasimov",),
                "tag": ("world",),
                "domain": ("example.org",),
            },
            since="now-7d",
            claims_only=True,
            claim_with_number=True,
        ),
        actors,
    )
    used = _fields_used(body, set()) | _fields_used(build_story_counts(["c1"]), set())
    fields = mapping_fields("articles")
    assert used <= set(fields), used - set(fields)
    assert set(body["highlight"]["fields"]) <= set(fields)


def test_collapse_on_story_by_default_and_not_with_all_copies() -> None:
    assert build_search(SearchRequest(query="x"))["collapse"] == {"field": "story.cluster_id"}
    assert "collapse" not in build_search(SearchRequest(query="x", collapse=False))


def test_words_are_stemmed_and_ranked_phrases_exact() -> None:
    must = build_search(SearchRequest(query='ceasefire "peace talks"'))["query"]["bool"]["must"]
    word, phrase = must[0]["bool"]["must"]
    assert word["multi_match"]["fields"] == ["title^3", "summary^2", "text"]
    assert phrase["multi_match"]["type"] == "phrase"
    assert all(f.split("^")[0].endswith(".exact") for f in phrase["multi_match"]["fields"])


def test_actor_option_resolves_aliases_through_the_registry(actors: ActorRegistry) -> None:
    """`search --actor Putin` finds Vladimir Putin, as a rule's actor:Putin does."""
    body = build_search(SearchRequest(fields={"actor": ("Putin",)}), actors)
    (clause,) = body["query"]["bool"]["must"]
    assert "Vladimir Putin" in clause["terms"]["actor"]
    same = build_search(SearchRequest(query="actor:Putin"), actors)["query"]["bool"]["must"]
    assert same == [clause]


def test_speaker_option_shows_the_claims_of_any_alias(actors: ActorRegistry) -> None:
    body = build_search(SearchRequest(fields={"speaker": ("Gerasimov",)}), actors)
    flat, nested = body["query"]["bool"]["must"]
    assert "Valery Gerasimov" in flat["terms"]["claim_speaker"]
    assert (
        "Valery Gerasimov"
        in nested["nested"]["query"]["bool"]["filter"][0]["terms"]["claims.speaker"]
    )


def test_claims_by_speaker_with_a_number_is_one_nested_query() -> None:
    q = claims_query("Valery Gerasimov", with_number=True)
    assert q["nested"]["path"] == "claims"
    inner = q["nested"]["query"]["bool"]["filter"]
    assert {"term": {"claims.speaker": "Valery Gerasimov"}} in inner
    assert inner[1]["nested"]["path"] == "claims.quantities"


def test_outlet_filter_ignores_case_and_no_query_sorts_by_time() -> None:
    body = build_search(SearchRequest(fields={"outlet": ("reuters",)}))
    assert body["query"]["bool"]["must"] == [
        {"term": {"outlet": {"value": "reuters", "case_insensitive": True}}}
    ]
    assert body["sort"] == [{"published_at": {"order": "desc", "missing": "_last"}}]


def test_alerts_test_mode_matches_exact_words_oldest_first() -> None:
    body = build_search(SearchRequest(query="ceasefire", exact_words=True, sort="oldest"))
    assert body["query"]["bool"]["must"] == [
        {
            "multi_match": {
                "query": "ceasefire",
                "type": "phrase",
                "fields": ["title.exact", "text.exact"],
            }
        }
    ]
    assert body["sort"] == [{"published_at": {"order": "asc", "missing": "_last"}}]
