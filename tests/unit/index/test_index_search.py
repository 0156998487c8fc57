"""Query building for `wirewatch search` (executed against the real node in integration)."""

from __future__ import annotations

from pipeline.index.search import SearchRequest, build_search, build_story_counts, claims_query
from pipeline.index.templates import mapping_fields


def _fields_used(node: object, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("term", "terms", "range") and isinstance(value, dict):
                out |= set(value) - {"field", "size"}  # an aggregation's terms
            if key in ("exists",):
                out.add(value["field"])
            if key == "field" and isinstance(value, str):
                out.add(value)
            _fields_used(value, out)
    elif isinstance(node, list):
        for item in node:
            _fields_used(item, out)
    return out


def test_every_field_the_queries_use_is_mapped() -> None:
    body = build_search(
        SearchRequest(
            query="ceasefire",
            actors=("Vladimir Putin",),
            outlets=("reuters",),
            languages=("en",),
            since="now-7d",
            claims_only=True,
            speaker="Valery Gerasimov",
            claim_with_number=True,
        )
    )
    used = _fields_used(body, set()) | _fields_used(build_story_counts(["c1"]), set())
    fields = mapping_fields("articles")
    assert used <= set(fields), used - set(fields)
    assert set(body["highlight"]["fields"]) <= set(fields)


def test_collapse_on_story_by_default_and_not_with_all_copies() -> None:
    assert build_search(SearchRequest(query="x"))["collapse"] == {"field": "story.cluster_id"}
    assert "collapse" not in build_search(SearchRequest(query="x", collapse=False))


def test_quoted_phrases_use_the_unstemmed_fields() -> None:
    qs = build_search(SearchRequest(query='"peace talks"'))["query"]["bool"]["must"][0]
    assert qs["query_string"]["quote_field_suffix"] == ".exact"


def test_claims_by_speaker_with_a_number_is_one_nested_query() -> None:
    q = claims_query("Valery Gerasimov", with_number=True)
    assert q["nested"]["path"] == "claims"
    inner = q["nested"]["query"]["bool"]["filter"]
    assert {"term": {"claims.speaker": "Valery Gerasimov"}} in inner
    assert inner[1]["nested"]["path"] == "claims.quantities"


def test_outlet_filter_ignores_case_and_no_query_sorts_by_time() -> None:
    body = build_search(SearchRequest(outlets=("reuters",)))
    should = body["query"]["bool"]["filter"][0]["bool"]["should"]
    assert should == [{"term": {"outlet": {"value": "reuters", "case_insensitive": True}}}]
    assert body["sort"] == [{"published_at": "desc"}]
