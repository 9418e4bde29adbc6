"""example_mlpipelines_v2_own_component: a user's own pipeline component, registered with
Microsoft's ``MLClient`` (azure-ai-ml 1.35.2, its own venv), deployed and run by the operators.

``tests/wire/own_component.py`` registers ``dags_examples/v2_own_pipeline/pipeline.yml`` (its
command components and their ``src/`` code, which the SDK uploads) on the session emulator,
as a user would. The example then runs
with ``dag.test()`` (the wait deferred), and the submit operator once more synchronously on the
same deployment. What ran is read back through the emulator's v2 routes with a client of their
own: the job's child steps, in order, and the model the user's ``train`` step wrote.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)
from tests.airflow_helpers import INLINE_TRIGGER_LOGGER, deferrals
from tests.emulator.v2_client import V2Client
from tests.operators.conftest import RecordingTaskInstance
from tests.wire.own_component import register_own_component

from .conftest import xcom

DAG_ID = "example_mlpipelines_v2_own_component"
CONN_ID = "azure_ml_pipelines_v2"
COMPONENT = "own_housing_pipeline"
INVOKE = "invoke batch endpoint"
DEFAULT_CONF = {"component": f"azureml:{COMPONENT}:1", "deployment_name": "", "max_rows": 1000}


@pytest.fixture(scope="module")
def registered(deployment: dict[str, Any], emulator: EmulatorProcess) -> Iterator[str]:
    """The example's pipeline component, registered with ``MLClient``; its id as MLClient saw it.

    Also sets the example's v2 connection for the module.
    """
    component_id = register_own_component(emulator.state_dir / "manifest.json")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(deployment["airflow_conn_v2"]))
        yield component_id


@pytest.fixture(scope="module")
def v2(deployment: dict[str, Any]) -> Iterator[V2Client]:
    client = V2Client(deployment)
    try:
        yield client
    finally:
        client.close()


def invokes(emulator: EmulatorProcess) -> int:
    return int(emulator.stats()["requests"].get(INVOKE, 0))


def children(v2: V2Client, job: str) -> list[dict[str, Any]]:
    response = v2.url(f"{v2.base_url}/history/v1.0{v2.ws}/runs/{job}/children")
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def source_rows(datastore_dir: Path) -> int:
    """Rows of the example data under ``housing/`` (the prep step reads every CSV there)."""
    lines = (datastore_dir / "housing" / "train.csv").read_text().splitlines()
    lines += (datastore_dir / "housing" / "validation.csv").read_text().splitlines()[1:]
    return len(lines) - 1


def test_own_component_is_deployed_and_run_deferred_then_sync(
    registered: str,
    run_example: Callable[..., Any],
    v2: V2Client,
    emulator: EmulatorProcess,
    datastore_dir: Path,
    unique_name: Callable[[str], str],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=INLINE_TRIGGER_LOGGER)
    endpoint = unique_name("own")
    assert registered.endswith(f"/components/{COMPONENT}/versions/1"), registered

    # Deferred: the example as shipped. The job queues first, so that the wait really defers.
    before = invokes(emulator)
    with emulator.faults(queue_seconds=3):
        dag_run = run_example(DAG_ID, **{**DEFAULT_CONF, "endpoint_name": endpoint})
    assert dag_run.state == "success"
    assert invokes(emulator) - before == 1, "the job was invoked more than once"
    captured = capfd.readouterr()
    assert deferrals(dag_run, "train", captured.out + captured.err + caplog.text) >= 1

    deployed = xcom(dag_run, "deploy_component")
    assert deployed["version"] == "own-housing-pipeline-1"
    assert deployed["default_version"] == "own-housing-pipeline-1"
    job_name = xcom(dag_run, "train")
    job = v2.job(job_name)["properties"]
    assert job["componentId"] == registered
    assert job["status"] == "Completed"
    steps = children(v2, job_name)
    assert [(c["displayName"], c["status"]) for c in steps] == [
        ("prep", "Completed"),
        ("train", "Completed"),
    ]
    check = xcom(dag_run, "check_training_job")
    assert check["steps"] == ["prep", "train"]
    assert check["rows"] == min(1000, source_rows(datastore_dir))
    model = json.loads(Path(check["model_path"]).read_text())
    assert Path(check["model_path"]).is_relative_to(datastore_dir / "azureml" / job_name)
    assert model["rows"] == check["rows"]

    # Synchronous: the submit operator on the same deployment, with a literal input of its own.
    sync = AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        azure_ml_pipelines_conn_id=CONN_ID,
        experiment_name="own-housing-training",
        pipeline_endpoint_name=endpoint,
        pipeline_version=deployed["version"],
        data_path_assignments={"raw_data": {"datastore": "workspaceblobstore", "path": "housing"}},
        parameters={"max_rows": 7},
        deferrable=False,
        poll_interval=0.5,
        timeout=300,
    )
    ti = RecordingTaskInstance()
    before = invokes(emulator)
    sync_job = sync.execute({"ti": ti})  # type: ignore[arg-type]
    assert invokes(emulator) - before == 1
    assert ti.xcoms["run_status"] == "Finished"
    assert v2.job(sync_job)["properties"]["status"] == "Completed"
    assert [c["displayName"] for c in children(v2, sync_job)] == ["prep", "train"]
    sync_model = datastore_dir / "azureml" / sync_job / "train" / "model" / "model.json"
    assert json.loads(sync_model.read_text())["rows"] == 7
