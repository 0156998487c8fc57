from pipeline.dedup.normalize import content_hash, normalize_text, shingles, url_key, words


def test_words_fold_case_quotes_and_punctuation() -> None:
    assert words("Putin’s “buffer zone” — 86%!") == ["putin", "s", "buffer", "zone", "86"]


def test_content_hash_ignores_layout_only() -> None:
    a = 'Putin said:\n\n  "Liberate Kursk."'
    b = "putin said  “liberate kursk”"
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash("Putin said: liberate Belgorod.")
    assert normalize_text(a) == "putin said liberate kursk"


def test_shingles_overlap_and_short_texts() -> None:
    assert shingles(["a", "b", "c", "d"], 3) == {b"a b c", b"b c d"}
    assert shingles(["a", "b"], 3) == {b"a b"}
    assert shingles([], 3) == set()


def test_url_key_drops_what_does_not_select_content() -> None:
    base = url_key("https://example.com/news/kursk")
    assert url_key("http://www.Example.com/news/kursk/?utm_source=x#top") == base
    assert url_key("https://example.com/news/kursk?page=2") != base
    assert url_key("https://example.com/news/kursk?b=2&a=1") == url_key(
        "https://example.com/news/kursk?a=1&b=2"
    )
