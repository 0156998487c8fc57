"""The feed registry: a YAML file users edit by hand or with ``wirewatch feeds``.

```yaml
feeds:
  - url: https://www.example.com/world/rss.xml
    name: Example World
    tags: [world, europe]
    language: en
    interval: 600        # seconds; optional, overrides the adaptive interval
```

OPML (the subscription format every feed reader exports) is imported and exported too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.urls import normalize_url


class FeedSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    language: str | None = None
    interval: int | None = Field(None, ge=60, description="seconds between polls, fixed")

    @field_validator("url")
    @classmethod
    def _absolute_http(cls, value: str) -> str:
        normalize_url(value)  # raises InvalidURL (a ValueError) with the reason
        return value.strip()


class RegistryError(ValueError):
    """The registry file cannot be read; the message names the file and the entry."""


def load(path: Path) -> list[FeedSpec]:
    """Feeds in the file, in order; a missing file is an empty registry."""
    if not path.exists():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from exc
    items = doc.get("feeds", []) if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise RegistryError(f"{path}: expected a list under 'feeds'")
    feeds: list[FeedSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {"url": item}
        try:
            spec = FeedSpec.model_validate(item)
        except ValueError as exc:
            raise RegistryError(f"{path}: feed #{index + 1}: {exc}") from exc
        key = normalize_url(spec.url)
        if key not in seen:
            seen.add(key)
            feeds.append(spec)
    return feeds


def save(path: Path, feeds: list[FeedSpec]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "feeds": [
            feed.model_dump(exclude_none=True, exclude_defaults=True) | {"url": feed.url}
            for feed in feeds
        ]
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves a half-written registry


def add(feeds: list[FeedSpec], spec: FeedSpec) -> tuple[list[FeedSpec], bool]:
    """(feeds with ``spec`` added or replacing the same normalised URL, was it new)."""
    key = normalize_url(spec.url)
    out = [f for f in feeds if normalize_url(f.url) != key]
    return [*out, spec], len(out) == len(feeds)


def remove(feeds: list[FeedSpec], url: str) -> tuple[list[FeedSpec], bool]:
    key = normalize_url(url)
    out = [f for f in feeds if normalize_url(f.url) != key]
    return out, len(out) != len(feeds)


def from_opml(data: bytes) -> list[FeedSpec]:
    """Feeds in an OPML document; nested outline titles become tags."""
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:  # defusedxml raises its own types for entity tricks
        raise RegistryError(f"not a readable OPML document: {exc}") from exc
    body = root.find("body")
    if body is None:
        raise RegistryError("OPML has no <body>")
    feeds: list[FeedSpec] = []

    def walk(node: Any, tags: list[str]) -> None:
        for outline in node.findall("outline"):
            url = outline.get("xmlUrl")
            label = outline.get("title") or outline.get("text")
            if url:
                label = label if label != url else None
                extra = [
                    t
                    for t in (outline.get("category") or "").replace("/", ",").split(",")
                    if t.strip()
                ]
                try:
                    feeds.append(
                        FeedSpec(
                            url=url,
                            name=label,
                            tags=[*tags, *(t.strip() for t in extra)],
                            language=outline.get("language"),
                        )
                    )
                except ValueError as exc:
                    raise RegistryError(f"OPML outline {label or url!r}: {exc}") from exc
            else:
                walk(outline, [*tags, label] if label else tags)

    walk(body, [])
    return feeds


def to_opml(feeds: list[FeedSpec], title: str = "Wirewatch feeds") -> bytes:
    opml = Element("opml", version="2.0")
    SubElement(SubElement(opml, "head"), "title").text = title
    body = SubElement(opml, "body")
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.name or feed.url, "xmlUrl": feed.url}
        if feed.name:
            attrs["title"] = feed.name
        if feed.tags:
            attrs["category"] = ",".join(feed.tags)
        if feed.language:
            attrs["language"] = feed.language
        SubElement(body, "outline", attrs)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(opml, encoding="utf-8")
