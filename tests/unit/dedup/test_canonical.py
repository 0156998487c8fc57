"""The canonical copy depends on the records, never on the order they arrive in (issue 11).

The fault soak saw a syndicated copy become its story's canonical copy when a fault let it be
deduplicated before its original. These tests feed the same copies in every order, across a
restart and past the window, and require the same canonical each time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

from pipeline.dedup import DedupConfig, Deduplicator
from pipeline.records import Article

MakeArticle = Callable[..., Article]

BOILERPLATE = "\nSign up for our newsletter. All rights reserved; may not be redistributed."


def copies(make: MakeArticle, seed_text: str) -> list[Article]:
    """The seed story from four outlets: published 0, 5, 9 and 20 minutes after T0, all
    fetched at T0 + 30 min (one poll cycle found them all)."""
    paras = [p for p in seed_text.split("\n") if p.strip()]
    trimmed = "\n".join(paras[: int(len(paras) * 0.8)])
    return [
        make("https://origin.example/kursk", seed_text, outlet="Origin", minutes=30, published=0),
        make("https://b.example/k", seed_text + BOILERPLATE, outlet="B", minutes=30, published=5),
        make("https://c.example/k", trimmed, outlet="C", minutes=30, published=9),
        make("https://d.example/k", seed_text, outlet="D", minutes=30, published=20),
    ]


def test_an_earlier_original_arriving_after_its_copy_takes_the_canonical_over(
    make: MakeArticle, seed_text: str
) -> None:
    original, copy, *_ = copies(make, seed_text)
    dedup = Deduplicator({})
    first = dedup.assign(copy)
    assert first.canonical_id == copy.id == first.cluster_id
    late = dedup.assign(original)
    assert late.match == "near"
    assert late.cluster_id == copy.id  # the cluster id stays: alerts and stories key on it
    assert late.canonical_id == original.id
    # a replay of the copy and the copies after it report the new canonical
    assert dedup.assign(copy).canonical_id == original.id
    third = dedup.assign(make("https://e.example/k", seed_text, minutes=40, published=30))
    assert (third.cluster_id, third.canonical_id, third.size) == (copy.id, original.id, 3)


def test_every_arrival_order_gives_the_same_canonical_and_members(
    make: MakeArticle, seed_text: str
) -> None:
    articles = copies(make, seed_text)
    outcomes = set()
    for order in itertools.permutations(articles):
        dedup = Deduplicator({})
        stories = {a.id: dedup.assign(a) for a in order}
        assert len({s.cluster_id for s in stories.values()}) == 1, "one story"
        final = {a.id: dedup.assign(a).canonical_id for a in articles}  # replays: current view
        outcomes.add(frozenset(final.values()))
        assert stories[order[-1].id].canonical_id == articles[0].id
    assert outcomes == {frozenset({articles[0].id})}


def test_restart_between_copies_keeps_the_canonical(make: MakeArticle, seed_text: str) -> None:
    original, copy, trimmed, _ = copies(make, seed_text)
    store: dict[str, dict] = {}
    dedup = Deduplicator(store)
    dedup.assign(trimmed)
    dedup.assign(original)
    restored = Deduplicator(json.loads(json.dumps(store)))  # what the changelog holds
    story = restored.assign(copy)
    assert story.canonical_id == original.id
    assert story.cluster_id == trimmed.id and story.size == 3


def test_ties_and_undated_copies_rank_by_time_then_id(make: MakeArticle, seed_text: str) -> None:
    # same publication time: the lower id wins whichever comes first
    a = make("https://a.example/k", seed_text, minutes=5, published=0)
    b = make("https://b.example/k", seed_text + BOILERPLATE, minutes=5, published=0)
    low = min(a.id, b.id)
    for order in ((a, b), (b, a)):
        dedup = Deduplicator({})
        assert [dedup.assign(x) for x in order][-1].canonical_id == low
    # undated: its fetch time counts; a publication time after the fetch is clamped to it
    undated = make("https://u.example/k", seed_text, minutes=1)
    future = make("https://f.example/k", seed_text + BOILERPLATE, minutes=2, published=600)
    dedup = Deduplicator({})
    dedup.assign(future)
    assert dedup.assign(undated).canonical_id == undated.id


def test_the_canonical_outlives_its_own_eviction(make: MakeArticle, seed_text: str) -> None:
    store: dict[str, dict] = {}
    dedup = Deduplicator(store, DedupConfig(window_s=3600))
    original = make("https://origin.example/k", seed_text, minutes=0, published=0)
    dedup.assign(original)
    copy = make("https://b.example/k", seed_text + BOILERPLATE, minutes=50, published=40)
    dedup.assign(copy)
    dedup.assign(make("https://x.example/other", "Unrelated note " * 10, minutes=61))
    assert original.id not in store  # left the window
    later = dedup.assign(make("https://c.example/k", seed_text, minutes=62, published=60))
    assert later.cluster_id == original.id and later.canonical_id == original.id
    # and after a restart from the changelog's values
    restored = Deduplicator(json.loads(json.dumps(store)))
    assert restored.assign(copy).canonical_id == original.id


def test_entries_written_before_the_canonical_fields_still_load(
    make: MakeArticle, seed_text: str
) -> None:
    store: dict[str, dict] = {}
    dedup = Deduplicator(store)
    original = make("https://origin.example/k", seed_text, minutes=1, published=0)
    dedup.assign(original)
    for value in store.values():  # an entry as the previous release wrote it
        del value["published"], value["canonical_time"]
    restored = Deduplicator(store)
    story = restored.assign(make("https://b.example/k", seed_text + BOILERPLATE, minutes=3))
    assert story.canonical_id == original.id
