from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from pipeline import schemas
from pipeline.cli import cli

SCHEMA_FILE = schemas.SCHEMA_DIR / "annotation.schema.json"


def test_checked_in_schema_matches_the_model() -> None:
    on_disk = json.loads(SCHEMA_FILE.read_text())
    assert on_disk == schemas.generated_output_schema("annotation.schema.json")


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


def test_annotate_files_one_line_each(tmp_path: Path, validator: Draft202012Validator) -> None:
    first = tmp_path / "kursk.txt"
    first.write_text('Putin in Kursk\n"We will win," Putin said.\n')
    second = tmp_path / "empty.txt"
    second.write_text("")
    result = CliRunner().invoke(cli, ["annotate", str(first), str(second)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["id"] for line in lines] == ["kursk", "empty"]
    for line in lines:
        validator.validate(line)
    text = first.read_text()
    (claim,) = lines[0]["claims"]
    assert set(claim) == {"source", "cue", "content", "speaker", "kind", "quantities"}
    assert claim["speaker"] == "Vladimir Putin"
    content = claim["content"]
    assert text[content["start"] : content["end"]] == content["text"] == '"We will win,"'
    putin = lines[0]["entities"][0]
    assert (putin["start"], putin["canonical"]) == (0, "Vladimir Putin")
    assert lines[1] == {"id": "empty", "entities": [], "claims": []}


def test_annotate_jsonl_reports_bad_lines_and_keeps_the_rest() -> None:
    stdin = '{"id": "a", "text": "Ann Lee said it rained."}\nnot json\n{"id": "b"}\n'
    result = CliRunner(mix_stderr=False).invoke(cli, ["annotate", "--jsonl"], input=stdin)
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a"]
    assert out[0]["claims"][0]["content"]["text"] == "it rained"
    assert "stdin line 2: not JSON" in result.stderr
    assert 'stdin line 3: expected an object with a string "text"' in result.stderr


def test_annotate_needs_files_or_jsonl() -> None:
    result = CliRunner().invoke(cli, ["annotate"])
    assert result.exit_code == 2
    assert "give FILE arguments or --jsonl" in result.output


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00broken")
    good = tmp_path / "good.txt"
    good.write_text("Calm day.")
    result = CliRunner(mix_stderr=False).invoke(cli, ["annotate", str(bad), str(good)])
    assert result.exit_code == 1
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["good"]
    assert "bad.txt: cannot read" in result.stderr
