"""The claim rules are an ordered, named list that can be switched off one by one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.enrich.annotate import Annotator
from pipeline.enrich.claims import RULE_NAMES, RULES, RuleSet, extract_claims


def claims_with(annotator: Annotator, text: str, *off: str) -> list[str]:
    doc = annotator.nlp(text)
    layer = annotator.entities.extract(doc)
    return [c.content.text for c in extract_claims(doc, layer, [], RuleSet.without(off))]


def test_rule_names_are_unique_and_every_kind_is_ordered() -> None:
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)
    kinds = [r.kind for r in RULES]
    order = ["cue", "span", "document", "filter"]
    assert kinds == sorted(kinds, key=order.index)


def test_unknown_rule_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match=r"unknown claim rule.*bogus.*known: clause"):
        RuleSet.without(["bogus"])


@pytest.mark.parametrize(
    ("rule", "text", "with_rule", "without_rule"),
    [
        (
            "according",
            "According to CNN, the talks ended early.",
            ["the talks ended early"],
            [],
        ),
        (
            "headline",
            "Lynch: No outside influence on FBI probe into emails.\n\nBody text here.",
            ["No outside influence on FBI probe into emails"],
            [],
        ),
        (
            "nested",
            "Chris Murphy said he supports the final bill.",
            ["he supports the final bill"],
            ["he supports the final bill", "the final bill"],
        ),
        (
            "trim-adverbials",
            "Peskov said that Putin was studying it, as Moscow waits for news.",
            ["that Putin was studying it"],
            ["that Putin was studying it, as Moscow waits for news"],
        ),
    ],
)
def test_switching_a_rule_off_changes_what_it_finds(
    annotator: Annotator, rule: str, text: str, with_rule: list[str], without_rule: list[str]
) -> None:
    assert claims_with(annotator, text) == with_rule
    assert claims_with(annotator, text, rule) == without_rule


def test_eval_claims_lists_rules_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["eval", "claims", str(tmp_path), "--list-rules"])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines()] == list(RULE_NAMES)
    refused = runner.invoke(cli, ["eval", "claims", str(tmp_path), "--without", "bogus"])
    assert refused.exit_code == 2
    assert "unknown claim rule(s) bogus" in refused.output
