"""The examples that need more than the v1 connection, on the production-shaped cluster: the
v2 batch-scoring example (the ``azure_ml_pipelines_v2`` connection and the
``mlpipelines_v2_scoring_job`` Variable that ``scripts/cluster.sh up`` exports), the
own-component example (its pipeline component registered with ``MLClient`` first, as a user
would) and the asset pair (a retraining whose asset event starts scoring on the version it
names)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.wire.own_component import as_azureml_id, register_own_component

from .cluster import Cluster, queued_runs
from .test_cluster_examples import run_example

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

QUEUE_SECONDS = 3


@pytest.mark.timeout(600)
def test_v2_batch_scoring_example_runs_on_the_cluster(cluster: Cluster) -> None:
    dag_id = "example_mlpipelines_v2_batch_scoring"
    with queued_runs(cluster, QUEUE_SECONDS):
        run_id = run_example(cluster, dag_id, {"endpoint_name": f"v2c-{uuid.uuid4().hex[:8]}"})
    api = cluster.api()
    states = api.task_states(dag_id, run_id)
    assert states["score"] == "success" and states["check_scoring_job"] == "success", states
    assert api.events(dag_id, run_id, "score", "deferred"), "score was never deferred"
    summary = api.xcom(dag_id, run_id, "check_scoring_job")
    assert summary["job_name"] == api.xcom(dag_id, run_id, "score")
    assert summary["deployment"] == api.xcom(dag_id, run_id, "deploy_new_version", "version")


@pytest.mark.timeout(900)
def test_own_component_example_runs_deferred_on_the_cluster(cluster: Cluster) -> None:
    manifest = Path(cluster.manifest["state_dir"]) / "manifest.json"
    component = as_azureml_id(register_own_component(manifest))
    dag_id = "example_mlpipelines_v2_own_component"
    conf = {"component": component, "endpoint_name": f"own-{uuid.uuid4().hex[:8]}"}
    with queued_runs(cluster, QUEUE_SECONDS):
        run_id = run_example(cluster, dag_id, conf)
    api = cluster.api()
    assert set(api.task_states(dag_id, run_id).values()) == {"success"}
    assert api.events(dag_id, run_id, "train", "deferred"), "train was never deferred"
    check = api.xcom(dag_id, run_id, "check_training_job")
    assert check["job_name"] == api.xcom(dag_id, run_id, "train")
    assert check["steps"] == ["prep", "train"] and check["rows"] > 0


@pytest.mark.timeout(900)
def test_the_asset_pair_chains_on_the_cluster(cluster: Cluster) -> None:
    retrain, score = "example_mlpipelines_retrain_asset", "example_mlpipelines_score_on_asset"
    api = cluster.api()
    api.wait_for_dag(score, timeout=180)
    api.unpause(score)
    endpoint = f"assets-{uuid.uuid4().hex[:8]}"
    run_example(cluster, retrain, {"endpoint_name": endpoint})
    deadline = time.monotonic() + 300
    while True:
        runs = api.call("GET", f"/dags/{score}/dagRuns")["dag_runs"]
        triggered = [r for r in runs if r["run_type"] == "asset_triggered"]
        if triggered:
            break
        assert time.monotonic() < deadline, runs
        time.sleep(2)
    final = api.wait_for_run(score, triggered[0]["dag_run_id"], timeout=400)
    assert final["state"] == "success", api.task_states(score, triggered[0]["dag_run_id"])
    model = api.xcom(score, triggered[0]["dag_run_id"], "new_model_version")
    assert model["endpoint"] == endpoint
