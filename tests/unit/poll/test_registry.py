from pathlib import Path

import pytest

from pipeline.poll import registry
from pipeline.poll.registry import FeedSpec, RegistryError


def test_yaml_round_trip_and_dedup(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n"
        "  - url: https://a.example/rss\n    name: A\n    tags: [world]\n    interval: 600\n"
        "  - https://b.example/atom\n"
        "  - url: https://A.example:443/rss#x\n"  # same feed, other spelling
    )
    feeds = registry.load(path)
    assert [f.url for f in feeds] == ["https://a.example/rss", "https://b.example/atom"]
    assert feeds[0].interval == 600 and feeds[0].tags == ["world"]
    registry.save(path, feeds)
    assert registry.load(path) == feeds


def test_bad_entries_name_the_file_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - url: https://ok.example/\n  - url: gopher://x\n")
    with pytest.raises(RegistryError, match=r"feeds.yaml: feed #2"):
        registry.load(path)
    path.write_text("feeds: [\n")
    with pytest.raises(RegistryError, match="not valid YAML"):
        registry.load(path)


def test_add_replaces_same_url_and_remove() -> None:
    feeds, new = registry.add([], FeedSpec(url="https://a.example/rss", name="A"))
    assert new
    feeds, new = registry.add(feeds, FeedSpec(url="https://A.example/rss", name="A2"))
    assert not new and len(feeds) == 1 and feeds[0].name == "A2"
    feeds, removed = registry.remove(feeds, "https://a.example/rss")
    assert removed and feeds == []


def test_opml_import_export_round_trip() -> None:
    opml = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="News"><outline text="World">
    <outline type="rss" text="Wire" title="Wire" xmlUrl="https://wire.example/rss" />
  </outline></outline>
  <outline type="rss" text="Solo" xmlUrl="https://solo.example/feed" category="tech"/>
</body></opml>"""
    feeds = registry.from_opml(opml)
    assert [(f.url, f.name, f.tags) for f in feeds] == [
        ("https://wire.example/rss", "Wire", ["News", "World"]),
        ("https://solo.example/feed", "Solo", ["tech"]),
    ]
    assert registry.from_opml(registry.to_opml(feeds)) == feeds


def test_opml_with_entities_is_refused() -> None:
    evil = b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>
<opml><body><outline xmlUrl="https://x.example/&b;"/></body></opml>"""
    with pytest.raises(RegistryError, match="not a readable OPML"):
        registry.from_opml(evil)
