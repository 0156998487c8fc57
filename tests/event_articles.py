"""Enriched articles built by hand for the events tests: the clusterer's
(tests/unit/events) and the events stage's (tests/unit/worker). Importable as
``event_articles``: tests/ is on sys.path, as for ``helpers``.

Two reports of one happening in other words (``KURSK``, ``KURSK_OTHER_WORDS``) and an
unrelated one (``BUDGET``), at ``hours`` after ``T0``, each its own story unless ``story``
names a shared one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.records import Article, EnrichedArticle, StoryRef

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)

KURSK = (
    "Russian troops retook villages in the Kursk region on Thursday as Ukrainian units "
    "withdrew from positions near Sudzha after weeks of drone strikes and shelling"
)
KURSK_OTHER_WORDS = (
    "Ukrainian units pulled back from Sudzha in the Kursk region while Russian troops "
    "recaptured several villages after heavy shelling and drone strikes"
)
BUDGET = (
    "Senate leaders reached a budget deal on Tuesday that funds the government through "
    "September and raises spending on highways, schools and veterans health care"
)


def enriched(id_: str, text: str, hours: float, story: str | None = None) -> EnrichedArticle:
    url = f"https://outlet.example/{id_}"
    article = Article(
        id=id_,
        url=url,
        normalized_url=url,
        feed_url=url,
        outlet="Outlet",
        domain="outlet.example",
        title=text[:40],
        text=text,
        published_at=T0 + timedelta(hours=hours),
        fetched_at=T0 + timedelta(hours=hours),
    )
    ref = StoryRef(cluster_id=story or id_, canonical_id=story or id_, match="new")
    return EnrichedArticle(article=article, story=ref)
