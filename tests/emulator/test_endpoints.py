"""Pipeline endpoints: create, look up, update, list, and submit to a version."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from emulator_client import ApiClient

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import PipelineEndpoint, PipelineVersion

FAST = {"ParameterAssignments": {"duration_seconds": "0"}}


@pytest.fixture
def two_pipelines(api: ApiClient) -> tuple[str, str]:
    """Two published versions of the simulated pipeline."""
    return api.publish("simulated", Version="1")["Id"], api.publish("simulated", Version="2")["Id"]


@pytest.fixture
def endpoint(api: ApiClient, two_pipelines: tuple[str, str]) -> dict[str, Any]:
    """An endpoint with versions "0" (first pipeline) and "1" (second, not default)."""
    name = f"scoring-{uuid.uuid4().hex[:8]}"
    created = api.ok(routes.ENDPOINT_CREATE, body={"Name": name, "PipelineId": two_pipelines[0]})
    created["PipelineVersionList"].append({"Version": "1", "PipelineId": two_pipelines[1]})
    return api.ok(routes.ENDPOINT_UPDATE, body=created, endpoint_id=created["Id"])


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["Error"]


def test_create_and_look_up_an_endpoint(api: ApiClient, two_pipelines: tuple[str, str]) -> None:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    body = api.ok(
        routes.ENDPOINT_CREATE,
        body={"Name": name, "PipelineId": two_pipelines[0], "Description": "d"},
    )
    endpoint = PipelineEndpoint.from_json(body)
    assert endpoint.default_version == "0"
    assert endpoint.versions == [PipelineVersion("0", two_pipelines[0])]
    assert endpoint.url == api.url(routes.ENDPOINT_SUBMIT, endpoint_id=endpoint.id)
    assert body["EntityStatus"] == "Active"
    assert body["tags"] == {}
    assert api.ok(routes.ENDPOINT_GET_BY_ID, endpoint_id=endpoint.id)["Name"] == name
    by_name = api.ok(routes.ENDPOINT_GET_BY_NAME, params={routes.QUERY_ENDPOINT_NAME: name})
    assert by_name["Id"] == endpoint.id
    missing = api.request(routes.ENDPOINT_GET_BY_NAME, params={"Name": "no-such-endpoint"})
    assert _error(missing, 404)["Code"] == "NotFound"
    assert _error(api.request(routes.ENDPOINT_GET_BY_NAME), 400)["Code"] == "MissingField"


def test_duplicate_name_is_409(api: ApiClient, endpoint: dict[str, Any]) -> None:
    pipeline_id = endpoint["PipelineVersionList"][0]["PipelineId"]
    response = api.request(
        routes.ENDPOINT_CREATE, body={"Name": endpoint["Name"], "PipelineId": pipeline_id}
    )
    assert _error(response, 409)["Code"] == "DuplicateName"


def test_create_with_unknown_pipeline_is_404(api: ApiClient) -> None:
    response = api.request(routes.ENDPOINT_CREATE, body={"Name": "x-unknown", "PipelineId": "nope"})
    assert _error(response, 404)["Target"] == "PipelineId"


def test_update_adds_versions_sets_default_renames_and_disables(
    api: ApiClient, endpoint: dict[str, Any]
) -> None:
    assert [v["Version"] for v in endpoint["PipelineVersionList"]] == ["0", "1"]
    changed = dict(endpoint, DefaultVersion="1", Name=endpoint["Name"] + "-renamed")
    updated = api.ok(routes.ENDPOINT_UPDATE, body=changed, endpoint_id=endpoint["Id"])
    assert updated["DefaultVersion"] == "1"
    assert updated["Etag"] != endpoint["Etag"]
    found = api.ok(routes.ENDPOINT_GET_BY_NAME, params={"Name": changed["Name"]})
    assert found["Id"] == endpoint["Id"]
    old = api.request(routes.ENDPOINT_GET_BY_NAME, params={"Name": endpoint["Name"]})
    assert old.status_code == 404
    disabled = api.ok(
        routes.ENDPOINT_UPDATE,
        body=dict(updated, EntityStatus="Disabled"),
        endpoint_id=endpoint["Id"],
    )
    assert disabled["EntityStatus"] == "Disabled"
    error = _error(
        api.request(
            routes.ENDPOINT_SUBMIT, body={"ExperimentName": "e"}, endpoint_id=endpoint["Id"]
        ),
        400,
    )
    assert error["Code"] == "PipelineEndpointDisabled"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"PipelineVersionList": []}, 400, "InvalidBody"),
        ({"DefaultVersion": "9"}, 400, "VersionNotFound"),
        ({"Etag": '"stale"'}, 412, "EtagMismatch"),
        ({"Id": "other"}, 400, "IdMismatch"),
    ],
)
def test_update_rejects_invalid_entities(
    api: ApiClient, endpoint: dict[str, Any], change: dict[str, Any], status: int, code: str
) -> None:
    response = api.request(
        routes.ENDPOINT_UPDATE, body=dict(endpoint, **change), endpoint_id=endpoint["Id"]
    )
    assert _error(response, status)["Code"] == code


def test_update_keeps_existing_versions_and_rejects_duplicate_pipelines(
    api: ApiClient, endpoint: dict[str, Any]
) -> None:
    first = endpoint["PipelineVersionList"][0]
    repointed = dict(endpoint, PipelineVersionList=[first])
    assert (
        _error(
            api.request(routes.ENDPOINT_UPDATE, body=repointed, endpoint_id=endpoint["Id"]), 400
        )["Code"]
        == "InvalidVersionList"
    )
    duplicate = dict(
        endpoint,
        PipelineVersionList=[
            *endpoint["PipelineVersionList"],
            {"Version": "2", "PipelineId": first["PipelineId"]},
        ],
    )
    assert (
        _error(
            api.request(routes.ENDPOINT_UPDATE, body=duplicate, endpoint_id=endpoint["Id"]), 400
        )["Code"]
        == "DuplicatePipeline"
    )


def test_list_honours_batch_size_and_lists_pipelines(
    api: ApiClient, endpoint: dict[str, Any]
) -> None:
    everything = api.ok(routes.ENDPOINT_LIST)
    assert endpoint["Id"] in [e["Id"] for e in everything]
    assert len(everything) >= 2
    capped = api.ok(routes.ENDPOINT_LIST, headers={routes.HEADER_BATCH_SIZE: "1"})
    assert len(capped) == 1
    bad = api.request(routes.ENDPOINT_LIST, headers={routes.HEADER_BATCH_SIZE: "lots"})
    assert _error(bad, 400)["Target"] == routes.HEADER_BATCH_SIZE
    pipelines = api.ok(routes.ENDPOINT_PIPELINES, endpoint_id=endpoint["Id"])
    assert [p["Id"] for p in pipelines] == [
        v["PipelineId"] for v in endpoint["PipelineVersionList"]
    ]


@pytest.mark.parametrize(
    ("path_version", "query_version", "expected_index"),
    [
        (None, None, 0),
        ("1", None, 1),
        (None, "1", 1),
        ("1", "1", 1),
        ("0", "0", 0),
    ],
)
def test_submit_accepts_the_version_in_path_query_both_or_neither(
    api: ApiClient,
    endpoint: dict[str, Any],
    path_version: str | None,
    query_version: str | None,
    expected_index: int,
) -> None:
    params = {routes.QUERY_PIPELINE_VERSION: query_version} if query_version else None
    route = routes.ENDPOINT_SUBMIT_VERSION if path_version else routes.ENDPOINT_SUBMIT
    values = {"pipeline_version": path_version} if path_version else {}
    run = api.ok(
        route,
        body={"ExperimentName": "endpoint-tests", **FAST},
        params=params,
        endpoint_id=endpoint["Id"],
        **values,
    )
    expected = endpoint["PipelineVersionList"][expected_index]["PipelineId"]
    assert run["PipelineId"] == expected
    assert run["Properties"]["azureml.pipelineid"] == expected
    assert api.wait(run["Id"])["Status"]["StatusCode"] == 3


def test_submit_version_errors(api: ApiClient, endpoint: dict[str, Any]) -> None:
    body = {"ExperimentName": "endpoint-tests", **FAST}
    mismatch = api.request(
        routes.ENDPOINT_SUBMIT_VERSION,
        body=body,
        params={routes.QUERY_PIPELINE_VERSION: "0"},
        endpoint_id=endpoint["Id"],
        pipeline_version="1",
    )
    assert _error(mismatch, 400)["Code"] == "VersionMismatch"
    unknown = api.request(
        routes.ENDPOINT_SUBMIT_VERSION, body=body, endpoint_id=endpoint["Id"], pipeline_version="42"
    )
    error = _error(unknown, 404)
    assert "Version '42'" in error["Message"]
    assert "versions: 0, 1" in error["Message"]
    second = endpoint["PipelineVersionList"][1]["PipelineId"]
    api.ok(routes.PIPELINE_SET_STATUS, body="Disabled", pipeline_id=second)
    disabled = api.request(
        routes.ENDPOINT_SUBMIT_VERSION, body=body, endpoint_id=endpoint["Id"], pipeline_version="1"
    )
    assert _error(disabled, 400)["Code"] == "PipelineDisabled"
