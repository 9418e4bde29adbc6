"""A real Airflow end to end: ``airflow standalone`` runs the batch-scoring example DAG.

Scheduler, DAG processor, triggerer and API server (Airflow 2.11: webserver) run as separate
processes on a throwaway AIRFLOW_HOME with SQLite; the DAG run is triggered and watched through
the public REST API, the pipeline run happens in the session emulator, and the wait goes
through the triggerer.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess

from .airflow_standalone import TRIGGER_FIRED, AirflowApi, AirflowStandalone

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "example_mlpipelines_batch_scoring"
DATASTORE = "workspaceblobstore"
QUEUE_SECONDS = 3
TASKS = ("publish_scoring_pipeline", "ensure_scoring_endpoint", "score", "check_predictions")
# Seconds; `timeout` stops standalone after this whatever happens. It includes the start-up,
# which takes minutes on a loaded 2-core machine: a stop while the DAG runs fails its tasks.
TIME_LIMIT = 600


@pytest.fixture
def standalone(emulator: EmulatorProcess, tmp_path: Path) -> Iterator[AirflowStandalone]:
    """A running ``airflow standalone`` whose components reach the session emulator."""
    manifest = emulator.manifest
    env = {
        CONN_ENV_VAR: emulator.airflow_conn,
        "AIRFLOW_VAR_MLPIPELINES_SCORING_RUN_ID": manifest["pipeline_runs"]["score"],
        "AIRFLOW_VAR_MLPIPELINES_DATASTORE_DIR": manifest["datastores"][DATASTORE],
        "AIRFLOW_VAR_MLPIPELINES_TRAINING_RUN_ID": manifest["pipeline_runs"]["train"],
        "MLPIPELINES_EXAMPLE_POLL_SECONDS": "2",
    }
    airflow = AirflowStandalone(tmp_path / "airflow", ROOT / "dags_examples", env, TIME_LIMIT)
    try:
        airflow.start()
        yield airflow
    except BaseException:
        print(f"--- airflow standalone log tail ({airflow.log_file}) ---\n{airflow.log_tail()}")
        raise
    finally:
        airflow.stop()


def task_log_folder(home: Path, run_id: str, task_id: str) -> Path:
    return home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"


def trigger_logs(home: Path, run_id: str, task_id: str) -> str:
    """What the triggerer logged for a deferred task (``attempt=N.log.trigger.<job id>.log``)."""
    return "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in sorted(
            task_log_folder(home, run_id, task_id).glob("attempt=*.log.trigger.*.log")
        )
    )


def was_deferred(api: AirflowApi, home: Path, run_id: str, task_id: str) -> bool:
    """Whether the task deferred: Airflow 3 writes it to the audit log, Airflow 2 only to the
    task's own log."""
    if AIRFLOW_V_3:
        return bool(api.events(DAG_ID, run_id, task_id, "deferred"))
    log = task_log_folder(home, run_id, task_id) / "attempt=1.log"
    return "Pausing task as DEFERRED" in log.read_text(encoding="utf-8", errors="replace")


@pytest.mark.slow
@pytest.mark.timeout(TIME_LIMIT + 60)
def test_batch_scoring_in_airflow_standalone_defers_to_the_triggerer(
    standalone: AirflowStandalone, emulator: EmulatorProcess
) -> None:
    endpoint_name = f"housing-scoring-{uuid.uuid4().hex[:8]}"
    try:
        standalone.wait_for_api(timeout=150)
        api: AirflowApi = standalone.api()
        api.wait_for_dag(DAG_ID, timeout=90)
        assert api.unpause(DAG_ID)["is_paused"] is False
        # Runs queue a few seconds before they start, as on a real cluster, so that the scoring
        # run cannot be finished before the operator looks (it would then not defer).
        with emulator.faults(queue_seconds=QUEUE_SECONDS):
            dag_run = api.trigger(
                DAG_ID, logical_date="2026-01-02T00:00:00Z", conf={"endpoint_name": endpoint_name}
            )
            run_id = dag_run["dag_run_id"]
            final = api.wait_for_run(DAG_ID, run_id, timeout=150)
        states = api.task_states(DAG_ID, run_id)
        failed_logs = {
            task_id: standalone.task_logs(DAG_ID, run_id, task_id)
            for task_id, state in states.items()
            if state == "failed"
        }
        for task_id, text in failed_logs.items():
            print(f"--- logs of {task_id} ---\n{text}")
        # The error lines go into the message, which CI's excerpt keeps.
        errors = [
            line[:400]
            for text in failed_logs.values()
            for line in text.splitlines()
            if "error" in line.lower() or "exception" in line.lower()
        ]
        uptime = f"standalone up {standalone.uptime():.0f} s of its {TIME_LIMIT} s limit"
        assert final["state"] == "success", (states, uptime, errors[-15:])
        # A run whose logical date precedes the DAG's start_date "succeeds" with no tasks at all.
        assert states == dict.fromkeys(TASKS, "success")

        # The deferrable wait really went through the triggerer.
        assert was_deferred(api, standalone.home, run_id, "score"), "score was never deferred"
        triggerer_log = trigger_logs(standalone.home, run_id, "score")
        assert TRIGGER_FIRED in triggerer_log
        pipeline_run_id = api.xcom(DAG_ID, run_id, "score")
        assert pipeline_run_id in triggerer_log
        assert api.xcom(DAG_ID, run_id, "score", "run_status") == "Finished"

        # The run scored the logical date's input: one prediction per row of 2026-01-02.
        datastore = Path(emulator.manifest["datastores"][DATASTORE])
        with (datastore / "predictions" / f"{pipeline_run_id}.csv").open(newline="") as handle:
            predictions = list(csv.DictReader(handle))
        assert len(predictions) == 60
        assert api.xcom(DAG_ID, run_id, "check_predictions")["rows"] == 60
    except BaseException:
        print(f"--- airflow standalone log tail ({standalone.log_file}) ---")
        print(standalone.log_tail(120))
        raise
