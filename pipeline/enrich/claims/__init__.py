"""Claims: who said what, from one parse of the article.

A claim is anchored on a cue (``cues``); its content is cut from the parse and the
quotation marks (``spans``, ``quotations``); its source and canonical speaker come from the
cue's subject (``speakers``). ``rules`` holds the named rules in the order they apply and
runs them; ``extract_claims(..., rules=RuleSet.without({...}))`` switches some off.
"""

from __future__ import annotations

from spacy.tokens import Doc

from pipeline.enrich.claims.quotations import find_quotes
from pipeline.enrich.claims.rules import ALL_RULES, RULE_NAMES, RULES, ClaimRules, Rule, RuleSet
from pipeline.enrich.entities import EntityLayer
from pipeline.records import Claim, Quantity

__all__ = ["ALL_RULES", "RULES", "RULE_NAMES", "Rule", "RuleSet", "extract_claims", "find_quotes"]


def extract_claims(
    doc: Doc, layer: EntityLayer, quantities: list[Quantity], rules: RuleSet = ALL_RULES
) -> list[Claim]:
    """The claims of a parsed text, in content order; offsets index ``doc.text``."""
    return ClaimRules(doc, layer, quantities, rules).extract()
