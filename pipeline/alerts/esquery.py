"""Translate the shared query language (pipeline.vocabulary) into Elasticsearch queries over
the articles index: for ``wirewatch search``, ``alerts test`` and the Kibana ``.es-query``
rule definitions. One translation per vocabulary field, registered with ``@translates``.

For alerts the translation follows the stream matcher's semantics: words and phrases are
``match_phrase`` on the unstemmed ``*.exact`` sub-fields (lower-cased standard tokens, as
the matcher's word boundaries). ``search`` asks for ``analysed`` words instead: stemmed and
ranked, phrases still exact. Actor and speaker terms are the registry's canonical name plus
aliases on the flat ``actor`` / ``claim_speaker`` keywords in both; other fields are
case-insensitive term queries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline import vocabulary
from pipeline.alerts.matcher import ActorNames, IdentityNames
from pipeline.alerts.query import And, Node, Not, Or, Term, all_of, any_of, make_term, parse
from pipeline.records import AlertRule

#: every articles-index field the translation may name (checked against the template)
FIELDS_USED = (
    "title",
    "summary",
    "text",
    "title.exact",
    "summary.exact",
    "text.exact",
    "actor",
    "claim_speaker",
    "outlet",
    "domain",
    "language",
    "tags",
)
#: text fields: the stream matcher's exact words, and the analysed (stemmed) fields search ranks
_EXACT = {"text": ("title.exact", "text.exact"), "title": ("title.exact",), "body": ("text.exact",)}
_ANALYSED = {"text": ("title^3", "summary^2", "text"), "title": ("title",), "body": ("text",)}
_ANALYSED_PHRASE = {
    "text": ("title.exact^3", "summary.exact^2", "text.exact"),
    "title": ("title.exact",),
    "body": ("text.exact",),
}


@dataclass(frozen=True)
class Translation:
    """How terms become ES clauses. ``analysed``: words match the stemmed fields and score
    (``wirewatch search``); off, they are the stream matcher's exact words (alerts)."""

    registry: ActorNames = field(default_factory=IdentityNames)
    analysed: bool = False


TermTranslation = Callable[[Term, Translation], dict[str, Any]]
TRANSLATIONS: dict[str, TermTranslation] = {}


def translates(*names: str) -> Callable[[TermTranslation], TermTranslation]:
    """Register the ES translation of the vocabulary fields ``names``."""

    def register(function: TermTranslation) -> TermTranslation:
        for name in names:
            if name not in vocabulary.FIELDS:
                raise ValueError(f"{name!r} is not a field of pipeline.vocabulary")
            TRANSLATIONS[name] = function
        return function

    return register


def _ci_term(field: str, value: str) -> dict[str, Any]:
    return {"term": {field: {"value": value, "case_insensitive": True}}}


