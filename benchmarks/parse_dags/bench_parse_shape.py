"""The parse-cost benchmark's DAG file: one shape, written for v1 or for v2.

``MLPIPELINES_BENCH_API`` (``v1`` or ``v2``, read when the file is parsed) picks the arguments;
everything else is the same file, so that the two parse-cost cases differ only in what a DAG
author writes differently for v2: the connection, a named deployment instead of a numbered
version, a component instead of a published pipeline. The shape is the v2 example's: publish
from a finished run or job, deploy it behind an endpoint as its default, run that version
deferred, check the run, roll the default back. Nothing here runs: the DAG is only parsed.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLPipelineEndpointOperator,
    AzureMLPublishPipelineOperator,
    AzureMLSetPipelineEndpointDefaultVersionOperator,
    AzureMLSubmitPipelineRunOperator,
)
from airflow_provider_mlpipelines.sensors.azure_ml_pipelines import AzureMLPipelineRunSensor

API = os.environ.get("MLPIPELINES_BENCH_API", "v1")
#: What a DAG author writes differently per API.
ARGUMENTS: dict[str, dict[str, Any]] = {
    "v1": {
        "conn_id": "azure_ml_pipelines_default",
        "source": "{{ var.value.mlpipelines_scoring_run_id }}",
        "pipeline_name": "housing-score",
        "endpoint": {},
        "version": "{{ ti.xcom_pull(task_ids='deploy', key='version') }}",
    },
    "v2": {
        "conn_id": "azure_ml_pipelines_v2",
        "source": "{{ var.value.mlpipelines_v2_scoring_job }}",
        "pipeline_name": "housing_score",
        "endpoint": {"deployment_name": "{{ params.deployment_name }}"},
        "version": "{{ ti.xcom_pull(task_ids='deploy', key='version') }}",
    },
}[API]
CONN_ID = ARGUMENTS["conn_id"]

with DAG(
    dag_id=f"bench_parse_shape_{API}",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "endpoint_name": Param("housing-scoring", type="string", minLength=3),
        "deployment_name": Param("", type="string"),
        "scoring_date": Param("2026-01-01", type="string", pattern=r"^\d{4}-\d{2}-\d{2}$"),
    },
) as dag:
    publish = AzureMLPublishPipelineOperator(
        task_id="publish",
        azure_ml_pipelines_conn_id=CONN_ID,
        pipeline_run_id=ARGUMENTS["source"],
        pipeline_name=ARGUMENTS["pipeline_name"],
        version="{{ ds_nodash }}",
        if_exists="reuse",
    )
    deploy = AzureMLPipelineEndpointOperator(
        task_id="deploy",
        azure_ml_pipelines_conn_id=CONN_ID,
        pipeline_id=publish.output,
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        set_default=True,
        **ARGUMENTS["endpoint"],
    )
    score = AzureMLSubmitPipelineRunOperator(
        task_id="score",
        azure_ml_pipelines_conn_id=CONN_ID,
        experiment_name="housing-batch-scoring",
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        pipeline_version=ARGUMENTS["version"],
        data_path_assignments={
            "input_data": {
                "datastore": "workspaceblobstore",
                "path": "scoring/{{ params.scoring_date }}.csv",
            },
        },
        deferrable=True,
        poll_interval=30,
        timeout=timedelta(hours=2).total_seconds(),
    )
    wait_again = AzureMLPipelineRunSensor(
        task_id="confirm_finished",
        azure_ml_pipelines_conn_id=CONN_ID,
        run_id=score.output,
        deferrable=True,
    )

    @task
    def summarize(run_id: str) -> dict[str, Any]:
        """What a check task would return (never run by the benchmark)."""
        return {"run_id": run_id}

    roll_back = AzureMLSetPipelineEndpointDefaultVersionOperator(
        task_id="roll_back",
        azure_ml_pipelines_conn_id=CONN_ID,
        pipeline_endpoint_name="{{ params.endpoint_name }}",
        version="{{ ti.xcom_pull(task_ids='deploy', key='previous_default_version') }}",
        trigger_rule="one_failed",
    )
    deploy >> score >> wait_again >> roll_back
    summarize(score.output)
