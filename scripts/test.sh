#!/usr/bin/env bash
# Set everything up and run the whole test suite (lint, then pytest). Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup-env.sh"
cd "$ROOT"
echo "==> ruff check / ruff format --check"
ruff check .
ruff format --check .
echo "==> pytest"
exec python -m pytest "$@"
