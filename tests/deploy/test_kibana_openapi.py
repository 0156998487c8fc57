"""The requests ``wirewatch kibana import`` sends (saved objects import, alerting rules)
against the request schemas in Kibana's published OpenAPI document, offline (Kibana cannot
run here).

The import operation's request is a multipart form with one ``file`` field; the document
gives the saved objects inside that file no schema, so past the form they are checked by
tests/unit/kibana (they parse, references resolve, fields exist in the index templates).

The schemas are verbatim excerpts of elastic/kibana ``oas_docs/output/kibana.yaml`` (see
``data/kibana-openapi/README.md``: source commit, licence, what was excerpted and why), read
with openapi-schema-validator's OAS 3.0 validator (``nullable`` and the other 3.0 keywords).

The create-rule body's ``params`` is an ``anyOf`` over one schema per rule type. Only the
``.es-query`` DSL one (the type every Wirewatch rule uses) is excerpted; the others resolve
to a schema that matches nothing, so a body can pass only through the schema we have, which
is stricter than Kibana, never looser.
"""

from __future__ import annotations

import copy
import json
import os
from email.parser import BytesParser
from email.policy import HTTP
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from pipeline.adapters.kibana import RULE_UPDATE_FIELDS, KibanaClient
from pipeline.cli.kibana import kibana_rule_id

REPO = Path(__file__).resolve().parents[2]
NDJSON = REPO / "kibana" / "saved_objects.ndjson"
RULE_FILES = sorted((REPO / "kibana" / "rules").glob("*.json"))
SPEC = Path(__file__).resolve().parent / "data" / "kibana-openapi"
CREATE_RULE = SPEC / "post-alerting-rule-id.yaml"
COMPONENTS = SPEC / "components-es-query-dsl.yaml"
IMPORT = SPEC / "post-saved-objects-import.yaml"
EXCERPTS = (CREATE_RULE, COMPONENTS, IMPORT)
MEDIA_TYPE = "application/json; Elastic-Api-Version=2023-10-31"
IMPORT_MEDIA_TYPE = "multipart/form-data; Elastic-Api-Version=2023-10-31"
#: the params schemas of the other rule types, not excerpted (see the module docstring)
NOT_EXCERPTED = (
    "params_property_apm_anomaly",
    "params_property_apm_error_count",
    "params_property_apm_transaction_duration",
    "params_property_apm_transaction_error_rate",
    "params_es_query_esql_rule",
    "params_es_query_kql_rule",
    "params_index_threshold_rule",
    "params_property_infra_inventory",
    "params_property_log_threshold",
    "params_property_infra_metric_threshold",
    "params_property_slo_burn_rate",
    "params_property_synthetics_uptime_tls",
    "params_property_synthetics_monitor_status",
)
MATCHES_NOTHING: dict[str, Any] = {"not": {}}


@cache
def create_rule_operation() -> dict[str, Any]:
    operation = yaml.safe_load(CREATE_RULE.read_text())["post"]
    assert operation["operationId"] == "post-alerting-rule-id"
    return operation


@cache
def import_operation() -> dict[str, Any]:
    operation = yaml.safe_load(IMPORT.read_text())["/api/saved_objects/_import"]["post"]
    assert operation["operationId"] == "importSavedObjectsDefault"
    return operation


@cache
def create_rule_schema() -> dict[str, Any]:
    """The request body schema of POST /api/alerting/rule/{id}, its refs resolvable."""
    body = create_rule_operation()["requestBody"]["content"][MEDIA_TYPE]["schema"]
    components = yaml.safe_load(COMPONENTS.read_text())
    assert not set(NOT_EXCERPTED) & components.keys()
    components.update(dict.fromkeys(NOT_EXCERPTED, MATCHES_NOTHING))
    # '#/components/schemas/...' resolves against the root schema: carry them there.
    return {**body, "components": {"schemas": components}}


def errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    validator = OAS30Validator(schema)
    found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}" for e in found]


def params_schema() -> dict[str, Any]:
    components = create_rule_schema()["components"]
    return {**components["schemas"]["params_es_query_dsl_rule"], "components": components}


def rule_bodies() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in RULE_FILES}


