"""Score with the model version the triggering asset event names.

The consumer half of data-aware scheduling with Azure ML (its producer is
``example_mlpipelines_retrain_asset``). Scheduled on the asset ``HOUSING_MODEL``: each time
the producer adds a scoring version, a run of this DAG starts (run type ``asset_triggered``;
Airflow 2.11: ``dataset_triggered``).

What it shows:

1. ``new_model_version`` reads the newest triggering event's ``extra`` (keys ``run_id``,
   ``status``, ``studio_url``, ``pipeline_id``, ``component_id``, ``endpoint``, ``version``,
   ``deployment``, ``outputs``) and returns the endpoint and version it names.
2. ``score`` runs that endpoint version (pinned by name: another release that changes the
   default meanwhile changes nothing here) on ``scoring/<scoring_date>.csv`` of the datastore
   ``workspaceblobstore`` and waits in the triggerer.

What it needs: the connection ``azure_ml_pipelines_default``; a triggerer; optional
``MLPIPELINES_EXAMPLE_POLL_SECONDS`` (default 30).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

try:
    from airflow.sdk import DAG, Asset, Param, get_current_context, task
except ImportError:  # Airflow 2.11: an asset is a Dataset
    from airflow import DAG
    from airflow.datasets import Dataset as Asset  # type: ignore[assignment]
    from airflow.decorators import task
    from airflow.models.param import Param
    from airflow.operators.python import get_current_context

from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

POLL_SECONDS = float(os.environ.get("MLPIPELINES_EXAMPLE_POLL_SECONDS", "30"))
#: The same asset as in example_mlpipelines_retrain_asset (assets are matched by URI).
HOUSING_MODEL = Asset("azureml://housing/price-model")


def newest_event_extra(context: Any) -> dict[str, Any]:
    """The ``extra`` of the newest event of ``HOUSING_MODEL`` that triggered this DAG run.

    :param context: the task's context.
    :raises ValueError: the run was not triggered by the asset (e.g. triggered by hand).
    """
    if "triggering_asset_events" in context:
        events = list(context["triggering_asset_events"][HOUSING_MODEL])
    else:  # Airflow 2.11 keys dataset events by URI
        events = list(context["triggering_dataset_events"].get(HOUSING_MODEL.uri, []))
    if not events:
        raise ValueError(f"this DAG run was not triggered by an event of {HOUSING_MODEL.uri}")
    return dict(events[-1].extra or {})


with DAG(
    dag_id="example_mlpipelines_score_on_asset",
    description="Score with the endpoint version named by the newest model asset event",
    schedule=[HOUSING_MODEL],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "azure-ml-pipelines", "assets"],
    doc_md=__doc__,
    params={"scoring_date": Param("2026-01-01", type="string", pattern=r"^\d{4}-\d{2}-\d{2}$")},
) as dag:

    @task(multiple_outputs=True)
    def new_model_version() -> dict[str, Any]:
        """The endpoint and version the triggering asset event names."""
        extra = newest_event_extra(get_current_context())
        if not extra.get("endpoint") or not (extra.get("version") or extra.get("deployment")):
            raise ValueError(f"the asset event names no endpoint and version: {extra}")
        return {
            "endpoint": extra["endpoint"],
            "version": extra.get("version") or extra["deployment"],
        }

    model = new_model_version()
    AzureMLSubmitPipelineRunOperator(
        task_id="score",
        experiment_name="housing-scoring-assets",
        pipeline_endpoint_name=model["endpoint"],
        pipeline_version=model["version"],
        data_path_assignments={
            "input_data": {
                "datastore": "workspaceblobstore",
                "path": "scoring/{{ params.scoring_date }}.csv",
            },
        },
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=timedelta(hours=2).total_seconds(),
    )
