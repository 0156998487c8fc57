"""The rule index (candidate lookup) and once-per-cluster alert tracking."""

from __future__ import annotations

import random

import pytest

from pipeline.alerts.engine import (
    AlertTracker,
    RuleIndex,
    anchors,
    candidate_alert,
    check_rule,
)
from pipeline.alerts.matcher import ActorNames
from pipeline.alerts.query import QuerySyntaxError, parse
from pipeline.records import Alert, AlertRule


def rule(rule_id: str, query: str, **kw) -> AlertRule:
    return AlertRule(id=rule_id, name=rule_id, query=query, **kw)


def test_anchor_of_and_is_one_required_child_and_or_unions(
    make_article, registry: ActorNames
) -> None:
    assert anchors(parse('actor:Gerasimov "general staff"'), registry) == {
        ("a", "gerasimov"),
        ("a", "valery gerasimov"),
    }
    assert anchors(parse('lang:en "general staff"'), registry) == {("w", "general")}
    assert anchors(parse("kursk OR belgorod"), registry) == {("w", "kursk"), ("w", "belgorod")}
    assert anchors(parse("kursk OR NOT belgorod"), registry) is None
    assert anchors(parse("NOT sport kursk"), registry) == {("w", "kursk")}


def test_check_rule_refuses_all_negative_and_malformed(make_article) -> None:
    with pytest.raises(QuerySyntaxError, match="not negated"):
        check_rule(rule("r", "NOT sport"))
    with pytest.raises(QuerySyntaxError) as info:
        check_rule(rule("r", "putin AND (kursk"))
    assert info.value.position == 16


def test_bad_rule_is_kept_out_not_raised(make_article, registry: ActorNames) -> None:
    index = RuleIndex(registry)
    assert not index.upsert(rule("bad", "putin AND"))
    assert "bad" in index.rejected and len(index) == 0
    assert index.upsert(rule("bad", "putin"))
    assert "bad" not in index.rejected and len(index) == 1


def test_filters_and_remove(make_article, registry: ActorNames) -> None:
    index = RuleIndex(registry)
    index.upsert(rule("en", "kursk", languages=["en"]))
    index.upsert(rule("fr", "kursk", languages=["fr"]))
    index.upsert(rule("ap", "kursk", outlets=["apnews.com"]))
    article = make_article()
    assert [m.rule.id for m in index.evaluate(article)] == ["en"]
    index.remove("en")
    assert index.evaluate(article) == []
    assert index._by_key.get(("w", "kursk")) == {"fr", "ap"}


def test_a_rule_that_raises_is_skipped_and_counted(make_article, registry: ActorNames) -> None:
    index = RuleIndex(registry)
    index.upsert(rule("boom", "kursk"))
    index.upsert(rule("ok", "kursk"))

    def explode(view):
        raise RuntimeError("bug")

    index.rules["boom"].matcher.matches = explode  # type: ignore[method-assign]
    assert [m.rule.id for m in index.evaluate(make_article())] == ["ok"]
    assert index.errors == 1


VOCAB = [f"w{i}" for i in range(2000)]
ACTORS = ["Vladimir Putin", "Valery Gerasimov", "Volodymyr Zelensky"] + [
    f"Person {i}" for i in range(30)
]
ACTOR_SPELLINGS = ["Putin", "Gerasimov", "Zelenskyy", "Vladimir Putin", *ACTORS[3:]]


