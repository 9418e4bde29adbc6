#!/usr/bin/env bash
# A production-shaped Airflow on this one machine, without containers: PostgreSQL (metadata DB),
# Redis (Celery broker), Airflow 3.3.2 with the CeleryExecutor (scheduler, DAG processor, API
# server, two Celery workers, two triggerers) and the Azure ML pipelines emulator.
#
#   scripts/cluster.sh up       start everything; returns once the API answers
#   scripts/cluster.sh status   which processes are alive
#   scripts/cluster.sh down     stop everything (no process is left behind)
#   scripts/cluster.sh restart COMPONENT   stop what is left of one component, start it again
#   scripts/cluster.sh install  install what is missing (PostgreSQL, Redis, the cluster extra)
#
# Settings (the caller's environment wins over every default below, for every process):
#   CLUSTER_DIR         everything the cluster writes (default: ${TMPDIR:-/tmp}/mlpipelines-cluster)
#   DAGS_FOLDER         the DAGs folder (default: dags_examples/ of this repository)
#   EMULATOR_STATE_DIR  the emulator's state dir, where manifest.json lands (default: under CLUSTER_DIR)
#   VENV                the Python environment with Airflow 3.3.2 (default: .venv of this repository)
#   any AIRFLOW__SECTION__KEY or AIRFLOW_CONN_* variable
# See docs/cluster.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER_DIR="${CLUSTER_DIR:-${TMPDIR:-/tmp}/mlpipelines-cluster}"
VENV="${VENV:-$ROOT/.venv}"
PIDS="$CLUSTER_DIR/pids"
LOGS="$CLUSTER_DIR/logs"
SETTINGS="$CLUSTER_DIR/cluster.env"
PYTHON="$VENV/bin/python"
# The components, in start order; workers and triggerers come in twos.
AIRFLOW_COMPONENTS=(api-server scheduler dag-processor worker-1 worker-2 triggerer-1 triggerer-2)

log() { echo "==> $*" >&2; }
die() { echo "cluster.sh: $*" >&2; exit 1; }

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$dir" ] || dir="$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")"
  echo "$dir"
}

# PostgreSQL refuses to run as root: run its commands as the postgres user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_installed() {
  local missing=()
  [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "installing ${missing[*]} (apt-get)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
      # Debian's packages start system-wide services; this cluster runs its own.
      if command -v service >/dev/null; then
        service redis-server stop >/dev/null 2>&1 || true
        service postgresql stop >/dev/null 2>&1 || true
      fi
    else
      die "missing ${missing[*]}: install PostgreSQL (initdb, pg_ctl) and redis-server, or run as root on Debian"
    fi
  fi
  [ -x "$PYTHON" ] || die "no Python environment at $VENV: run scripts/setup-env.sh first"
  if ! "$PYTHON" -c 'import airflow.providers.celery, psycopg2, asyncpg, redis' 2>/dev/null; then
    log "installing the cluster extra (pinned by constraints/airflow-3.3.2.txt)"
    "$PYTHON" -m pip install -q -c "$ROOT/constraints/airflow-3.3.2.txt" -e "$ROOT[cluster]"
  fi
}