def _any(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    if len(clauses) == 1:
        return clauses[0]
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def actor_names(registry: ActorNames, value: str) -> list[str]:
    """The name as written, its canonical name and every alias (what the enricher writes)."""
    canonical = registry.canonical(value)
    return sorted({value, canonical, *registry.aliases(canonical)})


@translates("text", "title", "body")
def _words(term: Term, how: Translation) -> dict[str, Any]:
    phrase = " ".join(term.tokens)
    if how.analysed and not term.phrase:
        fields = _ANALYSED[term.field]
        return {"multi_match": {"query": term.value, "fields": list(fields), "operator": "and"}}
    fields = (_ANALYSED_PHRASE if how.analysed else _EXACT)[term.field]
    if len(fields) == 1:
        return {"match_phrase": {fields[0]: phrase}}
    return {"multi_match": {"query": phrase, "type": "phrase", "fields": list(fields)}}


@translates("actor", "speaker")
def _actor(term: Term, how: Translation) -> dict[str, Any]:
    # canonical names are written by the enricher exactly as the registry spells them
    target = "actor" if term.field == "actor" else "claim_speaker"
    return {"terms": {target: actor_names(how.registry, term.value)}}


@translates("outlet")
def _outlet(term: Term, how: Translation) -> dict[str, Any]:
    return _ci_term("outlet", term.value)


@translates("domain")
def _domain(term: Term, how: Translation) -> dict[str, Any]:
    return _any(
        [
            _ci_term("domain", term.value),
            {"wildcard": {"domain": {"value": f"*.{term.value}", "case_insensitive": True}}},
        ]
    )


@translates("lang")
def _lang(term: Term, how: Translation) -> dict[str, Any]:
    return _any(
        [
            _ci_term("language", term.value),
            {"prefix": {"language": {"value": f"{term.value}-", "case_insensitive": True}}},
        ]
    )


@translates("tag")
def _tag(term: Term, how: Translation) -> dict[str, Any]:
    return _ci_term("tags", term.value)


@translates("claim")
def _claim(term: Term, how: Translation) -> dict[str, Any]:
    """Claim links happen in the stream (the claims stage), not in an article: over the
    articles index a ``claim:`` term matches nothing (``wirewatch claims`` lists them)."""
    return {"match_none": {}}


def term_query(term: Term, registry: ActorNames, analysed: bool = False) -> dict[str, Any]:
    translate = TRANSLATIONS.get(term.field)
    if translate is None:
        raise ValueError(f"unknown field {term.field!r}")
    return translate(term, Translation(registry, analysed))


def to_es(
    node: Node, registry: ActorNames | None = None, *, analysed: bool = False
) -> dict[str, Any]:
    """The query tree as one ES query. ``analysed``: see Translation."""
    how = Translation(registry or IdentityNames(), analysed)
    return _to_es(node, how)


def _to_es(node: Node, how: Translation) -> dict[str, Any]:
    if isinstance(node, Term):
        return term_query(node, how.registry, how.analysed)
    if isinstance(node, Not):
        return {"bool": {"must_not": [_to_es(node.child, how)]}}
    if isinstance(node, And):
        # search ranks by the words (must); alerts only filter
        occur = "must" if how.analysed else "filter"
        return {"bool": {occur: [_to_es(c, how) for c in node.children]}}
    if isinstance(node, Or):
        return _any([_to_es(c, how) for c in node.children])
    raise TypeError(f"not a query node: {node!r}")


def rule_to_es(rule: AlertRule, registry: ActorNames | None = None) -> dict[str, Any]:
    """The rule's query with its outlet and language filters, as one bool query."""
    registry = registry or IdentityNames()
    clauses = [to_es(parse(rule.query), registry)]
    if rule.outlets:
        clauses.append(
            _any(
                [_ci_term("outlet", o) for o in rule.outlets]
                + [_ci_term("domain", o) for o in rule.outlets]
            )
        )
    if rule.languages:
        clauses.append(
            _any(
                [_ci_term("language", lang) for lang in rule.languages]
                + [
                    {"prefix": {"language": {"value": f"{lang}-", "case_insensitive": True}}}
                    for lang in rule.languages
                ]
            )
        )
    return {"bool": {"filter": clauses}}


def rule_node(rule: AlertRule) -> Node:
    """The rule's query AND its outlet (name or domain) and language filters, as one tree:
    what ``alerts test`` hands to the shared search (the same clauses as rule_to_es)."""
    outlets = [make_term(f, o) for o in rule.outlets for f in ("outlet", "domain")]
    node = all_of(
        [
            parse(rule.query),
            Or(tuple(outlets)) if outlets else None,
            any_of("lang", rule.languages) if rule.languages else None,
        ]
    )
    assert node is not None  # parse() never returns None
    return node


def kibana_rule(
    rule: AlertRule,
    registry: ActorNames | None = None,
    index: str = "wirewatch-articles-*",
    interval: str = "1m",
) -> dict[str, Any]:
    """Body for Kibana's POST /api/alerting/rule/{id}: the stream rule as an ``.es-query``
    rule over the articles, grouped by story cluster so one story raises one Kibana alert."""
    return {
        "name": f"Wirewatch: {rule.name}",
        "rule_type_id": ".es-query",
        "consumer": "stackAlerts",
        "schedule": {"interval": interval},
        "tags": ["wirewatch", f"wirewatch-rule:{rule.id}"],
        "notify_when": "onActionGroupChange",
        "params": {
            "searchType": "esQuery",
            "index": [index],
            "timeField": "ingested_at",
            "esQuery": json.dumps({"query": rule_to_es(rule, registry)}, indent=2),
            "size": 10,
            "threshold": [0],
            "thresholdComparator": ">",
            "timeWindowSize": 5,
            "timeWindowUnit": "m",
            "aggType": "count",
            "groupBy": "top",
            "termField": "story.cluster_id",
            "termSize": 100,
            "excludeHitsFromPreviousRun": False,
            "sourceFields": [],
        },
        "actions": [],
    }


def fields_in(query: Any) -> set[str]:
    """Every field name a query names (for the tests that check them against the template)."""
    found: set[str] = set()
    if isinstance(query, dict):
        for key, value in query.items():
            if key in ("term", "match_phrase", "wildcard", "prefix", "terms", "range"):
                found.update(value)
            elif key == "multi_match":
                found.update(f.split("^")[0] for f in value["fields"])  # without boosts
            else:
                found |= fields_in(value)
    elif isinstance(query, list):
        for item in query:
            found |= fields_in(item)
    return found
