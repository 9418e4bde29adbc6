"""Retrain, publish the new scoring version, and announce it as an asset event.

The producer half of data-aware scheduling with Azure ML (its consumer is
``example_mlpipelines_score_on_asset``).

What it shows (triggered by hand, or on your own schedule):

1. ``publish_training_pipeline`` publishes the training pipeline from the run in the Variable
   ``mlpipelines_training_run_id`` (reused once published); ``train`` runs it and waits in
   the triggerer.
2. ``publish_scoring_pipeline`` publishes the scoring pipeline (from the run in the Variable
   ``mlpipelines_scoring_run_id``) under a version label naming the training run.
3. ``add_scoring_version`` adds it to the pipeline endpoint ``endpoint_name`` as a new version,
   **without** making it the default: other users of the endpoint keep the version they
   trust, while the consumer DAG scores with the new one by name. Its outlet is the asset
   ``HOUSING_MODEL``: the asset event's ``extra`` carries ``endpoint`` and ``version`` (and,
   for a task that runs a pipeline, ``run_id``, ``status``, ``studio_url``, ``pipeline_id``
   or ``component_id``, ``deployment``, ``outputs``; see the README, "Lineage and assets").

What it needs: the connection ``azure_ml_pipelines_default``; the Variables
``mlpipelines_training_run_id`` and ``mlpipelines_scoring_run_id`` (finished runs of the
training and scoring pipelines); a triggerer; optional
``MLPIPELINES_EXAMPLE_POLL_SECONDS`` (default 30).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG, Asset, Param
except ImportError:  # Airflow 2.11: an asset is a Dataset
    from airflow import DAG
    from airflow.datasets import Dataset as Asset  # type: ignore[assignment]
    from airflow.models.param import Param

from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLPipelineEndpointOperator,
    AzureMLPublishPipelineOperator,
    AzureMLSubmitPipelineRunOperator,
)

POLL_SECONDS = float(os.environ.get("MLPIPELINES_EXAMPLE_POLL_SECONDS", "30"))
#: The asset both DAGs name: the house price model, as scored behind its endpoint.
HOUSING_MODEL = Asset("azureml://housing/price-model")

with DAG(
    dag_id="example_mlpipelines_retrain_asset",
    description="Retrain, add the new scoring version to its endpoint, emit the model asset",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "azure-ml-pipelines", "assets"],
    doc_md=__doc__,
    params={
        "endpoint_name": Param("housing-scoring-assets", type="string", minLength=1),
        "epochs": Param(50, type="integer", minimum=1),
    },
) as dag:
    publish_training = AzureMLPublishPipelineOperator(
        task_id="publish_training_pipeline",
        pipeline_run_id="{{ var.value.mlpipelines_training_run_id }}",
        pipeline_name="housing-train-assets",
        version="1",
    )

    train = AzureMLSubmitPipelineRunOperator(
        task_id="train",
        experiment_name="housing-retraining-assets",
        published_pipeline_id=publish_training.output,
        parameters={"epochs": "{{ params.epochs }}"},
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=timedelta(hours=6).total_seconds(),
    )

    publish_scoring = AzureMLPublishPipelineOperator(
        task_id="publish_scoring_pipeline",
        pipeline_run_id="{{ var.value.mlpipelines_scoring_run_id }}",
        pipeline_name="housing-score-assets",
        # One scoring version per training run: its label names the model it scores with.
        version="model-{{ ti.xcom_pull(task_ids='train') }}",
    )

    add_version = AzureMLPipelineEndpointOperator(
        task_id="add_scoring_version",
        pipeline_id=publish_scoring.output,
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        set_default=False,
        outlets=[HOUSING_MODEL],
    )

    train >> publish_scoring
