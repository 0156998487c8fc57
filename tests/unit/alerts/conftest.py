"""Shared article builders and a fake actor registry for the alert tests."""

from __future__ import annotations

import pytest

from pipeline.records import Actor, Article, Claim, EnrichedArticle, Entity, Span, StoryRef


class FakeRegistry:
    """Same signature as pipeline.enrich.actors.ActorRegistry (canonical, aliases)."""

    def __init__(self, aliases: dict[str, set[str]]) -> None:
        self._aliases = aliases
        self._canon = {a.casefold(): c for c, names in aliases.items() for a in names | {c}}

    def canonical(self, name: str) -> str:
        return self._canon.get(" ".join(name.split()).casefold(), name)

    def aliases(self, canonical: str) -> set[str]:
        return set(self._aliases.get(canonical, set()))


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry(
        {
            "Vladimir Putin": {"Putin", "Vladimir Vladimirovich Putin", "V. Putin"},
            "Valery Gerasimov": {"Gerasimov"},
            "Volodymyr Zelensky": {"Zelensky", "Zelenskyy", "Volodymyr Zelenskyy"},
        }
    )


def _make_article(
    title: str = "Putin visits Kursk",
    text: str = "The Russian president toured the region on Wednesday.",
    *,
    actors: tuple[str, ...] = (),
    entities: tuple[str, ...] = (),
    speakers: tuple[str, ...] = (),
    article_id: str = "a" * 40,
    cluster: str = "c1",
    outlet: str | None = "Reuters",
    domain: str = "reuters.com",
    language: str | None = "en",
    tags: tuple[str, ...] = (),
) -> EnrichedArticle:
    article = Article(
        id=article_id,
        url=f"https://{domain}/{article_id}",
        normalized_url=f"https://{domain}/{article_id}",
        feed_url=f"https://{domain}/feed",
        domain=domain,
        outlet=outlet,
        title=title,
        text=text,
        language=language,
        tags=list(tags),
    )
    return EnrichedArticle(
        article=article,
        story=StoryRef(cluster_id=cluster, canonical_id=article_id, match="new"),
        actors=[Actor(canonical=a, type="PERSON", mentions=1) for a in actors],
        entities=[
            Entity(start=0, end=len(e), text=e, label="PERSON", canonical=e) for e in entities
        ],
        claims=[
            Claim(content=Span(start=0, end=1, text="x"), speaker=s, kind="indirect")
            for s in speakers
        ],
    )


@pytest.fixture
def make_article():
    return _make_article