def test_the_excerpt_is_the_operation_we_call() -> None:
    schema = create_rule_schema()
    assert {"name", "rule_type_id", "consumer", "schedule"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    assert len(schema["properties"]["params"]["anyOf"]) == len(NOT_EXCERPTED) + 1
    assert len(RULE_FILES) >= 3


@pytest.mark.parametrize("name", sorted(rule_bodies()))
def test_rule_body_matches_the_create_rule_request_schema(name: str) -> None:
    body = rule_bodies()[name]
    assert errors(body, create_rule_schema()) == []
    # ...and through the .es-query DSL params schema itself, not some looser branch
    assert errors(body["params"], params_schema()) == []


def sent_requests() -> list[httpx.Request]:
    """What the importer's client sends for our assets: the import, every rule created,
    and every rule updated (the fake answers 409 to a second create)."""
    sent: list[httpx.Request] = []
    created: set[str] = set()

    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        sent.append(request)
        if request.url.path.endswith("/_import"):
            return httpx.Response(200, json={"success": True, "successCount": 11})
        if request.method == "POST" and request.url.path in created:
            return httpx.Response(409, json={"statusCode": 409})
        created.add(request.url.path)
        return httpx.Response(200, json={})

    client = KibanaClient("http://kibana.invalid", transport=httpx.MockTransport(answer))
    try:
        client.import_saved_objects(NDJSON.read_bytes())
        for _ in range(2):  # create, then update
            for name, body in rule_bodies().items():
                client.put_rule(kibana_rule_id(name.removesuffix(".json")), body)
    finally:
        client.close()
    return sent


def check_parameters(request: httpx.Request, operation: dict[str, Any]) -> None:
    """Declared query parameters only, booleans as true/false; required headers present."""
    declared = {p["name"]: p for p in operation["parameters"] if "name" in p}
    for name, value in request.url.params.multi_items():
        assert declared.get(name, {}).get("in") == "query", f"undeclared query parameter {name}"
        if declared[name]["schema"].get("type") == "boolean":
            assert value in ("true", "false"), f"{name}={value} is not a boolean"
    for parameter in declared.values():
        if parameter["in"] == "header" and parameter.get("required"):
            assert parameter["name"] in request.headers, f"missing header {parameter['name']}"


def test_the_saved_objects_import_request_matches_its_schema() -> None:
    operation = import_operation()
    (request,) = [r for r in sent_requests() if r.url.path == "/api/saved_objects/_import"]
    assert request.method == "POST"
    check_parameters(request, operation)
    # createNewCopies cannot be combined with overwrite / compatibilityMode
    assert not ({"overwrite", "compatibilityMode"} & set(request.url.params)) or (
        "createNewCopies" not in request.url.params
    )
    # The kbn-xsrf parameter is a $ref not excerpted; the rule operation declares it in full.
    assert "kbn-xsrf" in request.headers
    media_type, _, _ = IMPORT_MEDIA_TYPE.partition(";")
    assert request.headers["content-type"].startswith(media_type)
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    form = BytesParser(policy=HTTP).parsebytes(head + request.content)
    fields = {
        part.get_param("name", header="content-disposition"): part for part in form.iter_parts()
    }
    schema = operation["requestBody"]["content"][IMPORT_MEDIA_TYPE]["schema"]
    assert set(fields) <= set(schema["properties"]), f"form fields {sorted(fields)}"
    assert errors({k: v.get_content() for k, v in fields.items()}, schema) == []
    assert fields["file"].get_content() == NDJSON.read_bytes()


def test_the_rule_requests_match_the_create_rule_schema() -> None:
    operation = create_rule_operation()
    rules = [r for r in sent_requests() if "/api/alerting/rule/" in r.url.path]
    created = [r for r in rules if r.method == "POST"]
    assert len(created) == 2 * len(RULE_FILES)
    for request in created:
        check_parameters(request, operation)
        assert request.url.path.rsplit("/", 1)[-1], "empty rule id"
        assert request.headers["content-type"].startswith("application/json")
        assert errors(json.loads(request.content), create_rule_schema()) == []


def test_the_rule_update_requests_send_only_create_rule_fields() -> None:
    """On 409 the importer PUTs a subset of the body (PUT's own schema is not excerpted):
    every field it sends is one the create schema defines, with the same shape."""
    schema = create_rule_schema()
    updates = [r for r in sent_requests() if r.method == "PUT"]
    assert len(updates) == len(RULE_FILES)
    for request in updates:
        body = json.loads(request.content)
        assert set(body) <= set(RULE_UPDATE_FIELDS) & set(schema["properties"])
        for field, value in body.items():
            field_schema = {**schema["properties"][field], "components": schema["components"]}
            assert errors(value, field_schema) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b.pop("consumer"), "'consumer' is a required property"),
        (lambda b: b.__setitem__("notifyWhen", "onActiveAlert"), "Additional properties"),
        (lambda b: b["schedule"].__setitem__("every", "1m"), "Additional properties"),
        (lambda b: b.__setitem__("notify_when", "sometimes"), "is not one of"),
        (lambda b: b["params"].pop("timeField"), "is not valid under any of the given schemas"),
        (
            lambda b: b["params"].__setitem__("thresholdComparator", "above"),
            "is not valid under any of the given schemas",
        ),
    ],
)
def test_the_schema_refuses_a_broken_body(change: Any, expected: str) -> None:
    body = copy.deepcopy(rule_bodies()[RULE_FILES[0].name])
    change(body)
    found = errors(body, create_rule_schema())
    assert found, "the broken body passed"
    assert any(expected in line for line in found), found


@pytest.mark.skipif(
    not os.environ.get("KIBANA_OAS_FILE"),
    reason="provenance check only: set KIBANA_OAS_FILE to a copy of kibana.yaml at the "
    "commit in data/kibana-openapi/README.md",
)
def test_excerpts_are_verbatim() -> None:
    """Run by whoever refreshes the excerpts: each is a verbatim slice of Kibana's file."""
    full = Path(os.environ["KIBANA_OAS_FILE"]).read_text()
    for excerpt in EXCERPTS:
        assert excerpt.read_text() in full, f"{excerpt.name} is not a verbatim excerpt"
