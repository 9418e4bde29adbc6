#!/usr/bin/env bash
# Set everything up and run the whole test suite (lint, then pytest). Extra arguments go to pytest.
# AIRFLOW_VERSION (default 3.3.2) picks the pinned Airflow; SKIP_LINT=1 skips ruff and mypy.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup-env.sh"
cd "$ROOT"
if [ "${SKIP_LINT:-0}" != "1" ]; then
  echo "==> ruff check / ruff format --check"
  ruff check .
  ruff format --check .
  echo "==> mypy (the API clients against their protocol, and the hooks)"
  mypy
fi
echo "==> pytest on Airflow $(python -c 'import airflow; print(airflow.__version__)')"
exec python -m pytest "$@"
