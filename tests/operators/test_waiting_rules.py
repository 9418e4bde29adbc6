"""The waiting rules shared by operators, sensor and trigger."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_mlpipelines._waiting import OutageTolerance, ProgressLogger
from airflow_provider_mlpipelines.api.models import StepStatus
from airflow_provider_mlpipelines.api.status import PipelineRunStatus, StepRunStatus
from airflow_provider_mlpipelines.exceptions import AzureMLServerError
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

RUNNING = PipelineRunStatus.RUNNING


def _steps(*states: StepRunStatus) -> dict[str, StepStatus]:
    return {f"n{i}": StepStatus(node_id=f"n{i}", status=s) for i, s in enumerate(states)}


def test_progress_is_logged_only_when_status_or_finished_steps_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("progress-test")
    progress = ProgressLogger(log, "run-1")
    with caplog.at_level(logging.INFO, logger="progress-test"):
        news = [
            progress.update(PipelineRunStatus.NOT_STARTED),
            progress.update(PipelineRunStatus.NOT_STARTED),
            progress.update(RUNNING, _steps(StepRunStatus.RUNNING, StepRunStatus.NOT_STARTED)),
            progress.update(RUNNING, _steps(StepRunStatus.RUNNING, StepRunStatus.NOT_STARTED)),
            progress.update(RUNNING),
            progress.update(RUNNING, _steps(StepRunStatus.FINISHED, StepRunStatus.RUNNING)),
            progress.update(PipelineRunStatus.FINISHED),
        ]
    assert news == [True, False, True, False, False, True, True]
    assert caplog.messages == [
        "Pipeline run run-1 is NotStarted",
        "Pipeline run run-1 is Running: 0 of 2 steps done",
        "Pipeline run run-1 is Running: 1 of 2 steps done",
        "Pipeline run run-1 is Finished",
    ]


def test_outage_tolerance_absorbs_errors_for_a_while_then_lets_them_through() -> None:
    now = [0.0]
    tolerance = OutageTolerance(60, clock=lambda: now[0])
    log = logging.getLogger("outage-test")
    error = AzureMLServerError("get run", "'r'", status_code=503)
    tolerance.absorb(error, log, "r")
    now[0] = 59
    tolerance.absorb(error, log, "r")
    tolerance.reset()
    now[0] = 200
    tolerance.absorb(error, log, "r")  # a new outage starts counting afresh
    now[0] = 261
    with pytest.raises(AzureMLServerError):
        tolerance.absorb(error, log, "r")


def test_a_run_that_already_ended_is_never_deferred(hook: Any, published: dict[str, Any]) -> None:
    from airflow_provider_mlpipelines._compat import AIRFLOW_V_3

    if AIRFLOW_V_3:
        from airflow.sdk.exceptions import TaskDeferred
    else:
        from airflow.exceptions import TaskDeferred

    operator = AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        experiment_name="defer-check",
        published_pipeline_id=published["simulated"],
        deferrable=True,
    )
    submission = hook.build_submission(
        experiment_name="defer-check", parameters={"duration_seconds": 30}
    )
    running = hook.submit_pipeline_run(published["simulated"], submission).id
    with pytest.raises(TaskDeferred):
        operator._defer_unless_done({}, running)  # type: ignore[arg-type]
    hook.cancel_pipeline_run(running)
    assert hook.get_pipeline_run(running).status.is_terminal
    assert operator._defer_unless_done({}, running) is None  # type: ignore[arg-type]
