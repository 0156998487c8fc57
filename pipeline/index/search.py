"""Search over the articles alias: query building and result shaping (``wirewatch search``
and ``wirewatch alerts test``, which share the query language, the time syntax and the
printed line of pipeline.vocabulary / pipeline.cli.articles).

The query is the alert rule language (pipeline.alerts.query): words, "phrases", AND, OR,
NOT, parentheses and the vocabulary's field prefixes (``actor:Putin`` resolves through the
actor registry). For search, words match the stemmed title, summary and text and rank the
hits; quoted phrases match the unstemmed ``.exact`` sub-fields. ``exact_words`` (alerts
test) makes words match as the stream matcher does. By default results collapse to one hit
per story cluster; a second request counts each shown story's copies and outlets over *all*
its copies (not only those matching), so the count is current whatever copy was indexed last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from elasticsearch import Elasticsearch

from pipeline import vocabulary
from pipeline.alerts.esquery import actor_names, to_es
from pipeline.alerts.matcher import ActorNames, IdentityNames
from pipeline.alerts.query import Node, all_of, any_of, iter_terms, parse

HIGHLIGHT_PRE, HIGHLIGHT_POST = "<<", ">>"
Sort = Literal["relevance", "newest", "oldest"]


@dataclass(frozen=True)
class SearchRequest:
    query: str | Node | None = None  # the shared query language, as text or parsed
    # vocabulary field -> values, any of (what `--actor A --actor B` means); AND with query
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    since: str | None = None  # a range bound: pipeline.vocabulary.time_bound
    until: str | None = None
    claims_only: bool = False
    claim_with_number: bool = False  # claims carrying at least one quantity
    event_id: str | None = None  # only the articles of this event (``search --event``)
    collapse: bool = True  # one hit per story cluster
    exact_words: bool = False  # words as the stream matcher matches them (alerts test)
    sort: Sort = "relevance"  # relevance (then newest) with words in the query, else newest
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


def claims_query(speakers: list[str] | str | None, with_number: bool) -> dict[str, Any]:
    """One nested query over claims: by any of ``speakers`` (names as the enricher writes
    them), and/or carrying a quantity."""
    if isinstance(speakers, str):
        speakers = [speakers]
    must: list[dict[str, Any]] = []
    if speakers:
        must.append(
            {"term": {"claims.speaker": speakers[0]}}
            if len(speakers) == 1
            else {"terms": {"claims.speaker": list(speakers)}}
        )
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


def time_filter(since: str | None, until: str | None) -> dict[str, Any]:
    """Published in [since, until]; an article without a publication time counts by when
    it was indexed (feeds that carry no dates must not vanish from every window)."""
    bounds = {k: v for k, v in (("gte", since), ("lte", until)) if v}
    return {
        "bool": {
            "should": [
                {"range": {"published_at": bounds}},
                {
                    "bool": {
                        "must_not": [{"exists": {"field": "published_at"}}],
                        "filter": [{"range": {"ingested_at": bounds}}],
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def query_node(request: SearchRequest) -> Node | None:
    """The request's query AND one any-of per option field, as one tree."""
    query = parse(request.query) if isinstance(request.query, str) else request.query
    options = [any_of(name, values) for name, values in request.fields.items() if values]
    return all_of([query, *options])


def _has_words(node: Node | None) -> bool:
    if node is None:
        return False
    return any(vocabulary.FIELDS[t.field].words for t, negated in iter_terms(node) if not negated)


def build_search(request: SearchRequest, registry: ActorNames | None = None) -> dict[str, Any]:
    """Keyword arguments for ``client.search`` (index excluded). Raises QuerySyntaxError."""
    registry = registry or IdentityNames()
    must: list[dict[str, Any]] = []
    filters: list[dict[str, Any]] = []
    node = query_node(request)
    if node is not None:
        must.append(to_es(node, registry, analysed=not request.exact_words))
    if request.since or request.until:
        filters.append(time_filter(request.since, request.until))
    if request.claims_only:
        filters.append({"term": {"has_claims": True}})
    if request.event_id:
        filters.append({"term": {"event_id": request.event_id}})
    speakers = request.fields.get("speaker", ())
    if speakers or request.claim_with_number:
        # In `must`, not `filter`, so the nested inner hits (the matching claims) come back.
        names = sorted({n for s in speakers for n in actor_names(registry, s)})
        must.append(claims_query(names, request.claim_with_number))

    sort: list[Any] = [{"published_at": {"order": "desc", "missing": "_last"}}]
    if request.sort == "oldest":
        sort = [{"published_at": {"order": "asc", "missing": "_last"}}]
    elif request.sort == "relevance" and _has_words(node):
        sort = ["_score", *sort]
    body: dict[str, Any] = {
        "query": {"bool": {"must": must or [{"match_all": {}}], "filter": filters}},
        "size": request.size,
        "sort": sort,
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


def search(
    client: Elasticsearch,
    index: str,
    request: SearchRequest,
    registry: ActorNames | None = None,
) -> SearchResult:
    response = client.search(index=index, **build_search(request, registry))
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
