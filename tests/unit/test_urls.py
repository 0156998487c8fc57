import pytest

from pipeline.urls import InvalidURL, article_id, domain_of, normalize_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM/Path", "http://example.com/Path"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/a?utm_source=x&utm_medium=rss&id=7", "https://example.com/a?id=7"),
        ("https://example.com/a?fbclid=abc&gclid=1&mc_cid=2&mc_eid=3", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a?page=2&page=1", "https://example.com/a?page=2&page=1"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/%7euser", "https://example.com/~user"),
        ("https://user:pw@example.com/a", "https://example.com/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("//example.com/a", "http://example.com/a"),
        ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_normalize_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


def test_meaningful_query_and_path_case_are_kept() -> None:
    assert normalize_url("https://e.com/story?id=1") != normalize_url("https://e.com/story?id=2")
    assert normalize_url("https://e.com/A") != normalize_url("https://e.com/a")


def test_article_id_is_stable_across_spellings() -> None:
    a = article_id("https://News.example.com:443/world/kursk?utm_campaign=rss#top")
    b = article_id("https://news.example.com/world/kursk")
    assert a == b
    assert len(a) == 40 and all(c in "0123456789abcdef" for c in a)
    assert a != article_id("https://news.example.com/world/kursk-2")


@pytest.mark.parametrize(
    "raw", ["", "   ", "mailto:a@b.c", "ftp://e.com/x", "javascript:alert(1)", "http://"]
)
def test_invalid_urls_raise(raw: str) -> None:
    with pytest.raises(InvalidURL):
        normalize_url(raw)


def test_domain_of_strips_www() -> None:
    assert domain_of("https://WWW.Reuters.com/world") == "reuters.com"
