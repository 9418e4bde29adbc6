"""The example DAGs on the production-shaped cluster (PostgreSQL, Celery, two workers, two
triggerers), triggered and checked through Airflow's REST API: the deferrable batch-scoring
example (its wait runs in a triggerer) and the sensor example (its wait runs in the workers)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

from .cluster import Cluster, queued_runs

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

#: Seconds each run queues before it starts, so that it cannot end before its task defers.
QUEUE_SECONDS = 3


def links(cluster: Cluster, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    """The task instance's extra links, by name."""
    path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/links"
    return dict(cluster.api().call("GET", path)["extra_links"])


def run_example(cluster: Cluster, dag_id: str, conf: dict[str, Any]) -> str:
    api = cluster.api()
    api.wait_for_dag(dag_id, timeout=180)
    api.unpause(dag_id)
    run_id = str(api.trigger(dag_id, logical_date="2026-01-02T00:00:00Z", conf=conf)["dag_run_id"])
    final = api.wait_for_run(dag_id, run_id, timeout=400)
    assert final["state"] == "success", api.task_states(dag_id, run_id)
    return run_id


@pytest.mark.timeout(600)
def test_batch_scoring_example_runs_deferred_on_the_cluster(cluster: Cluster) -> None:
    dag_id = "example_mlpipelines_batch_scoring"
    # Runs queue first, as on a loaded cluster, so that the scoring run cannot end before its
    # task defers (it would then be reported without deferring).
    with queued_runs(cluster, QUEUE_SECONDS):
        run_id = run_example(cluster, dag_id, {"endpoint_name": f"cluster-{uuid.uuid4().hex[:8]}"})
    api = cluster.api()
    states = api.task_states(dag_id, run_id)
    assert set(states.values()) == {"success"}, states
    assert len(states) == 4, states
    # The scoring run's wait went through a triggerer, one of the cluster's two.
    assert api.events(dag_id, run_id, "score", "deferred"), "score was never deferred"
    pipeline_run_id = api.xcom(dag_id, run_id, "score")
    assert api.xcom(dag_id, run_id, "score", "run_status") == "Finished"
    run_url = api.xcom(dag_id, run_id, "score", "run_url")
    assert pipeline_run_id in run_url
    assert links(cluster, dag_id, run_id, "score") == {"Azure ML run": run_url}
    assert api.xcom(dag_id, run_id, "check_predictions")["rows"] == 60
    # The endpoint and the pipeline published by the first two tasks are in XCom too.
    assert api.xcom(dag_id, run_id, "publish_scoring_pipeline")
    assert api.xcom(dag_id, run_id, "ensure_scoring_endpoint")


@pytest.mark.timeout(600)
def test_sensor_example_waits_in_the_workers_on_the_cluster(cluster: Cluster) -> None:
    hook = AzureMLPipelinesHook()
    try:
        pipeline = hook.publish_pipeline_from_run(
            cluster.manifest["pipeline_runs"]["simulated"], name="cluster-sensor", version="1"
        )
        submission = hook.build_submission(
            experiment_name="submitted-outside-airflow", parameters={"duration_seconds": 20}
        )
        pipeline_run_id = hook.submit_pipeline_run(pipeline.id, submission).id
    finally:
        hook.close()
    dag_id = "example_mlpipelines_sensor"
    run_id = run_example(cluster, dag_id, {"run_id": pipeline_run_id})
    api = cluster.api()
    assert api.task_states(dag_id, run_id) == {
        "wait_for_run": "success",
        "summarize_run": "success",
    }
    assert api.xcom(dag_id, run_id, "wait_for_run", "run_status") == "Finished"
    run_url = api.xcom(dag_id, run_id, "wait_for_run", "run_url")
    assert pipeline_run_id in run_url
    assert links(cluster, dag_id, run_id, "wait_for_run") == {"Azure ML run": run_url}
    summary = api.xcom(dag_id, run_id, "summarize_run")
    assert summary["run_id"] == pipeline_run_id
    assert summary["status"] == "Finished"
    assert summary["run_url"] == run_url
