"""The Kibana assets, checked without Kibana: they parse, their embedded JSON parses, their
references resolve, every field they name exists in the index templates, and the rule
bodies carry what Kibana's alerting API requires."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pipeline.alerts.esquery import fields_in
from pipeline.index.templates import mapping_fields

KIBANA = Path(__file__).resolve().parents[3] / "kibana"
NDJSON = KIBANA / "saved_objects.ndjson"
RULE_FILES = sorted((KIBANA / "rules").glob("*.json"))
#: data view id -> the template its documents follow
DATA_VIEW_TEMPLATE = {
    "wirewatch-articles": "articles",
    "wirewatch-alerts": "alerts",
    "wirewatch-tracked-claims": "claims",
    "wirewatch-events": "events",
}


def _generator():
    spec = importlib.util.spec_from_file_location("kibana_generate", KIBANA / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text().splitlines()]


OBJECTS = _objects()
BY_KEY = {(o["type"], o["id"]): o for o in OBJECTS}


def test_every_line_is_a_saved_object() -> None:
    lines = NDJSON.read_text().splitlines()
    assert len(lines) == len(OBJECTS) >= 10
    for obj in OBJECTS:
        assert {"id", "type", "attributes", "references"} <= obj.keys()
        assert obj["attributes"]["title"]
    assert len(BY_KEY) == len(OBJECTS), "duplicate (type, id)"
    kinds = {o["type"] for o in OBJECTS}
    assert {"index-pattern", "search", "lens", "dashboard"} <= kinds


def test_files_are_what_the_generator_writes() -> None:
    generate = _generator()
    assert NDJSON.read_text() == generate.render_saved_objects(), "run kibana/generate.py"
    expected = generate.rule_files()
    assert sorted(p.name for p in RULE_FILES) == sorted(expected)
    for path in RULE_FILES:
        assert path.read_text() == generate.render_rule(expected[path.name])


def embedded(obj: dict[str, Any]) -> dict[str, Any]:
    """Every JSON-in-a-string attribute of an object, parsed."""
    attrs = obj["attributes"]
    out = {}
    for key in ("panelsJSON", "optionsJSON", "visState", "uiStateJSON"):
        if key in attrs:
            out[key] = json.loads(attrs[key])
    meta = attrs.get("kibanaSavedObjectMeta", {})
    if "searchSourceJSON" in meta:
        out["searchSourceJSON"] = json.loads(meta["searchSourceJSON"])
    return out


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: o["id"])
def test_embedded_json_parses_and_references_resolve(obj: dict[str, Any]) -> None:
    parsed = embedded(obj)
    names = {ref["name"] for ref in obj["references"]}
    for ref in obj["references"]:
        assert (ref["type"], ref["id"]) in BY_KEY, f"dangling reference {ref}"
    if "searchSourceJSON" in parsed and "indexRefName" in parsed["searchSourceJSON"]:
        assert parsed["searchSourceJSON"]["indexRefName"] in names
    for panel in parsed.get("panelsJSON", []):
        assert panel["panelRefName"] in names
        ref = next(r for r in obj["references"] if r["name"] == panel["panelRefName"])
        assert ref["type"] == panel["type"]
    if obj["type"] == "lens":
        layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        for layer in layers:
            assert f"indexpattern-datasource-layer-{layer}" in names
    if obj["type"] == "search":
        assert parsed["searchSourceJSON"]["query"]["language"] == "kuery"


_KQL_NESTED = re.compile(r"([\w.]+)\s*:\s*\{([^}]*)\}")
_KQL_FIELD = re.compile(r"([A-Za-z_][\w.]*)\s*(?::|>=|<=|>|<)")


def kql_fields(kql: str) -> set[str]:
    """Field names in a KQL query, nested groups (``claims : { speaker : x }``) expanded."""
    fields: set[str] = set()
    for outer, inner in _KQL_NESTED.findall(kql):
        fields |= {f"{outer}.{f}" for f in _KQL_FIELD.findall(inner)}
    fields |= set(_KQL_FIELD.findall(_KQL_NESTED.sub("", kql)))
    return fields - {"and", "or", "not"}


def test_kql_field_extraction() -> None:
    assert kql_fields('claims : { speaker : "X" and has_quantity : true } and a.b >= 2') == {
        "claims.speaker",
        "claims.has_quantity",
        "a.b",
    }


def _data_view_of(obj: dict[str, Any]) -> str:
    ids = {r["id"] for r in obj["references"] if r["type"] == "index-pattern"}
    assert len(ids) == 1, obj["id"]
    return ids.pop()


def fields_used(obj: dict[str, Any]) -> set[str]:
    attrs = obj["attributes"]
    if obj["type"] == "index-pattern":
        return {attrs["timeFieldName"]}
    if obj["type"] == "search":
        source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
        return (
            set(attrs["columns"])
            | {field for field, _ in attrs["sort"]}
            | kql_fields(source["query"]["query"])
        )
    if obj["type"] == "lens":
        layers = attrs["state"]["datasourceStates"]["formBased"]["layers"].values()
        return {
            column["sourceField"]
            for layer in layers
            for column in layer["columns"].values()
            if column["sourceField"] != "___records___"
        }
    return set()


@pytest.mark.parametrize(
    "obj", [o for o in OBJECTS if o["type"] != "dashboard"], ids=lambda o: o["id"]
)
def test_every_field_exists_in_the_index_template(obj: dict[str, Any]) -> None:
    view = obj["id"] if obj["type"] == "index-pattern" else _data_view_of(obj)
    known = mapping_fields(DATA_VIEW_TEMPLATE[view])
    used = fields_used(obj)
    assert used, "an asset that names no field tests nothing"
    assert used <= set(known), (
        f"not in the {DATA_VIEW_TEMPLATE[view]} template: {used - set(known)}"
    )


def test_data_view_patterns_match_the_index_names() -> None:
    views = {o["id"]: o["attributes"] for o in OBJECTS if o["type"] == "index-pattern"}
    assert views["wirewatch-articles"]["title"] == "wirewatch-articles-*"
    assert views["wirewatch-alerts"]["title"].startswith("wirewatch-alerts")
    assert views["wirewatch-tracked-claims"]["title"] == "wirewatch-claims*"
    assert views["wirewatch-events"]["title"] == "wirewatch-events*"


def test_dashboard_has_the_seven_panels() -> None:
    board = BY_KEY[("dashboard", "wirewatch-overview")]
    targets = {(r["type"], r["id"]) for r in board["references"]}
    assert targets == {
        ("lens", "wirewatch-volume"),
        ("lens", "wirewatch-top-actors"),
        ("lens", "wirewatch-top-outlets"),
        ("search", "wirewatch-latest-alerts"),
        ("search", "wirewatch-claims-table"),
        ("search", "wirewatch-claims-changed-disputed"),
        ("search", "wirewatch-events-across-outlets"),
    }


# Kibana's OpenAPI spec for POST /api/alerting/rule/{id} with rule_type_id .es-query
# (params_es_query_dsl_rule: required fields and enums), transcribed as JSON Schema.
ES_QUERY_RULE = {
    "type": "object",
    "required": ["name", "rule_type_id", "consumer", "schedule", "params"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "rule_type_id": {"const": ".es-query"},
        "consumer": {"enum": ["alerts", "stackAlerts", "infrastructure", "logs", "observability"]},
        "schedule": {
            "type": "object",
            "required": ["interval"],
            "properties": {"interval": {"type": "string", "pattern": "^[0-9]+[smhd]$"}},
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "notify_when": {"enum": ["onActiveAlert", "onThrottleInterval", "onActionGroupChange"]},
        "actions": {"type": "array"},
        "params": {
            "type": "object",
            "required": [
                "esQuery",
                "index",
                "threshold",
                "thresholdComparator",
                "timeField",
                "timeWindowSize",
                "timeWindowUnit",
            ],
            "properties": {
                "searchType": {"const": "esQuery"},
                "esQuery": {"type": "string"},
                "index": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "threshold": {"type": "array", "items": {"type": "number"}, "minItems": 1},
                "thresholdComparator": {"enum": [">", ">=", "<", "<=", "between", "notBetween"]},
                "timeField": {"type": "string"},
                "timeWindowSize": {"type": "integer", "minimum": 1},
                "timeWindowUnit": {"enum": ["s", "m", "h", "d"]},
                "size": {"type": "integer", "minimum": 0, "maximum": 10000},
                "aggType": {"enum": ["avg", "count", "max", "min", "sum"]},
                "groupBy": {"enum": ["all", "top"]},
                "termField": {"type": "string"},
                "termSize": {"type": "integer"},
                "excludeHitsFromPreviousRun": {"type": "boolean"},
            },
        },
    },
}


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_bodies_match_the_api_and_the_template(path: Path) -> None:
    body = json.loads(path.read_text())
    jsonschema.validate(body, ES_QUERY_RULE)
    params = body["params"]
    query = json.loads(params["esQuery"])
    assert set(query) == {"query"}  # Kibana uses only query/fields/_source/runtime_mappings
    known = set(mapping_fields("articles"))
    used = fields_in(query) | {params["timeField"], params["termField"]}
    assert used <= known, used - known
    assert params["index"] == ["wirewatch-articles-*"]
