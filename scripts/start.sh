#!/usr/bin/env bash
# One command: install, migrate the SQLite database, add demo data, print an admin key, serve.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/ugs demo-data
exec .venv/bin/ugs serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
