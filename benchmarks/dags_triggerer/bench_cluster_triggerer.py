"""DAG of the cluster-triggerer benchmark: one deferrable sensor per pre-submitted pipeline run.

``bench_cluster_triggerer`` maps ``AzureMLPipelineRunSensor`` (``deferrable=True``) over the run
ids in the DAG run's ``conf["run_ids"]``: each mapped task instance takes a worker slot only to
read its run once and defer; the wait is the triggerers'. ``conf["poll_interval"]`` sets the
sensor's ``poke_interval`` (the trigger's poll interval).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_mlpipelines.sensors.azure_ml_pipelines import AzureMLPipelineRunSensor

POLL_SECONDS = 10.0


@task
def run_ids(**context: Any) -> list[str]:
    """The runs to wait for, from the DAG run's conf."""
    return list((context["dag_run"].conf or {}).get("run_ids", []))


# The v2 DAG's connection is added to the metadata database by the benchmark.
for dag_id, conn_id in (
    ("bench_cluster_triggerer", "azure_ml_pipelines_default"),
    ("bench_cluster_triggerer_v2", "azure_ml_pipelines_bench_v2"),
):
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_tasks=8192,
        tags=["benchmark"],
    ):
        AzureMLPipelineRunSensor.partial(
            task_id="wait",
            deferrable=True,
            azure_ml_pipelines_conn_id=conn_id,
            poke_interval=POLL_SECONDS,
            timeout=3600,
            retries=0,
        ).expand(run_id=run_ids())
