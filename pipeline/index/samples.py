"""Enriched articles shaped like real ones, for the sink benchmark and the index tests.

They carry what the index must handle: several actors, claims with and without
quantities, nested quantities, and story clusters with several copies from several outlets.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from pipeline.records import (
    Actor,
    Article,
    Claim,
    EnrichedArticle,
    Entity,
    Quantity,
    Span,
    StoryRef,
)

BODY = (
    "According to CNN, Putin met with General Valery Gerasimov in Kursk, where he addressed "
    "soldiers and urged them to oust the remaining Ukrainian forces. On Wednesday, Gerasimov "
    "claimed that Russian forces had recaptured more than 86 per cent of the area taken by "
    "Ukraine, that 430 Ukrainian soldiers had been taken prisoner. Kremlin spokesperson "
    "Dmitry Peskov told reporters that Putin was carefully studying the ceasefire proposal."
)
OUTLETS = ("Reuters", "CNN", "BBC", "Al Jazeera", "The Guardian", "AP")


def _span(text: str, needle: str) -> Span:
    start = text.index(needle)
    return Span(start=start, end=start + len(needle), text=needle)


def _quantity(text: str, needle: str, value: float, unit: str | None) -> Quantity:
    start = text.index(needle)
    return Quantity(start=start, end=start + len(needle), text=needle, value=value, unit=unit)


def article_id(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()


def enriched(
    n: int,
    *,
    cluster: int | None = None,
    copy: int = 0,
    title: str | None = None,
    text: str = BODY,
    summary: str | None = "Putin met troops in Kursk.",
    outlet: str | None = None,
    language: str = "en",
    claims: bool = True,
    published_at: datetime | None = None,
) -> EnrichedArticle:
    """Copy ``copy`` of story ``cluster`` (default: story ``n``); ``n`` orders publication.

    The copy saw ``copy + 1`` copies of its story; copy 0 is the canonical one.
    """
    cluster = n if cluster is None else cluster
    outlet = outlet or OUTLETS[copy % len(OUTLETS)]
    aid, canonical = article_id(f"{cluster}/{copy}"), article_id(f"{cluster}/0")
    url = f"https://{outlet.lower().replace(' ', '')}.example/world/{cluster}/{copy}"
    published = published_at or datetime(2025, 3, 13, 9, 0, tzinfo=UTC) + timedelta(minutes=n)
    article = Article(
        id=aid,
        url=url,
        normalized_url=url,
        feed_url=f"https://{outlet.lower().replace(' ', '')}.example/rss",
        feed_name=f"{outlet} World",
        outlet=outlet,
        domain=f"{outlet.lower().replace(' ', '')}.example",
        title=title or f"Putin visits Kursk as Gerasimov claims gains (story {cluster})",
        summary=summary,
        text=text,
        authors=["Staff"],
        published_at=published,
        language=language,
        tags=["world", "russia"],
    )
    claim_list: list[Claim] = []
    quantities: list[Quantity] = []
    if claims and "Gerasimov" in text and "86 per cent" in text:
        q1 = _quantity(text, "86 per cent", 86.0, "percent")
        q2 = _quantity(text, "430", 430.0, None)
        quantities = [q1, q2]
        claim_list.append(
            Claim(
                source=_span(text, "Gerasimov claimed")
                if "Gerasimov claimed" in text
                else _span(text, "Gerasimov"),
                cue=_span(text, "claimed"),
                content=_span(text, "Russian forces had recaptured more than 86 per cent"),
                speaker="Valery Gerasimov",
                kind="indirect",
                quantities=[q1, q2],
            )
        )
    if claims and "Peskov told reporters" in text:
        claim_list.append(
            Claim(
                source=_span(text, "Dmitry Peskov"),
                cue=_span(text, "told"),
                content=_span(text, "Putin was carefully studying the ceasefire proposal"),
                speaker="Dmitry Peskov",
                kind="indirect",
            )
        )
    entities = [
        Entity(start=s.start, end=s.end, text=s.text, label="PERSON", canonical=name)
        for name, needle in (("Vladimir Putin", "Putin"), ("Valery Gerasimov", "Gerasimov"))
        if needle in text
        for s in [_span(text, needle)]
    ]
    actors = [
        Actor(canonical=e.canonical, type="PERSON", mentions=text.count(e.text)) for e in entities
    ]
    story = StoryRef(
        cluster_id=f"c{cluster:08d}",
        canonical_id=canonical,
        match="new" if copy == 0 else "near",
        similarity=None if copy == 0 else 0.9,
        size=copy + 1,
        outlets=[OUTLETS[i % len(OUTLETS)] for i in range(copy + 1)],
    )
    return EnrichedArticle(
        article=article,
        story=story,
        entities=entities,
        actors=actors,
        claims=claim_list,
        quantities=quantities,
    )
