"""The trigger run to completion against the emulator, and its events turned into outcomes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_mlpipelines._waiting import handle_trigger_event
from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.exceptions import (
    AzureMLPipelineRunFailedError,
    AzureMLPipelineRunTimeoutError,
    AzureMLPipelinesError,
)
from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import AzureMLPipelineRunTrigger


def _submit(hook: Any, pipeline_id: str, **parameters: Any) -> str:
    submission = hook.build_submission(experiment_name="trigger-tests", parameters=parameters)
    return hook.submit_pipeline_run(pipeline_id, submission).id


async def _first_event(trigger: AzureMLPipelineRunTrigger) -> dict[str, Any]:
    generator = trigger.run()
    event = await generator.__anext__()
    await generator.aclose()
    return event.payload


async def test_trigger_fires_once_the_run_is_finished(hook: Any, published: dict[str, Any]) -> None:
    run_id = _submit(hook, published["simulated"], duration_seconds=1)
    event = await _first_event(AzureMLPipelineRunTrigger(run_id, poll_interval=0.2))
    assert event == {"status": "terminal", "run_id": run_id, "run_status": "Finished"}
    assert handle_trigger_event(hook, event) is PipelineRunStatus.FINISHED


async def test_trigger_event_of_a_failed_run_fails_like_the_sync_path(
    hook: Any, published: dict[str, Any]
) -> None:
    run_id = _submit(hook, published["simulated"], duration_seconds=0.5, outcome="Failed")
    event = await _first_event(AzureMLPipelineRunTrigger(run_id, poll_interval=0.2))
    assert event["run_status"] == "Failed"
    with pytest.raises(AzureMLPipelineRunFailedError, match=f"Pipeline run {run_id} ended Failed"):
        handle_trigger_event(hook, event)


async def test_trigger_timeout_cancels_the_run(hook: Any, published: dict[str, Any]) -> None:
    run_id = _submit(hook, published["simulated"], duration_seconds=60)
    trigger = AzureMLPipelineRunTrigger(
        run_id, poll_interval=0.2, end_time=time.time() + 1, timeout=1, cancel_on_timeout=True
    )
    event = await _first_event(trigger)
    assert event == {"status": "timeout", "run_id": run_id, "timeout": 1, "canceled": True}
    assert hook.get_pipeline_run(run_id).status == PipelineRunStatus.CANCELED
    with pytest.raises(AzureMLPipelineRunTimeoutError, match="it was canceled"):
        handle_trigger_event(hook, event)


async def test_trigger_on_kill_without_a_task_state_to_read_leaves_the_run(
    hook: Any, published: dict[str, Any]
) -> None:
    """Not asked, or no task instance to ask whether a user stopped it (the trigger may only
    be moving to another triggerer): the run goes on. The user's-stop case, which needs a
    triggerer, runs on the cluster (tests/e2e/cluster/test_cluster_lifecycle.py)."""
    not_asked = _submit(hook, published["simulated"], duration_seconds=60)
    await AzureMLPipelineRunTrigger(not_asked, cancel_on_kill=False).on_kill()
    no_state = _submit(hook, published["simulated"], duration_seconds=60)
    await AzureMLPipelineRunTrigger(no_state, cancel_on_kill=True).on_kill()
    assert hook.get_pipeline_run(not_asked).status == PipelineRunStatus.RUNNING
    assert hook.get_pipeline_run(no_state).status == PipelineRunStatus.RUNNING
    hook.cancel_pipeline_run(not_asked)
    hook.cancel_pipeline_run(no_state)


async def test_trigger_reports_an_unknown_run_as_an_error_event(session_conn: Any) -> None:
    event = await _first_event(AzureMLPipelineRunTrigger("no-such-run", poll_interval=0.2))
    assert event["status"] == "error"
    assert "404" in event["message"] and "no-such-run" in event["message"]
    with pytest.raises(AzureMLPipelinesError, match="Waiting for pipeline run no-such-run failed"):
        handle_trigger_event(None, event)  # type: ignore[arg-type]


def test_unexpected_events_are_refused() -> None:
    with pytest.raises(AzureMLPipelinesError, match="Unexpected event"):
        handle_trigger_event(None, None)  # type: ignore[arg-type]
