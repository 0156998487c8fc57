"""Article page -> main text and metadata, with trafilatura.

Returns None when nothing usable was extracted; the poller then keeps the feed's summary
and records why in ``Article.text_source`` / ``text_note``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import trafilatura

#: Below this many characters the "main text" is usually a cookie banner or a teaser.
MIN_TEXT_CHARS = 150
_HTML_LANG = re.compile(r"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)?", re.I)


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None


class ExtractionFailed(ValueError):
    """No main text could be found; the message says what was found instead."""


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _authors(value: str | None) -> list[str]:
    if not value:
        return []
    return [name.strip() for name in re.split(r";|\band\b", value) if name.strip()]


def extract_page(html: str, url: str) -> Extracted:
    """Main text and metadata of an HTML page; raises ExtractionFailed."""
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        deduplicate=True,
    )
    text = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractionFailed(
            f"page had {len(text)} characters of main text (need {MIN_TEXT_CHARS})"
        )
    lang_match = _HTML_LANG.search(html[:4096])
    language = getattr(doc, "language", None) or (
        lang_match.group(1).lower() if lang_match else None
    )
    canonical = getattr(doc, "url", None)
    return Extracted(
        text=text,
        title=getattr(doc, "title", None),
        authors=_authors(getattr(doc, "author", None)),
        published_at=_date(getattr(doc, "date", None)),
        language=language,
        canonical_url=canonical if canonical and canonical.startswith("http") else None,
        site_name=getattr(doc, "sitename", None),
    )
