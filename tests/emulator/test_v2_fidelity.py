"""The emulator's v2 answers held against recorded answers of the real service.

For each operation a recording shows (``tests/fixtures/recordings``), the emulator is asked the
same and its answer compared: status code, the headers the recording carries that a client
acts on, and the body's keys two levels deep with their JSON types. A key the recording has
and the emulator lacks fails, unless ``ALLOWED_MISSING`` names it with its reason (each is in
docs/emulator.md, "Fidelity"); keys the emulator adds are allowed (newer api-versions add
keys). Status words and enum values are compared with their casing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_v2_routes import (
    CANCEL_API,
    _deployment,
    _endpoint,
    _literal_inputs,
    scoring_endpoint,
    started,
)
from v2_client import V2Client

from tests.clients.replay import entries

#: Recorded keys the emulator does not answer, and why.
ALLOWED_MISSING = {
    # The recorded invokes ran model deployments: these are model-deployment settings that a
    # pipeline component deployment's job does not have.
    "invoke": {
        "properties.miniBatchSize",
        "properties.errorThreshold",
        "properties.outputFileName",
        "properties.loggingLevel",
        "properties.output",
    },
    # The emulator runs no compute and keeps no managed identity.
    "endpoint": {"identity"},
}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


#: Objects whose keys are names the user or the service chose (tags, inputs, steps...), not
#: part of the schema: compared as objects, their keys not.
FREE_FORM = {"tags", "properties", "inputs", "outputs", "jobs", "inputData", "outputData"}


def shape(body: Any, depth: int = 2, prefix: str = "", *, resource: bool = True) -> dict[str, str]:
    """Every key path of ``body`` down to ``depth`` levels, with its JSON type.

    :param resource: an ARM resource, whose top-level ``properties`` is its schema.
    """
    found: dict[str, str] = {}
    if not isinstance(body, dict) or depth == 0:
        return found
    for key, value in body.items():
        path = f"{prefix}{key}"
        found[path] = json_type(value)
        # ``properties`` at a resource's top is its schema; elsewhere a free-form map.
        if key in FREE_FORM and not (key == "properties" and not prefix and resource):
            continue
        found.update(shape(value, depth - 1, f"{path}.", resource=resource))
    return found


def differences(
    recorded: Any, emulated: Any, allowed: set[str] = frozenset(), *, resource: bool = True
) -> list[str]:
    """What the emulator's answer lacks or types differently (null matches any type)."""
    ours = shape(emulated, resource=resource)
    problems = []
    for path, kind in shape(recorded, resource=resource).items():
        if path in allowed or any(path.startswith(f"{a}.") for a in allowed):
            continue
        parent = path.rpartition(".")[0]
        if parent and ours.get(parent) == "null":
            continue  # unset here (a step without an error, say): nothing below it to compare
        if path not in ours:
            problems.append(f"missing {path}")
        elif "null" not in (kind, ours[path]) and kind != ours[path]:
            problems.append(f"{path}: {ours[path]}, recorded {kind}")
    return problems


def header(response: Any, name: str) -> str | None:
    return next((v for k, v in response.headers.items() if k.lower() == name.lower()), None)


def recorded_header(exchange: dict[str, Any], name: str) -> str | None:
    headers = exchange["ResponseHeaders"]
    return next((str(v) for k, v in headers.items() if k.lower() == name.lower()), None)


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[V2Client]:
    """An emulator with every behaviour switch at its default: as recorded, or best guess."""
    yield from started(tmp_path_factory.mktemp("emulator-fidelity"))


@pytest.fixture(scope="module")
def scoring(v2: V2Client) -> dict[str, Any]:
    return scoring_endpoint(v2, "fidelity")


def test_an_endpoint_put_its_operation_and_its_get_answer_as_recorded(v2: V2Client) -> None:
    put, poll, _, get = entries("batch_endpoint_create.json", 0, 1, 2, 3)
    response = v2.arm(
        "PUT",
        "/batchEndpoints/fidelity-create",
        json={"location": "eastus2", "properties": {"authMode": "aadToken"}},
        api_version="2023-10-01",
    )
    assert response.status_code == put["StatusCode"] == 201
    for name in ("Azure-AsyncOperation", "Location", "x-ms-async-operation-timeout"):
        assert recorded_header(put, name) and header(response, name), name
    assert header(response, "x-ms-async-operation-timeout") == recorded_header(
        put, "x-ms-async-operation-timeout"
    )
    assert recorded_header(put, "Retry-After") is None and header(response, "Retry-After") is None
    assert differences(put["ResponseBody"], response.json(), ALLOWED_MISSING["endpoint"]) == []
    status = v2.url(header(response, "Azure-AsyncOperation") or "").json()
    assert differences(poll["ResponseBody"], status) == []
    assert status["status"] in ("Updating", "Succeeded") and poll["ResponseBody"]["status"] in (
        "Updating",
        "Succeeded",
    )
    v2.wait_operation(response)
    body = v2.arm("GET", "/batchEndpoints/fidelity-create", api_version="2023-10-01").json()
    assert differences(get["ResponseBody"], body, ALLOWED_MISSING["endpoint"]) == []
    assert body["properties"]["authMode"] == get["ResponseBody"]["properties"]["authMode"]


def test_an_endpoint_delete_answers_as_recorded(v2: V2Client) -> None:
    recorded = entries("batch_endpoint_create.json", 8)[0]
    _endpoint(v2, "fidelity-delete")
    response = v2.arm("DELETE", "/batchEndpoints/fidelity-delete", api_version="2023-10-01")
    assert (response.status_code, response.text) == (202, recorded["ResponseBody"]) == (202, "null")
    for name in ("Azure-AsyncOperation", "Location", "x-ms-async-operation-timeout"):
        assert recorded_header(recorded, name) and header(response, name), name
    assert header(response, "x-ms-async-operation-timeout") == recorded_header(
        recorded, "x-ms-async-operation-timeout"
    )
    assert "/mfeOperationResults/" in (header(response, "Location") or "")
    assert v2.wait_operation(response)["status"] == "Succeeded"


