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
# The studio's browser test (tests/emulator/test_studio_browser.py) drives Debian's chromium
# through Playwright; Playwright never downloads a browser of its own here.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the studio browser test"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    echo "/usr/bin/chromium is missing: the studio browser test needs it." >&2
    echo "Install it with: sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi
echo "==> pytest on Airflow $(python -c 'import airflow; print(airflow.__version__)')"
exec python -m pytest "$@"
