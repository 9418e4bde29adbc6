"""Azure ML v2: deploy your own pipeline component behind a batch endpoint and run it.

The pipeline is yours: ``dags_examples/v2_own_pipeline/`` holds it as Azure ML YAML (a
``prep`` and a ``train`` command component with their scripts in ``src/``, and the pipeline
component ``own_housing_pipeline`` that chains them). Register it once with Microsoft's own
tools, as Microsoft's "deploy a pipeline component to a batch endpoint" guide does::

    from azure.ai.ml import MLClient, load_component
    ml_client.components.create_or_update(load_component("v2_own_pipeline/pipeline.yml"))
    # or: az ml component create --file v2_own_pipeline/pipeline.yml

(``bash scripts/demo.sh`` does exactly that against the emulator).

What it shows (triggered by hand, once per version of your component):

1. ``deploy_component`` deploys the registered component (``component``, e.g.
   ``azureml:own_housing_pipeline:1``, or its ARM id) behind the batch endpoint
   ``endpoint_name`` (created when missing) as a deployment named ``deployment_name`` (empty:
   from the component's name and version, ``own-housing-pipeline-1``) and makes it the
   default; it pushes ``version`` (the deployment's name). A component already deployed
   behind the endpoint keeps its deployment, so re-running deploys nothing new.
2. ``train`` invokes the endpoint on that deployment with the folder input ``raw_data``
   (``housing/`` of the datastore ``workspaceblobstore``: the provider sends it as the
   ``uri_folder`` the component declares) and the literal input ``max_rows``, and waits
   **deferred** (in the triggerer). It pushes ``run_id`` (the job's name), ``run_url`` and
   ``run_status``.
3. ``check_training_job`` reads the job back: it must have finished with both of your steps
   (``prep`` then ``train``); where the datastore is a local folder (the Variable
   ``mlpipelines_datastore_dir``), it also reads the ``model.json`` your ``train`` step wrote
   to the pipeline's output ``model``.

What it needs: the connection ``azure_ml_pipelines_v2`` (``"api": "v2"`` in its extra, see
``example_mlpipelines_v2_batch_scoring``; a connection of its own, so that the v1 examples keep
``azure_ml_pipelines_default``); the component registered; a triggerer; optional
``mlpipelines_datastore_dir`` and ``MLPIPELINES_EXAMPLE_POLL_SECONDS`` (default 30).
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
    AzureMLSubmitPipelineRunOperator,
)

log = logging.getLogger(__name__)

CONN_ID = "azure_ml_pipelines_v2"
POLL_SECONDS = float(os.environ.get("MLPIPELINES_EXAMPLE_POLL_SECONDS", "30"))
DEPLOY_TASK = "deploy_component"
#: The steps of own_housing_pipeline (v2_own_pipeline/pipeline.yml), in the order they run.
STEPS = ("prep", "train")


def read_model(datastore_dir: str, job_name: str) -> dict[str, Any]:
    """The ``model.json`` a job of the pipeline wrote, from a datastore that is a local folder.

    The service writes a job's outputs under ``azureml/<job>/<step>/<output>/`` of the
    workspace's default datastore unless the invoke names another path.

    :param datastore_dir: the local folder of the datastore ``workspaceblobstore``.
    :param job_name: the batch job.
    :raises ValueError: no model, or one fitted on no rows.
    """
    path = Path(datastore_dir) / "azureml" / job_name / "train" / "model" / "model.json"
    if not path.is_file():
        raise ValueError(f"job {job_name} wrote no model at {path}")
    model = dict(json.loads(path.read_text(encoding="utf-8")))
    if not model.get("rows"):
        raise ValueError(f"the model of job {job_name} was fitted on no rows: {model}")
    return {"model_path": str(path), **model}


with DAG(
    dag_id="example_mlpipelines_v2_own_component",
    description="Azure ML v2: deploy your own pipeline component to a batch endpoint, run it",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "azure-ml-pipelines", "azure-ml-v2"],
    doc_md=__doc__,
    params={
        "component": Param(
            "azureml:own_housing_pipeline:1",
            type="string",
            minLength=1,
            description="The registered pipeline component: azureml:<name>:<version> or ARM id.",
        ),
        "endpoint_name": Param(
            "own-housing", type="string", pattern=r"^[a-zA-Z][-a-zA-Z0-9]{1,30}[a-zA-Z0-9]$"
        ),
        "deployment_name": Param(
            "",
            type="string",
            description="Name of the deployment; empty: from the component's name and version.",
        ),
        "max_rows": Param(1000, type="integer", minimum=1),
    },
) as dag:
    deploy = AzureMLPipelineEndpointOperator(
        task_id=DEPLOY_TASK,
        azure_ml_pipelines_conn_id=CONN_ID,
        pipeline_id="{{ params.component }}",
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        deployment_name="{{ params.deployment_name }}",
        description="Your own pipeline component: prep then train",
        set_default=True,
    )

    train = AzureMLSubmitPipelineRunOperator(
        task_id="train",
        azure_ml_pipelines_conn_id=CONN_ID,
        experiment_name="own-housing-training",
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        pipeline_version="{{ ti.xcom_pull(task_ids='" + DEPLOY_TASK + "', key='version') }}",
        data_path_assignments={
            "raw_data": {"datastore": "workspaceblobstore", "path": "housing"},
        },
        parameters={"max_rows": "{{ params.max_rows }}"},
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=timedelta(hours=2).total_seconds(),
    )

    @task
    def check_training_job(job_name: str) -> dict[str, Any]:
        """Read the job back from the service: finished, with both of the pipeline's steps."""
        # Imported here: DAG files are parsed often, the hook's client libraries are heavy.
        from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

        with AzureMLPipelinesHook(azure_ml_pipelines_conn_id=CONN_ID) as hook:
            run = hook.get_pipeline_run(job_name)
            steps = hook.get_step_statuses(job_name)
        statuses = {name: step.status.value for name, step in steps.items()}
        if not run.status.is_success or statuses != dict.fromkeys(STEPS, "Finished"):
            raise ValueError(
                f"job {job_name} is {run.status.value} with steps {statuses}; expected "
                f"Finished with {list(STEPS)} finished"
            )
        summary: dict[str, Any] = {"job_name": job_name, "steps": sorted(statuses)}
        try:
            from airflow.sdk import Variable
        except ImportError:  # Airflow 2.11
            from airflow.models import Variable
        datastore_dir = Variable.get("mlpipelines_datastore_dir", None)
        if datastore_dir:
            summary.update(read_model(datastore_dir, job_name))
        log.info("Training job %s checks out: %s", job_name, summary)
        return summary

    deploy >> train
    check_training_job(train.output)
