"""The endpoint-driven example DAGs on the production-shaped cluster, through the REST API:
the retraining example (a new default version of a training endpoint, run deferred) and the
endpoint-versions example (two deferred scoring runs side by side, compared).

The cluster (``scripts/cluster.sh``) gives every process the examples' Variables from the
emulator's manifest (the training and scoring runs, the datastore folder); the conf names a
fresh endpoint per test so that reruns never meet an earlier session's versions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus

from .cluster import Cluster, queued_runs
from .test_cluster_examples import links, run_example

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

BASELINE_MODEL = "models/baseline/model.json"
#: Rows of the default ``scoring_date`` (2026-01-01) in the emulator's datastore.
SCORING_ROWS = 40
#: Seconds each run queues before it starts, so that it cannot end before its task defers.
QUEUE_SECONDS = 3


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def hook(cluster: Cluster) -> Iterator[Any]:
    """A hook on the cluster's emulator (the ``cluster`` fixture sets the connection)."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    hook = AzureMLPipelinesHook()
    try:
        yield hook
    finally:
        hook.close()


def assert_submitted_run(
    cluster: Cluster, dag_id: str, run_id: str, task_id: str, hook: Any
) -> Any:
    """The run a submit task pushed: every XCom of it, its link, and the run in the emulator.

    :return: the pipeline run, as the emulator holds it.
    """
    api = cluster.api()
    pipeline_run_id = api.xcom(dag_id, run_id, task_id)
    assert api.xcom(dag_id, run_id, task_id, "run_id") == pipeline_run_id
    assert api.xcom(dag_id, run_id, task_id, "run_status") == "Finished"
    run_url = api.xcom(dag_id, run_id, task_id, "run_url")
    assert pipeline_run_id in run_url
    assert links(cluster, dag_id, run_id, task_id) == {"Azure ML run": run_url}
    # Its wait went through one of the cluster's triggerers.
    assert api.events(dag_id, run_id, task_id, "deferred"), f"{task_id} was never deferred"
    run = hook.get_pipeline_run(pipeline_run_id)
    assert run.status == PipelineRunStatus.FINISHED
    assert run.tags.get("airflow.dag_id") == dag_id
    assert run.tags.get("airflow.run_id") == run_id
    return run


def assert_published(cluster: Cluster, dag_id: str, run_id: str, task_id: str) -> str:
    """A publish task's XComs; return the published pipeline's id."""
    api = cluster.api()
    pipeline_id = api.xcom(dag_id, run_id, task_id)
    assert api.xcom(dag_id, run_id, task_id, "pipeline_id") == pipeline_id
    assert pipeline_id in api.xcom(dag_id, run_id, task_id, "pipeline_url")
    assert links(cluster, dag_id, run_id, task_id) == {}
    return str(pipeline_id)


def assert_endpoint_xcoms(
    cluster: Cluster, dag_id: str, run_id: str, task_id: str, expected: dict[str, Any]
) -> dict[str, Any]:
    """An endpoint task's returned dict and each of its keys pushed on its own."""
    api = cluster.api()
    result = dict(api.xcom(dag_id, run_id, task_id))
    assert set(result) == {
        "endpoint_id",
        "version",
        "endpoint_url",
        "default_version",
        "previous_default_version",
    }
    for key, value in result.items():
        assert api.xcom(dag_id, run_id, task_id, key) == value, key
    assert {key: result[key] for key in expected} == expected
    assert result["endpoint_id"] in result["endpoint_url"]
    assert links(cluster, dag_id, run_id, task_id) == {}
    return result


@pytest.mark.timeout(600)
def test_retraining_example_runs_deferred_on_the_cluster(cluster: Cluster, hook: Any) -> None:
    dag_id = "example_mlpipelines_retraining"
    endpoint_name = unique("cluster-training")
    conf = {"endpoint_name": endpoint_name, "version_label": unique("v")}
    with queued_runs(cluster, QUEUE_SECONDS):
        run_id = run_example(cluster, dag_id, conf)
    api = cluster.api()
    assert api.task_states(dag_id, run_id) == {
        "publish_training_pipeline": "success",
        "add_to_training_endpoint": "success",
        "train": "success",
        "report_model": "success",
        # Only a failed training run rolls the default back.
        "previous_version_exists": "skipped",
        "roll_back_default_version": "skipped",
    }
    pipeline_id = assert_published(cluster, dag_id, run_id, "publish_training_pipeline")
    added = assert_endpoint_xcoms(
        cluster,
        dag_id,
        run_id,
        "add_to_training_endpoint",
        {"version": "0", "default_version": "0", "previous_default_version": None},
    )
    run = assert_submitted_run(cluster, dag_id, run_id, "train", hook)
    endpoint = hook.get_pipeline_endpoint(name=endpoint_name)
    assert endpoint.id == added["endpoint_id"]
    assert endpoint.default_version == "0"
    assert run.pipeline_id == endpoint.pipeline_id_of("0") == pipeline_id
    assert run.parameter_assignments["epochs"] == "100"
    report = api.xcom(dag_id, run_id, "report_model")
    assert report["run_id"] == run.id
    assert report["model_path"].endswith(f"models/{run.id}/model.json")
    assert report["r2"] > 0.5


@pytest.mark.timeout(600)
def test_endpoint_versions_example_runs_deferred_on_the_cluster(
    cluster: Cluster, hook: Any
) -> None:
    # The example trials a candidate against an endpoint's existing default version "0".
    endpoint_name = unique("cluster-scoring")
    baseline = hook.publish_pipeline_from_run(
        cluster.manifest["pipeline_runs"]["score"], name="housing-score", version=unique("v")
    )
    hook.create_pipeline_endpoint(endpoint_name, baseline.id)
    dag_id = "example_mlpipelines_endpoint_versions"
    conf = {
        "endpoint_name": endpoint_name,
        "candidate_label": unique("candidate"),
        "candidate_model": BASELINE_MODEL,
    }
    with queued_runs(cluster, QUEUE_SECONDS):
        run_id = run_example(cluster, dag_id, conf)
    api = cluster.api()
    assert api.task_states(dag_id, run_id) == {
        "publish_candidate": "success",
        "make_candidate_default": "success",
        "score_with_candidate": "success",
        "score_with_previous_default": "success",
        "compare_predictions": "success",
        "decide_rollback": "success",
        # The candidate scores as the baseline did: it stays the default, nothing failed.
        "roll_back_default_version": "skipped",
        "fail_if_a_run_failed": "skipped",
    }
    candidate_pipeline = assert_published(cluster, dag_id, run_id, "publish_candidate")
    assert_endpoint_xcoms(
        cluster,
        dag_id,
        run_id,
        "make_candidate_default",
        {"version": "1", "default_version": "1", "previous_default_version": "0"},
    )
    candidate = assert_submitted_run(cluster, dag_id, run_id, "score_with_candidate", hook)
    reference = assert_submitted_run(cluster, dag_id, run_id, "score_with_previous_default", hook)
    endpoint = hook.get_pipeline_endpoint(name=endpoint_name)
    assert endpoint.default_version == "1"
    assert candidate.pipeline_id == endpoint.pipeline_id_of("1") == candidate_pipeline
    assert reference.pipeline_id == endpoint.pipeline_id_of("0") == baseline.id
    comparison = api.xcom(dag_id, run_id, "compare_predictions")
    assert comparison["rows"] == SCORING_ROWS
    assert comparison["mean_relative_change"] == 0
    assert comparison["candidate_predictions"].endswith(f"{candidate.id}.csv")
    assert comparison["reference_predictions"].endswith(f"{reference.id}.csv")
