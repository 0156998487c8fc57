from __future__ import annotations

from collections.abc import Iterable, Iterator

from pipeline.enrich import enrich
from pipeline.enrich.annotate import Annotation, Annotator
from pipeline.records import Article, DedupedArticle, StoryRef


def deduped(i: int, text: str) -> DedupedArticle:
    article = Article(
        id=f"{i:040d}",
        url=f"https://example.com/{i}",
        normalized_url=f"https://example.com/{i}",
        feed_url="https://example.com/feed.xml",
        domain="example.com",
        title=f"Story {i}",
        text=text,
    )
    return DedupedArticle(
        article=article, story=StoryRef(cluster_id="c", canonical_id="c", match="new")
    )


def test_enrich_annotates_article_text(annotator: Annotator) -> None:
    text = 'Markets fell.\n"We are watching," Vladimir Putin told reporters.'
    (out,) = enrich([deduped(1, text)], annotator)
    assert out.enrichment_errors == []
    (claim,) = out.claims
    assert claim.speaker == "Vladimir Putin"
    assert text[claim.content.start : claim.content.end] == '"We are watching,"'
    assert {a.canonical for a in out.actors} >= {"Vladimir Putin"}


class Flaky(Annotator):
    """Fails on texts containing BOOM, as a broken extractor would."""

    def __init__(self, inner: Annotator) -> None:
        self.inner = inner

    def annotate(self, text: str) -> Annotation:
        if "BOOM" in text:
            raise ValueError("extractor broke")
        return self.inner.annotate(text)

    def annotate_many(self, texts: Iterable[str], batch_size: int = 32) -> Iterator[Annotation]:
        for text in texts:
            yield self.annotate(text)


def test_one_bad_article_is_recorded_not_raised(annotator: Annotator) -> None:
    items = [deduped(1, "Ann Lee said it rained."), deduped(2, "BOOM"), deduped(3, "Calm.")]
    out = enrich(items, Flaky(annotator))
    assert [o.article.id for o in out] == [i.article.id for i in items]
    assert out[0].claims and out[0].enrichment_errors == []
    assert out[1].claims == [] and out[1].enrichment_errors == [
        "annotate: ValueError: extractor broke"
    ]
    assert out[2].enrichment_errors == []
