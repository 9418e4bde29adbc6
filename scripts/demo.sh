#!/usr/bin/env bash
# The README's main command: run every example DAG end to end against a local emulator.
#
#   bash scripts/demo.sh
#
# From nothing: creates the virtualenv if needed (scripts/setup-env.sh), starts the emulator of
# the Azure ML pipelines service on a fresh state dir (.demo/emulator, a free port), exports the
# connections (v1 and v2) and the Airflow Variables the DAGs read, migrates a fresh SQLite
# metadata DB in AIRFLOW_HOME=.demo/airflow, runs each DAG of dags_examples/ with
# `airflow dags test` (the v2 example twice: a release, then a rolled-back trial; the
# own-component example after registering its component with MLClient from .venv-ms-v2),
# then the asset pair on `airflow standalone` (its scoring run started by the asset event), and
# prints a summary (states, pipeline run ids and studio URLs, where the model and predictions
# are). The emulator is stopped on every exit path. Exits non-zero if any DAG run failed.
# Everything it writes is under .demo/ (or $DEMO_DIR), removed at the next start.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup-env.sh"
cd "$ROOT"

DEMO="${DEMO_DIR:-$ROOT/.demo}"
STATE_DIR="$DEMO/emulator"
LOG_DIR="$DEMO/logs"
rm -rf "$DEMO"
mkdir -p "$STATE_DIR" "$LOG_DIR"

export AIRFLOW_HOME="$DEMO/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags_examples"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM=2
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
# The example DAGs poll every 30 s by default; the emulator's runs take seconds.
export MLPIPELINES_EXAMPLE_POLL_SECONDS=2

emulator_pid=""
child_pid=""
stop_emulator() {
  [ -n "$emulator_pid" ] || return 0
  # The emulator leads its own process group (setsid): signal the group, steps included.
  kill -TERM -- "-$emulator_pid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do
    kill -0 -- "-$emulator_pid" 2>/dev/null || { emulator_pid=""; return 0; }
    sleep 0.1
  done
  kill -KILL -- "-$emulator_pid" 2>/dev/null || true
  emulator_pid=""
}
on_signal() {
  # demo.py turns SIGTERM into KeyboardInterrupt, which kills the `airflow dags test` it runs.
  if [ -n "$child_pid" ]; then
    kill -TERM "$child_pid" 2>/dev/null || true
    wait "$child_pid" 2>/dev/null || true
  fi
  exit 130
}
trap stop_emulator EXIT
trap on_signal INT TERM

# Runs a step in the background and waits for it: unlike a foreground command, `wait` returns
# as soon as a signal arrives, so on_signal runs at once.
run_step() {
  local code=0
  "$@" &
  child_pid=$!
  wait "$child_pid" || code=$?
  child_pid=""
  return "$code"
}

echo "==> starting the emulator (state dir $STATE_DIR, log $LOG_DIR/emulator.log)"
# setsid: a background child of a non-interactive shell is no group leader, so setsid runs the
# emulator in place (same pid) as the leader of a new process group that stop_emulator can kill.
setsid python -m airflow_provider_mlpipelines.emulator --port 0 --state-dir "$STATE_DIR" \
  </dev/null >"$LOG_DIR/emulator.log" 2>&1 &
emulator_pid=$!
run_step python scripts/demo.py wait-emulator "$STATE_DIR" "$emulator_pid"

# AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT, AIRFLOW_CONN_AZURE_ML_PIPELINES_V2 (the v2 example's
# connection, same emulator) and AIRFLOW_VAR_MLPIPELINES_* (values not shown).
eval "$(python scripts/demo.py env "$STATE_DIR")"
echo "==> exported the connection and the Variables:" \
  "$(env | grep -o '^AIRFLOW_\(CONN\|VAR\)_[A-Z_]*' | sort | tr '\n' ' ')"

echo "==> airflow db migrate (SQLite in $AIRFLOW_HOME)"
run_step airflow db migrate >"$LOG_DIR/airflow-db-migrate.log" 2>&1 || {
  tail -n 30 "$LOG_DIR/airflow-db-migrate.log" >&2
  exit 1
}

run_step python scripts/demo.py run "$STATE_DIR" "$LOG_DIR"
