#!/usr/bin/env bash
# The benchmark in one command (bench/README.md): creates/updates .venv, installs wrk (Debian package)
# and matplotlib (into .venv) when missing, builds or reuses the bench databases, runs the real server
# on PostgreSQL and SQLite under wrk on 127.0.0.1, and writes bench/results/<timestamp>/{result.json,
# report.md,chart.png}, copied to bench/results/latest/.
#
#   bench/run.sh                 # full size (1M cards, 1M sessions) and 1/100 size, both databases
#   bench/run.sh --reuse         # the same, reusing databases a previous run built (skips generation)
#   bench/run.sh --quick         # smoke run: small organization, short loads (about 3 minutes)
#   bench/run.sh --db sqlite     # one database only; --help lists every option
#
# PostgreSQL is reached at BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres); the
# harness creates and drops its own databases there (ugs_bench_full, ugs_bench_small, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh

if ! command -v wrk >/dev/null 2>&1; then
  echo "bench: installing wrk (Debian package)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get install -y -qq wrk >/dev/null 2>&1 || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk; }
fi

if ! .venv/bin/python -c "import matplotlib" >/dev/null 2>&1; then
  echo "bench: installing matplotlib into .venv"
  .venv/bin/python -m pip install --quiet matplotlib
fi

exec .venv/bin/python -m bench.run "$@"
