"""Published pipelines, graphs and the error bodies of the pipelines routes."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_client import ApiClient

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import PipelineInterface, PublishedPipeline
from airflow_provider_mlpipelines.api.status import EntityStatus, ParameterType


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["Correlation"]["RequestId"] == response.headers["x-ms-request-id"]
    return body["Error"]


def test_seed_runs_are_finished_and_expose_graph_and_interface(api: ApiClient) -> None:
    run = api.ok(routes.RUN_GET, run_id=api.manifest["pipeline_runs"]["train"])
    assert run["Status"]["StatusCode"] == 3  # Finished
    graph = api.ok(routes.GRAPH_GET, graph_id=run["GraphId"])
    assert [n["Comment"] for n in graph["ModuleNodes"]] == ["train", "evaluate"]
    interface = PipelineInterface.from_json(api.ok(routes.GRAPH_INTERFACE, graph_id=run["GraphId"]))
    types = {p.name: p.type for p in interface.parameters}
    assert types == {
        "learning_rate": ParameterType.DOUBLE,
        "epochs": ParameterType.INT,
        "sleep_seconds": ParameterType.DOUBLE,
    }
    assert interface.data_path_names == ["training_data"]
    assert interface.dataset_names == ["validation_data"]


def test_publish_renders_the_contract_entity(api: ApiClient) -> None:
    body = api.publish("score", Version="7", Description="nightly scoring", Properties={"a": "b"})
    pipeline = PublishedPipeline.from_json(body)
    assert pipeline.name == "score"
    assert pipeline.version == "7"
    assert pipeline.total_run_steps == 1
    assert pipeline.status is EntityStatus.ACTIVE
    assert body["EntityStatus"] == "Active"
    assert pipeline.properties == {"a": "b"}
    scope = api.url(routes.PIPELINE_SUBMIT, pipeline_id=pipeline.id)
    assert pipeline.url == scope
    assert "tags" not in body
    assert api.ok(routes.PIPELINE_GET, pipeline_id=pipeline.id)["Id"] == pipeline.id
    assert api.get(f"/studio/pipelines/{pipeline.id}").status_code == 200


def test_publish_can_change_parameter_defaults(api: ApiClient) -> None:
    run = api.ok(routes.RUN_GET, run_id=api.manifest["pipeline_runs"]["train"])
    interface = api.ok(routes.GRAPH_INTERFACE, graph_id=run["GraphId"])
    for parameter in interface["Parameters"]:
        if parameter["Name"] == "epochs":
            parameter["DefaultValue"] = "12"
    published = api.publish("train", GraphInterface=interface)
    new_interface = api.ok(routes.GRAPH_INTERFACE, graph_id=published["GraphId"])
    defaults = {p["Name"]: p["DefaultValue"] for p in new_interface["Parameters"]}
    assert defaults["epochs"] == "12"
    bad = dict(interface, Parameters=[{"Name": "epochs", "DefaultValue": "x", "Type": "0"}])
    error = _error(
        api.request(
            routes.PIPELINE_CREATE,
            body={"Name": "t", "Graph": {"Id": run["GraphId"]}, "GraphInterface": bad},
        ),
        400,
    )
    assert "epochs" in error["Message"]


def test_status_put_disables_and_list_filters_active_only(api: ApiClient) -> None:
    pipeline = api.publish("simulated")
    pid = pipeline["Id"]
    assert api.ok(routes.PIPELINE_SET_STATUS, body="Disabled", pipeline_id=pid) is None
    assert api.ok(routes.PIPELINE_GET, pipeline_id=pid)["EntityStatus"] == "Disabled"
    active = {p["Id"] for p in api.ok(routes.PIPELINE_LIST, params={"activeOnly": "true"})}
    everything = {p["Id"] for p in api.ok(routes.PIPELINE_LIST, params={"activeOnly": "false"})}
    assert pid not in active
    assert pid in everything
    error = _error(
        api.request(routes.PIPELINE_SUBMIT, body={"ExperimentName": "e"}, pipeline_id=pid), 400
    )
    assert error["Code"] == "PipelineDisabled"
    api.ok(routes.PIPELINE_SET_STATUS, body="Active", pipeline_id=pid)
    assert pid in {p["Id"] for p in api.ok(routes.PIPELINE_LIST)}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [({"Status": "Disabled"}, "JSON string"), (2, "JSON string"), ("Sleeping", "not a status")],
)
def test_status_put_rejects_non_string_or_unknown_status(
    api: ApiClient, published: dict[str, Any], body: Any, fragment: str
) -> None:
    response = api.request(
        routes.PIPELINE_SET_STATUS, body=body, pipeline_id=published["train"]["Id"]
    )
    assert fragment in _error(response, 400)["Message"]


def test_runs_of_a_pipeline_are_listed(api: ApiClient, published: dict[str, Any]) -> None:
    pid = published["simulated"]["Id"]
    run = api.submit(pid, ParameterAssignments={"duration_seconds": "0"})
    listed = api.ok(routes.PIPELINE_RUNS, pipeline_id=pid)
    assert run["Id"] in [r["Id"] for r in listed]
    assert all(r["PipelineId"] == pid for r in listed)


@pytest.mark.parametrize(
    ("route", "values"),
    [
        (routes.PIPELINE_GET, {"pipeline_id": "missing"}),
        (routes.GRAPH_GET, {"graph_id": "missing"}),
        (routes.GRAPH_INTERFACE, {"graph_id": "missing"}),
        (routes.PIPELINE_RUNS, {"pipeline_id": "missing"}),
        (routes.RUN_GET, {"run_id": "missing"}),
        (routes.ENDPOINT_GET_BY_ID, {"endpoint_id": "missing"}),
    ],
)
def test_unknown_ids_are_404_not_found(
    api: ApiClient, route: routes.Route, values: dict[str, str]
) -> None:
    error = _error(api.request(route, **values), 404)
    assert error["Code"] == "NotFound"
    assert "missing" in error["Message"]


def test_submission_errors_name_the_problem(api: ApiClient, published: dict[str, Any]) -> None:
    pid = published["train"]["Id"]

    def submit(body: Any = None, data: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"data": data} if data is not None else {"body": body}
        return _error(api.request(routes.PIPELINE_SUBMIT, pipeline_id=pid, **kwargs), 400)

    unknown = submit({"ExperimentName": "e", "ParameterAssignments": {"lr": "0.1"}})
    assert unknown["Code"] == "ParameterNotFound"
    assert unknown["Message"] == (
        "Parameter 'lr' is not declared by pipeline 'train'; "
        "declared: learning_rate, epochs, sleep_seconds"
    )
    wrong_type = submit({"ExperimentName": "e", "ParameterAssignments": {"epochs": "ten"}})
    assert wrong_type["Code"] == "InvalidParameterValue"
    assert "'epochs'" in wrong_type["Message"]
    assert "Int" in wrong_type["Message"]
    camel = submit({"experimentName": "e"})
    assert camel["Code"] == "InvalidFieldName"
    assert "'ExperimentName'" in camel["Message"]
    tags = submit({"ExperimentName": "e", "Tags": {"a": "b"}})
    assert "did you mean 'tags'" in tags["Message"]
    malformed = submit(data="{not json")
    assert malformed["Code"] == "InvalidJson"
    missing = submit({"Description": "no experiment"})
    assert "ExperimentName" in missing["Message"]


def test_unknown_route_and_method_get_json_errors(api: ApiClient) -> None:
    missing = api.session.get(api.base_url + "/nope", verify=api.ca, timeout=30)
    assert missing.status_code == 404
    assert missing.json()["Error"]["Code"] == "NotFound"
    response = api.session.patch(
        api.url(routes.PIPELINE_LIST),
        headers={"Authorization": f"Bearer {api.token()}"},
        verify=api.ca,
        timeout=30,
    )
    assert response.status_code == 405
    assert "does not support HTTP method 'PATCH'" in response.json()["Error"]["Message"]


@pytest.mark.parametrize("key", ["subscription_id", "resource_group", "workspace_name"])
def test_another_workspace_is_404(api: ApiClient, key: str) -> None:
    url = api.base_url + routes.PIPELINE_LIST.format(**dict(api.scope, **{key: "elsewhere"}))
    response = api.session.get(
        url, headers={"Authorization": f"Bearer {api.token()}"}, verify=api.ca, timeout=30
    )
    error = _error(response, 404)
    assert "elsewhere" in error["Message"]
    history = api.base_url + routes.HISTORY_RUN.format(
        **dict(api.scope, **{key: "elsewhere"}), run_id="x"
    )
    response = api.session.get(
        history, headers={"Authorization": f"Bearer {api.token()}"}, verify=api.ca, timeout=30
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"
