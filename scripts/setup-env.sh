#!/usr/bin/env bash
# Create the virtual environment (once) and install the provider with pinned dependencies.
# Sourced by the other scripts; safe to run on its own. AIRFLOW_VERSION picks the constraints file.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
VENV="${VENV:-$ROOT/.venv}"
CONSTRAINTS="$ROOT/constraints/airflow-$AIRFLOW_VERSION.txt"
PYTHON_BIN="${PYTHON:-$(command -v python3.11 || command -v python3)}"

if [ ! -f "$CONSTRAINTS" ]; then
  echo "no constraints file for Airflow $AIRFLOW_VERSION: $CONSTRAINTS" >&2
  exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment $VENV with $PYTHON_BIN"
  "$PYTHON_BIN" -m venv "$VENV"
fi
# Airflow 3.0 and 3.1 build the connection form from the hook's widgets, which need the FAB
# provider (flask-appbuilder, wtforms); 3.2 on read the form from get_provider_info.
extra_reqs=()
case "$AIRFLOW_VERSION" in 3.0.* | 3.1.*) extra_reqs=(apache-airflow-providers-fab) ;; esac
stamp="$VENV/.installed-$(cat "$CONSTRAINTS" "$ROOT/setup.cfg" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "==> installing airflow-provider-mlpipelines with Airflow $AIRFLOW_VERSION (pinned by $CONSTRAINTS)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    -c "$CONSTRAINTS" -e "$ROOT[test,openlineage]" "${extra_reqs[@]}" 2> >(grep -v "^WARNING: Location" >&2)
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
