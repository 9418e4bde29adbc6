"""DAGs of the reliability tests: everything they need comes from the run conf."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLPipelineEndpointOperator,
    AzureMLPublishPipelineOperator,
    AzureMLSubmitPipelineRunOperator,
)

if AIRFLOW_V_3:
    from airflow.sdk import DAG
else:
    from airflow import DAG

COMMON = {
    "schedule": None,
    "start_date": datetime(2026, 1, 1),
    "catchup": False,
    "render_template_as_native_obj": True,
    "tags": ["mlpipelines-reliability"],
}

for mode in ("sync", "deferred"):
    # Publish, version behind an endpoint, submit to the endpoint and wait: every kind of call.
    with DAG(f"mlp_rel_chain_{mode}", **COMMON):
        published = AzureMLPublishPipelineOperator(
            task_id="publish",
            pipeline_run_id="{{ dag_run.conf['source_run_id'] }}",
            pipeline_name="{{ dag_run.conf['name'] }}",
            version="1",
        )
        endpoint = AzureMLPipelineEndpointOperator(
            task_id="endpoint",
            pipeline_id=published.output,
            pipeline_endpoint_name="{{ dag_run.conf['name'] }}",
        )
        submit = AzureMLSubmitPipelineRunOperator(
            task_id="submit",
            experiment_name="reliability",
            pipeline_endpoint_name="{{ dag_run.conf['name'] }}",
            parameters="{{ dag_run.conf['parameters'] }}",
            tags={"suite": "reliability"},
            poll_interval=1,
            deferrable=mode == "deferred",
        )
        endpoint >> submit

    # A single submission to a published pipeline, waiting with a short poll interval.
    with DAG(f"mlp_rel_submit_{mode}", **COMMON):
        AzureMLSubmitPipelineRunOperator(
            task_id="submit",
            experiment_name="reliability",
            published_pipeline_id="{{ dag_run.conf['pipeline_id'] }}",
            parameters="{{ dag_run.conf['parameters'] }}",
            tags={"suite": "reliability"},
            poll_interval=2,
            deferrable=mode == "deferred",
            execution_timeout=timedelta(minutes=10),
        )
