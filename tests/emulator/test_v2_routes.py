"""The emulator's v2 side against the v2 contract: ARM routes, LROs, invoke, jobs, tokens.

One emulator serves the module. Each test names the contract section it checks; expected
values are the contract's, written out here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from v2_client import ML_SCOPE, V2Client

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

DEPLOY_API = "2023-02-01-preview"
READ_DEPLOYMENT_API = "2024-01-01-preview"
JOB_API = "2024-01-01-preview"
CANCEL_API = "2023-04-01-preview"


@pytest.fixture(scope="module")
def v2_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(tmp_path_factory.mktemp("emulator-v2"))
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.fixture(scope="module")
def v2(v2_process: EmulatorProcess) -> Iterator[V2Client]:
    client = V2Client(v2_process.manifest)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def score_component(v2: V2Client) -> str:
    """The shipped ``score`` pipeline's default job, registered as ``score`` version 1."""
    job_name = v2.manifest["v2_pipeline_jobs"]["score"]
    assert v2.wait_job(job_name)["properties"]["status"] == "Completed"
    response = v2.component_from_job("score", "1", job_name)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _endpoint(v2: V2Client, name: str, default: str | None = None) -> dict[str, Any]:
    # Lower- and mixed-case keys on purpose: the service reads requests case-insensitively (1.6).
    props: dict[str, Any] = {"AuthMode": "aadToken", "description": "scoring"}
    if default:
        props["defaults"] = {"deploymentName": default}
    return v2.put_and_wait(
        f"/batchEndpoints/{name}", {"Location": "eastus2", "properties": props}, "2023-10-01"
    )


def _deployment(v2: V2Client, endpoint: str, name: str, component_id: str) -> dict[str, Any]:
    body = {
        "location": "eastus2",
        "properties": {
            "deploymentConfiguration": {
                "deploymentConfigurationType": "PipelineComponent",
                "componentId": {"referenceType": "Id", "assetId": component_id},
                "settings": {"default_compute": "cpu-cluster"},
            }
        },
    }
    return v2.put_and_wait(f"/batchEndpoints/{endpoint}/deployments/{name}", body, DEPLOY_API)


def started(directory: Path, *args: str) -> Iterator[V2Client]:
    """An emulator started with ``args`` and a direct client of it; both stop after."""
    process = EmulatorProcess(directory, extra_args=args).start()
    client = V2Client(process.manifest)
    try:
        yield client
    finally:
        client.close()
        process.stop()


def scoring_endpoint(v2: V2Client, name: str) -> dict[str, Any]:
    """Endpoint ``name`` whose default deployment ``blue`` runs the shipped ``score`` job."""
    job = v2.manifest["v2_pipeline_jobs"]["score"]
    v2.wait_job(job)
    component = v2.component_from_job("score", "1", job).json()["id"]
    _endpoint(v2, name)
    _deployment(v2, name, "blue", component)
    endpoint = v2.arm("GET", f"/batchEndpoints/{name}").json()
    endpoint["properties"]["defaults"] = {"deploymentName": "blue"}
    return v2.put_and_wait(f"/batchEndpoints/{name}", endpoint, "2023-10-01")


@pytest.fixture(scope="module")
def scoring(v2: V2Client, score_component: str) -> dict[str, Any]:
    """Endpoint ``nightly`` with deployment ``blue`` (the default) of ``score`` version 1."""
    _endpoint(v2, "nightly")
    _deployment(v2, "nightly", "blue", score_component)
    endpoint = v2.arm("GET", "/batchEndpoints/nightly").json()
    endpoint["properties"]["defaults"] = {"deploymentName": "blue"}
    return v2.put_and_wait("/batchEndpoints/nightly", endpoint, "2023-10-01")


def _literal_inputs(round_digits: Any = 3) -> dict[str, Any]:
    return {
        "properties": {
            "inputData": {
                "round_digits": {"jobInputType": "Literal", "value": round_digits},
                "input_data": {
                    "JobInputType": "UriFile",
                    "Uri": "azureml://datastores/workspaceblobstore/paths/scoring/2026-01-02.csv",
                },
            }
        }
    }


def test_workspace_reports_its_location_and_discovery(v2: V2Client) -> None:
    body = v2.arm("GET", "", "2024-10-01-preview").json()
    assert body["location"] == "eastus2"
    assert body["properties"]["discoveryUrl"] == v2.manifest["discovery_url"]


