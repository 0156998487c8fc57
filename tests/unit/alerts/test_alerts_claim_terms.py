"""``claim:changed`` / ``claim:disputed`` rule terms: parsed, anchored, evaluated against
claim links (never articles), once per rule per pair."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.alerts.engine import AlertTracker, RuleIndex, candidate_link_alert, link_title
from pipeline.alerts.esquery import to_es
from pipeline.alerts.matcher import ActorNames
from pipeline.alerts.query import QuerySyntaxError, parse
from pipeline.records import AlertRule, ClaimLink


def link(kind: str = "changed", speakers: tuple[str, str] = ("Valery Gerasimov",) * 2,
         reason: str | None = None, pair: str = "updates:b:a") -> ClaimLink:  # fmt: skip
    return ClaimLink(
        kind=kind,  # type: ignore[arg-type]
        pair_key=pair,
        claim_id="b",
        other_id="a",
        speakers=list(speakers),
        contents=["troops recaptured 90 per cent of Kursk", "recaptured 86 per cent"],
        unit="percent",
        value=90.0,
        other_value=86.0,
        reason=reason,
        article_id="art-2",
        cluster_id="story-2",
        url="https://www.courier.example/a/2",
        title="Gerasimov raises his figure",
        outlet="Courier",
        seen_at=datetime(2025, 3, 13, tzinfo=UTC),
    )


def rule(id_: str, query: str, **kw) -> AlertRule:
    return AlertRule(id=id_, name=id_, query=query, **kw)


def test_claim_terms_take_only_changed_or_disputed() -> None:
    assert str(parse("claim:changed")) == "claim:changed"
    with pytest.raises(QuerySyntaxError, match="claim: takes changed or disputed") as info:
        parse("speaker:Gerasimov claim:updated")
    assert info.value.position == 24  # the value


def test_claim_rules_match_links_with_speakers_and_words(
    make_article, registry: ActorNames
) -> None:
    index = RuleIndex(registry)
    index.upsert(rule("changed", "claim:changed"))
    index.upsert(rule("ger", "claim:changed speaker:Gerasimov"))
    index.upsert(rule("kursk", "claim:changed AND kursk"))
    index.upsert(rule("zel", "claim:changed speaker:Zelensky"))
    index.upsert(rule("disp", "claim:disputed speaker:Gerasimov"))
    index.upsert(rule("either", "(claim:changed OR claim:disputed) outlet:Courier"))
    index.upsert(rule("article", "speaker:Gerasimov"))  # an article rule: not for links
    assert [m.rule.id for m in index.evaluate_link(link())] == [
        "changed", "either", "ger", "kursk"
    ]  # fmt: skip
    disputed = link("disputed", ("Oleksandr Syrskyi", "Valery Gerasimov"), "value", "disputed:a:b")
    assert [m.rule.id for m in index.evaluate_link(disputed)] == ["disp", "either"]
    assert index.rules["ger"].anchors == frozenset({("c", "changed")})


def test_claim_rules_never_fire_on_articles(make_article, registry: ActorNames) -> None:
    index = RuleIndex(registry)
    index.upsert(rule("c", "claim:changed OR kursk"))
    index.upsert(rule("a", "kursk"))
    article = make_article(title="Kursk", text="Kursk")
    assert [m.rule.id for m in index.evaluate(article)] == ["a"]
    assert [m.rule.id for m in index.evaluate_all(article)] == ["a"]


def test_a_claim_rule_alerts_once_per_pair(registry: ActorNames) -> None:
    index = RuleIndex(registry)
    index.upsert(rule("ger", "claim:changed speaker:Gerasimov"))
    (match,) = index.evaluate_link(link())
    tracker = AlertTracker({})
    first = candidate_link_alert(match, link())
    assert first.id == "ger:updates:b:a" and first.pair_key == "updates:b:a"
    assert first.title == "Valery Gerasimov changed a figure: 86 -> 90 percent"
    assert tracker.observe(first) is not None
    assert tracker.observe(candidate_link_alert(match, link())) is None  # redelivered link
    other = candidate_link_alert(match, link(pair="updates:c:b"))
    assert tracker.observe(other) is not None  # another pair fires


def test_titles_say_what_happened() -> None:
    disputed = link("disputed", ("Oleksandr Syrskyi", "Valery Gerasimov"), "value", "disputed:a:b")
    assert link_title(disputed) == "Oleksandr Syrskyi disputes Valery Gerasimov: 90 vs 86 percent"
    denial = link("disputed", ("Volodymyr Zelensky", "Valery Gerasimov"), "negation")
    assert "denial" in link_title(denial)


def test_claim_terms_match_no_article_in_the_index() -> None:
    assert to_es(parse("claim:disputed")) == {"match_none": {}}
