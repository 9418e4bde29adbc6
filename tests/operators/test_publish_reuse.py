"""``AzureMLPublishPipelineOperator`` reuses a pipeline only when it has the same source.

Real DAG runs (``dag.test()``) against the session emulator; each test counts the emulator's
publish requests and the pipelines of its own unique name, so a wrong reuse or a duplicate
publish shows as a count that changed (or did not).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.clients.core.publishing import (
    SOURCE_GRAPH_PROPERTY,
    SOURCE_RUN_PROPERTY,
)
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import (
    AzureMLConflictError,
    AzureMLInvalidInputError,
    AzureMLServerError,
)
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLPublishPipelineOperator,
)
from tests.emulator.emulator_client import ApiClient

from .conftest import RecordingTaskInstance, task_state, xcom

REUSE = "mlp_test_publish_only_reuse"
FAIL = "mlp_test_publish_only_fail"


@pytest.fixture(scope="module")
def api(emulator: EmulatorProcess) -> Iterator[ApiClient]:
    """Raw REST calls with a real token, for what the hook does not offer (graphs, a publish
    without the provider's properties)."""
    client = ApiClient(emulator.manifest)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def runs(session_conn: dict[str, Any]) -> dict[str, str]:
    """The emulator's seed runs: pipeline name -> run id."""
    return session_conn["pipeline_runs"]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _publish_requests(emulator: EmulatorProcess) -> int:
    return int(emulator.stats()["requests"].get(routes.PIPELINE_CREATE.name, 0))


def _ids_named(hook: Any, name: str) -> list[str]:
    return sorted(p.id for p in hook.list_published_pipelines(active_only=False) if p.name == name)


def _step_names(api: ApiClient, graph_id: str) -> list[str]:
    graph = api.ok(routes.GRAPH_GET, graph_id=graph_id)
    return [node["Comment"] for node in graph["ModuleNodes"]]


def _published(dag_run: Any) -> str:
    assert dag_run.state == "success", task_state(dag_run, "publish")
    pipeline_id = xcom(dag_run, "publish")
    assert pipeline_id
    return str(pipeline_id)


def test_score_run_under_the_train_name_is_a_new_pipeline(
    run_dag: Any, hook: Any, emulator: EmulatorProcess, api: ApiClient, runs: dict[str, str]
) -> None:
    name = _unique("shared-name")
    train_id = _published(run_dag(REUSE, run_id=runs["train"], name=name))
    before = _publish_requests(emulator)

    score_id = _published(run_dag(REUSE, run_id=runs["score"], name=name))

    assert score_id != train_id, "the train pipeline was returned for the score run"
    assert _publish_requests(emulator) == before + 1
    assert _ids_named(hook, name) == sorted([train_id, score_id])
    score = hook.get_published_pipeline(score_id)
    assert score.properties[SOURCE_RUN_PROPERTY] == runs["score"]
    assert _step_names(api, score.graph_id) == ["score"]
    assert _step_names(api, hook.get_published_pipeline(train_id).graph_id) == [
        "train",
        "evaluate",
    ]


@pytest.mark.parametrize("dag_id", [REUSE, FAIL])
def test_same_name_and_version_from_another_run_fails_naming_both_runs(
    dag_id: str,
    run_dag: Any,
    hook: Any,
    emulator: EmulatorProcess,
    runs: dict[str, str],
    task_output: Callable[[], str],
) -> None:
    name = _unique("taken")
    train_id = _published(run_dag(REUSE, run_id=runs["train"], name=name, version="1"))
    task_output()  # drop what the first DAG run printed
    before = _publish_requests(emulator)

    refused = run_dag(dag_id, run_id=runs["score"], name=name, version="1")

    assert refused.state == "failed"
    assert task_state(refused, "publish") == "failed"
    output = task_output()
    assert "AzureMLConflictError" in output
    assert f"pipeline {train_id} already has this name and version" in output
    assert f"published from run {runs['train']!r}, not from run {runs['score']!r}" in output
    assert _publish_requests(emulator) == before
    assert _ids_named(hook, name) == [train_id]


@pytest.mark.parametrize("version", ["1", None])
def test_same_source_again_returns_the_same_pipeline(
    version: str | None,
    run_dag: Any,
    hook: Any,
    emulator: EmulatorProcess,
    runs: dict[str, str],
) -> None:
    name = _unique("again")
    conf = {"run_id": runs["train"], "name": name, "version": version}
    first = _published(run_dag(REUSE, **conf))
    published = hook.get_published_pipeline(first)
    assert published.version == version
    assert published.properties[SOURCE_RUN_PROPERTY] == runs["train"]
    before = _publish_requests(emulator)

    assert _published(run_dag(REUSE, **conf)) == first
    # Without a version, the source published under the name in any version is the answer.
    assert _published(run_dag(REUSE, **{**conf, "version": None})) == first

    assert _publish_requests(emulator) == before
    assert _ids_named(hook, name) == [first]


def test_if_exists_fail_refuses_the_same_source(
    run_dag: Any, hook: Any, emulator: EmulatorProcess, runs: dict[str, str]
) -> None:
    name = _unique("fail-same")
    first = _published(run_dag(FAIL, run_id=runs["train"], name=name, version="1"))
    before = _publish_requests(emulator)

    again = run_dag(FAIL, run_id=runs["train"], name=name, version="1")
    assert again.state == "failed"
    # Another version, or none, of the same source: fail refuses the unversioned one too,
    # since reuse would have returned the existing pipeline.
    assert run_dag(FAIL, run_id=runs["train"], name=name).state == "failed"
    second = _published(run_dag(FAIL, run_id=runs["train"], name=name, version="2"))

    assert second != first
    assert _publish_requests(emulator) == before + 1
    assert _ids_named(hook, name) == sorted([first, second])


def test_pipeline_published_elsewhere_is_reused_only_for_its_own_runs(
    run_dag: Any, hook: Any, emulator: EmulatorProcess, api: ApiClient, runs: dict[str, str]
) -> None:
    """A pipeline published without the provider's properties (by the SDK, say) has no known
    source run; only a run *of* it provably has its graph."""
    name = _unique("sdk")
    seed = api.ok(routes.RUN_GET, run_id=runs["simulated"])
    body = {
        "Name": name,
        "Version": "1",
        "Graph": api.ok(routes.GRAPH_GET, graph_id=seed["GraphId"]),
        "GraphInterface": api.ok(routes.GRAPH_INTERFACE, graph_id=seed["GraphId"]),
    }
    elsewhere = api.ok(routes.PIPELINE_CREATE, body=body)
    assert SOURCE_RUN_PROPERTY not in (elsewhere.get("Properties") or {})
    before = _publish_requests(emulator)

    refused = run_dag(REUSE, run_id=runs["simulated"], name=name, version="1")
    assert refused.state == "failed"

    run = api.submit(elsewhere["Id"], ParameterAssignments={"duration_seconds": "0"})
    reused = _published(run_dag(REUSE, run_id=run["Id"], name=name, version="1"))
    assert reused == elsewhere["Id"]
    assert _publish_requests(emulator) == before
    assert _ids_named(hook, name) == [elsewhere["Id"]]


def test_fail_mode_returns_what_an_earlier_try_of_the_task_published(
    hook: Any, emulator: EmulatorProcess, runs: dict[str, str], session_conn: dict[str, Any]
) -> None:
    """The publish answer is lost (the connection drops after the pipeline was created): the
    retry of the same task instance gets that pipeline; another task instance is refused."""
    name = _unique("lost-answer")
    operator = AzureMLPublishPipelineOperator(
        task_id="publish",
        pipeline_run_id=runs["train"],
        pipeline_name=name,
        version="1",
        if_exists="fail",
    )
    airflow_run_id = f"manual__{uuid.uuid4().hex[:8]}"
    with (
        emulator.faults(drop_rate=1.0, drop_mode="after", path_contains="/Pipelines/Create"),
        pytest.raises(AzureMLServerError),
    ):
        operator.execute({"ti": RecordingTaskInstance(run_id=airflow_run_id)})  # type: ignore[arg-type]
    created = _ids_named(hook, name)
    assert len(created) == 1, "the dropped publish must still have created the pipeline"
    assert hook.get_published_pipeline(created[0]).properties[SOURCE_GRAPH_PROPERTY]
    before = _publish_requests(emulator)

    retry = RecordingTaskInstance(run_id=airflow_run_id, try_number=2)
    assert operator.execute({"ti": retry}) == created[0]  # type: ignore[arg-type]
    assert retry.xcoms["pipeline_id"] == created[0]
    with pytest.raises(AzureMLConflictError, match="if_exists='reuse' would return it"):
        operator.execute({"ti": RecordingTaskInstance(run_id="manual__another")})  # type: ignore[arg-type]

    assert _publish_requests(emulator) == before
    assert _ids_named(hook, name) == created


@pytest.mark.parametrize("name", ["", "   ", None])
def test_an_empty_pipeline_name_is_refused_before_any_call(
    name: Any, emulator: EmulatorProcess, runs: dict[str, str], session_conn: dict[str, Any]
) -> None:
    operator = AzureMLPublishPipelineOperator(
        task_id="publish", pipeline_run_id=runs["train"], pipeline_name=name
    )
    before = emulator.stats()["requests_total"]
    with pytest.raises(AzureMLInvalidInputError, match="pipeline_name must be a non-empty string"):
        operator.execute({"ti": RecordingTaskInstance()})  # type: ignore[arg-type]
    # The stats call itself is the only request since.
    assert emulator.stats()["requests_total"] == before + 1
