"""Data-path and dataset assignments given as JSON text (as a rendered template gives them),
submitted by the operator to the session emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

from .conftest import RecordingTaskInstance

LITERAL = {"LiteralValue": {"DataStoreName": "workspaceblobstore", "RelativePath": "scoring/x.csv"}}


def _submit(published: dict[str, Any], run_id: str, **kwargs: Any) -> tuple[str, Any]:
    operator = AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        experiment_name="assignment-inputs",
        published_pipeline_id=published["score"],
        wait_for_completion=False,
        **kwargs,
    )
    ti = RecordingTaskInstance(run_id=run_id)
    return operator.execute({"ti": ti}), ti


def test_dataset_assignments_as_json_text_reach_the_service(
    hook: Any, published: dict[str, Any]
) -> None:
    # The client declares input_data a data path, not a dataset; the service takes either.
    run_id, _ = _submit(
        published,
        "json_datasets",
        dataset_assignments=json.dumps({"input_data": LITERAL}),
        validate_parameters=False,
    )
    assert hook.get_pipeline_run(run_id).dataset_assignments == {"input_data": LITERAL}


def test_data_path_assignments_as_json_text_are_checked_by_name(
    hook: Any, published: dict[str, Any]
) -> None:
    # Parsed, so the declared-inputs check sees the misspelt name (before: AttributeError).
    text = json.dumps({"input_dat": {"datastore": "workspaceblobstore", "path": "scoring/x.csv"}})
    runs_before = len(hook.list_pipeline_runs(published["score"]))
    with pytest.raises(AzureMLInvalidInputError, match="input_dat") as raised:
        _submit(published, "json_data_paths", data_path_assignments=text)
    assert "input_data" in str(raised.value), "the message should name the declared input"
    assert len(hook.list_pipeline_runs(published["score"])) == runs_before
