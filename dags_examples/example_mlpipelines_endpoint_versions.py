"""Endpoint versions: trial a candidate version side by side with the previous default (A/B).

What it shows (triggered by hand):

1. ``publish_candidate`` publishes the scoring pipeline again, as a candidate version
   (label from the ``candidate_label`` param, or ``candidate-<timestamp of the run>``), and
   ``make_candidate_default`` adds it to the endpoint ``housing-scoring`` as the new default
   version; that task pushes the version it replaced, ``previous_default_version``
   (``None`` when the candidate already was the default, e.g. a re-run with the same
   ``candidate_label``: see the last point).
2. Two runs on the same day's input, side by side:
   ``score_with_candidate`` runs the endpoint's **default** version (the candidate) with the
   candidate model (``candidate_model``, a path in the datastore, e.g. a model written by
   ``example_mlpipelines_retraining``); ``score_with_previous_default`` pins
   ``pipeline_version`` to the previous default, which scores with its usual model.
3. ``compare_predictions`` reads both predictions files and measures how far the candidate's
   predictions are from the previous version's (mean relative change per house).
4. ``decide_rollback`` rolls back when the change exceeds ``max_relative_change``, or when the
   candidate could not be verified (a run failed): ``roll_back_default_version`` makes the
   previous default the default again. A candidate within bounds stays the default.
5. ``fail_if_a_run_failed`` fails the DAG run when a run or the comparison failed (after the
   rollback), so that an unverified candidate never ends in a green DAG run.
6. With no previous default (``None``), there is nothing to compare with or roll back to:
   ``score_with_previous_default`` fails (the endpoint has no version ``None``),
   ``decide_rollback`` skips the rollback, and ``fail_if_a_run_failed`` fails the DAG run.
   The endpoint is left as it was; trial a new ``candidate_label`` instead.

What it needs:

- the connection ``azure_ml_pipelines_default`` (type ``azure_ml_pipelines``);
- an existing endpoint ``housing-scoring`` with a default version (the first run of
  ``example_mlpipelines_batch_scoring`` creates it);
- the Variable ``mlpipelines_scoring_run_id``: a finished run of the scoring pipeline;
- the Variable ``mlpipelines_datastore_dir``: a local folder holding the datastore
  ``workspaceblobstore`` (a blobfuse mount on Azure; the emulator's manifest lists it under
  ``datastores``), read by ``compare_predictions``: the folder must be there on every worker
  that runs it (with several machines, a shared mount);
- a triggerer, for the deferred waits;
- optional: the environment variable ``MLPIPELINES_EXAMPLE_POLL_SECONDS`` (default 30).
"""

from __future__ import annotations

import csv
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
DATASTORE = "workspaceblobstore"
ENDPOINT_TASK = "make_candidate_default"
COMPARE_TASK = "compare_predictions"
PREVIOUS_DEFAULT = (
    "{{ ti.xcom_pull(task_ids='" + ENDPOINT_TASK + "', key='previous_default_version') }}"
)
INPUT_DATA = {"datastore": DATASTORE, "path": "scoring/{{ params.scoring_date }}.csv"}
RUN_STAMP = "((dag_run.logical_date or dag_run.run_after) | ts_nodash)"


