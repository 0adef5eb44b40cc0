#!/usr/bin/env bash
# One command: install what serving needs, migrate the SQLite database (data/user_groups.db), add
# the demo data, print a demo admin key and a ready-to-paste authorize call, then serve.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
url_host="$HOST"
if [ "$HOST" = "0.0.0.0" ] || [ "$HOST" = "::" ]; then url_host=127.0.0.1; fi
scripts/bootstrap.sh --runtime
.venv/bin/ugs demo-data --base-url "http://${url_host}:${PORT}"
exec .venv/bin/ugs serve --host "$HOST" --port "$PORT"
