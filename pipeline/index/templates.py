"""The Elasticsearch index templates and lifecycle policy shipped in ``templates/``.

The JSON files are the source of truth (E's Kibana tests read their field names too). They
carry the default names; :func:`rendered` rewrites the index patterns for the names the
settings give, so a test run can install the same bodies under its own prefix.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pipeline.settings import Settings

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
#: Hunspell en_US dictionary the English analyzer stems with; every node needs it under
#: ``<es config>/hunspell/en_US/`` (see docs/decisions.md, "Index and search").
HUNSPELL_DIR = Path(__file__).resolve().parent / "hunspell" / "en_US"

TEMPLATE_FILES = ("articles", "stories", "alerts", "claims", "events")


def hunspell_dictionaries() -> dict[str, Path]:
    """{locale: directory} of the dictionaries the templates need on every node; the
    managed stack is handed these (it does not know about templates)."""
    return {HUNSPELL_DIR.name: HUNSPELL_DIR}


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((TEMPLATE_DIR / f"{name}.json").read_text())


def load(name: str) -> dict[str, Any]:
    """A fresh copy of ``templates/<name>.json`` (articles, stories, alerts, ilm-policy)."""
    return copy.deepcopy(_load(name))


def mapping_fields(name: str = "articles") -> dict[str, str]:
    """Every field path of a template's mapping with its type, sub-fields included.

    ``{"title": "text", "title.keyword": "keyword", "claims": "nested",
    "claims.speaker": "keyword", ...}``; objects without a type are listed as "object".
    """
    fields: dict[str, str] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for key, spec in properties.items():
            path = f"{prefix}{key}"
            fields[path] = spec.get("type", "object")
            for sub, sub_spec in spec.get("fields", {}).items():
                fields[f"{path}.{sub}"] = sub_spec["type"]
            if "properties" in spec:
                walk(spec["properties"], f"{path}.")

    walk(load(name)["template"]["mappings"]["properties"], "")
    return fields


@dataclass(frozen=True)
class Names:
    """Every Elasticsearch name the pipeline uses, derived from the settings."""

    alias: str  # write alias of the articles indices
    stories: str  # index of story clusters
    alerts: str  # alerts index
    claims: str = "wirewatch-claims"  # tracked claims, one document each
    events: str = "wirewatch-events"  # events, one document each

    @classmethod
    def from_settings(cls, settings: Settings) -> Names:
        return cls(
            alias=settings.index_alias,
            stories=settings.stories_index,
            alerts=settings.alerts_index,
            claims=settings.claims_index,
            events=settings.events_index,
        )

    @property
    def articles_pattern(self) -> str:
        return f"{self.alias}-*"

    @property
    def first_index(self) -> str:
        # The -000001 suffix lets the rollover API (and ILM) number its successors.
        return f"{self.alias}-000001"

    @property
    def policy(self) -> str:
        return f"{self.alias}-policy"

    @property
    def lifecycle_component(self) -> str:
        return f"{self.alias}-lifecycle"

    def template_name(self, kind: str) -> str:
        return {
            "articles": self.alias,
            "stories": self.stories,
            "alerts": self.alerts,
            "claims": self.claims,
            "events": self.events,
        }[kind]


def rendered(kind: str, names: Names) -> dict[str, Any]:
    """The index template body for ``kind`` with index patterns for these names."""
    body = load(kind)
    if kind == "articles":
        body["index_patterns"] = [names.articles_pattern]
        body["composed_of"] = [names.lifecycle_component]
        body["ignore_missing_component_templates"] = [names.lifecycle_component]
    elif kind == "stories":
        body["index_patterns"] = [f"{names.stories}*"]
    elif kind == "alerts":
        body["index_patterns"] = [f"{names.alerts}*"]
    elif kind == "claims":
        body["index_patterns"] = [f"{names.claims}*"]
    elif kind == "events":
        body["index_patterns"] = [f"{names.events}*"]
    else:
        raise KeyError(f"unknown template {kind!r}")
    return body


def lifecycle_component(names: Names) -> dict[str, Any]:
    """Component template attaching the ILM policy; installed only where ILM exists."""
    return {
        "template": {
            "settings": {
                "index.lifecycle.name": names.policy,
                "index.lifecycle.rollover_alias": names.alias,
            }
        },
        "_meta": {"description": "ILM for the articles indices (production clusters only)"},
    }
