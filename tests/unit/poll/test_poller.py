"""Poller logic against a scripted fetcher and an in-memory sink: no servers."""

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from pipeline.fetch.client import FetchError, FetchResponse
from pipeline.poll.poller import Poller
from pipeline.poll.registry import FeedSpec
from pipeline.poll.state import StateStore
from pipeline.settings import Settings

FEED = "https://wire.example/rss"
OTHER = "https://other.example/rss"


def rss(*items: tuple[str, str]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><description>Summary of {title}"
        f"</description></item>"
        for title, link in items
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
    return f"{head}{body}</channel></rss>".encode()


PAGE = (
    "<html lang='en'><head><title>T</title><meta property='og:site_name' content='Wire'></head>"
    "<body><article><h1>Headline</h1>"
    + "".join(
        f"<p>Paragraph {i} of a long enough article body that says things.</p>" for i in range(8)
    )
    + "</article></body></html>"
).encode()


class ScriptedFetcher:
    """url -> responses (FetchResponse | FetchError) in order; the last one repeats."""

    def __init__(self, script: dict[str, list[object]]) -> None:
        self.script = script
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def get(self, url: str, *, headers=None, accept=None, max_bytes=None, timeout_s=None):
        self.requests.append((url, dict(headers or {})))
        if url.endswith("/robots.txt"):
            return FetchResponse(url=url, status=404, headers=httpx.Headers())
        queue = self.script.get(url)
        if not queue:
            raise FetchError("connect", "no route in script", url)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, FetchError):
            raise item
        return item

    async def aclose(self) -> None:
        pass


def ok(
    url: str, body: bytes, etag: str | None = None, ctype: str = "application/rss+xml"
) -> FetchResponse:
    headers = {"content-type": ctype} | ({"etag": etag} if etag else {})
    return FetchResponse(url=url, status=200, headers=httpx.Headers(headers), content=body)


def status(url: str, code: int, **headers: str) -> FetchResponse:
    return FetchResponse(url=url, status=code, headers=httpx.Headers(headers))


class Sink:
    def __init__(self) -> None:
        self.up = True
        self.received: list[tuple[str, bytes]] = []

    def deliver(self, items):
        if not self.up:
            return [], {key: "KafkaTimeoutError: broker down" for key, _ in items}
        self.received.extend(items)
        return [key for key, _ in items], {}

    def ready(self) -> bool:
        return self.up

    def close(self) -> None:
        pass


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, poll_per_host_spacing_s=0, fetch_pages=False)


def make(settings: Settings, fetcher: ScriptedFetcher, sink: Sink, feeds: list[str]) -> Poller:
    return Poller(
        settings,
        [FeedSpec(url=u, name="Wire", tags=["t"]) for u in feeds],
        state=StateStore(settings.home / "state.sqlite3"),
        sink=sink,
        fetcher=fetcher,  # type: ignore[arg-type]
    )


def test_kafka_outage_loses_nothing_and_sends_once(settings: Settings) -> None:
    feed = rss(("A", "https://wire.example/a"), ("B", "https://wire.example/b?utm_source=rss"))
    fetcher = ScriptedFetcher({FEED: [ok(FEED, feed, '"v1"'), status(FEED, 304)]})
    sink = Sink()
    sink.up = False
    poller = make(settings, fetcher, sink, [FEED])

    first = asyncio.run(poller.run_once())
    assert first.articles_queued == 2 and first.articles_sent == 0 and first.pending == 2
    assert len(first.send_failures) == 2

    sink.up = True
    second = asyncio.run(poller.run_once(ignore_schedule=True))  # the feed answers 304 now
    assert second.count("not-modified") == 1
    assert second.articles_sent == 2 and second.pending == 0
    assert fetcher.requests[-1][1]["If-None-Match"] == '"v1"'

    third = asyncio.run(poller.run_once(ignore_schedule=True))
    assert third.articles_sent == 0
    keys = [key for key, _ in sink.received]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 2
    article = json.loads(sink.received[0][1])
    assert article["text_source"] == "feed" and "page fetching is off" in article["text_note"]
    assert article["tags"] == ["t"] and article["feed_name"] == "Wire"


def test_seen_items_are_not_sent_again_when_feed_changes(settings: Settings) -> None:
    fetcher = ScriptedFetcher(
        {
            FEED: [
                ok(FEED, rss(("A", "https://wire.example/a"))),
                ok(
                    FEED, rss(("A", "https://wire.example/a#frag"), ("C", "https://wire.example/c"))
                ),
            ]
        }
    )
    sink = Sink()
    poller = make(settings, fetcher, sink, [FEED])
    asyncio.run(poller.run_once())
    report = asyncio.run(poller.run_once(ignore_schedule=True))
    assert report.articles_queued == 1
    assert [json.loads(v)["url"] for _, v in sink.received] == [
        "https://wire.example/a",
        "https://wire.example/c",
    ]


def test_same_bytes_under_a_new_etag_count_as_unchanged(settings: Settings) -> None:
    body = rss(("A", "https://wire.example/a"))
    fetcher = ScriptedFetcher({FEED: [ok(FEED, body, '"1"'), ok(FEED, body, '"2"')]})
    poller = make(settings, fetcher, Sink(), [FEED])
    asyncio.run(poller.run_once())
    assert asyncio.run(poller.run_once(ignore_schedule=True)).count("unchanged") == 1