def test_arm_routes_need_an_api_version_with_the_arm_error_body(v2: V2Client) -> None:
    response = v2.arm("GET", "/batchEndpoints", None)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"
    unknown = v2.arm("GET", "/batchEndpoints", "1999-01-01")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (
        400,
        "InvalidApiVersionParameter",
    )


def test_each_plane_refuses_the_other_planes_token(v2: V2Client, scoring: dict[str, Any]) -> None:
    # Contract 1.4: ARM routes accept ARM-audience tokens only, scoring routes ML-audience only.
    ml_on_arm = v2.arm("GET", "/batchEndpoints/nightly", token=v2.token(ML_SCOPE))
    assert ml_on_arm.status_code == 401
    assert ml_on_arm.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    uri = scoring["properties"]["scoringUri"]
    arm_on_scoring = v2.url(uri, "POST", json=_literal_inputs())
    assert arm_on_scoring.status_code == 401
    assert "Retry-After" not in arm_on_scoring.headers


def test_endpoint_put_is_a_long_running_operation(v2: V2Client) -> None:
    response = v2.arm(
        "PUT",
        "/batchEndpoints/lro-check",
        json={"location": "eastus2", "properties": {"authMode": "AADToken"}},
    )
    assert response.status_code == 201
    assert response.json()["properties"]["provisioningState"] == "Creating"
    # As recorded: a status URL, the resource as Location, a 30 minute timeout, no Retry-After.
    assert "Retry-After" not in response.headers
    assert "/locations/eastus2/mfeOperationsStatus/" in response.headers["Azure-AsyncOperation"]
    assert response.headers["Location"].split("?")[0].endswith("/batchEndpoints/lro-check")
    assert response.headers["x-ms-async-operation-timeout"] == "PT30M"
    polled = v2.url(response.headers["Azure-AsyncOperation"]).json()
    assert polled["status"] in ("Updating", "Succeeded")
    assert "/mfeOperationsStatus/" in polled["id"]
    assert v2.wait_operation(response)["status"] == "Succeeded"
    endpoint = v2.arm("GET", "/batchEndpoints/lro-check").json()
    assert endpoint["properties"]["provisioningState"] == "Succeeded"
    assert endpoint["properties"]["authMode"] == "AADToken"
    # scoringUri is on the emulator's own host (contract 10).
    assert endpoint["properties"]["scoringUri"].startswith(v2.base_url + "/")
    again = v2.arm("PUT", "/batchEndpoints/lro-check", json=endpoint)
    assert again.status_code == 200


