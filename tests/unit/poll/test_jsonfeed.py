"""JSON Feed: the issue's reproducers (wrong types, deep nesting, too many items) and
variants; every one is a named reason, never a TypeError/RecursionError."""

import json

import pytest

from pipeline.poll import jsonfeed
from pipeline.poll.parse import MAX_ENTRIES, HostileFeed, parse_feed

VERSION = "https://jsonfeed.org/version/1.1"
HEADERS = {"Content-Type": "application/feed+json"}


def _feed(items: object, **extra: object) -> bytes:
    return json.dumps({"version": VERSION, "title": "JF", "items": items, **extra}).encode()


def _parse(doc: bytes):
    return parse_feed(doc, "https://e.example/feed.json", HEADERS)


def test_items_of_the_wrong_shape_are_skipped_with_counted_reasons() -> None:
    items = [
        {"id": "ok", "url": "https://e.example/1", "title": "<b>Bold</b> title"},
        {"id": "t", "url": "https://e.example/2", "title": 5},
        {"id": "a", "url": "https://e.example/3", "authors": 3},
        {"id": "c", "url": "https://e.example/4", "content_html": ["x"]},
        {"id": "c2", "url": "https://e.example/5", "content_html": {"x": 1}},
        17,
        "string",
        None,
        {"url": "https://e.example/6"},  # no id
        {"id": 7, "url": "https://e.example/7", "author": {"name": "Old 1.0"}},
        {"id": "n", "url": "https://e.example/8", "authors": [{"name": 9}]},
    ]
    feed = _parse(_feed(items))
    assert [e.guid for e in feed.entries] == ["ok", "7"]
    assert feed.entries[0].title == "Bold title"  # JSON Feed titles through _clean_html
    assert feed.entries[1].authors == ["Old 1.0"]
    assert feed.skipped == {
        "title: Input should be a valid string": 1,
        "authors: Input should be a valid list": 1,
        "content_html: Input should be a valid string": 2,
        "item: Input should be a valid dictionary or instance of Item": 3,
        "id: Field required": 1,
        "authors.0.name: Input should be a valid string": 1,
    }


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (_feed(17), "not a JSON Feed: items: Input should be a valid list"),
        (_feed({"a": 1}), "not a JSON Feed: items: Input should be a valid list"),
        (b"[1, 2]", "not a JSON Feed: the document is a JSON list"),
        (json.dumps({"version": 5, "items": []}).encode(), "version: Input should be"),
        (json.dumps({"version": "2", "items": []}).encode(), "not a jsonfeed.org version"),
        (json.dumps({"version": VERSION}).encode(), "items: Field required"),
        (b'{"version": ', "Expecting value"),
    ],
)
def test_a_feed_of_the_wrong_shape_is_one_named_refusal(doc: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        _parse(doc)


def test_feed_metadata_of_the_wrong_type_is_ignored() -> None:
    doc = json.dumps({"version": VERSION, "title": 5, "language": ["en"], "items": []})
    feed = _parse(doc.encode())
    assert feed.title is None and feed.language is None and feed.entries == []


@pytest.mark.parametrize(
    "doc",
    [
        # the reproducer: deep nesting raised RecursionError
        b'{"version": "'
        + VERSION.encode()
        + b'", "items": [], "_x": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}",
        b'{"version": "'
        + VERSION.encode()
        + b'", "items": ['
        + b'{"a":' * 50_000
        + b"1"
        + b"}" * 50_000
        + b"]}",
        # brackets inside strings do not count; real ones past the limit do
        _feed([{"id": "1", "_ext": json.loads("[" * 40 + "]" * 40)}]),
    ],
)
def test_deep_nesting_is_refused_before_decoding(doc: bytes) -> None:
    with pytest.raises(HostileFeed, match="nested deeper than 32 levels"):
        _parse(doc)


def test_brackets_inside_strings_are_not_nesting() -> None:
    title = "[" * 1000 + '{"' + "\\" + "}" * 3
    feed = _parse(_feed([{"id": "1", "url": "https://e.example/1", "title": title}]))
    assert feed.entries[0].title == title


def test_items_past_the_limit_are_never_decoded() -> None:
    items = [{"id": str(i), "url": f"https://e.example/{i}"} for i in range(MAX_ENTRIES + 250)]
    doc = _feed(items, home_page_url="https://e.example/")  # keys after items survive the cut
    text, cut = jsonfeed._bounded_text(doc, MAX_ENTRIES)
    assert cut == 250 and len(json.loads(text)["items"]) == MAX_ENTRIES
    assert json.loads(text)["home_page_url"] == "https://e.example/"
    feed = _parse(doc)
    assert len(feed.entries) == MAX_ENTRIES and feed.truncated == 250
    assert feed.entries[-1].guid == str(MAX_ENTRIES - 1)


def test_too_many_bytes_are_refused_before_decoding() -> None:
    padding = "x" * (jsonfeed.MAX_BYTES + 1)
    with pytest.raises(HostileFeed, match=r"JSON Feed of 4,194,\d+ bytes \(limit 4,194,304\)"):
        _parse(_feed([{"id": "1", "summary": padding}]))


def test_utf16_json_is_decoded() -> None:
    doc = json.dumps({"version": VERSION, "items": [{"id": "é", "url": "https://e.example/"}]})
    assert _parse(doc.encode("utf-16")).entries[0].guid == "é"
