from datetime import datetime

import pytest

from pipeline.demo import SAMPLE_DIR
from pipeline.extract import ExtractionFailed, extract_page


def _page(rel: str) -> str:
    return (SAMPLE_DIR / rel).read_text().replace("{base}", "http://news.test")


def test_sample_page_text_and_metadata() -> None:
    got = extract_page(
        _page("northwind/world/putin-kursk-troops.html"),
        "http://news.test/northwind/world/putin-kursk-troops.html",
    )
    assert "completely liberate" in got.text and "Gerasimov" in got.text
    assert "Subscribe to the Northwind Wire" not in got.text  # boilerplate stays out
    assert got.site_name == "Northwind Wire" and got.authors == ["Anna Keller"]
    assert got.language == "en"
    assert got.canonical_url == "http://news.test/northwind/world/putin-kursk-troops.html"
    assert isinstance(got.published_at, datetime) and got.published_at.year == 2025


def test_too_little_text_is_a_failure_with_reason() -> None:
    with pytest.raises(ExtractionFailed, match="characters of main text"):
        extract_page("<html><body><p>Cookies?</p></body></html>", "http://news.test/x")
