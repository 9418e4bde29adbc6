"""More of a user's intent on the production-shaped cluster (see RELIABILITY.md, "Lifecycle"):
marking a waiting task success, the operator's own ``timeout``, and a user's clear of a
finished task.

Like ``test_cluster_lifecycle.py``, every test drives the real processes of
``scripts/cluster.sh`` through Airflow's REST API and checks, in the emulator, how many pipeline
runs carry the DAG run's tags and how each ended.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.models import PipelineRun
from airflow_provider_mlpipelines.api.status import PipelineRunStatus

from .cluster import Cluster, wait_until
from .test_cluster_lifecycle import TASK_ID, USER_STOP, Bench, deferred_and_polled

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

DAG_IDS = ("mlp_cl_sync", "mlp_cl_deferred", "mlp_cl_sync_timeout", "mlp_cl_deferred_timeout")
#: The ``timeout`` of the ``*_timeout`` DAGs (``SHORT_TIMEOUT_SECONDS`` of their DAG file).
TIMEOUT_SECONDS = 20
#: What a task that timed out says (``AzureMLPipelineRunTimeoutError``).
TIMED_OUT = f"did not finish within {TIMEOUT_SECONDS} s; it was canceled"


class IntentBench(Bench):
    """:class:`Bench` whose DAG runs have no logical date, so that they never collide with the
    dated runs ``test_cluster_lifecycle.py`` triggers on the same DAGs."""

    def trigger(self, dag_id: str, duration_seconds: float) -> str:
        conf = {
            "pipeline_id": self.pipeline_id,
            "parameters": {"duration_seconds": duration_seconds},
        }
        return str(self.api.trigger(dag_id, None, conf)["dag_run_id"])

    def runs_of_task(self, dag_id: str, run_id: str) -> list[PipelineRun]:
        """The DAG run's pipeline runs, oldest first (by their try number tag)."""
        runs = self.runs_of(dag_id, run_id)
        return sorted(runs, key=lambda run: int(run.tags.get("airflow.try_number", "0")))

    def clear(self, dag_id: str, run_id: str) -> None:
        """Clear the task instance as a user does in the UI (its DAG run goes back to queued)."""
        body = {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": [TASK_ID],
            "only_failed": False,
            "reset_dag_runs": True,
        }
        cleared = self.api.call("POST", f"/dags/{dag_id}/clearTaskInstances", json=body)
        assert [ti["task_id"] for ti in cleared["task_instances"]] == [TASK_ID], cleared


@pytest.fixture(scope="module")
def intent(cluster: Cluster) -> Iterator[IntentBench]:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    hook = AzureMLPipelinesHook()
    try:
        source_run = cluster.manifest["pipeline_runs"]["simulated"]
        pipeline = hook.publish_pipeline_from_run(source_run, name="cluster-intent", version="1")
        for dag_id in DAG_IDS:
            cluster.api().wait_for_dag(dag_id, timeout=180)
            cluster.api().unpause(dag_id)
        yield IntentBench(cluster, hook, str(pipeline.id))
    finally:
        hook.close()


def submitted_and_waiting(bench: IntentBench, dag_id: str, run_id: str) -> PipelineRun:
    """Wait until the task waits for its Running pipeline run (in a triggerer when deferred)."""
    if "deferred" in dag_id:
        submitted, _, _ = deferred_and_polled(bench, dag_id, run_id)
        return submitted
    bench.wait_for_task_state(dag_id, run_id, "running")
    return bench.wait_for_running_run(dag_id, run_id)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("dag_id", ["mlp_cl_sync", "mlp_cl_deferred"])
def test_mark_success_cancels_the_run(intent: IntentBench, dag_id: str) -> None:
    run_id = intent.trigger(dag_id, duration_seconds=300)
    submitted = submitted_and_waiting(intent, dag_id, run_id)

    intent.api.call("PATCH", intent.ti_path(dag_id, run_id), json={"new_state": "success"})

    run = intent.only_run_once_ended(dag_id, run_id, timeout=120)
    assert run.id == submitted.id
    assert run.status == PipelineRunStatus.CANCELED
    assert intent.api.wait_for_run(dag_id, run_id, timeout=120)["state"] == "success"
    ti = intent.task_instance(dag_id, run_id)
    assert (ti["state"], ti["try_number"]) == ("success", 1), ti
    wait_until(lambda: USER_STOP in intent.task_log(dag_id, run_id, 1), 60, "the stop is explained")


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("dag_id", "cancel_reason"),
    # The worker's wait cancels; in deferred mode the trigger does, in the triggerer.
    [("mlp_cl_sync_timeout", ""), ("mlp_cl_deferred_timeout", " because the wait timed out")],
    ids=["sync", "deferred"],
)
def test_operator_timeout_cancels_the_run_and_fails_the_task(
    intent: IntentBench, dag_id: str, cancel_reason: str
) -> None:
    run_id = intent.trigger(dag_id, duration_seconds=300)
    submitted = submitted_and_waiting(intent, dag_id, run_id)

    run = intent.only_run_once_ended(dag_id, run_id, timeout=180)
    assert run.id == submitted.id
    assert run.status == PipelineRunStatus.CANCELED
    assert intent.api.wait_for_run(dag_id, run_id, timeout=120)["state"] == "failed"
    ti = intent.task_instance(dag_id, run_id)
    assert (ti["state"], ti["try_number"]) == ("failed", 1), ti

    # The operator's timeout ended the wait, not Airflow's execution_timeout or a user.
    def explained() -> str | None:
        text = intent.task_log(dag_id, run_id, 1)
        return text if TIMED_OUT in text else None

    log = wait_until(explained, 60, "the timeout is explained")
    assert f"Canceled pipeline run {run.id}{cancel_reason}" in log
    assert "execution_timeout" not in log
    assert USER_STOP not in log


@pytest.mark.timeout(600)
def test_clear_of_a_finished_task_submits_a_fresh_run(intent: IntentBench) -> None:
    dag_id = "mlp_cl_sync"
    run_id = intent.trigger(dag_id, duration_seconds=3)
    assert intent.api.wait_for_run(dag_id, run_id, timeout=240)["state"] == "success"
    first = intent.only_run_once_ended(dag_id, run_id)
    assert first.status == PipelineRunStatus.FINISHED

    intent.clear(dag_id, run_id)

    def succeeded_again() -> dict[str, Any] | None:
        ti = intent.task_instance(dag_id, run_id)
        return ti if ti["try_number"] == 2 and ti["state"] == "success" else None

    wait_until(succeeded_again, 240, f"{dag_id} {run_id} {TASK_ID} succeeds again", 2)
    # The clear reset the DAG run, so this waits for the scheduler to end it again.
    assert intent.api.wait_for_run(dag_id, run_id, timeout=120)["state"] == "success"
    runs = intent.runs_of_task(dag_id, run_id)
    assert [(run.tags.get("airflow.try_number"), run.status) for run in runs] == [
        ("1", PipelineRunStatus.FINISHED),
        ("2", PipelineRunStatus.FINISHED),
    ], [(run.id, run.status, run.tags) for run in runs]
    assert runs[0].id == first.id
    assert intent.api.xcom(dag_id, run_id, TASK_ID) == runs[1].id
    assert f"Run {first.id} of an earlier try ended Finished before the task was cleared" in (
        intent.task_log(dag_id, run_id, 2)
    )
