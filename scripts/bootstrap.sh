#!/usr/bin/env bash
# Creates .venv (if needed) and installs the project, pinned by constraints.txt:
#   scripts/bootstrap.sh            the service with its test and lint tools (development, CI)
#   scripts/bootstrap.sh --runtime  only what serving needs (scripts/start.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
case "${1:-}" in
  --runtime) target="."; stamp=.venv/.installed-runtime ;;
  "") target=".[dev]"; stamp=.venv/.installed ;;
  *) echo "usage: $0 [--runtime]" >&2; exit 2 ;;
esac
fresh() { [ -f "$1" ] && [ ! pyproject.toml -nt "$1" ] && [ ! constraints.txt -nt "$1" ]; }
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# A development install holds the runtime one.
if fresh "$stamp" || { [ "$target" = "." ] && fresh .venv/.installed; }; then
  exit 0
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e "$target"
touch "$stamp"
