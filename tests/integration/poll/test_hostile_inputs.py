"""Hostile feeds and pages over loopback: each is refused or cut off with a clear reason,
and the poller carries on with the good feed in the same cycle."""

from __future__ import annotations

import asyncio
import json
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_server import GIB, HostileServer

from pipeline.fetch.client import Fetcher, FetchError
from pipeline.poll.poller import Poller, PollReport
from pipeline.poll.registry import FeedSpec
from pipeline.poll.state import StateStore
from pipeline.settings import Settings

pytestmark = pytest.mark.timeout(60)
MAX_BYTES = 2 * 1024 * 1024
PAGE = (
    "<html lang='en'><body><article><h1>Fine</h1>"
    + "".join(
        f"<p>Paragraph {i}: an ordinary article body with enough words.</p>" for i in range(8)
    )
    + "</article></body></html>"
).encode()


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    yield server
    server.close()


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path,
        fetch_allow_networks="127.0.0.0/8",  # loopback v4 only: ::1 stays refused
        fetch_max_bytes=MAX_BYTES,
        fetch_timeout_s=1.5,
        fetch_max_redirects=4,
        poll_per_host_concurrency=16,
        poll_per_host_spacing_s=0,
    )


class Sink:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []

    def deliver(self, items: list[tuple[str, bytes]]) -> tuple[list[str], dict[str, str]]:
        self.items.extend(items)
        return [key for key, _ in items], {}

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _poll(settings: Settings, feeds: list[str], sink: Sink) -> PollReport:
    poller = Poller(
        settings,
        [FeedSpec(url=u) for u in feeds],
        state=StateStore(settings.home / "state.sqlite3"),
        sink=sink,
    )

    async def go() -> PollReport:
        try:
            return await poller.run_once()
        finally:
            await poller.aclose()

    return asyncio.run(go())


def test_hostile_feeds_are_refused_and_the_good_one_is_polled(
    tmp_path: Path, hostile: HostileServer
) -> None:
    b = hostile.base
    port = hostile.port
    hostile.redirects = {
        "/to-ten": "http://10.0.0.1/feed.xml",
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        "/to-v6-loopback": f"http://[::1]:{port}/good.xml",
        "/to-file": "file:///etc/passwd",
    }
    hostile.pages = {"/page.html": PAGE}
    hostile.good_feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>
