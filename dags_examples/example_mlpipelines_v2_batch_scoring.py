"""Azure ML v2: roll out a new version of a scoring pipeline behind a batch endpoint, verify it.

The v2 counterpart of ``example_mlpipelines_batch_scoring`` and
``example_mlpipelines_endpoint_versions``: the same operators, on a connection whose extra says
``"api": "v2"``. Pipeline endpoint -> batch endpoint, endpoint version -> pipeline component
deployment (named, not numbered), published pipeline -> pipeline component version, pipeline
run -> pipeline job (see ``docs/migrating-to-v2.md``).

What it shows (triggered by hand, once per release of the scoring pipeline):

1. ``publish_scoring_component`` registers the pipeline component ``housing_score`` from an
   existing v2 pipeline job (the Variable ``mlpipelines_v2_scoring_job``), as version
   ``component_version`` (empty: ``r<timestamp of the run>``). Re-running with the same
   version reuses that component.
2. ``deploy_new_version`` deploys it behind the batch endpoint ``endpoint_name`` (created when
   missing) as a new deployment, named ``deployment_name`` (empty: derived from the
   component's name and version, e.g. ``housing-score-3``), and makes it the endpoint's
   default. It pushes ``version`` (the deployment's name) and ``previous_default_version``,
   the deployment that was the default before (``None`` for a new endpoint, or when the
   deployment already was the default: nothing to roll back to).
3. ``score`` invokes the endpoint on the new deployment (pinned by name, so another release
   changing the default meanwhile changes nothing here), with the data input ``input_data``
   pointing at ``scoring/<scoring_date>.csv`` in the datastore ``workspaceblobstore``, and
   waits **deferred** (in the triggerer). It pushes ``run_id`` (the job's name), ``run_url``
   (its studio page) and ``run_status`` (``Finished``: the provider keeps the v1 word for the
   v2 ``Completed``).
4. ``check_scoring_job`` reads the job back from the service (not from a file another task
   wrote): it must have finished, have been run by the new deployment of this endpoint, and
   every step must have finished. Where the datastore is a local folder (the emulator, or a
   blobfuse mount), it also checks the predictions file: one finite prediction per input row.
   On Azure without such a mount, the predictions are in blob storage: read them with your
   storage client, or leave the Variable ``mlpipelines_datastore_dir`` unset to skip it.
5. ``decide_rollback`` and ``roll_back_default`` restore ``previous_default_version`` as the
   default when the new version could not be verified (scoring or the check failed), or
   always when ``keep_new_version`` is false (a trial). A new endpoint has nothing to restore.
6. ``fail_if_unverified`` fails the DAG run when scoring or the check failed (the rollback
   runs anyway), so that an unverified version never ends in a green DAG run.

What it needs:

- the connection ``azure_ml_pipelines_v2`` (type ``azure_ml_pipelines``) with the extra
  ``{"api": "v2", "subscription_id": ..., "resource_group": ..., "workspace_name": ...}``:
  Host empty (the cloud's Azure Resource Manager host), tenant id, client id and secret as for
  v1. It is a connection of its own so that the v1 examples keep
  ``azure_ml_pipelines_default``; the identity needs tokens for both Azure Resource Manager
  and Azure ML (``https://ml.azure.com``), which the provider asks for;
- the Variable ``mlpipelines_v2_scoring_job``: the name of a finished v2 pipeline job of the
  scoring pipeline (in the emulator: ``v2_pipeline_jobs["score"]`` of its manifest);
- optional: the Variable ``mlpipelines_datastore_dir``: a local folder holding the datastore
  ``workspaceblobstore`` (the emulator's manifest lists it under ``datastores``), on every
  worker that runs ``check_scoring_job``; without it the predictions file is not read;
- a triggerer (``airflow triggerer``) for the deferred wait;
- optional: the environment variable ``MLPIPELINES_EXAMPLE_POLL_SECONDS`` (default 30), read
  when the file is parsed, sets how often the job's status is polled.
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
    AzureMLSetPipelineEndpointDefaultVersionOperator,
    AzureMLSubmitPipelineRunOperator,
)

log = logging.getLogger(__name__)

CONN_ID = "azure_ml_pipelines_v2"
POLL_SECONDS = float(os.environ.get("MLPIPELINES_EXAMPLE_POLL_SECONDS", "30"))
DATASTORE = "workspaceblobstore"
DEPLOY_TASK = "deploy_new_version"
CHECK_TASK = "check_scoring_job"
NEW_VERSION = "{{ ti.xcom_pull(task_ids='" + DEPLOY_TASK + "', key='version') }}"
PREVIOUS_DEFAULT = (
    "{{ ti.xcom_pull(task_ids='" + DEPLOY_TASK + "', key='previous_default_version') }}"
)
RUN_STAMP = "((dag_run.logical_date or dag_run.run_after) | ts_nodash)"
#: Properties the service sets on a batch job: the endpoint and the deployment that ran it.
ENDPOINT_PROPERTY = "azureml.endpointname"
DEPLOYMENT_PROPERTY = "azureml.deploymentname"


def check_predictions_file(predictions: Path, scored_input: Path) -> dict[str, Any]:
    """Check that ``predictions`` holds one finite prediction per row of ``scored_input``.

    :param predictions: the CSV the scoring job wrote (``id,prediction``).
    :param scored_input: the CSV it scored (``id,...``).
    :return: the file, its row count and the mean prediction.
    :raises ValueError: rows missing, ids out of order, or a value that is not a number.
    """
    with scored_input.open(newline="", encoding="utf-8") as handle:
        input_ids = [row["id"] for row in csv.DictReader(handle)]
    with predictions.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if [row.get("id") for row in rows] != input_ids:
        raise ValueError(
            f"{predictions} has {len(rows)} predictions for {len(input_ids)} input rows of "
            f"{scored_input}, or their ids differ"
        )
    values = [float(row["prediction"]) for row in rows]
    if not values or not all(math.isfinite(value) for value in values):
        raise ValueError(f"{predictions} holds no predictions or non-finite ones")
    return {
        "predictions": str(predictions),
        "rows": len(values),
        "mean_prediction": round(sum(values) / len(values), 2),
    }


def optional_variable(key: str) -> str:
    """An Airflow Variable's value at run time, or ``""`` when it is not set.

    :param key: the Variable.
    """
    try:
        from airflow.sdk import Variable
    except ImportError:  # Airflow 2.11
        from airflow.models import Variable
    return str(Variable.get(key, None) or "")


def needs_rollback(verified: bool, previous_default: str | None, keep_new_version: bool) -> bool:
    """Whether to restore the previous default deployment.

    :param verified: the new version scored and its job checked out.
    :param previous_default: the default deployment before the new one (``None``: none).
    :param keep_new_version: keep a verified new version as the default.
    """
    if previous_default in (None, "", "None"):
        log.info("No previous default deployment: nothing to roll back to")
        return False
    if not verified:
        log.warning("The new version could not be verified: restoring %s", previous_default)
        return True
    if not keep_new_version:
        log.info("Trial run (keep_new_version is false): restoring %s", previous_default)
        return True
    return False


with DAG(
    dag_id="example_mlpipelines_v2_batch_scoring",
    description="Azure ML v2: deploy a new scoring version behind a batch endpoint, verify it",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "azure-ml-pipelines", "azure-ml-v2"],
    doc_md=__doc__,
    params={
        # Batch endpoint names are unique per Azure region, not per workspace: 3-32 letters,
        # digits and '-', starting with a letter.
        "endpoint_name": Param(
            "housing-scoring-v2", type="string", pattern=r"^[a-zA-Z][-a-zA-Z0-9]{1,30}[a-zA-Z0-9]$"
        ),
        "component_version": Param(
            "", type="string", description="Version of the new component; empty: generated."
        ),
        "deployment_name": Param(
            "",
            type="string",
            description="Name of the new deployment; empty: from the component's name and version.",
        ),
        "scoring_date": Param("2026-01-01", type="string", pattern=r"^\d{4}-\d{2}-\d{2}$"),
        "keep_new_version": Param(
            True,
            type="boolean",
            description="Keep a verified new version as the default; false: always roll back.",
        ),
    },
) as dag:
    publish = AzureMLPublishPipelineOperator(
        task_id="publish_scoring_component",
        azure_ml_pipelines_conn_id=CONN_ID,
        pipeline_run_id="{{ var.value.mlpipelines_v2_scoring_job }}",
        pipeline_name="housing_score",
        version="{{ params.component_version or 'r' ~ " + RUN_STAMP + " }}",
        description="Batch scoring of house prices",
        if_exists="reuse",
    )

    deploy = AzureMLPipelineEndpointOperator(
        task_id=DEPLOY_TASK,
        azure_ml_pipelines_conn_id=CONN_ID,
        pipeline_id=publish.output,
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        deployment_name="{{ params.deployment_name }}",
        description="House price scoring",
        set_default=True,
    )

    score = AzureMLSubmitPipelineRunOperator(
        task_id="score",
        azure_ml_pipelines_conn_id=CONN_ID,
        experiment_name="housing-v2-batch-scoring",
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        pipeline_version=NEW_VERSION,
        data_path_assignments={
            "input_data": {
                "datastore": DATASTORE,
                "path": "scoring/{{ params.scoring_date }}.csv",
            },
        },
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=timedelta(hours=2).total_seconds(),
    )

    @task(task_id=CHECK_TASK)
    def check_scoring_job(
        job_name: str, endpoint_name: str, deployment: str, scoring_date: str
    ) -> dict[str, Any]:
        """Read the scoring job back from the service and check what it ran and how it ended."""
        # Imported here: DAG files are parsed often, the hook's client libraries are heavy.
        from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

        with AzureMLPipelinesHook(azure_ml_pipelines_conn_id=CONN_ID) as hook:
            run = hook.get_pipeline_run(job_name)
            steps = hook.get_step_statuses(job_name)
            run_url = hook.get_run_url(job_name)
        ran_by = (run.properties.get(ENDPOINT_PROPERTY), run.properties.get(DEPLOYMENT_PROPERTY))
        if not run.status.is_success or ran_by != (endpoint_name, deployment):
            raise ValueError(
                f"job {job_name} is {run.status.value}, run by endpoint/deployment {ran_by}; "
                f"expected Finished, run by {(endpoint_name, deployment)}"
            )
        unfinished = {
            name: s.status.value for name, s in steps.items() if s.status.value != "Finished"
        }
        if not steps or unfinished:
            raise ValueError(
                f"job {job_name}: no steps, or steps that did not finish: {unfinished}"
            )
        summary: dict[str, Any] = {
            "job_name": job_name,
            "run_url": run_url,
            "status": run.status.value,
            "endpoint": endpoint_name,
            "deployment": deployment,
            "steps": sorted(steps),
        }
        datastore_dir = optional_variable("mlpipelines_datastore_dir")
        if datastore_dir:
            # Only where the datastore is a local folder (the emulator, a blobfuse mount).
            root = Path(datastore_dir)
            summary.update(
                check_predictions_file(
                    root / "predictions" / f"{job_name}.csv",
                    root / "scoring" / f"{scoring_date}.csv",
                )
            )
        log.info("Scoring job %s checks out: %s", job_name, summary)
        return summary

    @task.short_circuit(trigger_rule="all_done")
    def decide_rollback(previous_default: str, params: Any = None, ti: Any = None) -> bool:
        """Go on to the rollback when the new version is unverified, or on a trial."""
        verified = ti.xcom_pull(task_ids=CHECK_TASK) is not None
        return needs_rollback(verified, previous_default, bool(params["keep_new_version"]))

    roll_back = AzureMLSetPipelineEndpointDefaultVersionOperator(
        task_id="roll_back_default",
        azure_ml_pipelines_conn_id=CONN_ID,
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        version=PREVIOUS_DEFAULT,
    )

    @task(trigger_rule="one_failed")
    def fail_if_unverified() -> None:
        """Fail the DAG run: scoring or the check failed (the rollback still ran)."""
        raise RuntimeError("The new version could not be verified: scoring or the check failed")

    checked = check_scoring_job(
        score.output,
        "{{ params.endpoint_name }}",
        NEW_VERSION,
        "{{ params.scoring_date }}",
    )
    deploy >> score
    checked >> decide_rollback(PREVIOUS_DEFAULT) >> roll_back
    checked >> fail_if_unverified()
