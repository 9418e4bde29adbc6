"""The sync hook against the emulator: submissions, run state, steps, logs, history, cancel."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from hook_fault_proxy import FaultProxy
from hook_helpers import publish, wait_for_run

from airflow_provider_mlpipelines.api.models import PipelineEndpoint
from airflow_provider_mlpipelines.api.run_tags import SUBMISSION_ID_TAG
from airflow_provider_mlpipelines.api.status import PipelineRunStatus, StepRunStatus
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import (
    AzureMLBadRequestError,
    AzureMLInvalidInputError,
    AzureMLNotFoundError,
)
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook


@pytest.fixture
def endpoint(
    hook: AzureMLPipelinesHook, emulator: EmulatorProcess, simulated_pipeline: Any
) -> PipelineEndpoint:
    """An endpoint: version 0 (default) runs ``simulated``, version 1 another copy of it."""
    created = hook.create_pipeline_endpoint(f"runs-{uuid.uuid4().hex[:8]}", simulated_pipeline.id)
    second = publish(hook, emulator, "simulated")
    return hook.add_pipeline_to_endpoint(created.id, second.id)


def quick(hook: AzureMLPipelinesHook, **parameters: Any) -> Any:
    return hook.build_submission(
        experiment_name="hook-tests",
        parameters={"duration_seconds": 0, **parameters},
        tags={"case": uuid.uuid4().hex},
    )


def test_train_run_end_to_end(hook: AzureMLPipelinesHook, train_pipeline: Any) -> None:
    submission = hook.build_submission(
        experiment_name="hook-train",
        parameters={"epochs": 5, "learning_rate": 0.05},
        description="end to end",
    )
    hook.validate_submission(
        hook.get_pipeline_interface(train_pipeline.id),
        submission,
        target=f"pipeline {train_pipeline.id!r}",
    )
    run = hook.submit_pipeline_run(train_pipeline.id, submission)
    assert run.id and run.tags.get(SUBMISSION_ID_TAG)
    assert run.id in {r.id for r in hook.list_pipeline_runs(train_pipeline.id)}

    finished = wait_for_run(hook, run.id)
    assert finished.status is PipelineRunStatus.FINISHED
    assert finished.description == "end to end"
    assert finished.parameter_assignments.get("epochs") == "5"

    steps = hook.get_step_statuses(run.id)
    assert len(steps) == 2
    assert all(step.status is StepRunStatus.FINISHED for step in steps.values())
    logs = {node: hook.get_step_log(run.id, node, "STDOUT") for node in steps}
    assert any("epochs=5" in text for text in logs.values())

    children = hook.list_child_runs(run.id, finished.experiment_name or "", page_size=1)
    assert {c.node_id for c in children} == set(steps)
    assert {c.name for c in children} == {"train", "evaluate"}
    history = hook.get_history_run(run.id)
    assert history.run_id == run.id and history.pipeline_status is PipelineRunStatus.FINISHED
    assert hook.get_history_run(run.id, finished.experiment_name).run_id == run.id
    details = hook.get_history_run_details(run.id, finished.experiment_name or "")
    assert details.status == "Completed"


def test_submit_to_endpoint_default_and_versions(
    hook: AzureMLPipelinesHook, endpoint: PipelineEndpoint
) -> None:
    default_run = hook.submit_pipeline_endpoint_run(endpoint.id, quick(hook))
    version_run = hook.submit_pipeline_endpoint_run(endpoint.id, quick(hook), pipeline_version="1")
    assert default_run.pipeline_id == endpoint.pipeline_id_of("0")
    assert version_run.pipeline_id == endpoint.pipeline_id_of("1")
    assert wait_for_run(hook, version_run.id).status is PipelineRunStatus.FINISHED
    with pytest.raises(AzureMLNotFoundError):
        hook.submit_pipeline_endpoint_run(endpoint.id, quick(hook), pipeline_version="42")


def test_submit_to_urls_from_the_studio(
    hook: AzureMLPipelinesHook, simulated_pipeline: Any, endpoint: PipelineEndpoint
) -> None:
    by_pipeline_url = hook.submit_to_url(simulated_pipeline.url, quick(hook))
    assert by_pipeline_url.pipeline_id == simulated_pipeline.id
    assert endpoint.url
    by_endpoint_url = hook.submit_to_url(endpoint.url, quick(hook))
    assert by_endpoint_url.pipeline_id == endpoint.pipeline_id_of("0")
    by_version_url = hook.submit_to_url(f"{endpoint.url}/1?pipelineVersion=1", quick(hook))
    assert by_version_url.pipeline_id == endpoint.pipeline_id_of("1")


def test_foreign_url_is_refused_without_sending_anything(
    hook: AzureMLPipelinesHook, emulator: EmulatorProcess, simulated_pipeline: Any
) -> None:
    foreign = simulated_pipeline.url.replace("127.0.0.1", "attacker.example")
    before = emulator.stats()["requests_total"]
    with pytest.raises(AzureMLInvalidInputError, match="not on the connection's service"):
        hook.submit_to_url(foreign, quick(hook))
    # Only the stats call itself reached the emulator in between.
    assert emulator.stats()["requests_total"] == before + 1


def test_service_rejects_an_unknown_parameter_by_name(
    hook: AzureMLPipelinesHook, simulated_pipeline: Any
) -> None:
    submission = hook.build_submission(experiment_name="bad", parameters={"lr": 0.1})
    with pytest.raises(AzureMLBadRequestError) as raised:
        hook.submit_pipeline_run(simulated_pipeline.id, submission)
    assert raised.value.status_code == 400
    assert "lr" in str(raised.value)
    assert f"submit to pipeline '{simulated_pipeline.id}' failed: 400" in str(raised.value)


def test_cancel_a_running_run(hook: AzureMLPipelinesHook, train_pipeline: Any) -> None:
    submission = hook.build_submission(experiment_name="cancel", parameters={"sleep_seconds": 60})
    run = hook.submit_pipeline_run(train_pipeline.id, submission)
    deadline = time.monotonic() + 60
    while hook.get_pipeline_run(run.id).status is not PipelineRunStatus.RUNNING:
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    hook.cancel_pipeline_run(run.id)
    assert wait_for_run(hook, run.id).status is PipelineRunStatus.CANCELED


def test_describe_a_failed_run(hook: AzureMLPipelinesHook, train_pipeline: Any) -> None:
    submission = hook.build_submission(experiment_name="fail", parameters={"epochs": 0})
    run = hook.submit_pipeline_run(train_pipeline.id, submission)
    assert wait_for_run(hook, run.id).status is PipelineRunStatus.FAILED
    failed_node = next(
        node
        for node, step in hook.get_step_statuses(run.id).items()
        if step.status is StepRunStatus.FAILED
    )
    report = hook.describe_run_failure(run.id, max_log_lines=5)
    assert report.startswith("Status detail: ")
    assert f"Step '{failed_node}' (train) Failed" in report
    assert "error: --epochs must be at least 1, got 0" in report


def test_unknown_log_kind_and_unknown_run(hook: AzureMLPipelinesHook) -> None:
    with pytest.raises(AzureMLInvalidInputError, match="STDERR"):
        hook.get_step_log("run", "node", "STDWHATEVER")
    with pytest.raises(AzureMLNotFoundError, match="get run 'no-such-run' failed: 404"):
        hook.get_pipeline_run("no-such-run")


def test_studio_urls(hook: AzureMLPipelinesHook, emulator: EmulatorProcess) -> None:
    manifest = emulator.manifest
    wsid = (
        f"wsid=/subscriptions/{manifest['subscription_id']}/resourcegroups/"
        f"{manifest['resource_group']}/workspaces/{manifest['workspace_name']}"
    )
    run_url = hook.get_run_url("r-1")
    assert run_url.startswith(f"{manifest['studio_url']}/runs/r-1?{wsid}")
    assert run_url.endswith(f"&tid={manifest['tenant_id']}")
    assert hook.get_pipeline_url("p-1").startswith(f"{manifest['studio_url']}/pipelines/p-1?")


def test_request_shapes_on_the_wire(
    emulator: EmulatorProcess,
    make_conn: Any,
    proxy: FaultProxy,
    simulated_pipeline: Any,
    endpoint: PipelineEndpoint,
) -> None:
    parent = emulator.manifest["pipeline_runs"]["simulated"]
    with AzureMLPipelinesHook(make_conn(emulator, host=proxy.base_url)) as hook:
        hook.submit_pipeline_run(simulated_pipeline.id, quick(hook), parent_run_id=parent)
        hook.submit_pipeline_endpoint_run(endpoint.id, quick(hook), pipeline_version="1")
        hook.list_pipeline_endpoints(active_only=False, batch_size=7)
    (pipeline_post,) = proxy.requests_to("POST", r"/PipelineSubmit/")
    assert pipeline_post.path.endswith(
        f"/PipelineSubmit/{simulated_pipeline.id}?parentRunId={parent}"
    )
    (endpoint_post,) = proxy.requests_to("POST", r"/PipelineEndpointSubmit/")
    # The version goes in the path and in the query, as the SDK's client sends it.
    assert endpoint_post.path.endswith(f"/Id/{endpoint.id}/1?pipelineVersion=1")
    body = endpoint_post.json()
    assert body["ExperimentName"] == "hook-tests"
    assert body["ParameterAssignments"] == {"duration_seconds": "0"}
    assert set(body["tags"]) == {"case", SUBMISSION_ID_TAG}
    (listing,) = proxy.requests_to("GET", r"/PipelineEndpoints\?")
    assert listing.path.endswith("/PipelineEndpoints?activeOnly=false")
    assert listing.headers["BatchSize"] == "7"
    assert listing.headers["Authorization"].startswith("Bearer ")
