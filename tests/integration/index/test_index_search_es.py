"""Searches analysts run, against the real node."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch
from helpers import index_articles

from pipeline.enrich.actors import ActorRegistry
from pipeline.index import samples
from pipeline.index.search import SearchRequest, claims_query, search
from pipeline.index.templates import Names
from pipeline.records import Claim, EnrichedArticle, Quantity, Span
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def _claim(text: str, speaker: str, content: str, numbers: dict[str, float]) -> Claim:
    start = text.index(content)
    return Claim(
        content=Span(start=start, end=start + len(content), text=content),
        speaker=speaker,
        kind="indirect",
        quantities=[
            Quantity(start=text.index(n), end=text.index(n) + len(n), text=n, value=v)
            for n, v in numbers.items()
        ],
    )


def test_claims_by_gerasimov_containing_a_number_is_one_query(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    text = (
        "Gerasimov said Russian forces retook 86 per cent of the area. "
        "Gerasimov said the enemy is surrounded. "
        "Peskov said 430 soldiers were captured."
    )
    with_number = samples.enriched(1, text=text, claims=False).model_copy(
        update={
            "claims": [_claim(text, "Valery Gerasimov", "Russian forces retook 86", {"86": 86})]
        }
    )
    # Gerasimov claims without a number while *another* speaker's claim has one: a flat
    # (non-nested) mapping would wrongly match this article.
    mixed = samples.enriched(2, text=text, claims=False).model_copy(
        update={
            "claims": [
                _claim(text, "Valery Gerasimov", "the enemy is surrounded", {}),
                _claim(text, "Dmitry Peskov", "430 soldiers were captured", {"430": 430}),
            ]
        }
    )
    nobody = samples.enriched(3, text="No one said anything.", claims=False)
    index_articles(es_settings, es, [with_number, mixed, nobody])

    response = es.search(
        index=installed.alias,
        query={
            "nested": {
                "path": "claims",
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"claims.speaker": "Valery Gerasimov"}},
                            {
                                "nested": {
                                    "path": "claims.quantities",
                                    "query": {"exists": {"field": "claims.quantities.text"}},
                                }
                            },
                        ]
                    }
                },
            }
        },
    )
    assert [h["_id"] for h in response["hits"]["hits"]] == [with_number.article.id]
    # The query builder used by `wirewatch search --speaker ... --with-number` agrees.
    built = es.search(index=installed.alias, query=claims_query("Valery Gerasimov", True))
    assert [h["_id"] for h in built["hits"]["hits"]] == [with_number.article.id]


def _corpus() -> list[EnrichedArticle]:
    kursk = [samples.enriched(c, cluster=1, copy=c) for c in range(4)]  # 4 outlets
    other = samples.enriched(
        10,
        cluster=2,
        title="Parliament negotiates the budget",
        text="Lawmakers were negotiating the budget late into the night.",
        summary=None,
        outlet="BBC",
        language="en",
        claims=False,
        published_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    french = samples.enriched(11, cluster=3, outlet="Le Monde", language="fr")
    return [*kursk, other, french]


def test_search_collapses_stories_and_counts_every_copy(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    index_articles(es_settings, es, _corpus())
    result = search(es, installed.alias, SearchRequest(query="Kursk"))
    by_story = {h.cluster_id: h for h in result.hits}
    assert set(by_story) == {"c00000001", "c00000003"}
    assert by_story["c00000001"].copies == 4
    assert sorted(by_story["c00000001"].outlets) == sorted(samples.OUTLETS[:4])
    assert result.total_stories == 2 and result.total_documents == 5
    assert any("<<Kursk>>" in s for h in result.hits for s in [*h.snippets, h.title])

    every_copy = search(es, installed.alias, SearchRequest(query="Kursk", collapse=False))
    assert len(every_copy.hits) == 5


def test_stemmed_query_and_filters(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    index_articles(es_settings, es, _corpus())

    registry = ActorRegistry.load()

    def ids(**kwargs: object) -> set[str]:
        request = SearchRequest(collapse=False, **kwargs)  # type: ignore[arg-type]
        return {h.cluster_id for h in search(es, installed.alias, request, registry).hits}

    # "negotiation" finds "negotiates"/"negotiating" through the English stemmer.
    assert ids(query="negotiate") == {"c00000002"}
    # A quoted phrase matches the exact words only.
    assert ids(query='"were negotiating"') == {"c00000002"}
    assert ids(query='"was negotiating"') == set()
    assert ids(query="Kursk", fields={"outlet": ("reuters",)}) == {"c00000001"}
    assert ids(query="Kursk", fields={"lang": ("fr",)}) == {"c00000003"}
    since = "2025-03-01"
    assert ids(fields={"actor": ("Valery Gerasimov",)}, since=since) == {"c00000001", "c00000003"}
    # an alias finds the canonical actor, as a rule's actor:Putin does
    assert ids(fields={"actor": ("Putin",)}) == ids(fields={"actor": ("Vladimir Putin",)}) != set()
    assert ids(query="actor:Putin") == ids(fields={"actor": ("Putin",)})
    assert ids(query="Kursk NOT outlet:reuters") == {"c00000001", "c00000003"}  # other copies
    assert ids(until="2025-02-01") == {"c00000002"}
    assert ids(claims_only=True) == {"c00000001", "c00000003"}
    assert ids(query='actor:"Vladimir Putin" AND outlet:BBC') == {"c00000001"}


def test_search_cli_prints_one_line_per_story_with_its_copies(
    es: Elasticsearch, installed: Names, es_settings: Settings, cli_env: None
) -> None:
    from click.testing import CliRunner

    from pipeline.cli import cli

    index_articles(es_settings, es, _corpus())
    result = CliRunner().invoke(
        cli, ["search", "Kursk", "--speaker", "Gerasimov", "--since", "3000d"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "2 shown; 2 stories, 5 articles match"  # the summary, on stderr
    headlines = [line for line in lines[:-1] if not line.startswith(" ")]
    assert len(headlines) == 2  # two stories, not five copies
    kursk = next(line for line in headlines if "[4 copies, 4 outlets]" in line)
    assert "*Kursk*" in kursk  # highlighted (no terminal: plain markers)
    assert "claim — Valery Gerasimov: Russian forces had recaptured" in result.output