<item><title>Fine</title><link>{b}/page.html</link><description>s1</description></item>
<item><title>Huge page</title><link>{b}/huge-chunked?p</link><description>s2</description></item>
<item><title>Dripping page</title><link>{b}/drip?p</link><description>s3</description></item>
<item><title>Looping page</title><link>{b}/loop-a?p</link><description>s4</description></item>
<item><title>Private page</title><link>{b}/to-ten?p</link><description>s5</description></item>
<item><title>Robots page</title><link>{b}/private/x.html</link><description>s6</description></item>
</channel></rss>""".encode()
    feeds = {
        "billion": f"{b}/billion.xml",
        "xxe": f"{b}/xxe.xml",
        "huge-declared": f"{b}/huge-declared",
        "huge-chunked": f"{b}/huge-chunked",
        "drip": f"{b}/drip",
        "loop": f"{b}/loop-a",
        "image": f"{b}/image.xml",
        "redirect-10": f"{b}/to-ten",
        "redirect-169.254": f"{b}/to-metadata",
        "redirect-::1": f"{b}/to-v6-loopback",
        "redirect-file": f"{b}/to-file",
        "direct-::1": f"http://[::1]:{port}/good.xml",
        "direct-10": "http://10.20.30.40/feed.xml",
        "direct-169.254": "http://169.254.169.254/latest/meta-data/",
        "good": f"{b}/good.xml",
    }
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sink = Sink()
    report = _poll(_settings(tmp_path), list(feeds.values()), sink)
    errors = report.errors
    expected = {
        "billion": "refused: entity 'lol' stands for 3 characters",
        "xxe": "refused: external entity 'xxe' (XXE)",
        "huge-declared": f"too-large: declared {GIB:,} bytes",
        "huge-chunked": f"too-large: body exceeded the {MAX_BYTES:,}-byte limit",
        "drip": "timeout: no complete response within 1.5s",
        "loop": "redirect-loop:",
        "image": "bad-content-type: unexpected content type 'image/png'",
        "redirect-10": "blocked-address: refused to connect to 10.0.0.1: private",
        "redirect-169.254": "blocked-address: refused to connect to 169.254.169.254: link-local",
        "redirect-::1": "blocked-address: refused to connect to ::1: loopback",
        "redirect-file": "bad-redirect: not an http(s) URL",
        "direct-::1": "blocked-address: refused to connect to ::1: loopback",
        "direct-10": "blocked-address: refused to connect to 10.20.30.40: private",
        "direct-169.254": "blocked-address: refused to connect to 169.254.169.254: link-local",
    }
    for name, start in expected.items():
        assert errors[feeds[name]].startswith(start), (name, errors[feeds[name]])
    assert feeds["good"] not in errors

    # The 1 GiB bodies were cut off while streaming, never buffered.
    assert hostile.bytes_sent.get("/huge-chunked", 0) < 64 * 1024 * 1024
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 200 * 1024

    # The good feed's articles arrived; hostile pages fell back to the feed text, with why.
    articles = {json.loads(v)["title"]: json.loads(v) for _, v in sink.items}
    assert articles["Fine"]["text_source"] == "page"
    notes = {title: a["text_note"] for title, a in articles.items() if title != "Fine"}
    assert notes == {
        "Huge page": f"page not fetched: too-large: body exceeded the {MAX_BYTES:,}-byte limit",
        "Dripping page": "page not fetched: timeout: no complete response within 1.5s",
        "Looping page": notes["Looping page"],
        "Private page": notes["Private page"],
        "Robots page": f"robots.txt: disallowed by {b}/robots.txt",
    }
    assert notes["Looping page"].startswith("page not fetched: redirect-loop")
    assert notes["Private page"].startswith("page not fetched: blocked-address")
    assert all(a["text"] for a in articles.values())


def test_redirect_limit(tmp_path: Path, hostile: HostileServer) -> None:
    hostile.redirects = {f"/r{i}": f"/r{i + 1}" for i in range(10)}

    async def go() -> FetchError:
        async with Fetcher(_settings(tmp_path)) as fetcher:
            with pytest.raises(FetchError) as info:
                await fetcher.get(f"{hostile.base}/r0")
            return info.value

    error = asyncio.run(go())
    assert error.reason == "too-many-redirects" and "more than 4 redirects" in error.detail


def test_compression_bombs_and_fragmented_bodies_are_cut_while_decoding(
    tmp_path: Path, hostile: HostileServer
) -> None:
    b = hostile.base
    hostile.pages = {"/page.html": PAGE}
    hostile.good_feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>
<item><title>Fine</title><link>{b}/page.html</link><description>s1</description></item>
<item><title>Bomb page</title><link>{b}/gzip-bomb?p</link><description>s2</description></item>
<item><title>Nested page</title><link>{b}/gzip-gzip?p</link><description>s3</description></item>
<item><title>Tiny chunks</title><link>{b}/tiny-chunks?p</link><description>s4</description></item>
</channel></rss>""".encode()
    feeds = {
        "gzip-gzip": f"{b}/gzip-gzip",
        "deflate-gzip": f"{b}/deflate-gzip",
        "gzip-bomb": f"{b}/gzip-bomb",
        "tiny-chunks": f"{b}/tiny-chunks",
        "good": f"{b}/good.xml",
    }
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sink = Sink()
    settings = _settings(tmp_path).model_copy(update={"fetch_timeout_s": 10.0})
    report = _poll(settings, list(feeds.values()), sink)
    errors = report.errors
    expected = {
        "gzip-gzip": "bad-encoding: 2 stacked content encodings (gzip, gzip) are refused",
        "deflate-gzip": "bad-encoding: 2 stacked content encodings (deflate, gzip) are refused",
        "gzip-bomb": f"too-large: body exceeded the {MAX_BYTES:,}-byte limit",
        "tiny-chunks": "too-fragmented: body arrived in more than 65,536 pieces",
    }
    for name, start in expected.items():
        assert errors[feeds[name]].startswith(start), (name, errors[feeds[name]])
    assert feeds["good"] not in errors
    # 256 MiB (one layer) and 64 MiB (two layers) never materialised.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 100 * 1024
    notes = {json.loads(v)["title"]: json.loads(v)["text_note"] for _, v in sink.items}
    assert notes == {
        "Fine": None,
        "Bomb page": f"page not fetched: too-large: body exceeded the {MAX_BYTES:,}-byte limit",
        "Nested page": "page not fetched: bad-encoding: 2 stacked content encodings (gzip, gzip)"
        " are refused",
        "Tiny chunks": "page not fetched: too-fragmented: body arrived in more than 65,536 pieces",
    }


