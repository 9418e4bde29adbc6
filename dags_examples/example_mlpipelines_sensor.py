"""Sensor: wait for a pipeline run that was submitted outside Airflow, then report on it.

What it shows (triggered by hand, or by another system through the REST API):

1. ``wait_for_run`` waits for the pipeline run named by the ``run_id`` param (give it in the
   run's conf: ``{"run_id": "..."}``), in ``reschedule`` mode: between checks the task gives
   its worker slot back. It succeeds when the run is ``Finished`` and fails, with the failed
   steps' logs, when it ends ``Failed`` or ``Canceled``. It never cancels the run it watches.
   (``deferrable=True`` instead would wait in the triggerer.)
2. ``summarize_run`` uses the hook directly to report the run's steps and its studio URL.

What it needs:

- the connection ``azure_ml_pipelines_default`` (type ``azure_ml_pipelines``);
- a run id in the run's conf;
- optional: the environment variable ``MLPIPELINES_EXAMPLE_POLL_SECONDS`` (default 30), read
  when the file is parsed, sets how often the run's status is checked.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

try:
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

from airflow_provider_mlpipelines.sensors.azure_ml_pipelines import AzureMLPipelineRunSensor

log = logging.getLogger(__name__)

POLL_SECONDS = float(os.environ.get("MLPIPELINES_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id="example_mlpipelines_sensor",
    description="Wait for a pipeline run submitted outside Airflow",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "azure-ml-pipelines"],
    doc_md=__doc__,
    params={
        "run_id": Param(
            type="string", minLength=1, description="The Azure ML pipeline run to wait for."
        ),
    },
) as dag:
    wait = AzureMLPipelineRunSensor(
        task_id="wait_for_run",
        run_id="{{ params.run_id }}",
        mode="reschedule",
        poke_interval=timedelta(seconds=POLL_SECONDS),
        timeout=timedelta(hours=12),
    )

    @task
    def summarize_run(pipeline_run_id: str) -> dict[str, Any]:
        """Report the finished run: its status, its steps and where to look at it."""
        from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

        with AzureMLPipelinesHook() as hook:
            run = hook.get_pipeline_run(pipeline_run_id)
            steps = hook.get_step_statuses(pipeline_run_id)
            summary = {
                "run_id": run.id,
                "status": run.status.value,
                "experiment": run.experiment_name,
                "pipeline_id": run.pipeline_id,
                "steps": {node: step.status.value for node, step in sorted(steps.items())},
                "run_url": hook.get_run_url(run.id),
            }
        log.info("Pipeline run %s: %s", pipeline_run_id, summary)
        return summary

    wait >> summarize_run("{{ params.run_id }}")
