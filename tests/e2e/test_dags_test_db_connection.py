"""``airflow dags test`` of a deferrable task whose connection is stored in the metadata DB.

Most users add connections in the UI, that is, to the metadata DB. ``airflow dags test`` runs
the trigger in-process, where Airflow 3.3's stand-in supervisor answers only synchronous
connection requests; the async hook must still find the connection. The test runs the real
CLI in a fresh ``AIRFLOW_HOME`` (``airflow db migrate``, ``airflow connections add``), with no
``AIRFLOW_CONN_...`` variable anywhere in the command's environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess

DAG_ID = "mlp_dags_test_db_connection"
CONN_ID = "azure_ml_pipelines_default"
AIRFLOW = str(Path(sys.executable).parent / "airflow")

DAG_FILE = f'''
from datetime import datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

with DAG(
    "{DAG_ID}",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
):
    AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        azure_ml_pipelines_conn_id="{CONN_ID}",
        experiment_name="dags-test-db-connection",
        published_pipeline_id="{{{{ dag_run.conf['pipeline_id'] }}}}",
        parameters={{"duration_seconds": 1}},
        deferrable=True,
        poll_interval=1,
        timeout=300,
    )
'''


def _airflow(home: Path, *args: str, timeout: float = 600) -> str:
    """Run the ``airflow`` CLI of this interpreter's environment; returns its output.

    :param home: the ``AIRFLOW_HOME``.
    :param args: the CLI arguments.
    :param timeout: seconds before the command is killed.
    """
    # Only the settings of this test's own home: no AIRFLOW_CONN_... (nor anything else of
    # the test session's Airflow configuration) reaches the command.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
    )
    result = subprocess.run(
        [AIRFLOW, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"airflow {' '.join(args[:2])} failed:\n{output[-6000:]}"
    return output


def _publish_simulated(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    # The test process (not the CLI) publishes, through the environment connection.
    monkeypatch.setenv(CONN_ENV_VAR, emulator.airflow_conn)
    hook = AzureMLPipelinesHook()
    try:
        run_id = emulator.manifest["pipeline_runs"]["simulated"]
        name = f"dags-test-{uuid.uuid4().hex[:8]}"
        return hook.publish_pipeline_from_run(run_id, name=name, version="1").id
    finally:
        hook.close()


def _runs_of(pipeline_id: str) -> list[Any]:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    hook = AzureMLPipelinesHook()
    try:
        return hook.list_pipeline_runs(pipeline_id)
    finally:
        hook.close()


@pytest.mark.slow
def test_a_deferrable_task_finds_a_connection_stored_in_the_metadata_db(
    tmp_path: Path,
    emulator_factory: Callable[..., EmulatorProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = emulator_factory()
    pipeline_id = _publish_simulated(emulator, monkeypatch)
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "dags_test_db_connection.py").write_text(DAG_FILE, encoding="utf-8")

    _airflow(home, "db", "migrate")
    _airflow(home, "connections", "add", CONN_ID, "--conn-json", emulator.airflow_conn)
    # The run waits NotStarted for a while, as while a cluster scales up: the task submits,
    # finds it still going and defers, so the wait really is the trigger's.
    with emulator.faults(queue_seconds=4):
        output = _airflow(
            home, "dags", "test", DAG_ID, "-c", json.dumps({"pipeline_id": pipeline_id})
        )

    assert "isn't defined" not in output, output[-6000:]
    runs = _runs_of(pipeline_id)
    assert len(runs) == 1, f"expected one run, the emulator holds {len(runs)}"
    assert runs[0].status == PipelineRunStatus.FINISHED
    # The trigger ran in-process and polled the run while it was queued: it got the
    # connection from the metadata DB.
    trigger_start = output.index("[DAG TEST] running trigger in line")
    polled = output.index(f"Pipeline run {runs[0].id} is NotStarted", trigger_start)
    assert polled < output.index("[DAG TEST] Trigger completed", trigger_start)
    finished = re.search(rf"DagRun Finished: dag_id={DAG_ID},.*?state=(\w+)", output)
    assert finished is not None and finished.group(1) == "success", output[-6000:]
