#!/usr/bin/env bash
# Run every benchmark (or the parts named) and print their tables; see BENCHMARKS.md.
# Usage: benchmarks/run_all.sh [--quick] [emulator_throughput|parse_cost|trigger_scale|worker_slots|batched_reads ...]
# VENV picks the virtual environment (default: .venv of the repository).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
cd "$ROOT"
export PATH="$VENV/bin:$PATH"
exec "$VENV/bin/python" -m benchmarks "$@"
