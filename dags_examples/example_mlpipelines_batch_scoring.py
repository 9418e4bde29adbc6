"""Daily batch scoring: run the scoring endpoint's default version on the day's input file.

What it shows, once a day:

1. ``publish_scoring_pipeline`` and ``ensure_scoring_endpoint`` make sure the pipeline endpoint
   ``housing-scoring`` exists: the first run publishes the scoring pipeline (from the finished
   run in the Variable ``mlpipelines_scoring_run_id``) and creates the endpoint with it as
   version ``"0"``. Later runs change nothing (the publication is reused, and
   ``set_default=False`` leaves the endpoint's default version alone). Drop these two tasks if
   your endpoint is deployed elsewhere.
2. ``score`` submits a run to the endpoint's **default** version with the data-path assignment
   ``input_data`` pointing at ``scoring/<date>.csv`` in the datastore ``workspaceblobstore``,
   and waits for it **deferrably** (in the triggerer, freeing the worker slot).
   ``<date>`` is the run's logical date; runs triggered from the API or the CLI without a
   logical date use their ``run_after`` date; the ``scoring_date`` param overrides both.
3. ``check_predictions`` reads the predictions file the run wrote
   (``predictions/<run id>.csv``: columns ``id,prediction``) and checks it: one prediction per
   input row, the same ids in the same order, every prediction a finite number.

What it needs:

- the connection ``azure_ml_pipelines_default`` (type ``azure_ml_pipelines``);
- the Variable ``mlpipelines_scoring_run_id``: a finished run of the scoring pipeline;
- the Variable ``mlpipelines_datastore_dir``: a local folder holding the datastore
  ``workspaceblobstore`` (a blobfuse mount on Azure; the emulator's manifest lists it under
  ``datastores``), read by ``check_predictions``: the folder must be there on every worker
  that runs it (with several machines, a shared mount);
- a triggerer (``airflow triggerer``) for the deferred wait;
- optional: the environment variable ``MLPIPELINES_EXAMPLE_POLL_SECONDS`` (default 30), read
  when the file is parsed, sets how often the run's status is polled.
"""

from __future__ import annotations

import csv
import logging
import math
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
    AzureMLSubmitPipelineRunOperator,
)

log = logging.getLogger(__name__)

POLL_SECONDS = float(os.environ.get("MLPIPELINES_EXAMPLE_POLL_SECONDS", "30"))
DATASTORE = "workspaceblobstore"
# logical_date is None for runs triggered from the API or the CLI without one.
SCORING_DATE = "{{ params.scoring_date or ((dag_run.logical_date or dag_run.run_after) | ds) }}"


def read_csv_column(path: Path, column: str) -> list[str]:
    """The values of ``column`` in a CSV file with a header.

    :param path: the file.
    :param column: the column's name.
    :raises ValueError: the file has no such column.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if column not in (reader.fieldnames or []):
            raise ValueError(f"{path} has no column {column!r} (columns: {reader.fieldnames})")
        return [row[column] for row in reader]


def check_predictions_file(predictions: Path, scored_input: Path) -> dict[str, Any]:
    """Check that ``predictions`` holds one finite prediction per row of ``scored_input``.

    :param predictions: the CSV the scoring run wrote (``id,prediction``).
    :param scored_input: the CSV it scored (``id,...``).
    :return: the file, its row count and the mean prediction.
    :raises ValueError: rows missing, ids out of order, or a value that is not a number.
    """
    input_ids = read_csv_column(scored_input, "id")
    output_ids = read_csv_column(predictions, "id")
    if output_ids != input_ids:
        raise ValueError(
            f"{predictions} has {len(output_ids)} predictions for {len(input_ids)} input rows "
            f"of {scored_input}, or their ids differ"
        )
    values = [float(value) for value in read_csv_column(predictions, "prediction")]
    bad = [value for value in values if not math.isfinite(value)]
    if bad or not values:
        raise ValueError(f"{predictions} holds no predictions or non-finite ones: {bad[:5]}")
    return {
        "predictions": str(predictions),
        "input": str(scored_input),
        "rows": len(values),
        "mean_prediction": round(sum(values) / len(values), 2),
    }


with DAG(
    dag_id="example_mlpipelines_batch_scoring",
    description="Daily: score the day's houses with the scoring endpoint's default version",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "azure-ml-pipelines"],
    doc_md=__doc__,
    params={
        "endpoint_name": Param("housing-scoring", type="string", minLength=1),
        "scoring_date": Param(
            "",
            type="string",
            description="YYYY-MM-DD of the input file to score; empty: the run's date.",
        ),
    },
) as dag:
    publish = AzureMLPublishPipelineOperator(
        task_id="publish_scoring_pipeline",
        pipeline_run_id="{{ var.value.mlpipelines_scoring_run_id }}",
        pipeline_name="housing-score",
        version="1",
        description="Batch scoring of house prices",
        if_exists="reuse",
    )

    ensure_endpoint = AzureMLPipelineEndpointOperator(
        task_id="ensure_scoring_endpoint",
        pipeline_id=publish.output,
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        description="Daily house price scoring",
        set_default=False,
    )

    score = AzureMLSubmitPipelineRunOperator(
        task_id="score",
        experiment_name="housing-batch-scoring",
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        data_path_assignments={
            "input_data": {"datastore": DATASTORE, "path": f"scoring/{SCORING_DATE}.csv"},
        },
        tags={"purpose": "daily-scoring", "scoring_date": SCORING_DATE},
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=timedelta(hours=2).total_seconds(),
    )

    @task
    def check_predictions(
        datastore_dir: str, scoring_run_id: str, scoring_date: str
    ) -> dict[str, Any]:
        """Check the run's predictions against the input rows it scored."""
        root = Path(datastore_dir)
        summary = check_predictions_file(
            root / "predictions" / f"{scoring_run_id}.csv",
            root / "scoring" / f"{scoring_date}.csv",
        )
        log.info("Predictions of run %s look right: %s", scoring_run_id, summary)
        return summary

    ensure_endpoint >> score
    check_predictions("{{ var.value.mlpipelines_datastore_dir }}", score.output, SCORING_DATE)
