"""Dedup decisions on real news text: the seed article and PolNeAR."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.dedup import DedupConfig, Deduplicator
from pipeline.records import Article

MakeArticle = Callable[..., Article]

BOILERPLATE = (
    "\nSign up for our Morning Briefing newsletter to get the day's top stories in your inbox."
    "\nFollow us on Twitter, Facebook and Instagram for the latest updates."
    "\n© 2025 Example News Ltd. All rights reserved. This material may not be published,"
    " broadcast, rewritten or redistributed."
)


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def lightly_edited(text: str) -> str:
    edits = {
        "told": "informed",
        "Wednesday": "Thursday",
        "appears": "seems",
        "quickly": "rapidly",
        "significant": "considerable",
        "according to": "per",
    }
    for old, new in edits.items():
        text = text.replace(old, new, 1)
    return text


@pytest.fixture
def dedup() -> Deduplicator:
    return Deduplicator({})


def test_first_article_starts_its_own_cluster(
    make: MakeArticle, dedup: Deduplicator, seed_text: str
) -> None:
    story = dedup.assign(make("https://a.example/kursk", seed_text, outlet="A"))
    assert story.match == "new"
    assert story.cluster_id == story.canonical_id
    assert story.size == 1 and story.outlets == ["A"]


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("headline", "content"),
        ("boilerplate", "near"),
        ("trimmed", "near"),
        ("edited", "near"),
        ("all", "near"),
    ],
)
def test_copies_of_the_seed_article_join_its_cluster(
    make: MakeArticle, dedup: Deduplicator, seed_text: str, variant: str, expected: str
) -> None:
    original = make("https://a.example/kursk", seed_text, outlet="A")
    first = dedup.assign(original)
    paras = paragraphs(seed_text)
    texts = {
        "headline": seed_text,
        "boilerplate": seed_text + BOILERPLATE,
        "trimmed": "\n".join(paras[: int(len(paras) * 0.7)]),
        "edited": lightly_edited(seed_text),
        "all": lightly_edited("\n".join(paras[: int(len(paras) * 0.75)])) + BOILERPLATE,
    }
    copy = make(
        "https://b.example/world/putin-kursk-visit",
        texts[variant],
        title="Putin in uniform tours Kursk front as ceasefire talks loom",
        outlet="B",
        minutes=30,
    )
    story = dedup.assign(copy)
    assert story.match == expected
    assert story.cluster_id == first.cluster_id == original.id
    assert story.canonical_id == original.id
    assert story.size == 2 and story.outlets == ["A", "B"]
    if expected == "near":
        assert story.similarity is not None and 0.5 <= story.similarity < 1.0


def test_same_url_again_is_a_replay_and_changes_nothing(
    make: MakeArticle, dedup: Deduplicator, seed_text: str
) -> None:
    article = make("https://a.example/kursk", seed_text)
    first = dedup.assign(article)
    again = dedup.assign(article)
    assert again == first
    assert len(dedup) == 1


def test_updated_page_under_same_url_stays_in_its_cluster(
    make: MakeArticle, dedup: Deduplicator, seed_text: str
) -> None:
    first = dedup.assign(make("https://a.example/kursk", seed_text))
    updated = make("https://a.example/kursk", seed_text + "\nUpdated at 14:00.")
    story = dedup.assign(updated)
    assert story.cluster_id == first.cluster_id
    assert story.size == 1
    assert len(dedup) == 1


def test_canonical_link_is_a_url_match(
    make: MakeArticle, dedup: Deduplicator, seed_text: str
) -> None:
    first = dedup.assign(make("https://a.example/kursk", seed_text))
    syndicated = make(
        "https://b.example/syndicated/123",
        "A completely rewritten short note about the visit, "
        "with too few words in common to match by content alone.",
        canonical_url="http://www.a.example/kursk/?utm_source=rss",
    )
    story = dedup.assign(syndicated)
    assert story.match == "url"
    assert story.cluster_id == first.cluster_id


def test_short_texts_only_match_exactly(make: MakeArticle, dedup: Deduplicator) -> None:
    dedup.assign(make("https://a.example/1", "Putin visits Kursk in uniform."))
    same = dedup.assign(make("https://b.example/2", "Putin visits Kursk, in uniform!"))
    other = dedup.assign(make("https://c.example/3", "Putin visits Kursk in a uniform."))
    assert same.match == "content"
    assert other.match == "new"


def polnear_text(polnear: Path, name: str) -> str:
    [path] = list(polnear.glob(f"*/text/{name}.txt"))
    return path.read_text()


# Same event, same or adjacent day, different publishers (from metadata.tsv).
SAME_EVENT_PAIRS = [
    (
        "nyt_2016-10-04_in-avoiding-tax-trump-is-merely-",
        "politico_2016-10-04_trump-not-walking-the-walk-on-hi",
    ),
    (
        "huff-post_2016-03-16_hillary-clinton-wins-missouri-de",
        "usa-today_2016-03-16_clinton-extends-her-lead-despite",
    ),
    (
        "politico_2016-04-05_ted-cruz-wins-wisconsin-republic",
        "usa-today_2016-04-06_sanders-says-he-s-riding-momentu",
    ),
]


@pytest.mark.parametrize(("first", "second"), SAME_EVENT_PAIRS)
def test_different_articles_about_the_same_event_are_not_duplicates(
    make: MakeArticle, dedup: Deduplicator, polnear: Path, first: str, second: str
) -> None:
    a = dedup.assign(make(f"https://{first[:8]}.example/a", polnear_text(polnear, first)))
    b = dedup.assign(
        make(f"https://{second[:8]}.example/b", polnear_text(polnear, second), minutes=5)
    )
    assert b.match == "new"
    assert b.cluster_id != a.cluster_id


def test_polnear_articles_from_different_publishers_never_cluster(
    make: MakeArticle, polnear: Path
) -> None:
    """The whole corpus through one deduplicator: no cross-publisher story clusters."""
    dedup = Deduplicator({})
    rows = list(csv.DictReader((polnear / "metadata.tsv").open(), delimiter="\t"))
    publisher_of: dict[str, str] = {}
    clusters: dict[str, set[str]] = {}
    for i, row in enumerate(sorted(rows, key=lambda r: r["publication_date"])):
        path = polnear / row["compartment"] / "text" / f"{row['filename']}.txt"
        if not path.exists():
            continue
        url = f"https://{row['publisher']}.example/{row['filename']}"
        article = make(url, path.read_text(), outlet=row["publisher"], minutes=i)
        publisher_of[article.id] = row["publisher"]
        story = dedup.assign(article)
        clusters.setdefault(story.cluster_id, set()).add(row["publisher"])
    assert len(publisher_of) > 800
    mixed = {cid: pubs for cid, pubs in clusters.items() if len(pubs) > 1}
    assert mixed == {}


def test_state_survives_a_restart_through_its_serialised_form(
    make: MakeArticle, seed_text: str
) -> None:
    store: dict[str, dict] = {}
    first = Deduplicator(store).assign(make("https://a.example/kursk", seed_text))
    # what a changelog holds: JSON values by article id
    restored = json.loads(json.dumps(store))
    dedup = Deduplicator(restored)
    story = dedup.assign(
        make("https://b.example/kursk", seed_text + BOILERPLATE, outlet="B", minutes=1)
    )
    assert story.match == "near"
    assert story.cluster_id == first.cluster_id
    assert story.size == 2


def test_state_is_bounded_by_time_window(make: MakeArticle, seed_text: str) -> None:
    store: dict[str, dict] = {}
    dedup = Deduplicator(store, DedupConfig(window_s=3600))
    first = dedup.assign(make("https://a.example/kursk", seed_text))
    dedup.assign(make("https://x.example/other", "Unrelated note " * 10, minutes=61))
    assert first.canonical_id not in store
    late = dedup.assign(make("https://b.example/kursk", seed_text, minutes=62))
    assert late.match == "new"  # the original left the window


def test_state_is_bounded_by_size(make: MakeArticle, seed_text: str) -> None:
    store: dict[str, dict] = {}
    dedup = Deduplicator(store, DedupConfig(max_entries=3))
    for i in range(10):
        dedup.assign(make(f"https://a.example/{i}", f"note number {i} " * 5, minutes=i))
    assert len(store) == 3
    assert sorted(v["article_id"] for v in store.values()) == sorted(
        make(f"https://a.example/{i}", "x", minutes=i).id for i in (7, 8, 9)
    )


def test_cluster_size_and_outlets_grow_with_copies(
    make: MakeArticle, dedup: Deduplicator, seed_text: str
) -> None:
    for i, outlet in enumerate(["A", "B", "C", "B"]):
        story = dedup.assign(
            make(
                f"https://{i}.example/k",
                seed_text + f"\nBy {outlet} staff",
                outlet=outlet,
                minutes=i,
            )
        )
    assert story.size == 4
    assert story.outlets == ["A", "B", "C"]