def test_429_retry_after_and_hostile_feed_do_not_stop_others(settings: Settings) -> None:
    hostile = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss/>'
    limited = "https://limited.example/rss"
    fetcher = ScriptedFetcher(
        {
            FEED: [ok(FEED, hostile)],
            limited: [status(limited, 429, **{"retry-after": "7200"})],
            OTHER: [ok(OTHER, rss(("Z", "https://other.example/z")))],
        }
    )
    sink = Sink()
    poller = make(settings, fetcher, sink, [FEED, limited, OTHER])
    report = asyncio.run(poller.run_once())
    assert "external entity" in report.errors[FEED]
    assert report.errors[limited] == "HTTP 429, Retry-After 7200s"
    assert poller.state.feed(limited).next_poll >= time.time() + 7100
    assert poller.gate.held_for("limited.example") > 7000
    assert report.articles_sent == 1


def test_blocked_feed_is_parked_with_its_reason(settings: Settings) -> None:
    error = FetchError("blocked-address", "refused to connect to 10.0.0.1: private address", FEED)
    poller = make(settings, ScriptedFetcher({FEED: [error]}), Sink(), [FEED])
    report = asyncio.run(poller.run_once())
    assert report.count("refused") == 1
    assert "10.0.0.1" in poller.state.feed(FEED).parked_reason
    assert asyncio.run(poller.run_once(ignore_schedule=True)).feeds_due == 0


def test_entries_without_link_are_rejected_once(settings: Settings) -> None:
    body = (
        b'<rss version="2.0"><channel><item><title>No link</title>'
        b'<guid isPermaLink="false">abc</guid></item>'
        b"<item><title>Mail</title><link>mailto:x@y.z</link></item></channel></rss>"
    )
    poller = make(settings, ScriptedFetcher({FEED: [ok(FEED, body)]}), Sink(), [FEED])
    report = asyncio.run(poller.run_once())
    assert len(report.rejected) == 2 and all("no usable link" in r for _, r in report.rejected)
    assert asyncio.run(poller.run_once(ignore_schedule=True)).rejected == []


def test_page_text_or_feed_fallback_with_reason(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, poll_per_host_spacing_s=0, fetch_pages=True)
    good, bad = "https://wire.example/good", "https://wire.example/bad"
    fetcher = ScriptedFetcher(
        {
            FEED: [ok(FEED, rss(("Good", good), ("Bad", bad)))],
            good: [ok(good, PAGE, ctype="text/html")],
            bad: [FetchError("too-large", "body exceeded the 10-byte limit", bad)],
        }
    )
    sink = Sink()
    report = asyncio.run(make(settings, fetcher, sink, [FEED]).run_once())
    assert report.page_fallbacks == 1
    articles = {json.loads(v)["url"]: json.loads(v) for _, v in sink.received}
    assert articles[good]["text_source"] == "page" and "Paragraph 7" in articles[good]["text"]
    assert articles[good]["language"] == "en"
    assert articles[bad]["text_source"] == "feed"
    assert articles[bad]["text_note"].startswith("page not fetched: too-large")
    assert articles[bad]["text"] == "Summary of Bad"


def test_a_poll_that_parks_a_feed_says_why_and_how_to_unpark(settings: Settings) -> None:
    error = FetchError("blocked-address", "refused to connect to 10.0.0.1: private address", FEED)
    poller = make(settings, ScriptedFetcher({FEED: [error]}), Sink(), [FEED])
    report = asyncio.run(poller.run_once())
    assert [url for url, _ in report.parked] == [FEED]
    (notice,) = report.park_notices()
    assert "10.0.0.1" in notice and f"wirewatch feeds unpark {FEED}" in notice
    # Already parked: the next poll does not poll it, so it does not announce it again.
    assert asyncio.run(poller.run_once(ignore_schedule=True)).parked == []


def test_the_operators_feed_name_is_the_outlet_and_the_site_name_is_kept(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path, poll_per_host_spacing_s=0, fetch_pages=True)
    named, unnamed = "https://wire.example/named", "https://wire.example/unnamed"
    fetcher = ScriptedFetcher(
        {
            FEED: [ok(FEED, rss(("Named", named)))],
            OTHER: [ok(OTHER, rss(("Unnamed", unnamed)))],
            named: [ok(named, PAGE, ctype="text/html")],
            unnamed: [ok(unnamed, PAGE, ctype="text/html")],
        }
    )
    sink = Sink()
    feeds = [FeedSpec(url=FEED, name="Loopback Times"), FeedSpec(url=OTHER)]
    poller = Poller(
        settings,
        feeds,
        state=StateStore(settings.home / "state.sqlite3"),
        sink=sink,
        fetcher=fetcher,  # type: ignore[arg-type]
    )
    asyncio.run(poller.run_once())
    articles = {json.loads(v)["url"]: json.loads(v) for _, v in sink.received}
    # The page declares og:site_name 'Wire'; the name the operator gave wins.
    assert articles[named]["outlet"] == "Loopback Times"
    assert articles[named]["site_name"] == "Wire"
    # Without a name, the page's site name is the outlet.
    assert articles[unnamed]["outlet"] == "Wire"


def test_json_feed_items_of_the_wrong_shape_are_rejected_with_counted_reasons(
    settings: Settings,
) -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {"id": "1", "url": "https://wire.example/1", "title": "Fine"},
            {"id": "2", "url": "https://wire.example/2", "title": 5},
            {"id": "3", "url": "https://wire.example/3", "title": 6},
            17,
        ],
    }
    body = json.dumps(doc).encode()
    fetcher = ScriptedFetcher({FEED: [ok(FEED, body, ctype="application/feed+json")]})
    sink = Sink()
    report = asyncio.run(make(settings, fetcher, sink, [FEED]).run_once())
    assert report.articles_sent == 1 and not report.errors
    assert sorted(report.rejected) == [
        (FEED, "1 item(s) skipped: item: Input should be a valid dictionary or instance of Item"),
        (FEED, "2 item(s) skipped: title: Input should be a valid string"),
    ]
