"""Search over the articles alias: query building and result shaping (``wirewatch search``).

A query string runs over title, summary and text with English analysis (stemmed); quoted
phrases go to the unstemmed ``.exact`` sub-fields; field prefixes (``actor:"Vladimir
Putin"``, ``outlet:Reuters``) are the mapping's field names. By default results collapse to
one hit per story cluster; a second request counts each shown story's copies and outlets
over *all* its copies (not only those matching), so the count is current whatever copy was
indexed last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

TEXT_FIELDS = ("title^3", "summary^2", "text")
HIGHLIGHT_PRE, HIGHLIGHT_POST = "<<", ">>"


@dataclass(frozen=True)
class SearchRequest:
    query: str | None = None
    actors: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    since: str | None = None  # ISO date/time or ES date math ("now-7d")
    until: str | None = None
    claims_only: bool = False
    speaker: str | None = None  # claims made by this canonical actor
    claim_with_number: bool = False  # claims carrying at least one quantity
    collapse: bool = True  # one hit per story cluster
    size: int = 20


@dataclass
class Hit:
    id: str
    title: str
    url: str
    outlet: str | None
    published_at: str | None
    cluster_id: str
    score: float | None
    snippets: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)  # matching claims, "speaker: content"
    copies: int = 1
    outlets: list[str] = field(default_factory=list)


@dataclass
class SearchResult:
    hits: list[Hit]
    total_documents: int
    total_stories: int


def claims_query(speaker: str | None, with_number: bool) -> dict[str, Any]:
    """One nested query over claims: by ``speaker``, and/or carrying a quantity."""
    must: list[dict[str, Any]] = []
    if speaker:
        must.append({"term": {"claims.speaker": speaker}})
    if with_number:
        must.append(
            {
                "nested": {
                    "path": "claims.quantities",
                    "query": {"exists": {"field": "claims.quantities.text"}},
                }
            }
        )
    return {
        "nested": {
            "path": "claims",
            "query": {"bool": {"filter": must}} if must else {"match_all": {}},
            "inner_hits": {"size": 3, "_source": ["claims.speaker", "claims.content"]},
        }
    }


def _any_term(field_name: str, values: tuple[str, ...], case_insensitive: bool) -> dict[str, Any]:
    if not case_insensitive:
        return {"terms": {field_name: list(values)}}
    return {
        "bool": {
            "should": [
                {"term": {field_name: {"value": v, "case_insensitive": True}}} for v in values
            ],
            "minimum_should_match": 1,
        }
    }


def build_search(request: SearchRequest) -> dict[str, Any]:
    """Keyword arguments for ``client.search`` (index excluded)."""
    must: list[dict[str, Any]] = []
    filters: list[dict[str, Any]] = []
    if request.query:
        must.append(
            {
                "query_string": {
                    "query": request.query,
                    "fields": list(TEXT_FIELDS),
                    "default_operator": "AND",
                    "quote_field_suffix": ".exact",
                    "allow_leading_wildcard": False,
                }
            }
        )
    if request.actors:
        filters.append(_any_term("actor", request.actors, case_insensitive=False))
    if request.outlets:
        filters.append(_any_term("outlet", request.outlets, case_insensitive=True))
    if request.languages:
        filters.append(_any_term("language", request.languages, case_insensitive=True))
    if request.since or request.until:
        bounds = {k: v for k, v in (("gte", request.since), ("lte", request.until)) if v}
        filters.append({"range": {"published_at": bounds}})
    if request.claims_only:
        filters.append({"term": {"has_claims": True}})
    if request.speaker or request.claim_with_number:
        # In `must`, not `filter`, so the nested inner hits (the matching claims) come back.
        must.append(claims_query(request.speaker, request.claim_with_number))

    body: dict[str, Any] = {
        "query": {"bool": {"must": must or [{"match_all": {}}], "filter": filters}},
        "size": request.size,
        "sort": (["_score"] if request.query else []) + [{"published_at": "desc"}],
        "track_total_hits": True,
        "source_excludes": ["text", "claims", "actors", "summary"],
        "highlight": {
            "pre_tags": [HIGHLIGHT_PRE],
            "post_tags": [HIGHLIGHT_POST],
            "fields": {
                "title": {"number_of_fragments": 0},
                "title.exact": {"number_of_fragments": 0},
                "text": {"fragment_size": 160, "number_of_fragments": 2},
                "text.exact": {"fragment_size": 160, "number_of_fragments": 2},
            },
        },
        "aggs": {"stories": {"cardinality": {"field": "story.cluster_id"}}},
    }
    if request.collapse:
        body["collapse"] = {"field": "story.cluster_id"}
    return body


def build_story_counts(cluster_ids: list[str]) -> dict[str, Any]:
    """Copies and outlets of each story, over all its copies."""
    return {
        "size": 0,
        "query": {"terms": {"story.cluster_id": cluster_ids}},
        "aggs": {
            "story": {
                "terms": {"field": "story.cluster_id", "size": max(1, len(cluster_ids))},
                "aggs": {"outlets": {"terms": {"field": "outlet", "size": 100}}},
            }
        },
    }


def _hit(raw: dict[str, Any]) -> Hit:
    src, hl = raw.get("_source", {}), raw.get("highlight", {})
    title = (hl.get("title") or hl.get("title.exact") or [src.get("title", "")])[0]
    claims = []
    for inner in raw.get("inner_hits", {}).get("claims", {}).get("hits", {}).get("hits", []):
        claim = inner.get("_source", {})
        claims.append(f"{claim.get('speaker') or '?'}: {claim.get('content', '')}")
    return Hit(
        id=raw["_id"],
        title=title,
        # The link without tracking parameters: the page's canonical URL, else normalised.
        url=src.get("canonical_url") or src.get("normalized_url") or src.get("url", ""),
        outlet=src.get("outlet"),
        published_at=src.get("published_at"),
        cluster_id=src.get("story", {}).get("cluster_id", raw["_id"]),
        score=raw.get("_score"),
        snippets=hl.get("text") or hl.get("text.exact") or [],
        claims=claims,
    )


def search(client: Elasticsearch, index: str, request: SearchRequest) -> SearchResult:
    response = client.search(index=index, **build_search(request))
    hits = [_hit(raw) for raw in response["hits"]["hits"]]
    clusters = list(dict.fromkeys(h.cluster_id for h in hits))
    if clusters:
        counts = client.search(index=index, **build_story_counts(clusters))
        by_cluster = {b["key"]: b for b in counts["aggregations"]["story"]["buckets"]}
        for hit in hits:
            bucket = by_cluster.get(hit.cluster_id)
            if bucket:
                hit.copies = bucket["doc_count"]
                hit.outlets = [o["key"] for o in bucket["outlets"]["buckets"]]
    return SearchResult(
        hits=hits,
        total_documents=response["hits"]["total"]["value"],
        total_stories=response["aggregations"]["stories"]["value"],
    )