def test_endpoint_put_refuses_a_default_that_is_not_deployed(v2: V2Client) -> None:
    response = v2.arm(
        "PUT",
        "/batchEndpoints/no-such-default",
        json={
            "location": "eastus2",
            "properties": {"authMode": "AADToken", "defaults": {"deploymentName": "green"}},
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "UserError"


def test_component_from_a_job_declares_the_pipelines_inputs(
    v2: V2Client, score_component: str
) -> None:
    body = v2.arm("GET", "/components/score/versions/1", "2024-01-01-preview").json()
    assert body["id"] == score_component
    assert body["name"] == "1"
    spec = body["properties"]["componentSpec"]
    inputs = spec["inputs"]
    assert inputs["round_digits"]["type"] == "integer"
    assert inputs["input_data"]["type"] == "uri_file"
    # As recorded: optional and is_deterministic are strings; sourceJobId is not echoed, and
    # the description is the spec's only.
    assert {item["optional"] for item in inputs.values()} <= {"True", "False"}
    assert spec["is_deterministic"] == "False"
    assert "sourceJobId" not in spec
    assert body["properties"]["description"] is None


def test_component_versions_are_immutable(v2: V2Client, score_component: str) -> None:
    same = v2.component_from_job("score", "1", v2.manifest["v2_pipeline_jobs"]["score"])
    assert same.status_code == 200
    other = v2.component_from_job("score", "1", v2.manifest["v2_pipeline_jobs"]["train"])
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "Conflict"


def test_deployment_references_the_component_by_object(
    v2: V2Client, scoring: dict[str, Any], score_component: str
) -> None:
    body = v2.arm("GET", "/batchEndpoints/nightly/deployments/blue", READ_DEPLOYMENT_API).json()
    config = body["properties"]["deploymentConfiguration"]
    assert config["componentId"] == {"referenceType": "Id", "assetId": score_component}
    assert config["settings"] == {"default_compute": "cpu-cluster"}
    assert body["id"].endswith("/batchEndpoints/nightly/deployments/blue")


def test_invoke_runs_the_default_deployment_for_real(v2: V2Client, scoring: dict[str, Any]) -> None:
    response = v2.invoke(scoring["properties"]["scoringUri"], _literal_inputs(3))
    assert response.status_code == 201, response.text
    job = response.json()
    # As recorded: the service names the job; properties.name is a made-up display name.
    assert job["name"].startswith("batchjob-")
    assert job["properties"]["name"] != job["name"]
    assert response.headers["azureml-model-deployment"] == "blue"
    assert "/batchEndpoints/nightly/deployments/blue" in response.headers["Location"]
    assert job["properties"]["tags"]["azureml.deploymentname"] == "blue"
    done = v2.wait_job(job["name"])
    assert done["properties"]["status"] == "Completed"
    assert done["properties"]["inputs"]["round_digits"] == {
        "jobInputType": "literal",
        "value": "3",
    }
    predictions = Path(v2.manifest["datastores"]["workspaceblobstore"]) / "predictions"
    assert any(job["name"] in path.name for path in predictions.iterdir())


def test_invoke_refuses_undeclared_inputs_and_wrong_literals(
    v2: V2Client, scoring: dict[str, Any]
) -> None:
    uri = scoring["properties"]["scoringUri"]
    before = len(v2.arm("GET", "/jobs", JOB_API).json()["value"])
    undeclared = v2.invoke(
        uri, {"properties": {"inputData": {"epochs": {"jobInputType": "Literal", "value": 3}}}}
    )
    assert undeclared.status_code == 400
    assert undeclared.json()["error"]["target"] == "inputData"
    assert "epochs" in undeclared.json()["error"]["message"]
    wrong = v2.invoke(uri, _literal_inputs("three"))
    assert wrong.status_code == 400
    assert len(v2.arm("GET", "/jobs", JOB_API).json()["value"]) == before


def test_invoke_with_an_unknown_deployment_or_no_default_is_404(
    v2: V2Client, scoring: dict[str, Any]
) -> None:
    unknown = v2.invoke(scoring["properties"]["scoringUri"], _literal_inputs(), deployment="red")
    assert unknown.status_code == 404
    bare = _endpoint(v2, "no-default")
    no_default = v2.invoke(bare["properties"]["scoringUri"], _literal_inputs())
    assert no_default.status_code == 404


def test_by_default_a_repeated_repeatability_id_makes_another_job(
    v2: V2Client, scoring: dict[str, Any]
) -> None:
    uri = scoring["properties"]["scoringUri"]
    key = str(uuid.uuid4())
    first = v2.invoke(uri, _literal_inputs(), headers={"repeatability_request-id": key})
    second = v2.invoke(uri, _literal_inputs(), headers={"repeatability_request-id": key})
    assert first.json()["name"] != second.json()["name"]


def test_by_default_a_requested_job_name_becomes_the_display_name_only(
    v2: V2Client, scoring: dict[str, Any]
) -> None:
    uri = scoring["properties"]["scoringUri"]
    name = f"airflow-{uuid.uuid4().hex[:12]}"
    body = _literal_inputs()
    body["properties"]["name"] = name
    body["properties"]["properties"] = {"experimentName": "asked-for"}
    first = v2.invoke(uri, body)
    again = v2.invoke(uri, body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["name"] != name and again.json()["name"] != first.json()["name"]
    job = v2.job(first.json()["name"])["properties"]
    assert (job["displayName"], job["experimentName"]) == (name, "asked-for")
    assert job["description"] == "Pipeline submission for endpoint: nightly, deployment: blue."


def test_cancel_is_an_operation_and_the_job_ends_canceled(v2: V2Client) -> None:
    seed = v2.manifest["v2_pipeline_jobs"]["simulated"]
    v2.wait_job(seed)
    component = v2.component_from_job("slow", "1", seed).json()["id"]
    _endpoint(v2, "slow")
    _deployment(v2, "slow", "timer", component)
    endpoint = v2.arm("GET", "/batchEndpoints/slow").json()
    body = {
        "properties": {"inputData": {"duration_seconds": {"jobInputType": "Literal", "value": 60}}}
    }
    job = v2.invoke(endpoint["properties"]["scoringUri"], body, deployment="timer").json()
    response = v2.arm("POST", f"/jobs/{job['name']}/cancel", CANCEL_API)
    # As recorded: 202, body null, a Location to poll and no Azure-AsyncOperation.
    assert (response.status_code, response.text) == (202, "null")
    assert "Azure-AsyncOperation" not in response.headers
    assert "/mfeOperationResults/" in response.headers["Location"]
    assert v2.job(job["name"])["properties"]["status"] in ("CancelRequested", "Canceled")
    location = response.headers["Location"]
    deadline = time.monotonic() + 30
    while (result := v2.url(location)).status_code == 202:
        assert result.json() == {}
        assert time.monotonic() < deadline
        time.sleep(0.25)
    assert (result.status_code, result.text) == (200, "")
    assert v2.job(job["name"])["properties"]["status"] == "Canceled"
    # By default a cancel of a job that has ended is refused, as the service does.
    ended = v2.arm("POST", f"/jobs/{job['name']}/cancel", CANCEL_API)
    assert (ended.status_code, ended.json()["error"]["code"]) == (400, "UserError")
    assert "terminal status, it can't be canceled" in ended.json()["error"]["message"]


def test_pipeline_job_checks_the_ml_token_header_when_sent(
    v2: V2Client, score_component: str
) -> None:
    body = {
        "properties": {
            "jobType": "Pipeline",
            "componentId": score_component,
            "experimentName": "direct",
            "inputs": {"round_digits": {"jobInputType": "literal", "value": "1"}},
        }
    }
    name = f"direct-{uuid.uuid4().hex[:8]}"
    wrong = v2.arm("PUT", f"/jobs/{name}", JOB_API, json=body, headers={"x-azureml-token": "x"})
    assert wrong.status_code == 401
    created = v2.arm(
        "PUT", f"/jobs/{name}", JOB_API, json=body, headers={"x-azureml-token": v2.token(ML_SCOPE)}
    )
    assert created.status_code == 201, created.text
    assert v2.wait_job(name)["properties"]["status"] == "Completed"
    assert v2.job(name)["properties"]["experimentName"] == "direct"
    # Older clients send no x-azureml-token; the service takes those (recorded).
    bare = f"bare-{uuid.uuid4().hex[:8]}"
    assert v2.arm("PUT", f"/jobs/{bare}", JOB_API, json=body).status_code == 201


def test_job_steps_are_child_runs_in_run_history(v2: V2Client) -> None:
    name = v2.manifest["v2_pipeline_jobs"]["train"]
    v2.wait_job(name)
    url = f"{v2.base_url}/history/v1.0{v2.ws}/runs/{name}/children?api-version=v1.0"
    children = v2.url(url).json()["value"]
    assert [child["status"] for child in children] == ["Completed"] * len(children)
    assert children and all(child["parentRunId"] == name for child in children)


def test_faults_hit_v2_routes_with_the_arm_error_body(
    v2: V2Client, v2_process: EmulatorProcess, scoring: dict[str, Any]
) -> None:
    with v2_process.faults(fail_next=1, fail_status=503, path_contains="/inference/"):
        response = v2.invoke(scoring["properties"]["scoringUri"], _literal_inputs())
    assert response.status_code == 503
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"]


def test_arm_lists_page_with_an_absolute_next_link(v2: V2Client) -> None:
    for index in range(101):
        response = v2.arm(
            "PUT",
            f"/batchEndpoints/page-{index:03d}",
            json={"location": "eastus2", "properties": {"authMode": "AADToken"}},
        )
        assert response.status_code == 201
    first = v2.arm("GET", "/batchEndpoints").json()
    assert len(first["value"]) == 100
    assert first["nextLink"].startswith(v2.base_url + "/")
    second = v2.url(first["nextLink"]).json()
    names = {e["name"] for e in first["value"]} | {e["name"] for e in second["value"]}
    assert {f"page-{index:03d}" for index in range(101)} <= names
    assert "nextLink" not in second
