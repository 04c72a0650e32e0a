#!/usr/bin/env bash
# The whole benchmark in one command (10 to 20 minutes on the 2-core machine):
#
#   bash benchmarks/run_all.sh [run_all.py options]      # e.g. --rounds 1, --quick
#
# 1. installs the peers from Debian's packages when missing (install_peers.sh),
# 2. installs torus's own Python dependencies (requirements.pip) when missing,
# 3. runs benchmarks/run_all.py, which measures ingest and query and writes
#    benchmarks/RESULTS.md (raw figures in benchmarks/out/).
# PostgreSQL (127.0.0.1:5432, db test) and Redis (127.0.0.1:6379, db 11 must be empty)
# are the machine's own servers; a case whose server does not answer is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_STARTED=${BENCH_STARTED:-$(date +%s)}
PYTHON=${PYTHON:-python3}

bash benchmarks/install_peers.sh
"$PYTHON" -m pip install -q --disable-pip-version-check -r requirements.pip
exec "$PYTHON" benchmarks/run_all.py "$@"
