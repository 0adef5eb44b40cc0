#!/usr/bin/env bash
# One command: install, then the whole test suite. With DATABASE_URL pointing at a PostgreSQL
# server, the suite creates a fresh database there and drops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python -m pytest -q "$@"
