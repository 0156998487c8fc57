"""Matching a parsed rule against an enriched article."""

from __future__ import annotations

from pipeline.alerts.matcher import ActorNames, ArticleView, Matcher, matches
from pipeline.alerts.query import parse


def test_words_match_on_word_boundaries_case_insensitively(make_article) -> None:
    article = make_article(title="PUTIN's visit", text="Putinism is not the topic.")
    assert matches(parse("putin"), article)
    assert matches(parse("VISIT"), article)
    assert not matches(parse("visi"), article)
    assert not matches(parse("isnot"), article)
    assert matches(parse("putinism"), article)


def test_phrases_match_consecutive_words_across_punctuation(make_article) -> None:
    article = make_article(title="Talks", text="The cease-fire talks, in Kursk: resumed.")
    assert matches(parse('"cease fire talks"'), article)
    assert matches(parse('"in kursk resumed"'), article)
    assert not matches(parse('"talks resumed"'), article)
    # a phrase never spans the title/body seam
    assert not matches(parse('"talks the"'), article)


def test_title_and_body_fields(make_article) -> None:
    article = make_article(title="Putin visits Kursk", text="Ceasefire talks stall.")
    assert matches(parse("title:kursk"), article)
    assert not matches(parse("title:ceasefire"), article)
    assert matches(parse('body:"talks stall"'), article)
    assert not matches(parse("body:kursk"), article)


def test_actor_terms_use_canonical_and_aliases_not_substrings(
    make_article, registry: ActorNames
) -> None:
    with_putin = make_article(title="Kremlin", text="No name here", actors=("Vladimir Putin",))
    mentions_only = make_article(title="Putin", text="Putin Putin", actors=())
    for rule in ('actor:"Vladimir Putin"', "actor:Putin", 'actor:"V. Putin"', "actor:putin"):
        assert matches(parse(rule), with_putin, registry), rule
        # the name in the text is not an extracted actor
        assert not matches(parse(rule), mentions_only, registry), rule


def test_article_actor_written_as_alias_resolves(make_article, registry: ActorNames) -> None:
    # an entity whose canonical the enricher left as an alias still resolves
    article = make_article(entities=("Zelenskyy",))
    assert matches(parse('actor:"Volodymyr Zelensky"'), article, registry)
    assert matches(parse("actor:Zelensky"), article, registry)
    assert not matches(parse("actor:Putin"), article, registry)


def test_speaker_matches_claim_speakers(make_article, registry: ActorNames) -> None:
    article = make_article(actors=("Valery Gerasimov",), speakers=("Valery Gerasimov",))
    assert matches(parse("speaker:Gerasimov"), article, registry)
    assert not matches(parse("speaker:Putin"), article, registry)


def test_not_and_boolean_structure(make_article, registry: ActorNames) -> None:
    article = make_article(
        title="Putin visits Kursk", text="Ceasefire talks", actors=("Vladimir Putin",)
    )
    assert matches(parse("actor:Putin AND (kursk OR belgorod)"), article, registry)
    assert not matches(parse("actor:Putin NOT kursk"), article, registry)
    assert matches(parse("actor:Putin NOT belgorod"), article, registry)
    assert matches(parse("NOT (belgorod OR sport) ceasefire"), article, registry)
    assert not matches(parse("NOT NOT belgorod OR sport"), article, registry)


def test_metadata_fields(make_article) -> None:
    article = make_article(
        outlet="Associated Press", domain="news.apnews.com", language="en-US", tags=("world",)
    )
    assert matches(parse('outlet:"associated press"'), article)
    assert not matches(parse("outlet:associated"), article)
    assert matches(parse("domain:apnews.com"), article)
    assert not matches(parse("domain:news.com"), article)
    assert matches(parse("lang:en"), article)
    assert not matches(parse("lang:e"), article)
    assert matches(parse("tag:World"), article)


def test_matched_terms_explain_without_negated_terms(make_article, registry: ActorNames) -> None:
    article = make_article(actors=("Vladimir Putin",))
    node = parse("actor:Putin (kursk OR belgorod) NOT sport")
    matcher = Matcher(node, registry)
    view = ArticleView.of(article, registry)
    assert matcher.matches(view)
    assert matcher.matched_terms(view) == ["actor:Putin", "kursk"]
