#!/usr/bin/env bash
# The test command: lint, schema contracts, unit tests, then integration tests against a real
# Kafka broker and Elasticsearch node that the test fixtures download (first time), start on
# free loopback ports and stop again. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

echo "== lint" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== schema contracts" >&2
.venv/bin/wirewatch schemas check
echo "== tests" >&2
exec .venv/bin/python -m pytest -ra "$@"
