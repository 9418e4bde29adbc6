"""A retried task instance finds the run of its earlier try instead of submitting twice."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.exceptions import AzureMLPipelineRunFailedError
from airflow_provider_mlpipelines.operators._submission import RUN_ID_STATE_KEY
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

from .conftest import RecordingTaskInstance


def _operator(published: dict[str, Any], **kwargs: Any) -> AzureMLSubmitPipelineRunOperator:
    return AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        experiment_name="retries",
        published_pipeline_id=published["simulated"],
        deferrable=False,
        poll_interval=0.2,
        timeout=60,
        **kwargs,
    )


def _runs_of(hook: Any, published: dict[str, Any], airflow_run_id: str) -> list[Any]:
    return [
        run
        for run in hook.list_pipeline_runs(published["simulated"])
        if run.tags.get("airflow.run_id") == airflow_run_id
    ]


def test_retry_reattaches_to_a_live_run_then_reports_the_finished_one(
    hook: Any, published: dict[str, Any]
) -> None:
    airflow_run_id = f"manual__{uuid.uuid4().hex}"
    first = RecordingTaskInstance(run_id=airflow_run_id, try_number=1)
    run_id = _operator(
        published, parameters={"duration_seconds": 2}, wait_for_completion=False
    ).execute({"ti": first})  # type: ignore[arg-type]
    assert first.xcoms["run_id"] == run_id

    # The worker died while the run went on; the retry waits for that same run.
    second = RecordingTaskInstance(run_id=airflow_run_id, try_number=2)
    assert (
        _operator(published, parameters={"duration_seconds": 2}).execute({"ti": second}) == run_id
    )  # type: ignore[arg-type]
    assert second.xcoms["run_status"] == "Finished"

    third = RecordingTaskInstance(run_id=airflow_run_id, try_number=3)
    assert _operator(published).execute({"ti": third}) == run_id  # type: ignore[arg-type]
    assert [run.id for run in _runs_of(hook, published, airflow_run_id)] == [run_id]

    fresh = RecordingTaskInstance(run_id=airflow_run_id, try_number=4)
    new_id = _operator(published, fresh_run_on_retry=True).execute({"ti": fresh})  # type: ignore[arg-type]
    assert new_id != run_id
    assert len(_runs_of(hook, published, airflow_run_id)) == 2


def test_retry_after_a_failed_run_submits_a_fresh_one(hook: Any, published: dict[str, Any]) -> None:
    airflow_run_id = f"manual__{uuid.uuid4().hex}"
    first = RecordingTaskInstance(run_id=airflow_run_id, try_number=1)
    with pytest.raises(AzureMLPipelineRunFailedError):
        _operator(published, parameters={"duration_seconds": 0.5, "outcome": "Failed"}).execute(
            {"ti": first}  # type: ignore[arg-type]
        )
    second = RecordingTaskInstance(run_id=airflow_run_id, try_number=2)
    run_id = _operator(published, parameters={"duration_seconds": 0.5}).execute({"ti": second})  # type: ignore[arg-type]
    assert run_id != first.xcoms["run_id"]
    assert hook.get_pipeline_run(run_id).status == PipelineRunStatus.FINISHED
    assert len(_runs_of(hook, published, airflow_run_id)) == 2


class DictStateStore:
    """Airflow 3.3's task state store accessor, reduced to its get/set."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


def test_the_task_state_store_is_read_before_searching_by_tags(
    hook: Any, published: dict[str, Any]
) -> None:
    store = DictStateStore()
    airflow_run_id = f"manual__{uuid.uuid4().hex}"
    first = RecordingTaskInstance(run_id=airflow_run_id, try_number=1)
    run_id = _operator(
        published, parameters={"duration_seconds": 1}, wait_for_completion=False
    ).execute({"ti": first, "task_state_store": store})  # type: ignore[arg-type]
    assert store.values[RUN_ID_STATE_KEY] == run_id

    # A retry under another Airflow run id can only find the run through the store.
    second = RecordingTaskInstance(run_id=f"{airflow_run_id}-other", try_number=2)
    again = _operator(published).execute({"ti": second, "task_state_store": store})  # type: ignore[arg-type]
    assert again == run_id
