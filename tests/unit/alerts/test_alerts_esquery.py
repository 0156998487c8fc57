"""Rule -> Elasticsearch query translation (for `alerts test` and the Kibana rules)."""

from __future__ import annotations

from click.testing import CliRunner

from pipeline.alerts.esquery import FIELDS_USED, fields_in, rule_to_es, to_es
from pipeline.alerts.matcher import ActorNames
from pipeline.alerts.query import parse
from pipeline.cli import cli
from pipeline.index.templates import mapping_fields
from pipeline.records import AlertRule


def test_actor_terms_expand_to_canonical_and_aliases(registry: ActorNames) -> None:
    query = to_es(parse("actor:Zelenskyy"), registry)
    assert query == {
        "terms": {"actor": ["Volodymyr Zelensky", "Volodymyr Zelenskyy", "Zelensky", "Zelenskyy"]}
    }


def test_words_are_phrases_on_the_unstemmed_subfields(registry: ActorNames) -> None:
    assert to_es(parse('"Cease-fire talks"'), registry) == {
        "multi_match": {
            "query": "cease fire talks",
            "type": "phrase",
            "fields": ["title.exact", "text.exact"],
        }
    }
    assert to_es(parse("title:Kursk"), registry) == {"match_phrase": {"title.exact": "kursk"}}


def test_boolean_structure_and_filters(registry: ActorNames) -> None:
    rule = AlertRule(
        id="r", name="r", query="speaker:Gerasimov NOT outlet:RT", outlets=["reuters.com"]
    )
    query = rule_to_es(rule, registry)
    inner, outlets = query["bool"]["filter"]
    speaker, negated = inner["bool"]["filter"]
    assert speaker == {"terms": {"claim_speaker": ["Gerasimov", "Valery Gerasimov"]}}
    assert negated == {
        "bool": {"must_not": [{"term": {"outlet": {"value": "RT", "case_insensitive": True}}}]}
    }
    assert {"term": {"domain": {"value": "reuters.com", "case_insensitive": True}}} in outlets[
        "bool"
    ]["should"]


def test_every_field_the_translation_can_name_is_in_the_articles_template(
    registry: ActorNames,
) -> None:
    known = set(mapping_fields("articles"))
    assert set(FIELDS_USED) <= known
    query = "text:a title:b body:c actor:d speaker:e outlet:f domain:g lang:h tag:i"
    rule = AlertRule(id="r", name="r", query=query, languages=["en"], outlets=["x"])
    used = fields_in(rule_to_es(rule, registry))
    # search's translation: stemmed words, exact phrases
    used |= fields_in(to_es(parse(query + ' "d e" title:"f g"'), registry, analysed=True))
    assert used == set(FIELDS_USED)


def test_add_refuses_a_malformed_rule_before_touching_kafka() -> None:
    result = CliRunner().invoke(cli, ["alerts", "add", "Putin", 'actor:"Vladimir Putin" AND ('])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert "position 28" in lines[0]
    assert lines[1] == '  actor:"Vladimir Putin" AND ('
    assert lines[2] == "  " + " " * 28 + "^"
