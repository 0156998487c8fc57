"""The shipped templates are well formed and cover every field the documents carry."""

from __future__ import annotations

import json

import pytest

from pipeline.index import samples
from pipeline.index.documents import to_document, to_story_document
from pipeline.index.templates import (
    HUNSPELL_DIR,
    TEMPLATE_DIR,
    Names,
    load,
    mapping_fields,
    rendered,
)
from pipeline.records import Alert
from pipeline.settings import Settings


def _paths(doc: dict, prefix: str = "") -> set[str]:
    """Field paths of a document (lists of objects flattened)."""
    out: set[str] = set()
    for key, value in doc.items():
        path = f"{prefix}{key}"
        out.add(path)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                out |= _paths(item, f"{path}.")
    return out


def test_every_json_file_parses() -> None:
    for path in TEMPLATE_DIR.glob("*.json"):
        json.loads(path.read_text())


@pytest.mark.parametrize("kind", ["articles", "stories", "alerts"])
def test_templates_are_strict_and_analyzers_are_defined(kind: str) -> None:
    template = load(kind)["template"]
    assert template["mappings"]["dynamic"] == "strict"
    defined = set(template["settings"].get("analysis", {}).get("analyzer", {}))

    def analyzers(props: dict) -> set[str]:
        found = set()
        for spec in props.values():
            for candidate in [spec, *spec.get("fields", {}).values()]:
                if "analyzer" in candidate:
                    found.add(candidate["analyzer"])
            found |= analyzers(spec.get("properties", {}))
        return found

    assert analyzers(template["mappings"]["properties"]) <= defined


def test_english_analyzer_uses_core_components_only() -> None:
    # The local node lacks analysis-common: only core filters may appear (see decisions.md).
    analysis = load("articles")["template"]["settings"]["analysis"]
    core_filters = {"lowercase", "stop", "hunspell", "shingle"}
    for analyzer in analysis["analyzer"].values():
        assert analyzer["tokenizer"] == "standard"
        for name in analyzer["filter"]:
            kind = analysis["filter"][name]["type"] if name in analysis["filter"] else name
            assert kind in core_filters, name
    assert (HUNSPELL_DIR / "en_US.dic").stat().st_size > 100_000
    assert (HUNSPELL_DIR / "en_US.aff").exists()


def test_article_document_fields_are_all_mapped() -> None:
    fields = mapping_fields("articles")
    doc = to_document(samples.enriched(1))
    assert _paths(doc) <= set(fields), _paths(doc) - set(fields)
    assert fields["claims"] == "nested" and fields["claims.quantities"] == "nested"
    assert fields["actors"] == "nested" and fields["actor"] == "keyword"
    assert fields["title.keyword"] == "keyword" and fields["text"] == "text"


def test_story_document_fields_are_all_mapped() -> None:
    doc = to_story_document(samples.enriched(1, copy=2))
    assert _paths(doc) <= set(mapping_fields("stories"))


def test_alerts_template_maps_every_alert_field() -> None:
    assert set(Alert.model_fields) <= set(mapping_fields("alerts"))


def test_rendered_templates_follow_the_settings_names() -> None:
    names = Names.from_settings(
        Settings(index_alias="t1-articles", stories_index="t1-stories", alerts_index="t1-alerts")
    )
    assert rendered("articles", names)["index_patterns"] == ["t1-articles-*"]
    assert rendered("articles", names)["ignore_missing_component_templates"] == [
        "t1-articles-lifecycle"
    ]
    assert rendered("stories", names)["index_patterns"] == ["t1-stories*"]
    assert rendered("alerts", names)["index_patterns"] == ["t1-alerts*"]
    assert names.first_index == "t1-articles-000001"
    # Patterns must not overlap, or two templates would compete for one index.
    assert not "t1-stories".startswith("t1-articles-")


def test_ilm_policy_rolls_over_and_deletes() -> None:
    phases = load("ilm-policy")["policy"]["phases"]
    assert {"max_primary_shard_size", "max_age"} <= set(phases["hot"]["actions"]["rollover"])
    assert "delete" in phases["delete"]["actions"]


def test_shipped_dictionary_stems_inflections_only() -> None:
    aff = (HUNSPELL_DIR / "en_US.aff").read_text(encoding="utf-8")
    assert not [line for line in aff.splitlines() if line.startswith("PFX")]
    roots = {
        line.partition("/")[0]
        for line in (HUNSPELL_DIR / "en_US.dic").read_text(encoding="utf-8").splitlines()
    }
    # Prefixed and derived words are roots of their own, so they never reduce to another word.
    assert {"protest", "report", "unhappy", "statement", "leader", "disagree"} <= roots
    assert "ignore_case: true" in (HUNSPELL_DIR / "settings.yml").read_text()
    # Elasticsearch loads every *.dic and exactly one *.aff from the directory.
    assert [p.name for p in HUNSPELL_DIR.glob("*.aff")] == ["en_US.aff"]
    assert [p.name for p in HUNSPELL_DIR.glob("*.dic")] == ["en_US.dic"]
    # It must fit a Kubernetes ConfigMap (1 MiB) with its licence.
    assert sum(p.stat().st_size for p in HUNSPELL_DIR.iterdir()) < 1_000_000
