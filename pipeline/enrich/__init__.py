"""Enrichment stage: entities, actors, quantities and claims of each deduplicated article.

``enrich`` is what the Faust enrichment agent calls; ``Annotator`` (pipeline.enrich.annotate)
does the work and is shared with ``wirewatch annotate``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.records import DedupedArticle, EnrichedArticle

if TYPE_CHECKING:
    from pipeline.enrich.annotate import Annotation, Annotator

log = logging.getLogger(__name__)


def enrich(deduped: Sequence[DedupedArticle], annotator: Annotator) -> list[EnrichedArticle]:
    """One EnrichedArticle per input, in order; never raises for one bad article.

    Offsets index ``article.text``. An article whose annotation fails is passed on without
    annotations and with the failure in ``enrichment_errors``.
    """
    texts = [d.article.text for d in deduped]
    results: list[Annotation | Exception]
    try:
        results = list(annotator.annotate_many(texts))
    except Exception:  # one text broke the batch: redo one by one to isolate it
        log.warning("batch annotation failed; retrying articles one at a time", exc_info=True)
        results = []
        for text in texts:
            try:
                results.append(annotator.annotate(text))
            except Exception as exc:
                results.append(exc)
    out = []
    for item, result in zip(deduped, results, strict=True):
        if isinstance(result, Exception):
            log.warning("annotation failed for article %s: %r", item.article.id, result)
            out.append(
                EnrichedArticle(
                    article=item.article,
                    story=item.story,
                    enrichment_errors=[f"annotate: {type(result).__name__}: {result}"],
                )
            )
            continue
        out.append(
            EnrichedArticle(
                article=item.article,
                story=item.story,
                entities=result.entities,
                actors=result.actors,
                claims=result.claims,
                quantities=result.quantities,
            )
        )
    return out
