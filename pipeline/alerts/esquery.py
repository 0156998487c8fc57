"""Translate a rule into an Elasticsearch query over the articles index, for ``alerts test``
and the Kibana ``.es-query`` rule definitions.

The translation follows the stream matcher's semantics on the articles template's fields:
words and phrases are ``match_phrase`` on the unstemmed ``*.exact`` sub-fields (lower-cased
standard tokens, as the matcher's word boundaries), actor and speaker terms are the
registry's canonical name plus aliases on the flat ``actor`` / ``claim_speaker`` keywords,
other fields are case-insensitive term queries.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.alerts.matcher import ActorNames, IdentityNames
from pipeline.alerts.query import And, Node, Not, Or, Term, parse
from pipeline.records import AlertRule

#: every articles-index field the translation may name (checked against the template)
FIELDS_USED = (
    "title.exact",
    "text.exact",
    "actor",
    "claim_speaker",
    "outlet",
    "domain",
    "language",
    "tags",
)
_TEXT_FIELDS = {"text": ("title.exact", "text.exact"), "title": ("title.exact",)}
_TEXT_FIELDS["body"] = ("text.exact",)


def _ci_term(field: str, value: str) -> dict[str, Any]:
    return {"term": {field: {"value": value, "case_insensitive": True}}}


def _any(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    if len(clauses) == 1:
        return clauses[0]
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def _names(registry: ActorNames, value: str) -> list[str]:
    canonical = registry.canonical(value)
    return sorted({value, canonical, *registry.aliases(canonical)})


def term_query(term: Term, registry: ActorNames) -> dict[str, Any]:
    field = term.field
    if field in _TEXT_FIELDS:
        phrase = " ".join(term.tokens)
        fields = _TEXT_FIELDS[field]
        if len(fields) == 1:
            return {"match_phrase": {fields[0]: phrase}}
        return {"multi_match": {"query": phrase, "type": "phrase", "fields": list(fields)}}
    if field in ("actor", "speaker"):
        # canonical names are written by the enricher exactly as the registry spells them
        target = "actor" if field == "actor" else "claim_speaker"
        return {"terms": {target: _names(registry, term.value)}}
    value = " ".join(term.value.split())
    if field == "outlet":
        return _ci_term("outlet", value)
    if field == "domain":
        return _any(
            [
                _ci_term("domain", value),
                {"wildcard": {"domain": {"value": f"*.{value}", "case_insensitive": True}}},
            ]
        )
    if field == "lang":
        return _any(
            [
                _ci_term("language", value),
                {"prefix": {"language": {"value": f"{value}-", "case_insensitive": True}}},
            ]
        )
    if field == "tag":
        return _ci_term("tags", value)
    raise ValueError(f"unknown field {field!r}")


def to_es(node: Node, registry: ActorNames | None = None) -> dict[str, Any]:
    registry = registry or IdentityNames()
    if isinstance(node, Term):
        return term_query(node, registry)
    if isinstance(node, Not):
        return {"bool": {"must_not": [to_es(node.child, registry)]}}
    if isinstance(node, And):
        return {"bool": {"filter": [to_es(c, registry) for c in node.children]}}
    if isinstance(node, Or):
        return _any([to_es(c, registry) for c in node.children])
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
                found.update(value["fields"])
            else:
                found |= fields_in(value)
    elif isinstance(query, list):
        for item in query:
            found |= fields_in(item)
    return found
