"""JSON Schemas of the topic values: exported from pipeline.records, validated with jsonschema."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from pipeline.records import TOPIC_RECORDS
from pipeline.topics import ALL_TOPICS, by_name

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


class SchemaError(ValueError):
    """A record does not match its topic's schema."""


def generated_schema(topic_name: str) -> dict[str, Any]:
    record = TOPIC_RECORDS[topic_name]
    schema = record.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://wirewatch.dev/schemas/{by_name(topic_name).schema}"
    return schema


#: Schemas of command output (not topic values): file name -> "module:model".
OUTPUT_SCHEMAS = {
    "annotation.schema.json": "pipeline.enrich.output:AnnotationLine",
    # the claims-index document (issue 16); TrackedClaim.document() adds the derived counts
    "tracked-claim.schema.json": "pipeline.claims.model:TrackedClaim",
}


def generated_output_schema(file_name: str) -> dict[str, Any]:
    import importlib

    module, _, name = OUTPUT_SCHEMAS[file_name].partition(":")
    model = getattr(importlib.import_module(module), name)
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://wirewatch.dev/schemas/{file_name}"
    return schema


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name in OUTPUT_SCHEMAS:
        path = directory / file_name
        schema = generated_output_schema(file_name)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    for topic in ALL_TOPICS:
        path = directory / topic.schema
        path.write_text(json.dumps(generated_schema(topic.name), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


@cache
def validator(topic_name: str) -> Draft202012Validator:
    path = SCHEMA_DIR / by_name(topic_name).schema
    return Draft202012Validator(json.loads(path.read_text()))


def validate(topic_name: str, value: dict[str, Any]) -> None:
    """Raise SchemaError with the first violation's path and message."""
    error = next(iter(validator(topic_name).iter_errors(value)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise SchemaError(f"{topic_name}: {where}: {error.message}")
