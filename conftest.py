"""Test-session environment, set before anything imports Airflow.

Airflow reads its configuration at import time, so the metadata database (SQLite in a fresh
folder), the DAGs folder and the parallelism are fixed here, in the root conftest, which pytest
loads before any test module.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _prepare_airflow_home() -> None:
    home = Path(tempfile.mkdtemp(prefix="mlpipelines-airflow-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    dags = home / "dags"
    dags.mkdir()
    # One DAGs folder holding both the example DAGs and the tests' DAGs: dag.test() looks
    # DAGs up in the configured folder.
    (dags / "examples").symlink_to(ROOT / "dags_examples", target_is_directory=True)
    (dags / "tests").symlink_to(ROOT / "tests" / "dags", target_is_directory=True)
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
    for key, value in settings.items():
        os.environ[key] = value


if "MLPIPELINES_TEST_AIRFLOW_HOME_READY" not in os.environ:
    _prepare_airflow_home()
    os.environ["MLPIPELINES_TEST_AIRFLOW_HOME_READY"] = "1"
