"""Failures, timeouts, cancellation and the sensor: the same outcome on every path."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus

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
) -> None:
    dag_run = run_dag(
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
    assert "AzureMLPipelineRunTimeoutError" in output
    assert "it was canceled" in output


def _submit(hook: Any, pipeline_id: str, **parameters: Any) -> str:
    submission = hook.build_submission(experiment_name="outside-airflow", parameters=parameters)
    return hook.submit_pipeline_run(pipeline_id, submission).id


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_waits_for_a_run_started_elsewhere(
    run_dag: Any, hook: Any, published: dict[str, Any], mode: str
) -> None:
    run_id = _submit(hook, published["simulated"], duration_seconds=2)
    dag_run = run_dag(f"mlp_test_sensor_{mode}", run_id=run_id)
    assert dag_run.state == "success"
    assert xcom(dag_run, "wait", "run_status") == "Finished"
    assert run_id in xcom(dag_run, "wait", "run_url")


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_fails_when_the_run_fails(
    run_dag: Any,
    hook: Any,
    published: dict[str, Any],
    mode: str,
    task_output: Callable[[], str],
) -> None:
    run_id = _submit(hook, published["simulated"], duration_seconds=1, outcome="Failed")
    dag_run = run_dag(f"mlp_test_sensor_{mode}", run_id=run_id)
    assert dag_run.state == "failed"
    assert xcom(dag_run, "wait", "run_status") == "Failed"
    output = task_output()
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
