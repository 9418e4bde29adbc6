"""example_mlpipelines_retraining, run with dag.test() against the session emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_provider_mlpipelines.api.status import PipelineRunStatus

from .conftest import task_state, xcom

DAG_ID = "example_mlpipelines_retraining"


def test_new_version_becomes_the_default_and_a_failed_one_is_rolled_back(
    run_example: Callable[..., Any],
    examples_hook: Any,
    datastore_dir: Path,
    unique_name: Callable[[str], str],
) -> None:
    endpoint_name = unique_name("housing-training")

    first = run_example(DAG_ID, endpoint_name=endpoint_name, version_label=unique_name("v"))
    assert first.state == "success"
    pipeline_id = xcom(first, "publish_training_pipeline")
    added = xcom(first, "add_to_training_endpoint")
    assert added["version"] == "0"
    assert added["previous_default_version"] is None
    endpoint = examples_hook.get_pipeline_endpoint(name=endpoint_name)
    assert endpoint.default_version == "0"
    assert endpoint.pipeline_id_of("0") == pipeline_id
    run_id = xcom(first, "train")
    run = examples_hook.get_pipeline_run(run_id)
    assert run.status == PipelineRunStatus.FINISHED
    assert run.pipeline_id == pipeline_id
    assert run.parameter_assignments["epochs"] == "100"
    model = datastore_dir / "models" / run_id / "model.json"
    assert json.loads(model.read_text(encoding="utf-8"))["epochs"] == 100
    report = xcom(first, "report_model")
    assert report["model_path"] == str(model)
    assert report["r2"] > 0.5
    assert task_state(first, "previous_version_exists") == "skipped"
    assert task_state(first, "roll_back_default_version") == "skipped"

    # epochs=0 makes the training step fail: the new version must not stay the default.
    second = run_example(
        DAG_ID, endpoint_name=endpoint_name, version_label=unique_name("v"), epochs=0
    )
    assert second.state == "failed"
    assert task_state(second, "train") == "failed"
    assert task_state(second, "report_model") == "upstream_failed"
    added = xcom(second, "add_to_training_endpoint")
    assert (added["version"], added["previous_default_version"]) == ("1", "0")
    assert task_state(second, "roll_back_default_version") == "success"
    assert xcom(second, "roll_back_default_version") == "0"
    assert xcom(second, "roll_back_default_version", "previous_default_version") == "1"
    endpoint = examples_hook.get_pipeline_endpoint(name=endpoint_name)
    assert endpoint.default_version == "0"
    assert endpoint.version_names == ["0", "1"]
    failed_run = examples_hook.get_pipeline_run(xcom(second, "train", "run_id"))
    assert failed_run.status == PipelineRunStatus.FAILED


def test_a_first_version_that_fails_has_nothing_to_roll_back_to(
    run_example: Callable[..., Any], examples_hook: Any, unique_name: Callable[[str], str]
) -> None:
    endpoint_name = unique_name("housing-training")
    dag_run = run_example(
        DAG_ID, endpoint_name=endpoint_name, version_label=unique_name("v"), epochs=0
    )
    assert dag_run.state == "failed"
    assert task_state(dag_run, "train") == "failed"
    assert task_state(dag_run, "previous_version_exists") == "success"
    assert task_state(dag_run, "roll_back_default_version") == "skipped"
    assert examples_hook.get_pipeline_endpoint(name=endpoint_name).default_version == "0"
