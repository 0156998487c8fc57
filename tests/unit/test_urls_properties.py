"""The URL normaliser's properties, checked by Hypothesis over generated URLs: it is
idempotent, never merges URLs that differ in a byte a server sees, and names exactly what
the fetcher (httpx) requests. Plus the issue's reproducers (12.6) as examples."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.urls import InvalidURL, article_id, normalize_url

# Pieces a hostile or merely sloppy feed puts in links: escapes of every kind (valid and
# invalid UTF-8, reserved and unreserved), dot segments, "+", spaces, non-ASCII text.
_PIECE = st.one_of(
    st.sampled_from(
        [
            "a",
            "Z",
            "0",
            "-",
            ".",
            "..",
            "_",
            "~",
            "+",
            " ",
            "%",
            "/",
            ";",
            "=",
            "&",
            ":",
            "@",
            "!",
            "$",
            "'",
            "(",
            ")",
            "*",
            ",",
            "é",
            "ß",
            "日本",
            "%2F",
            "%2f",
            "%2E",
            "%2e",
            "%7E",
            "%7e",
            "%41",
            "%E9",
            "%e8",
            "%C3%A9",
            "%20",
            "%2B",
            "%25",
            "%3D",
            "%26",
            "%00",
            "%FF",
            "?",
            "#",
        ]
    ),
    st.text(min_size=1, max_size=3),
)
_PATH = st.lists(_PIECE, max_size=12).map(lambda parts: "/" + "".join(parts))
_QUERY = st.lists(_PIECE, max_size=10).map("".join)
_HOST = st.sampled_from(
    [
        "example.com",
        "EXAMPLE.com",
        "www.example.com",
        "bücher.example",
        "straße.de",
        "xn--strae-oqa.de",
        "[::1]",
        "[2001:DB8::1]",
        "[2001:db8:0:0:0:0:0:1]",
        "127.0.0.1",
    ]
)
_PORT = st.sampled_from(["", ":80", ":443", ":8080"])
_SCHEME = st.sampled_from(["http", "https", "HTTP"])


@st.composite
def urls(draw: st.DrawFn) -> str:
    query = draw(st.one_of(st.just(""), _QUERY.map(lambda q: "?" + q)))
    return draw(_SCHEME) + "://" + draw(_HOST) + draw(_PORT) + draw(_PATH) + query


def _normal(url: str) -> str | None:
    try:
        return normalize_url(url)
    except InvalidURL:
        return None


@settings(max_examples=400, deadline=None)
@given(urls())
@example("http://e.com/?q=a%2Bb")
@example("http://e.com/x%2F..%2Fy")
@example("http://e.com/caf%E9")
@example("http://e.com/a/%2E%2E/b")
@example("http://e.com/%")
def test_normalising_twice_changes_nothing(url: str) -> None:
    once = _normal(url)
    if once is not None:
        assert normalize_url(once) == once


@settings(max_examples=300, deadline=None)
@given(urls())
def test_the_fetcher_requests_what_the_id_names(url: str) -> None:
    """httpx sends the normalised URL's path and query byte for byte, to the same host."""
    once = _normal(url)
    if once is None:
        return
    sent = httpx.URL(once)
    path, _, query = once.split("://", 1)[1].partition("/")[2].partition("?")
    assert sent.raw_path.decode("ascii") == "/" + path + ("?" + query if query else "")
    assert normalize_url(str(sent)) == once


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0x80, 0xFF),
    st.integers(0x80, 0xFF),
    _PATH.filter(lambda p: not {"?", "#"} & set(p)),
)
def test_different_bytes_never_share_an_id(a: int, b: int, path: str) -> None:
    if a == b:
        return
    first = _normal(f"http://e.com{path}/caf%{a:02X}")
    second = _normal(f"http://e.com{path}/caf%{b:02X}")
    assert first is not None and second is not None and first != second


@settings(max_examples=200, deadline=None)
@given(st.permutations(["a=1", "b=2", "utm_source=x", "c=%2B", "fbclid=y", "d=+"]))
def test_parameter_order_and_tracking_do_not_change_the_id(params: list[str]) -> None:
    assert article_id("https://e.com/p?" + "&".join(params)) == article_id(
        "https://e.com/p?a=1&b=2&c=%2B&d=+"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # invalid UTF-8 escapes stay bytes: no U+FFFD collisions
        ("http://e.com/caf%E9", "http://e.com/caf%E9"),
        ("http://e.com/caf%e8", "http://e.com/caf%E8"),
        ("http://e.com/café", "http://e.com/caf%C3%A9"),
        ("http://e.com/caf%c3%a9", "http://e.com/caf%C3%A9"),
        # %2F is a reserved character kept encoded, so it is no segment separator
        ("http://e.com/x%2F..%2Fy", "http://e.com/x%2F..%2Fy"),
        ("http://e.com/a/%2E%2E/b", "http://e.com/b"),  # %2E is unreserved: a real dot
        # IDNA 2008, as httpx fetches it (IDNA 2003 made it strasse.de)
        ("http://straße.de/", "http://xn--strae-oqa.de/"),
        # "+" and "%2B" and "%20" stay three different things
        ("http://e.com/?q=a%2Bb", "http://e.com/?q=a%2Bb"),
        ("http://e.com/?q=a+b", "http://e.com/?q=a+b"),
        ("http://e.com/?q=a%20b", "http://e.com/?q=a%20b"),
        ("http://e.com/?q=a b", "http://e.com/?q=a%20b"),
        ("http://e.com/?flag&b=1", "http://e.com/?b=1&flag"),
        ("http://e.com/?a=&a", "http://e.com/?a=&a"),
        ("http://[2001:DB8:0:0::1]:8080/", "http://[2001:db8::1]:8080/"),
        ("http://e.com/%", "http://e.com/%25"),
        ("http://e.com/?utm%5Fsource=x&id=1", "http://e.com/?id=1"),
    ],
)
def test_issue_reproducers(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected
    assert normalize_url(expected) == expected


def test_an_unencodable_international_host_is_an_invalid_url() -> None:
    with pytest.raises(InvalidURL, match="invalid international host name"):
        normalize_url("http://a\u200db.example/")  # ZWJ: refused by IDNA 2008 (and httpx)