# Defaults for every Airflow process; a variable the caller already set is kept as it is.
write_settings() {
  local api_port pg_port redis_port
  api_port="$(free_port)"
  pg_port="$(free_port)"
  redis_port="$(free_port)"
  local secret
  secret="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')"
  local api_url="http://127.0.0.1:${AIRFLOW__API__PORT:-$api_port}"
  local db="postgresql+psycopg2://airflow@127.0.0.1:${pg_port}/airflow"
  cat >"$SETTINGS" <<EOF
PG_PORT=$pg_port
REDIS_PORT=$redis_port
DAGS_FOLDER=${DAGS_FOLDER:-$ROOT/dags_examples}
EMULATOR_STATE_DIR=${EMULATOR_STATE_DIR:-$CLUSTER_DIR/emulator}
AIRFLOW_HOME=${AIRFLOW_HOME:-$CLUSTER_DIR/airflow}
AIRFLOW__CORE__DAGS_FOLDER=${DAGS_FOLDER:-$ROOT/dags_examples}
AIRFLOW__CORE__EXECUTOR=CeleryExecutor
AIRFLOW__CORE__LOAD_EXAMPLES=False
AIRFLOW__CORE__UNIT_TEST_MODE=False
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$db
AIRFLOW__CELERY__BROKER_URL=redis://127.0.0.1:$redis_port/0
AIRFLOW__CELERY__RESULT_BACKEND=db+postgresql+psycopg2://airflow@127.0.0.1:$pg_port/airflow
AIRFLOW__CELERY__WORKER_CONCURRENCY=1
AIRFLOW__CORE__PARALLELISM=2
AIRFLOW__TRIGGERER__CAPACITY=1000
AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC=2
AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD=15
AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=True
AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=60
AIRFLOW__API__HOST=127.0.0.1
AIRFLOW__API__PORT=${api_url##*:}
AIRFLOW__API__BASE_URL=$api_url
AIRFLOW__API__WORKERS=1
AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=30
AIRFLOW__CORE__EXECUTION_API_SERVER_URL=$api_url/execution/
AIRFLOW__API_AUTH__JWT_SECRET=$secret
AIRFLOW__API__SECRET_KEY=$secret
AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=10
NO_COLOR=1
EOF
  chmod 600 "$SETTINGS"
}

# Export the settings, letting the caller's own environment win.
load_settings() {
  [ -f "$SETTINGS" ] || die "no cluster at $CLUSTER_DIR (run: scripts/cluster.sh up)"
  local line name value
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    name="${line%%=*}"
    value="${line#*=}"
    if [ -z "${!name+x}" ]; then export "$name=$value"; fi
  done <"$SETTINGS"
  export PATH="$VENV/bin:$PATH"
}

# start NAME COMMAND...: a process in a session of its own, its pid in pids/NAME.pid.
start() {
  local name="$1"
  shift
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$PIDS/$name.pid"
}

alive() { [ -f "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

start_postgres() {
  local bin data="$CLUSTER_DIR/postgres" run="$CLUSTER_DIR/postgres-run"
  bin="$(pg_bin)"
  mkdir -p "$run"
  if [ "$(id -u)" = 0 ]; then chown postgres "$CLUSTER_DIR" "$run"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$LOGS/initdb.log" 2>&1 ||
      die "initdb failed (the postgres user must reach $CLUSTER_DIR): $(tail -n 5 "$LOGS/initdb.log")"
  fi
  as_pg "$bin/pg_ctl" -D "$data" -l "$run/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -k $run -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start \
    >>"$LOGS/postgres.log" 2>&1 || die "PostgreSQL did not start: $(tail -n 20 "$run/postgres.log")"
  head -n 1 "$data/postmaster.pid" >"$PIDS/postgres.pid"
  as_pg "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -q -c "CREATE ROLE airflow LOGIN" \
    >/dev/null 2>&1 || true
  as_pg "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -q -c "CREATE DATABASE airflow OWNER airflow" \
    >/dev/null 2>&1 || true
}

start_emulator() {
  mkdir -p "$EMULATOR_STATE_DIR"
  rm -f "$EMULATOR_STATE_DIR/manifest.json"
  start emulator "$PYTHON" -m airflow_provider_mlpipelines.emulator --port "${EMULATOR_PORT:-0}" \
    --state-dir "$EMULATOR_STATE_DIR" ${EMULATOR_ARGS:-}
  local deadline=$((SECONDS + 120))
  until [ -s "$EMULATOR_STATE_DIR/manifest.json" ]; do
    alive emulator || die "the emulator exited: $(tail -n 20 "$LOGS/emulator.log")"
    [ "$SECONDS" -lt "$deadline" ] || die "the emulator wrote no manifest in 120 s"
    sleep 0.5
  done
  if [ -z "${AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT+x}" ]; then
    AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT="$("$PYTHON" -c \
      'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["airflow_conn"]))' \
      "$EMULATOR_STATE_DIR/manifest.json")"
    export AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT
    # Later commands (status, tests reading cluster.env) see the same connection.
    printf 'AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT=%s\n' "$AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT" \
      >>"$SETTINGS"
  fi
  # The Variables and connections the example DAGs read (dags_examples/), unless the caller
  # set them.
  local name value
  while read -r name value; do
    if [ -z "${!name+x}" ]; then
      export "$name=$value"
      printf '%s=%s\n' "$name" "$value" >>"$SETTINGS"
    fi
  done < <("$PYTHON" - "$EMULATOR_STATE_DIR/manifest.json" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
print("AIRFLOW_VAR_MLPIPELINES_SCORING_RUN_ID", manifest["pipeline_runs"]["score"])
print("AIRFLOW_VAR_MLPIPELINES_TRAINING_RUN_ID", manifest["pipeline_runs"]["train"])
print("AIRFLOW_VAR_MLPIPELINES_DATASTORE_DIR", manifest["datastores"]["workspaceblobstore"])
# The v2 example (example_mlpipelines_v2_batch_scoring): its connection and source job.
print("AIRFLOW_CONN_AZURE_ML_PIPELINES_V2", json.dumps(manifest["airflow_conn_v2"]))
print("AIRFLOW_VAR_MLPIPELINES_V2_SCORING_JOB", manifest["v2_pipeline_jobs"]["score"])
PY
)
}

start_airflow() {
  local name
  for name in "${AIRFLOW_COMPONENTS[@]}"; do start_component "$name"; done
}

# One Airflow component; each worker and triggerer serves its logs on a port of its own.
start_component() {
  local name="$1"
  case "$name" in
    api-server) start "$name" airflow api-server ;;
    scheduler) start "$name" env AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$(free_port)" \
      airflow scheduler ;;
    dag-processor) start "$name" airflow dag-processor ;;
    worker-*) start "$name" env AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$(free_port)" \
      airflow celery worker --celery-hostname "$name@%h" ;;
    triggerer-*) start "$name" env AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$(free_port)" \
      airflow triggerer ;;
    *) die "no component $name (one of: ${AIRFLOW_COMPONENTS[*]})" ;;
  esac
}

