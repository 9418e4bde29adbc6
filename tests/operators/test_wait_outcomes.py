"""Failures, timeouts, cancellation and the sensor: the same outcome on every path."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from tests.airflow_helpers import deferrals, reschedules
from tests.run_holding import RunHold, run_held

from .conftest import task_state, xcom

MISSING_DATA = {
    "training_data": {"datastore": "workspaceblobstore", "path": "housing/no-such-file.csv"}
}


@pytest.mark.parametrize("mode", ["sync", "deferred"])
def test_a_failed_step_fails_the_task_naming_the_step_and_its_stderr(
    run_dag: Any,
    hook: Any,
    published: dict[str, Any],
    mode: str,
    task_output: Callable[[], str],
    emulator: EmulatorProcess,
) -> None:
    # The step fails at once: the run stays queued until the task has looked, so the
    # deferred mode gets the failure through its trigger.
    dag_run = run_held(
        emulator,
        run_dag,
        f"mlp_test_submit_{mode}_pipeline",
        target=published["train"],
        data_path_assignments=MISSING_DATA,
    )
    assert dag_run.state == "failed"
    assert task_state(dag_run, "submit") == "failed"
    run_id = xcom(dag_run, "submit", "run_id")
    assert xcom(dag_run, "submit", "run_status") == "Failed"
    assert hook.get_pipeline_run(run_id).status == PipelineRunStatus.FAILED
    output = task_output()
    assert (deferrals(dag_run, "submit", output) >= 1) == (mode == "deferred")
    assert "AzureMLPipelineRunFailedError" in output
    assert f"Pipeline run {run_id} ended Failed" in output
    assert "train" in output
    assert "no-such-file.csv" in output, "the last stderr lines of the failed step are shown"


@pytest.mark.parametrize("mode", ["sync", "deferred"])
def test_timeout_cancels_the_remote_run(
    run_dag: Any,
    hook: Any,
    published: dict[str, Any],
    mode: str,
    task_output: Callable[[], str],
) -> None:
    dag_run = run_dag(
        f"mlp_test_timeout_{mode}",
        target=published["train"],
        parameters={"sleep_seconds": 60},
    )
    assert dag_run.state == "failed"
    run_id = xcom(dag_run, "submit", "run_id")
    assert hook.get_pipeline_run(run_id).status == PipelineRunStatus.CANCELED
    output = task_output()
    assert (deferrals(dag_run, "submit", output) >= 1) == (mode == "deferred")
    assert "AzureMLPipelineRunTimeoutError" in output
    assert "it was canceled" in output


def _submit(hook: Any, pipeline_id: str, **parameters: Any) -> str:
    submission = hook.build_submission(experiment_name="outside-airflow", parameters=parameters)
    return hook.submit_pipeline_run(pipeline_id, submission).id


def _run_sensor(
    run_dag: Any, emulator: EmulatorProcess, hook: Any, pipeline_id: str, mode: str, **params: Any
) -> tuple[Any, str]:
    """Run the sensor DAG of ``mode`` on a run that stays queued until the sensor has looked.

    Returns the DagRun and the run id.
    """
    with RunHold(emulator) as hold:
        run_id = _submit(hook, pipeline_id, **params)
        hold.release_after_reads(1)
        dag_run = run_dag(f"mlp_test_sensor_{mode}", run_id=run_id)
    assert hold.released, "the sensor never read the run's status"
    return dag_run, run_id


def _assert_waited_as(mode: str, dag_run: Any, output: str) -> None:
    """The sensor waited the way its mode says: in its slot, rescheduled, or deferred."""
    waits = {
        "reschedule": reschedules(dag_run, "wait"),
        "deferrable": deferrals(dag_run, "wait", output),
    }
    expected = {kind: (n >= 1) for kind, n in waits.items()}
    assert expected == {kind: kind == mode for kind in waits}, waits


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_waits_for_a_run_started_elsewhere(
    run_dag: Any,
    emulator: EmulatorProcess,
    hook: Any,
    published: dict[str, Any],
    mode: str,
    task_output: Callable[[], str],
) -> None:
    dag_run, run_id = _run_sensor(
        run_dag, emulator, hook, published["simulated"], mode, duration_seconds=1
    )
    assert dag_run.state == "success"
    assert xcom(dag_run, "wait", "run_status") == "Finished"
    assert run_id in xcom(dag_run, "wait", "run_url")
    _assert_waited_as(mode, dag_run, task_output())


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_fails_when_the_run_fails(
    run_dag: Any,
    emulator: EmulatorProcess,
    hook: Any,
    published: dict[str, Any],
    mode: str,
    task_output: Callable[[], str],
) -> None:
    dag_run, run_id = _run_sensor(
        run_dag, emulator, hook, published["simulated"], mode, duration_seconds=1, outcome="Failed"
    )
    assert dag_run.state == "failed"
    assert xcom(dag_run, "wait", "run_status") == "Failed"
    output = task_output()
    _assert_waited_as(mode, dag_run, output)
    assert f"Pipeline run {run_id} ended Failed" in output
    assert "work" in output


def test_cancel_operator_stops_a_running_real_step(
    run_dag: Any, hook: Any, published: dict[str, Any]
) -> None:
    run_id = _submit(hook, published["train"], sleep_seconds=60)
    deadline = time.monotonic() + 30
    while hook.get_pipeline_run(run_id).status != PipelineRunStatus.RUNNING:
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    dag_run = run_dag("mlp_test_cancel", run_id=run_id)
    assert dag_run.state == "success"
    assert xcom(dag_run, "cancel") == "Canceled"
    assert hook.get_pipeline_run(run_id).status == PipelineRunStatus.CANCELED
    steps = hook.get_step_statuses(run_id)
    assert {s.status.value for s in steps.values()} <= {"Canceled", "NotStarted"}

    again = run_dag("mlp_test_cancel", run_id=run_id)
    assert again.state == "success"
    assert xcom(again, "cancel") == "Canceled", "an ended run is reported, not canceled again"
