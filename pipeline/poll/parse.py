"""Feed bytes -> entries, with hostile XML refused before feedparser sees it.

feedparser is only ever given bytes our guarded client fetched (never a URL). It already
strips most entity declarations and disables external general entities, and the bundled
expat (>= 2.4) limits entity amplification; the pre-scan here refuses the document outright
with a reason instead, so an attack is reported rather than silently half-parsed:
- any external entity (SYSTEM or PUBLIC, general or parameter): XXE and OOB exfiltration;
- any entity whose value references another entity: the "billion laughs" expansion;
- more than ``MAX_ENTITY_DECLS`` declarations.
JSON Feed (jsonfeed.org), which this feedparser release does not read, is parsed here.
"""

from __future__ import annotations

import calendar
import codecs
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
from lxml import html as lxml_html

MAX_ENTITY_DECLS = 64
MAX_ENTRIES = 500  # per document; a feed listing more is truncated, the rest come next poll
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s+)?([^\s>]+)\s+(.*?)>", re.S | re.I)
_ENTITY_REF = re.compile(rb"[&%](?!#)[\w.:-]+;")


class HostileFeed(ValueError):
    """The document is refused before parsing; the message says why."""


@dataclass
class FeedEntry:
    link: str | None
    guid: str | None
    title: str | None
    summary: str | None
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None


@dataclass
class ParsedFeed:
    title: str | None
    version: str
    entries: list[FeedEntry]
    language: str | None = None
    #: feedparser's reason when it flagged the document (bozo); entries may still exist
    bozo_reason: str | None = None
    #: bozo for a real defect, not one of feedparser's encoding/content-type notices
    malformed: bool = False
    truncated: int = 0


def _scan_text(data: bytes) -> bytes:
    """The document in an ASCII-compatible form for the pre-scan (UTF-16/32 re-encoded)."""
    head = data[:4]
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return data.decode(codec, errors="replace").encode("utf-8")
    if b"\x00" in head:  # BOM-less UTF-16/32: "<" padded with NULs
        for codec in ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                continue
            if text.lstrip().startswith("<"):
                return text.encode("utf-8")
    return data


def guard_xml(data: bytes) -> None:
    """Raise HostileFeed when the document declares dangerous entities."""
    text = _scan_text(data)
    if b"<!" not in text:
        return
    decls = _ENTITY_DECL.findall(text)
    if len(decls) > MAX_ENTITY_DECLS:
        raise HostileFeed(f"refused: {len(decls)} entity declarations (limit {MAX_ENTITY_DECLS})")
    for percent, name, body in decls:
        kind = "parameter entity" if percent else "entity"
        label = name.decode("utf-8", "replace")
        stripped = body.lstrip()
        if stripped[:1] not in (b'"', b"'"):
            raise HostileFeed(f"refused: external {kind} {label!r} (XXE)")
        if _ENTITY_REF.search(stripped):
            raise HostileFeed(
                f"refused: {kind} {label!r} expands other entities (entity expansion attack)"
            )


def _clean_html(value: str | None) -> str | None:
    if not value:
        return None
    if "<" not in value and "&" not in value:
        return value.strip() or None
    try:
        text = lxml_html.fromstring(value).text_content()
    except Exception:  # lxml raises several types on junk; the raw value is still useful
        text = re.sub(r"<[^>]+>", " ", value)
    text = re.sub(r"\s+", " ", text).strip()
    return text or None


def _when(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _authors(entry: Mapping[str, Any]) -> list[str]:
    names = [a.get("name") for a in entry.get("authors", []) if isinstance(a, Mapping)]
    names = [n.strip() for n in names if isinstance(n, str) and n.strip()]
    if not names and isinstance(entry.get("author"), str) and entry["author"].strip():
        names = [entry["author"].strip()]
    return names


def _looks_like_json(data: bytes, content_type: str) -> bool:
    return "json" in content_type.lower() or data.lstrip()[:1] == b"{"


def parse_json_feed(data: bytes) -> ParsedFeed:
    doc = json.loads(data)
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")):
        raise ValueError("not a JSON Feed (no jsonfeed.org version)")
    entries = []
    for item in doc.get("items") or []:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        published = None
        if isinstance(item.get("date_published"), str):
            try:
                published = datetime.fromisoformat(item["date_published"].replace("Z", "+00:00"))
            except ValueError:
                published = None
        entries.append(
            FeedEntry(
                link=item.get("url") or item.get("external_url"),
                guid=str(item["id"]) if item.get("id") is not None else None,
                title=_clean_html(item.get("title")),
                summary=_clean_html(
                    item.get("summary") or item.get("content_text") or item.get("content_html")
                ),
                authors=[a["name"] for a in authors if isinstance(a, dict) and a.get("name")],
                published_at=published,
                language=item.get("language") or doc.get("language"),
            )
        )
    return ParsedFeed(
        title=doc.get("title"), version="json1", entries=entries, language=doc.get("language")
    )


def parse_feed(data: bytes, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a fetched document. Raises HostileFeed (refused) or ValueError (not a feed)."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    content_type = headers.get("content-type", "")
    if _looks_like_json(data, content_type):
        try:
            return parse_json_feed(data)
        except ValueError:
            if "json" in content_type.lower():
                raise
    guard_xml(data)
    headers.setdefault("content-location", url)  # base for relative links
    result = feedparser.parse(io.BytesIO(data), response_headers=headers)
    bozo_reason, malformed = None, False
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        bozo_reason = f"{type(exc).__name__}: {exc}" if exc else "ill-formed"
        malformed = not isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe)
    feed = result.get("feed", {})
    raw_entries = result.get("entries", [])
    entries = [
        FeedEntry(
            link=(e.get("link") or None),
            guid=(e.get("id") or None),
            title=_clean_html(e.get("title")),
            summary=_clean_html(e.get("summary") or _first_content(e)),
            authors=_authors(e),
            published_at=_when(e.get("published_parsed") or e.get("updated_parsed")),
            language=(e.get("language") or None),
        )
        for e in raw_entries[:MAX_ENTRIES]
    ]
    return ParsedFeed(
        title=feed.get("title"),
        version=result.get("version") or "",
        entries=entries,
        language=feed.get("language"),
        bozo_reason=bozo_reason,
        malformed=malformed,
        truncated=max(0, len(raw_entries) - MAX_ENTRIES),
    )


def _first_content(entry: Mapping[str, Any]) -> str | None:
    for content in entry.get("content", []) or []:
        if isinstance(content, Mapping) and content.get("value"):
            return str(content["value"])
    return None