wait_for_api() {
  local deadline=$((SECONDS + ${CLUSTER_START_TIMEOUT:-300}))
  until "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
    "$AIRFLOW__API__BASE_URL/api/v2/monitor/health" 2>/dev/null; do
    alive api-server || die "the API server exited: $(tail -n 30 "$LOGS/api-server.log")"
    [ "$SECONDS" -lt "$deadline" ] || die "the API server did not answer in time"
    sleep 1
  done
}

cmd_up() {
  if [ -f "$SETTINGS" ] && alive api-server; then die "already up in $CLUSTER_DIR (down first)"; fi
  ensure_installed
  mkdir -p "$CLUSTER_DIR" "$PIDS" "$LOGS"
  write_settings
  load_settings
  mkdir -p "$AIRFLOW_HOME"
  log "PostgreSQL on port $PG_PORT"
  start_postgres
  log "Redis on port $REDIS_PORT"
  start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no
  log "emulator (state in $EMULATOR_STATE_DIR)"
  start_emulator
  log "airflow db migrate"
  airflow db migrate >"$LOGS/db-migrate.log" 2>&1 || die "db migrate failed: $(tail -n 30 "$LOGS/db-migrate.log")"
  log "Airflow: ${AIRFLOW_COMPONENTS[*]}"
  start_airflow
  wait_for_api
  echo "api: $AIRFLOW__API__BASE_URL"
  echo "manifest: $EMULATOR_STATE_DIR/manifest.json"
  echo "settings: $SETTINGS"
  echo "airflow_home: $AIRFLOW_HOME"
  echo "logs: $LOGS"
  cmd_status
}

cmd_status() {
  local file name state
  for file in "$PIDS"/*.pid; do
    [ -f "$file" ] || continue
    name="$(basename "$file" .pid)"
    if alive "$name"; then state=up; else state=down; fi
    echo "$name: $state pid $(cat "$file") ($file)"
  done
}

# Stop components' whole sessions at once: SIGTERM, then SIGKILL after a grace period.
stop_sessions() {
  local grace="$1" name pid members="" leaders=""
  shift
  for name in "$@"; do
    [ -f "$PIDS/$name.pid" ] || continue
    pid="$(cat "$PIDS/$name.pid")"
    leaders="$leaders $pid"
    members="$members $(ps -eo pid=,sid= | awk -v s="$pid" '$2 == s {print $1}')"
    # SIGCONT too: a stopped process (a test's SIGSTOP) would never act on SIGTERM.
    kill -CONT -- "-$pid" 2>/dev/null || true
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  local deadline=$((SECONDS + grace)) left
  while [ "$SECONDS" -lt "$deadline" ]; do
    left=0
    for pid in $leaders; do
      if ps -eo sid= | grep -qw "$pid"; then left=1; fi
    done
    [ "$left" = 1 ] || break
    sleep 0.5
  done
  for pid in $leaders; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  # A member that left its session (or was reparented) still goes.
  for pid in $members; do kill -KILL "$pid" 2>/dev/null || true; done
  for name in "$@"; do rm -f "$PIDS/$name.pid"; done
}

stop_session() { stop_sessions "${2:-30}" "$1"; }

cmd_down() {
  [ -d "$PIDS" ] || { log "nothing to stop in $CLUSTER_DIR"; return 0; }
  load_settings
  stop_sessions 60 "${AIRFLOW_COMPONENTS[@]}"
  stop_sessions 20 emulator redis
  if [ -f "$PIDS/postgres.pid" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$CLUSTER_DIR/postgres" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    kill -KILL "$(cat "$PIDS/postgres.pid")" 2>/dev/null || true
    rm -f "$PIDS/postgres.pid"
  fi
  log "down"
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) load_settings && cmd_status ;;
    # install: only what up would install (CI does it before the tests, to time it apart).
    install) ensure_installed ;;
    # restart NAME: stop one Airflow component (if it still runs) and start it again.
    restart)
      [ -n "${2:-}" ] || die "usage: $0 restart COMPONENT"
      load_settings
      stop_session "$2" 60
      start_component "$2"
      echo "$2: pid $(cat "$PIDS/$2.pid")"
      ;;
    *) echo "usage: $0 up|down|status|install|restart COMPONENT" >&2; exit 2 ;;
  esac
}

# Parsed whole before it runs: editing this file while it runs cannot break a running command.
main "$@"; exit $?
