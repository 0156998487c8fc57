"""`install` against the real node: templates, write alias, analysis, strict mappings."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from pipeline.index.setup import ilm_available, install, rollover
from pipeline.index.templates import Names
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def test_install_is_idempotent_and_creates_the_write_alias(
    es: Elasticsearch, es_settings: Settings
) -> None:
    first = install(es, es_settings)
    second = install(es, es_settings)
    names = Names.from_settings(es_settings)
    assert first.created == [
        names.first_index,
        names.stories,
        names.alerts,
        names.claims,
        names.events,
    ]
    assert second.created == []
    assert first.ilm == second.ilm == ilm_available(es)
    alias = es.indices.get_alias(name=names.alias).body
    assert alias == {names.first_index: {"aliases": {names.alias: {"is_write_index": True}}}}
    mapping = es.indices.get_mapping(index=names.first_index).body[names.first_index]
    assert mapping["mappings"]["dynamic"] == "strict"
    assert mapping["mappings"]["properties"]["claims"]["type"] == "nested"


def test_english_analyzer_stems_and_drops_stop_words(es: Elasticsearch, installed: Names) -> None:
    def tokens(text: str, analyzer: str = "wirewatch_english") -> list[str]:
        body = es.indices.analyze(index=installed.alias, analyzer=analyzer, text=text)
        return [t["token"] for t in body["tokens"]]

    stemmed = tokens("The troops were negotiating ceasefires in the cities")
    assert {"troop", "negotiate", "ceasefire", "city"} <= set(stemmed)
    assert "the" not in stemmed and "in" not in stemmed
    # Inflections only: prefixes and derivations keep their own meaning (the shipped
    # dictionary is rebuilt for that, see scripts/build_hunspell_en_us.py).
    assert tokens("protests reports unhappy statements leaders Russia's elections") == [
        "protest",
        "report",
        "unhappy",
        "statement",
        "leader",
        "russia",
        "election",
    ]
    # Names the dictionary does not know pass through intact.
    assert tokens("Gerasimov Peskov") == ["gerasimov", "peskov"]
    assert tokens("Ceasefires", analyzer="wirewatch_exact") == ["ceasefires"]


def test_unmapped_fields_are_refused(es: Elasticsearch, installed: Names) -> None:
    with pytest.raises(BadRequestError, match="strict_dynamic_mapping_exception"):
        es.index(index=installed.alias, id="x", document={"id": "x", "surprise": 1})


def test_rollover_moves_the_write_alias(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    new_index = rollover(es, es_settings)
    assert new_index == f"{installed.alias}-000002"
    aliases = es.indices.get_alias(name=installed.alias).body
    assert aliases[new_index]["aliases"][installed.alias]["is_write_index"] is True
    assert aliases[installed.first_index]["aliases"][installed.alias]["is_write_index"] is False
    # The template applied to the new index as well.
    mapping = es.indices.get_mapping(index=new_index).body[new_index]["mappings"]
    assert mapping["properties"]["actors"]["type"] == "nested"


def test_setup_cli_creates_topics_and_index(
    es: Elasticsearch, es_settings: Settings, cli_env: None
) -> None:
    from click.testing import CliRunner
    from kafka.admin import KafkaAdminClient

    from pipeline import topics
    from pipeline.cli import cli

    first = CliRunner().invoke(cli, ["setup"])
    again = CliRunner().invoke(cli, ["setup"])
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert f"index {es_settings.index_alias}-000001: created" in first.output
    assert "created" not in again.output.replace("0 topics created", "")
    admin = KafkaAdminClient(bootstrap_servers=es_settings.kafka_bootstrap)
    try:
        existing = set(admin.list_topics())
    finally:
        admin.close()
    assert {topics.qualified(t, es_settings.topic_prefix) for t in topics.ALL_TOPICS} <= existing
    assert es.indices.exists_alias(name=es_settings.index_alias)


def test_setup_brings_existing_indices_up_to_date(
    es: Elasticsearch, installed: Names, es_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.index import setup as setup_module
    from pipeline.index.templates import rendered

    changes: dict[str, dict] = {}

    def changed(kind: str, names: Names) -> dict:
        body = rendered(kind, names)
        if kind == "articles":
            body["template"]["mappings"]["properties"].update(changes)
        return body

    monkeypatch.setattr(setup_module, "rendered", changed)

    def properties(index: str) -> dict:
        return es.indices.get_mapping(index=index)[index]["mappings"]["properties"]

    changes["added_later"] = {"type": "keyword"}  # additive: applied to the live index
    report = install(es, es_settings)
    assert installed.alias in report.mappings_updated and report.conflicts == []
    assert properties(installed.first_index)["added_later"] == {"type": "keyword"}

    changes["outlet"] = {"type": "text"}  # a type change: refused in place, reported
    report = install(es, es_settings)
    assert [c for c in report.conflicts if c.startswith(installed.alias)]
    assert properties(installed.first_index)["outlet"]["type"] == "keyword"
    new_index = rollover(es, es_settings)  # the next index gets the new template whole
    assert properties(new_index)["outlet"]["type"] == "text"
