"""DAGs of the worker-slots benchmark: 50 (or ``conf["runs"]``) pipeline runs submitted at once.

``bench_worker_slots_deferrable`` waits for the runs in the triggerer; ``bench_worker_slots_sync``
is the same DAG waiting in the worker. Each maps ``AzureMLSubmitPipelineRunOperator`` over one
``parameters`` dict per run of the emulator's ``simulated`` pipeline; ``conf`` gives the
published pipeline id, the number of runs and their duration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

POLL_SECONDS = 5.0


@task
def run_parameters(**context: Any) -> list[dict[str, Any]]:
    """One ``parameters`` dict per run, from the DAG run's conf."""
    conf = context["dag_run"].conf or {}
    seconds = float(conf.get("duration_seconds", 25))
    return [{"duration_seconds": seconds} for _ in range(int(conf.get("runs", 50)))]


for mode, deferrable in (("deferrable", True), ("sync", False)):
    with DAG(
        dag_id=f"bench_worker_slots_{mode}",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_tasks=256,
        tags=["benchmark"],
    ):
        AzureMLSubmitPipelineRunOperator.partial(
            task_id="submit",
            experiment_name=f"bench-worker-slots-{mode}",
            published_pipeline_id="{{ dag_run.conf['pipeline_id'] }}",
            deferrable=deferrable,
            poll_interval=POLL_SECONDS,
        ).expand(parameters=run_parameters())
