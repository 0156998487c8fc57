"""``wirewatch kibana import`` request building, against a local fake Kibana (a real HTTP
server on loopback that records what it receives)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.cli.kibana import kibana_rule_id
from pipeline.settings import get_settings

KIBANA = Path(__file__).resolve().parents[3] / "kibana"


class FakeKibana:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.existing_rules: set[str] = set()
        self.import_answer = {"success": True, "successCount": 11}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                status, answer = fake.answer(self.command, self.path)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, method: str, path: str) -> tuple[int, dict]:
        if "/api/saved_objects/_import" in path:
            return 200, self.import_answer
        rule_id = path.rsplit("/", 1)[-1]
        if method == "POST" and rule_id in self.existing_rules:
            return 409, {"statusCode": 409, "error": "Conflict"}
        self.existing_rules.add(rule_id)
        return 200, {"id": rule_id}


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def api_key_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WIREWATCH_KIBANA_API_KEY", "a2V5OnNlY3JldA==")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def multipart_file(request: dict) -> bytes:
    content_type = request["headers"]["Content-Type"]
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request["body"]
    )
    (part,) = [
        p
        for p in message.iter_parts()
        if p.get_param("name", header="content-disposition") == "file"
    ]
    return part.get_payload(decode=True)


def test_import_sends_saved_objects_then_rules(kibana: FakeKibana, api_key_env: None) -> None:
    result = CliRunner().invoke(cli, ["kibana", "import", "--url", kibana.url, "--space", "news"])
    assert result.exit_code == 0, result.output
    first, *rules = kibana.requests
    assert first["method"] == "POST"
    assert first["path"] == "/s/news/api/saved_objects/_import?overwrite=true"
    assert first["headers"]["kbn-xsrf"]
    assert first["headers"]["Authorization"] == "ApiKey a2V5OnNlY3JldA=="
    assert multipart_file(first) == (KIBANA / "saved_objects.ndjson").read_bytes()
    rule_files = sorted((KIBANA / "rules").glob("*.json"))
    assert [r["path"] for r in rules] == [
        f"/s/news/api/alerting/rule/{kibana_rule_id(p.stem)}" for p in rule_files
    ]
    assert json.loads(rules[0]["body"]) == json.loads(rule_files[0].read_text())
    assert "imported 11 saved objects" in result.output


def test_reimport_updates_existing_rules_with_the_update_fields_only(
    kibana: FakeKibana, api_key_env: None
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["kibana", "import", "--url", kibana.url]).exit_code == 0
    kibana.requests.clear()
    result = runner.invoke(cli, ["kibana", "import", "--url", kibana.url])
    assert result.exit_code == 0, result.output
    puts = [r for r in kibana.requests if r["method"] == "PUT"]
    assert len(puts) == len(list((KIBANA / "rules").glob("*.json")))
    body = json.loads(puts[0]["body"])
    assert "rule_type_id" not in body and "consumer" not in body
    assert {"name", "params", "schedule"} <= body.keys()
    assert puts[0]["path"].startswith("/api/alerting/rule/")  # default space: no /s/ prefix
    assert "updated" in result.output


def test_basic_auth_and_a_failed_import_is_an_error(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIREWATCH_KIBANA_USERNAME", "elastic")
    monkeypatch.setenv("WIREWATCH_KIBANA_PASSWORD", "changeme")
    get_settings.cache_clear()
    kibana.import_answer = {
        "success": False,
        "successCount": 3,
        "errors": [{"type": "lens", "id": "x", "error": {"type": "missing_references"}}],
    }
    try:
        result = CliRunner().invoke(cli, ["kibana", "import", "--url", kibana.url])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "lens/x: missing_references" in result.output
    auth = kibana.requests[0]["headers"]["Authorization"]
    assert base64.b64decode(auth.removeprefix("Basic ")) == b"elastic:changeme"
    assert len(kibana.requests) == 1  # no rules after a failed import


def test_no_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIREWATCH_KIBANA_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["kibana", "import"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "WIREWATCH_KIBANA_URL" in result.output