def random_query(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth < 2 and roll < 0.35:
        op = rng.choice([" AND ", " OR ", " "])
        parts = [random_query(rng, depth + 1) for _ in range(rng.randint(2, 3))]
        return "(" + op.join(parts) + ")"
    if depth > 0 and roll < 0.45:
        return "NOT " + random_query(rng, depth + 1)
    if roll < 0.55:
        return f'actor:"{rng.choice(ACTOR_SPELLINGS)}"'
    if roll < 0.7:
        return f'"{rng.choice(VOCAB)} {rng.choice(VOCAB)}"'
    if roll < 0.75:
        return rng.choice(["lang:en", "outlet:Reuters", "tag:world", "domain:bbc.co.uk"])
    return rng.choice(VOCAB)


def test_index_agrees_with_a_full_scan_over_10000_rules(make_article, registry: ActorNames) -> None:
    rng = random.Random(6)
    index = RuleIndex(registry)
    loaded = 0
    for i in range(10_000):
        loaded += index.upsert(rule(f"r{i:05d}", random_query(rng)))
    assert loaded > 9_000  # only all-negative draws are refused
    total_matches = 0
    for n in range(8):
        article = make_article(
            title=" ".join(rng.choices(VOCAB, k=8)),
            text=" ".join(rng.choices(VOCAB, k=120)),
            actors=tuple(rng.sample(ACTORS, rng.randint(0, 3))),
            outlet=rng.choice(["Reuters", "BBC"]),
            domain=rng.choice(["reuters.com", "bbc.co.uk"]),
            language=rng.choice(["en", "fr"]),
            tags=tuple(rng.sample(["world", "europe"], 1)),
            article_id=f"{n:040d}",
        )
        fast = [(m.rule.id, m.matched_terms) for m in index.evaluate(article)]
        slow = [(m.rule.id, m.matched_terms) for m in index.evaluate_all(article)]
        assert fast == slow
        total_matches += len(fast)
        # the point of the index: far fewer candidates than rules
        assert len(index.candidates(_view(index, article))) < len(index) // 2
    assert total_matches > 50  # the comparison was not vacuous


def _view(index: RuleIndex, article):
    from pipeline.alerts.matcher import ArticleView

    return ArticleView.of(article, index.registry)


def test_once_per_rule_per_cluster(make_article, registry: ActorNames) -> None:
    index = RuleIndex(registry)
    index.upsert(rule("putin", "actor:Putin"))
    index.upsert(rule("kursk", "kursk"))
    tracker = AlertTracker({})
    published = []
    copies = [
        make_article(article_id=f"{i:040d}", cluster="story-1", actors=("Vladimir Putin",))
        for i in range(40)
    ]
    other = make_article(article_id="f" * 40, cluster="story-2", actors=())
    for enriched in [*copies, copies[3], other]:  # copies[3] again: a redelivery
        for match in index.evaluate(enriched):
            alert = tracker.observe(candidate_alert(match, enriched))
            if alert is not None:
                published.append(alert)
    fired = [a for a in published if a.copies == 1]
    assert sorted(a.id for a in fired) == ["kursk:story-1", "kursk:story-2", "putin:story-1"]
    putin = [a for a in published if a.rule_id == "putin"]
    assert [a.copies for a in putin] == list(range(1, 41))
    assert {a.article_id for a in putin} == {copies[0].article.id}  # the first copy stays
    assert len({a.fired_at for a in putin}) == 1
    assert tracker.state["putin:story-1"]["alert"]["copies"] == 40


def _candidate(rule_id: str, cluster: str, article: str) -> Alert:
    return Alert(
        id=f"{rule_id}:{cluster}", rule_id=rule_id, rule_name=rule_id, cluster_id=cluster,
        article_id=article, title="t", url="https://example.org/x",
    )  # fmt: skip


def test_alert_state_is_bounded_by_age_per_partition() -> None:
    hour = 3600.0
    state: dict[str, dict] = {}
    tracker = AlertTracker(state, window_s=2 * hour, max_entries=1000)
    assert tracker.observe(_candidate("r", "old", "a1"), partition=0, now=0.0)
    assert tracker.observe(_candidate("r", "other", "b1"), partition=1, now=0.0)
    assert tracker.observe(_candidate("r", "kept", "c1"), partition=0, now=1 * hour)
    tracker.observe(_candidate("r", "kept", "c2"), partition=0, now=2.5 * hour)  # refreshed
    tracker.observe(_candidate("r", "new", "d1"), partition=0, now=3 * hour)
    # partition 0's record evicts only partition 0's expired states (a Faust table may
    # delete only keys of the partition being processed); "kept" was seen 0.5 h ago
    assert set(state) == {"r:other", "r:kept", "r:new"}
    tracker.observe(_candidate("r", "x", "e1"), partition=1, now=3 * hour)
    assert "r:other" not in state
    # a story seen again after the window fires a new alert
    again = tracker.observe(_candidate("r", "old", "a9"), partition=0, now=3 * hour)
    assert again is not None and again.copies == 1


def test_alert_state_bound_on_entries_and_order_rebuilt_after_recovery() -> None:
    state: dict[str, dict] = {}
    tracker = AlertTracker(state, window_s=1e9, max_entries=3)
    for i in range(5):
        tracker.observe(_candidate("r", f"s{i}", f"a{i}"), partition=2, now=float(i))
    assert sorted(state) == ["r:s2", "r:s3", "r:s4"]  # the least recently seen went first
    # a restarted worker: the same state recovered, the eviction order rebuilt from it
    recovered = AlertTracker(dict(state), window_s=1e9, max_entries=3)
    recovered.observe(_candidate("r", "s3", "b3"), partition=2, now=10.0)  # refresh s3
    recovered.observe(_candidate("r", "s9", "a9"), partition=2, now=11.0)
    assert sorted(recovered.state) == ["r:s3", "r:s4", "r:s9"]
    assert recovered.observe(_candidate("r", "s3", "b3"), partition=2, now=12.0) is None
