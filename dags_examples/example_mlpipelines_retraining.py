"""Scheduled retraining: publish the newest training run as a new version and run it.

What it shows, once a week:

1. ``publish_training_pipeline`` publishes the graph of the newest training run (an Azure ML
   pipeline run id kept in the Airflow Variable ``mlpipelines_training_run_id``) as the
   published pipeline ``housing-train``, version label = the run's date (or the
   ``version_label`` param). Re-running the same week reuses that publication.
2. ``add_to_training_endpoint`` adds it to the pipeline endpoint ``housing-training`` (created
   on first use) as the new **default** version; it pushes ``previous_default_version``, the
   default it replaced (``None`` when it created the endpoint or the pipeline already was the
   default, e.g. a re-run of the same week: then there is nothing to roll back to).
3. ``train`` submits a run to the endpoint's default version with parameters
   (``learning_rate``, ``epochs``) and waits for it in the triggerer (deferrable).
4. ``report_model`` reads the metrics that the run wrote to the datastore.
5. Only if the new version's run failed: ``previous_version_exists`` (trigger rule
   ``one_failed``) and ``roll_back_default_version`` restore the previous default version, so
   that other users of the endpoint keep running the last good pipeline. With nothing to roll
   back to, ``previous_version_exists`` skips the rollback (it never re-selects the failed
   version). The DAG run still ends ``failed`` (``report_model`` cannot run), so the failure
   is not hidden by the rollback.

What it needs:

- the connection ``azure_ml_pipelines_default`` (type ``azure_ml_pipelines``);
- the Variable ``mlpipelines_training_run_id``: a finished run of the training pipeline;
- the Variable ``mlpipelines_datastore_dir``: a local folder holding the datastore
  ``workspaceblobstore`` (a blobfuse mount on Azure; the emulator's manifest lists it under
  ``datastores``). Only ``report_model`` needs it, on every worker that runs it (with several
  machines, a shared mount).
- optional: the environment variable ``MLPIPELINES_EXAMPLE_POLL_SECONDS`` (default 30), read
  when the file is parsed, sets how often the run's status is polled.

Variables are read through templates (``{{ var.value.… }}``), so parsing this file needs no
metadata database.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

try:
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLPipelineEndpointOperator,
    AzureMLPublishPipelineOperator,
    AzureMLSetPipelineEndpointDefaultVersionOperator,
    AzureMLSubmitPipelineRunOperator,
)

log = logging.getLogger(__name__)

POLL_SECONDS = float(os.environ.get("MLPIPELINES_EXAMPLE_POLL_SECONDS", "30"))
ENDPOINT_TASK = "add_to_training_endpoint"
# The run's date: logical_date is None for runs triggered from the API or the CLI without one.
RUN_DATE = "((dag_run.logical_date or dag_run.run_after) | ds_nodash)"


def read_training_metrics(datastore_dir: str, run_id: str) -> dict[str, Any]:
    """The model and the validation metrics that training run ``run_id`` wrote.

    :param datastore_dir: local folder of the datastore the pipeline writes to.
    :param run_id: the training pipeline run.
    :raises FileNotFoundError: the run wrote no model or no metrics.
    """
    folder = Path(datastore_dir) / "models" / run_id
    model_path = folder / "model.json"
    if not model_path.is_file():
        raise FileNotFoundError(f"training run {run_id} wrote no model at {model_path}")
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    return {"run_id": run_id, "model_path": str(model_path), **metrics}


with DAG(
    dag_id="example_mlpipelines_retraining",
    description="Weekly: publish the newest training run as a new endpoint version and run it",
    schedule="@weekly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "azure-ml-pipelines"],
    doc_md=__doc__,
    params={
        "endpoint_name": Param("housing-training", type="string", minLength=1),
        "version_label": Param(
            "",
            type="string",
            description="Version label of the published pipeline; empty: the run's date.",
        ),
        "learning_rate": Param(0.1, type="number", exclusiveMinimum=0),
        "epochs": Param(100, type="integer", description="Below 1 the training step fails."),
    },
) as dag:
    publish = AzureMLPublishPipelineOperator(
        task_id="publish_training_pipeline",
        pipeline_run_id="{{ var.value.mlpipelines_training_run_id }}",
        pipeline_name="housing-train",
        version="{{ params.version_label or " + RUN_DATE + " }}",
        description="Published by Airflow from run {{ var.value.mlpipelines_training_run_id }}",
        if_exists="reuse",
    )

    add_to_endpoint = AzureMLPipelineEndpointOperator(
        task_id=ENDPOINT_TASK,
        pipeline_id=publish.output,
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        description="Weekly retrained house price model",
        set_default=True,
    )

    # No retries: a failed training run is a finding to look at, not a glitch to repeat.
    train = AzureMLSubmitPipelineRunOperator(
        task_id="train",
        experiment_name="housing-retraining",
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        parameters={
            "learning_rate": "{{ params.learning_rate }}",
            "epochs": "{{ params.epochs }}",
        },
        tags={"purpose": "weekly-retraining"},
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=timedelta(hours=6).total_seconds(),
    )

    @task
    def report_model(datastore_dir: str, training_run_id: str) -> dict[str, Any]:
        """Log and return where the new model is and how well it validates."""
        report = read_training_metrics(datastore_dir, training_run_id)
        log.info("New model %s: %s", report["model_path"], report)
        return report

    @task.short_circuit(trigger_rule="one_failed")
    def previous_version_exists(previous_default: str | None) -> bool:
        """Go on to the rollback only if this run replaced a default version."""
        if previous_default in (None, "", "None"):
            log.warning("This run replaced no default version: nothing to restore")
            return False
        log.info("The new version failed: restoring default version %s", previous_default)
        return True

    roll_back = AzureMLSetPipelineEndpointDefaultVersionOperator(
        task_id="roll_back_default_version",
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        version=(
            "{{ ti.xcom_pull(task_ids='" + ENDPOINT_TASK + "', key='previous_default_version') }}"
        ),
    )

    add_to_endpoint >> train
    report_model("{{ var.value.mlpipelines_datastore_dir }}", train.output)
    guard = previous_version_exists(
        "{{ ti.xcom_pull(task_ids='" + ENDPOINT_TASK + "', key='previous_default_version') }}"
    )
    train >> guard >> roll_back