def test_unusable_links_fail_only_their_own_item(tmp_path: Path, hostile: HostileServer) -> None:
    b = hostile.base
    other = HostileServer()  # its robots.txt redirects to mailto:
    other.robots_redirect = "mailto:robots@example.com"
    other.pages = {"/page.html": PAGE}
    hostile.pages = {"/page.html": PAGE}
    hostile.redirects = {
        "/to-js": "javascript:alert(1)",
        "/to-mailto": "mailto:x@example.com",
        "/to-broken-v6": "http://[::1/",
        "/to-octal": "http://0177.0.0.1/",
        "/feed-to-js": "javascript:alert(1)",
    }
    links = {
        "Fine": f"{b}/page.html",
        "Octal host": "http://0177.0.0.1/a",
        "Full-width digits": "http://１２７.0.0.1/b",
        "Bad IDNA label": "http://xn--/c",
        "To javascript": f"{b}/to-js?p",
        "To mailto": f"{b}/to-mailto?p",
        "To broken v6": f"{b}/to-broken-v6?p",
        "To octal": f"{b}/to-octal?p",
        "Robots to mailto": f"{other.base}/page.html",
    }
    items = "".join(
        f"<item><title>{t}</title><link>{link}</link><description>s {t}</description></item>"
        for t, link in links.items()
    )
    items += "<item><title>Broken v6</title><link>http://[::1/d</link><description>s</description></item>"
    hostile.good_feed = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>G</title>{items}</channel></rss>'
    ).encode()
    sink = Sink()
    try:
        report = _poll(_settings(tmp_path), [f"{b}/good.xml", f"{b}/feed-to-js"], sink)
    finally:
        other.close()
    assert report.errors == {
        f"{b}/feed-to-js": f"bad-redirect: {b}/feed-to-js redirects to an unusable location: "
        "For absolute URLs, path must be empty or begin with '/'"
    }
    notes = {json.loads(v)["title"]: json.loads(v)["text_note"] or "" for _, v in sink.items}
    # every item became an article but the unparseable link and the host IDNA 2008 (and
    # httpx) cannot encode, which are rejected with their reasons
    assert set(notes) == set(links) - {"Full-width digits"}
    assert notes["Fine"] == ""
    assert notes["Octal host"].startswith("robots.txt: robots.txt unavailable (invalid-url)")
    assert notes["Bad IDNA label"].startswith("robots.txt: robots.txt unavailable (invalid-url)")
    for title in ("To javascript", "To mailto", "To broken v6", "To octal"):
        assert notes[title].startswith("page not fetched: bad-redirect"), (title, notes[title])
    assert notes["Robots to mailto"] == "robots.txt: robots.txt unavailable (bad-redirect)"
    # feedparser drops the unparseable link; the entry is rejected with a reason, alone
    assert sorted(report.rejected) == [
        (f"{b}/good.xml", "entry has no usable link: empty URL"),
        (
            links["Full-width digits"],
            "entry has no usable link: invalid international host name '１２７.0.0.1': "
            "Codepoint U+FF11 at position 1 of '１２７' not allowed",
        ),
    ]


def _attributes(count: int) -> str:
    return " ".join(f'a{i}="x"' for i in range(count))


def test_stuck_extraction_and_parsing_are_stopped_and_other_feeds_carry_on(
    tmp_path: Path, hostile: HostileServer
) -> None:
    b = hostile.base
    paragraph = "<p>" + "An ordinary sentence of a long article about the economy. " * 8 + "</p>"
    hostile.pages = {
        "/page.html": PAGE,
        # the reproducer: 430 KB, one tag with 40k attributes, 32 s in extract_page
        "/attrs.html": f"<html><body><div {_attributes(40_000)}>x</div>{PAGE.decode()}"
        "</body></html>".encode(),
        # 1.9 MB: cut to extract_max_bytes before extraction, so its tail never counts
        "/long.html": (
            "<html lang='en'><body><article>"
            + paragraph * 8
            + "<!-- "
            + "pad " * 480_000
            + "--><p>TAILMARK "
            + paragraph
            + "</p></article></body></html>"
        ).encode(),
        # a JSON Feed whose title is the same tag: _clean_html's lxml took 46 s on 40k
        "/attrs.json": json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "items": [
                    {"id": "1", "url": f"{b}/page.html", "title": f"<b {_attributes(60_000)}>"}
                ],
            }
        ).encode(),
    }
    hostile.good_feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>
<item><title>Fine</title><link>{b}/page.html</link><description>s1</description></item>
<item><title>Attributes</title><link>{b}/attrs.html</link><description>kept</description></item>
<item><title>Long</title><link>{b}/long.html</link><description>s3</description></item>
</channel></rss>""".encode()
    settings = _settings(tmp_path).model_copy(
        update={"extract_timeout_s": 8.0, "extract_max_bytes": 512 * 1024}
    )
    sink = Sink()
    report = _poll(settings, [f"{b}/good.xml", f"{b}/attrs.json"], sink)
    assert report.errors == {
        f"{b}/attrs.json": "refused: parsing the feed took longer than 8s "
        + report.errors[f"{b}/attrs.json"].split("took longer than 8s ", 1)[1]
    }
    assert "(WIREWATCH_EXTRACT_TIMEOUT_S)" in report.errors[f"{b}/attrs.json"]
    articles = {json.loads(v)["title"]: json.loads(v) for _, v in sink.items}
    assert articles["Fine"]["text_source"] == "page"
    assert articles["Long"]["text_source"] == "page", articles["Long"]["text_note"]
    assert "TAILMARK" not in articles["Long"]["text"]
    stuck = articles["Attributes"]
    assert stuck["text_source"] == "feed" and stuck["text"] == "kept"
    assert stuck["text_note"].startswith("extraction stopped: took longer than 8s")
    # Nothing held the cycle past one fetch deadline plus one extraction timeout (the
    # feed's parse and its pages' extraction overlap; 4 s of slack for a loaded machine).
    assert report.duration_s < settings.fetch_timeout_s + 2 * settings.extract_timeout_s + 4