def read_predictions(path: Path) -> dict[str, float]:
    """The predictions of a file written by the scoring pipeline, by id.

    :param path: a CSV with columns ``id,prediction``.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["id"]: float(row["prediction"]) for row in csv.DictReader(handle)}


def compare_prediction_files(candidate: Path, reference: Path) -> dict[str, Any]:
    """How far the candidate's predictions are from the reference's, house by house.

    :param candidate: predictions of the candidate version.
    :param reference: predictions of the version it is compared with.
    :raises ValueError: the two files do not predict the same houses.
    """
    new, old = read_predictions(candidate), read_predictions(reference)
    if set(new) != set(old) or not new:
        raise ValueError(f"{candidate} and {reference} do not score the same houses")
    changes = [abs(new[key] - old[key]) / max(abs(old[key]), 1e-9) for key in old]
    return {
        "rows": len(old),
        "mean_relative_change": sum(changes) / len(changes),
        "max_relative_change": max(changes),
        "candidate_predictions": str(candidate),
        "reference_predictions": str(reference),
    }


def needs_rollback(
    comparison: dict[str, Any] | None, previous_default: str | None, threshold: float | str
) -> bool:
    """Whether to restore the previous default version.

    :param comparison: what :func:`compare_prediction_files` found; ``None`` if it never ran.
    :param previous_default: the default version before the candidate (``None``: none).
    :param threshold: the largest acceptable mean relative change.
    """
    if previous_default in (None, "", "None"):
        log.warning("No previous default version to restore")
        return False
    if comparison is None:
        log.warning("The candidate could not be verified: restoring version %s", previous_default)
        return True
    change = float(comparison["mean_relative_change"])
    log.info("Mean relative change %.4f (threshold %.4f)", change, float(threshold))
    return change > float(threshold)


with DAG(
    dag_id="example_mlpipelines_endpoint_versions",
    description="Trial a candidate endpoint version against the previous default; roll back",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "azure-ml-pipelines"],
    doc_md=__doc__,
    params={
        "endpoint_name": Param("housing-scoring", type="string", minLength=1),
        "candidate_label": Param(
            "", type="string", description="Version label of the candidate; empty: generated."
        ),
        "candidate_model": Param(
            "models/baseline/model.json",
            type="string",
            minLength=1,
            description="Model file of the candidate, relative to the datastore.",
        ),
        "scoring_date": Param("2026-01-01", type="string", pattern=r"^\d{4}-\d{2}-\d{2}$"),
        "max_relative_change": Param(0.05, type="number", minimum=0),
    },
) as dag:
    publish = AzureMLPublishPipelineOperator(
        task_id="publish_candidate",
        pipeline_run_id="{{ var.value.mlpipelines_scoring_run_id }}",
        pipeline_name="housing-score",
        version="{{ params.candidate_label or 'candidate-' ~ " + RUN_STAMP + " }}",
        description="Candidate scoring version, on trial",
        if_exists="reuse",
    )

    make_default = AzureMLPipelineEndpointOperator(
        task_id=ENDPOINT_TASK,
        pipeline_id=publish.output,
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        set_default=True,
    )

    common = {
        "experiment_name": "housing-endpoint-versions",
        "pipeline_endpoint_name": "{{ params.endpoint_name }}",
        "deferrable": True,
        "poll_interval": POLL_SECONDS,
        "timeout": timedelta(hours=2).total_seconds(),
    }
    with_candidate = AzureMLSubmitPipelineRunOperator(
        task_id="score_with_candidate",
        data_path_assignments={
            "input_data": dict(INPUT_DATA),
            "model": {"datastore": DATASTORE, "path": "{{ params.candidate_model }}"},
        },
        tags={"trial": "candidate"},
        **common,
    )
    with_previous = AzureMLSubmitPipelineRunOperator(
        task_id="score_with_previous_default",
        pipeline_version=PREVIOUS_DEFAULT,
        data_path_assignments={"input_data": dict(INPUT_DATA)},
        tags={"trial": "previous-default"},
        **common,
    )

    @task(task_id=COMPARE_TASK)
    def compare_predictions(
        datastore_dir: str, candidate_run_id: str, reference_run_id: str
    ) -> dict[str, Any]:
        """Compare the two runs' predictions files."""
        folder = Path(datastore_dir) / "predictions"
        comparison = compare_prediction_files(
            folder / f"{candidate_run_id}.csv", folder / f"{reference_run_id}.csv"
        )
        log.info("Candidate vs previous default: %s", comparison)
        return comparison

    @task.short_circuit(trigger_rule="all_done")
    def decide_rollback(previous_default: str, threshold: str, ti: Any = None) -> bool:
        """Go on to the rollback when the candidate deviates or could not be verified."""
        return needs_rollback(ti.xcom_pull(task_ids=COMPARE_TASK), previous_default, threshold)

    roll_back = AzureMLSetPipelineEndpointDefaultVersionOperator(
        task_id="roll_back_default_version",
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        version=PREVIOUS_DEFAULT,
    )

    @task(trigger_rule="one_failed")
    def fail_if_a_run_failed() -> None:
        """Fail the DAG run: a run or the comparison failed (the rollback still ran)."""
        raise RuntimeError("The candidate could not be verified: a run or the comparison failed")

    make_default >> [with_candidate, with_previous]
    comparison = compare_predictions(
        "{{ var.value.mlpipelines_datastore_dir }}", with_candidate.output, with_previous.output
    )
    comparison >> decide_rollback(PREVIOUS_DEFAULT, "{{ params.max_relative_change }}") >> roll_back
    comparison >> fail_if_a_run_failed()
