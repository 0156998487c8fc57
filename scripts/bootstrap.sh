#!/usr/bin/env bash
# Create .venv and install the locked dependencies and the package. Idempotent and quick
# when nothing changed. Needs only python3.11 and network access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "error: Wirewatch needs Python 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if ! command -v java >/dev/null 2>&1; then
    echo "warning: no 'java' on PATH: the managed Kafka broker needs Java 17+ (apt-get install openjdk-17-jre-headless)" >&2
fi

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv" >&2
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet "uv==0.13.9"
echo "bootstrap: installing locked dependencies (requirements.lock)" >&2
.venv/bin/uv pip sync --quiet --python .venv/bin/python requirements.lock
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .
