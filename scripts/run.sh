#!/usr/bin/env bash
# The run command: install, then run Wirewatch on its embedded default (a local Kafka broker
# and Elasticsearch node it manages itself, and the bundled sample feeds). Extra arguments go
# to `wirewatch run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/wirewatch run "$@"
