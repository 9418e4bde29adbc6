"""Publishing takes any run, and publishes the graph the client posts, not the stored one.

Raw REST calls (``requests`` with a real azure-identity token) against the session emulator.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from emulator_client import ApiClient

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.status import PipelineRunStatus, StepRunStatus


def _graph_of_run(api: ApiClient, run_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    run = api.ok(routes.RUN_GET, run_id=run_id)
    graph = api.ok(routes.GRAPH_GET, graph_id=run["GraphId"])
    interface = api.ok(routes.GRAPH_INTERFACE, graph_id=run["GraphId"])
    return graph, interface


def _publish_body(graph: dict[str, Any], interface: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": f"posted-{uuid.uuid4().hex[:8]}",
        "Graph": graph,
        "GraphInterface": interface,
    }


def _step_statuses(api: ApiClient, run_id: str) -> dict[str, StepRunStatus]:
    run = api.ok(routes.RUN_GET, run_id=run_id)
    graph = api.ok(routes.GRAPH_GET, graph_id=run["GraphId"])
    names = {node["Id"]: node["Comment"] for node in graph["ModuleNodes"]}
    return {
        names[node]: StepRunStatus.parse(status["StatusCode"])
        for node, status in api.steps(run_id).items()
    }


def _pipeline_count(api: ApiClient) -> int:
    return len(api.ok(routes.PIPELINE_LIST, params={"activeOnly": "false"}))


def test_a_run_that_really_executed_can_be_published_and_its_pipeline_runs(
    api: ApiClient, published: dict[str, dict[str, Any]]
) -> None:
    executed = api.submit(published["train"]["Id"], ParameterAssignments={"epochs": "3"})
    done = api.wait(executed["Id"], timeout=180)
    assert PipelineRunStatus.from_status(done["Status"]["StatusCode"]) is PipelineRunStatus.FINISHED
    assert _step_statuses(api, executed["Id"]) == {
        "train": StepRunStatus.FINISHED,
        "evaluate": StepRunStatus.FINISHED,
    }, "the source run must have executed its steps (a seed run's are Bypassed)"

    graph, interface = _graph_of_run(api, executed["Id"])
    republished = api.ok(routes.PIPELINE_CREATE, body=_publish_body(graph, interface))
    assert republished["TotalRunSteps"] == 2
    assert republished["GraphId"] not in (graph["Id"], published["train"]["GraphId"])

    rerun = api.submit(republished["Id"], ParameterAssignments={"epochs": "2"})
    finished = api.wait(rerun["Id"], timeout=180)
    assert (
        PipelineRunStatus.from_status(finished["Status"]["StatusCode"])
        is PipelineRunStatus.FINISHED
    )
    assert finished["PipelineId"] == republished["Id"]
    assert set(_step_statuses(api, rerun["Id"]).values()) == {StepRunStatus.FINISHED}


def test_a_step_left_out_of_the_posted_graph_is_left_out_of_the_pipeline(
    api: ApiClient,
) -> None:
    graph, interface = _graph_of_run(api, api.manifest["pipeline_runs"]["train"])
    assert [node["Comment"] for node in graph["ModuleNodes"]] == ["train", "evaluate"]
    graph["ModuleNodes"] = graph["ModuleNodes"][:1]

    pipeline = api.ok(routes.PIPELINE_CREATE, body=_publish_body(graph, interface))

    assert pipeline["TotalRunSteps"] == 1
    stored = api.ok(routes.GRAPH_GET, graph_id=pipeline["GraphId"])
    assert [node["Comment"] for node in stored["ModuleNodes"]] == ["train"]
    run = api.submit(pipeline["Id"], ParameterAssignments={"epochs": "2"})
    api.wait(run["Id"], timeout=180)
    assert _step_statuses(api, run["Id"]) == {"train": StepRunStatus.FINISHED}


def _renamed_node(graph: dict[str, Any]) -> None:
    graph["ModuleNodes"][1]["Id"] = "0000beef"


def _other_module(graph: dict[str, Any]) -> None:
    graph["ModuleNodes"][1]["ModuleId"] = graph["ModuleNodes"][1]["ModuleId"] + "-v2"


def _renamed_step(graph: dict[str, Any]) -> None:
    graph["ModuleNodes"][1]["Comment"] = "assess"


def _repeated_node(graph: dict[str, Any]) -> None:
    graph["ModuleNodes"].append(copy.deepcopy(graph["ModuleNodes"][0]))


def _no_nodes(graph: dict[str, Any]) -> None:
    graph["ModuleNodes"] = []


@pytest.mark.parametrize(
    ("mangle", "fragments"),
    [
        (_renamed_node, ["Graph.ModuleNodes[1].Id '0000beef' is not a node of graph"]),
        (_other_module, ["Graph.ModuleNodes[1].ModuleId", "-v2' is not the module of node"]),
        (_renamed_step, ["Graph.ModuleNodes[1].Comment 'assess'", "expected 'evaluate'"]),
        (_repeated_node, ["Graph.ModuleNodes[2]: node", "appears twice"]),
        (_no_nodes, ["Graph.ModuleNodes is empty"]),
    ],
    ids=["renamed-node", "other-module", "renamed-step", "repeated-node", "no-nodes"],
)
def test_a_mangled_graph_is_refused_and_nothing_is_published(
    api: ApiClient, mangle: Any, fragments: list[str]
) -> None:
    graph, interface = _graph_of_run(api, api.manifest["pipeline_runs"]["train"])
    mangle(graph)
    before = _pipeline_count(api)

    response = api.request(routes.PIPELINE_CREATE, body=_publish_body(graph, interface))

    assert response.status_code == 400, response.text
    error = response.json()["Error"]
    assert error["Code"] == "InvalidGraph"
    for fragment in fragments:
        assert fragment in error["Message"]
    assert _pipeline_count(api) == before
