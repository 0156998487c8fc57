"""JSON Feed (jsonfeed.org 1.0/1.1) bytes -> validated items, bounded while decoding.

``json.loads`` has no limits of its own: deep nesting raised ``RecursionError``, a 10 MB
feed queued hundreds of thousands of items, and wrong types (``"title": 5``,
``"items": 17``, ``content_html`` a list) raised ``TypeError`` deep in the poller. Here,
before anything is decoded, one pass over the document's tokens (strings skipped whole)
refuses more than ``MAX_BYTES`` bytes or nesting deeper than ``MAX_DEPTH``, and cuts the
``items`` array after ``max_items`` objects, so ``json.loads`` never builds the rest. Then
pydantic validates the feed and each item: a bad item is skipped with a counted reason,
a bad feed is one ``ValueError`` naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

#: Largest JSON Feed decoded. Python objects cost ~10x their JSON bytes, so 4 MiB stays
#: well inside a parsing worker's memory; a 500-item feed with full content is ~2-4 MiB.
MAX_BYTES = 4 * 1024 * 1024
#: Deepest nesting accepted. A JSON Feed is 4 deep (feed, items, item, authors, author);
#: extensions (``_name`` objects) add a few levels at most.
MAX_DEPTH = 32
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


class JSONFeedRefused(ValueError):
    """The document breaks a limit; the message says which."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class Author(_Model):
    name: str | None = None


class Item(_Model):
    id: str
    url: str | None = None
    external_url: str | None = None
    title: str | None = None
    summary: str | None = None
    content_text: str | None = None
    content_html: str | None = None
    date_published: str | None = None
    language: str | None = None
    authors: list[Author] | None = None
    author: Author | None = None  # version 1.0

    @field_validator("id", mode="before")
    @classmethod
    def _number_ids(cls, value: Any) -> Any:
        # 1.0 feeds in the wild use numbers; the spec says string, and 1 and "1" are one id
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


class Feed(_Model):
    version: str
    title: str | None = None
    language: str | None = None
    items: list[Any]

    @field_validator("title", "language", mode="before")
    @classmethod
    def _optional_text(cls, value: Any) -> Any:
        return value if isinstance(value, str) else None  # feed metadata: best effort

    @field_validator("version")
    @classmethod
    def _jsonfeed(cls, value: str) -> str:
        if "jsonfeed.org" not in value:
            raise ValueError("not a jsonfeed.org version")
        return value


def _bounded_text(data: bytes, max_items: int) -> tuple[str, int]:
    """The document as text with ``items`` cut after ``max_items`` objects, and how many
    objects were cut. Raises JSONFeedRefused past MAX_BYTES or MAX_DEPTH."""
    if len(data) > MAX_BYTES:
        raise JSONFeedRefused(f"refused: JSON Feed of {len(data):,} bytes (limit {MAX_BYTES:,})")
    try:
        text = data.decode(json.detect_encoding(data))
    except UnicodeDecodeError as exc:
        raise ValueError(f"JSON Feed is not valid {exc.encoding}") from None
    depth = items_depth = count = 0
    last_string, last_end = "", -1
    cut_from = cut_to = -1  # the cut: from the end of the last kept item to the array's end
    last_item_end = -1
    for match in _TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first == '"':
            last_string, last_end = token, match.end()
            continue
        if first in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise JSONFeedRefused(f"refused: JSON nested deeper than {MAX_DEPTH} levels")
            if (
                first == "["
                and depth == 2
                and not items_depth
                and last_string == '"items"'
                and text[last_end : match.start()].strip() == ":"
            ):
                items_depth = 2
            elif first == "{" and items_depth and depth == items_depth + 1:
                count += 1
                if count == max_items + 1:
                    cut_from = last_item_end
        else:
            if items_depth and depth == items_depth + 1 and first == "}" and count <= max_items:
                last_item_end = match.end()
            if items_depth and depth == items_depth and first == "]":
                items_depth = 0
                if cut_from >= 0:
                    cut_to = match.start()
            depth -= 1
        last_string = ""
    if cut_from >= 0 and cut_to >= 0:
        return text[:cut_from] + text[cut_to:], count - max_items
    return text, 0


def decode(data: bytes, max_items: int) -> tuple[Feed, list[Item], dict[str, int], int]:
    """The feed, its valid items (at most ``max_items``), skipped items by reason, and how
    many items were beyond the limit. Raises JSONFeedRefused (a limit) or ValueError."""
    text, cut = _bounded_text(data, max_items)
    try:
        raw = json.loads(text)
    except RecursionError:  # unreachable below MAX_DEPTH; kept as a refusal, not a crash
        raise JSONFeedRefused(f"refused: JSON nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(raw, dict):
        raise ValueError(f"not a JSON Feed: the document is a JSON {type(raw).__name__}")
    try:
        feed = Feed.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"not a JSON Feed: {_reason(exc, 'document')}") from None
    items: list[Item] = []
    skipped: dict[str, int] = {}
    for value in feed.items[:max_items]:
        try:
            items.append(Item.model_validate(value))
        except ValidationError as exc:
            reason = _reason(exc, "item")
            skipped[reason] = skipped.get(reason, 0) + 1
    return feed, items, skipped, cut + max(0, len(feed.items) - max_items)


def _reason(exc: ValidationError, whole: str) -> str:
    """The first error as ``field: message``, stable enough to count."""
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or whole
    return f"{where}: {error['msg']}"
