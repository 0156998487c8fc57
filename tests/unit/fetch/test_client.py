import httpx
import pytest

from pipeline.fetch.client import FetchResponse, feed_content_type_ok, page_content_type_ok


def _response(body: bytes, content_type: str = "") -> FetchResponse:
    headers = httpx.Headers({"content-type": content_type} if content_type else {})
    return FetchResponse(url="http://e.example/", status=200, headers=headers, content=body)


def test_declared_charset_wins() -> None:
    body = "Zürich – café".encode("iso-8859-15", errors="replace")
    assert _response(body, "text/html; charset=ISO-8859-15").text().startswith("Zürich")


def test_meta_charset_when_header_is_silent() -> None:
    body = '<html><head><meta charset="windows-1251"></head><p>Москва</p>'.encode("cp1251")
    assert "Москва" in _response(body, "text/html").text()


def test_xml_declaration_and_bom() -> None:
    xml = '<?xml version="1.0" encoding="koi8-r"?><rss>Привет</rss>'.encode("koi8-r")
    assert "Привет" in _response(xml).text()
    assert _response("hé".encode("utf-16")).text() == "hé"


def test_undeclared_falls_back_to_cp1252() -> None:
    assert _response("naïve “quote”".encode("cp1252")).text() == "naïve “quote”"


def test_unknown_charset_is_ignored() -> None:
    assert _response("ok é".encode(), "text/html; charset=x-nonsense").text() == "ok é"


@pytest.mark.parametrize(
    ("ctype", "feed", "page"),
    [
        ("application/rss+xml", True, False),
        ("text/html; charset=utf-8", True, True),
        ("", True, True),
        ("image/png", False, False),
        ("application/pdf", False, False),
        ("application/octet-stream", True, False),
    ],
)
def test_content_type_predicates(ctype: str, feed: bool, page: bool) -> None:
    assert feed_content_type_ok(ctype) is feed
    assert page_content_type_ok(ctype) is page