def test_a_component_version_answers_as_recorded(v2: V2Client, scoring: dict[str, Any]) -> None:
    recorded = entries("component_from_job.json", 1)[0]
    body = v2.arm("GET", "/components/score/versions/1", "2024-01-01-preview").json()
    assert differences(recorded["ResponseBody"], body) == []
    spec, ours = recorded["ResponseBody"]["properties"]["componentSpec"], body["properties"]
    assert differences(spec, ours["componentSpec"]) == []
    assert {type(v["optional"]) for v in spec["inputs"].values()} == {
        type(v["optional"]) for v in ours["componentSpec"]["inputs"].values()
    }


def test_an_invoke_answers_as_recorded(v2: V2Client, scoring: dict[str, Any]) -> None:
    recorded = entries("batch_invoke.json", 3)[0]
    response = v2.invoke(scoring["properties"]["scoringUri"], _literal_inputs())
    assert response.status_code == recorded["StatusCode"] == 201
    for name in ("Location", "azureml-model-deployment"):
        assert recorded_header(recorded, name) and header(response, name), name
    assert differences(recorded["ResponseBody"], response.json(), ALLOWED_MISSING["invoke"]) == []
    job = v2.job(response.json()["name"])
    recorded_job = entries("batch_invoke.json", 1)[0]
    assert differences(recorded_job["ResponseBody"], job) == []
    ours, theirs = job["properties"], recorded_job["ResponseBody"]["properties"]
    assert set(theirs["tags"]) <= set(ours["tags"]) | {"outputType", "inputType"}
    assert ours["description"].startswith(theirs["description"].split(":")[0])


def test_a_pipeline_job_answers_as_recorded(v2: V2Client) -> None:
    recorded = entries("job_get.json", 0)[0]
    job = v2.job(v2.manifest["v2_pipeline_jobs"]["train"])
    assert differences(recorded["ResponseBody"], job) == []
    for service in ("Tracking", "Studio"):
        assert (
            differences(
                recorded["ResponseBody"]["properties"]["services"][service],
                job["properties"]["services"][service],
            )
            == []
        )


def test_a_cancel_answers_and_is_followed_as_recorded(
    v2: V2Client, scoring: dict[str, Any]
) -> None:
    cancel, first_poll, last_poll = entries("job_cancel.json", 3, 4, 5)
    body = {
        "properties": {"inputData": {"duration_seconds": {"jobInputType": "Literal", "value": 60}}}
    }
    seed = v2.manifest["v2_pipeline_jobs"]["simulated"]
    v2.wait_job(seed)
    component = v2.component_from_job("fidelity-slow", "1", seed).json()["id"]
    _endpoint(v2, "fidelity-slow")
    _deployment(v2, "fidelity-slow", "timer", component)
    endpoint = v2.arm("GET", "/batchEndpoints/fidelity-slow").json()
    job = v2.invoke(endpoint["properties"]["scoringUri"], body, deployment="timer").json()
    response = v2.arm("POST", f"/jobs/{job['name']}/cancel", CANCEL_API)
    assert (response.status_code, response.text) == (cancel["StatusCode"], cancel["ResponseBody"])
    for name in ("Location", "x-ms-async-operation-timeout", "Azure-AsyncOperation"):
        assert (recorded_header(cancel, name) is None) == (header(response, name) is None), name
    polls = []
    deadline = time.monotonic() + 30
    while True:
        poll = v2.url(header(response, "Location") or "")
        polls.append(poll)
        if poll.status_code != 202:
            break
        assert time.monotonic() < deadline
        time.sleep(0.25)
    assert all(p.json() == first_poll["ResponseBody"] for p in polls[:-1])
    assert (polls[-1].status_code, polls[-1].text) == (last_poll["StatusCode"], "")


def test_a_404_answers_with_the_recorded_error_body_and_headers(v2: V2Client) -> None:
    recorded = entries("errors.json", 1)[0]
    response = v2.arm("GET", "/components/no-such-component/versions/1", "2024-01-01-preview")
    assert response.status_code == recorded["StatusCode"] == 404
    assert differences(recorded["ResponseBody"], response.json()) == []
    ours = response.json()["error"]
    assert ours["code"] == recorded["ResponseBody"]["error"]["code"] == "UserError"
    types = {item["type"] for item in ours["additionalInfo"]}
    assert {"Correlation", "InnerError"} <= types
    for name in ("x-ms-correlation-request-id", "x-ms-response-type"):
        assert recorded_header(recorded, name) and header(response, name), name
    assert header(response, "x-ms-request-id") is None


def test_the_discovery_document_has_the_recorded_services(v2: V2Client) -> None:
    recorded = entries("workspace_discovery.json", 1)[0]
    document = v2.url(v2.manifest["discovery_url"]).json()
    assert set(recorded["ResponseBody"]) <= set(document)


def test_run_history_children_answer_the_recorded_keys(v2: V2Client) -> None:
    recorded = entries("run_history_children.json", 0)[0]["ResponseBody"]["value"][0]
    name = v2.manifest["v2_pipeline_jobs"]["train"]
    v2.wait_job(name)
    url = f"{v2.base_url}/history/v1.0{v2.ws}/runs/{name}/children?api-version=v1.0"
    child = v2.url(url).json()["value"][0]
    assert differences(recorded, child, resource=False) == []
