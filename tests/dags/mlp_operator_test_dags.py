"""DAGs the operator tests run with ``dag.test()``; everything they need comes from the run conf.

One DAG per (operator, mode, target kind), because the mode and the kind of target are fixed
when the operator is created, while ids are only known once the emulator has published them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLCancelPipelineRunOperator,
    AzureMLPipelineEndpointOperator,
    AzureMLPublishPipelineOperator,
    AzureMLSetPipelineEndpointDefaultVersionOperator,
    AzureMLSetPipelineEndpointStatusOperator,
    AzureMLSetPublishedPipelineStatusOperator,
    AzureMLSubmitPipelineRunOperator,
)
from airflow_provider_mlpipelines.sensors.azure_ml_pipelines import AzureMLPipelineRunSensor

if AIRFLOW_V_3:
    from airflow.sdk import DAG
else:
    from airflow import DAG

START = datetime(2026, 1, 1)
COMMON = {
    "schedule": None,
    "start_date": START,
    "catchup": False,
    "render_template_as_native_obj": True,
    "tags": ["mlpipelines-tests"],
}

for if_exists in ("reuse", "fail"):
    with DAG(f"mlp_test_publish_{if_exists}", **COMMON):
        published = AzureMLPublishPipelineOperator(
            task_id="publish",
            pipeline_run_id="{{ dag_run.conf['training_run_id'] }}",
            pipeline_name="{{ dag_run.conf['name'] }}",
            version="{{ dag_run.conf['version'] }}",
            description="published by the operator tests",
            if_exists=if_exists,
        )
        AzureMLPipelineEndpointOperator(
            task_id="endpoint",
            pipeline_id=published.output,
            pipeline_endpoint_name="{{ dag_run.conf['endpoint_name'] }}",
        )

with DAG("mlp_test_manage", **COMMON) as manage_dag:
    (
        AzureMLSetPipelineEndpointDefaultVersionOperator(
            task_id="set_default",
            pipeline_endpoint_name="{{ dag_run.conf['endpoint_name'] }}",
            version="{{ dag_run.conf['default_version'] }}",
        )
        >> AzureMLSetPipelineEndpointStatusOperator(
            task_id="endpoint_status",
            pipeline_endpoint_name="{{ dag_run.conf['endpoint_name'] }}",
            status="{{ dag_run.conf['endpoint_status'] }}",
        )
        >> AzureMLSetPublishedPipelineStatusOperator(
            task_id="pipeline_status",
            pipeline_id="{{ dag_run.conf['pipeline_id'] }}",
            status="{{ dag_run.conf['pipeline_status'] }}",
        )
    )

TARGETS = {
    "pipeline": {"published_pipeline_id": "{{ dag_run.conf['target'] }}"},
    "endpoint_id": {
        "pipeline_endpoint_id": "{{ dag_run.conf['target'] }}",
        "pipeline_version": "{{ dag_run.conf.get('version') }}",
    },
    "endpoint_name": {
        "pipeline_endpoint_name": "{{ dag_run.conf['target'] }}",
        "pipeline_version": "{{ dag_run.conf.get('version') }}",
    },
    "url": {"rest_endpoint": "{{ dag_run.conf['target'] }}"},
}

for mode in ("sync", "deferred"):
    for kind, target in TARGETS.items():
        with DAG(f"mlp_test_submit_{mode}_{kind}", **COMMON):
            AzureMLSubmitPipelineRunOperator(
                task_id="submit",
                experiment_name="operator-tests",
                parameters="{{ dag_run.conf.get('parameters') }}",
                data_path_assignments="{{ dag_run.conf.get('data_path_assignments') }}",
                tags={"suite": "operators"},
                deferrable=mode == "deferred",
                poll_interval=0.5,
                timeout=120,
                **target,
            )

for mode in ("sync", "deferred"):
    with DAG(f"mlp_test_timeout_{mode}", **COMMON):
        AzureMLSubmitPipelineRunOperator(
            task_id="submit",
            experiment_name="operator-tests",
            published_pipeline_id="{{ dag_run.conf['target'] }}",
            parameters="{{ dag_run.conf.get('parameters') }}",
            deferrable=mode == "deferred",
            poll_interval=0.5,
            timeout=3,
        )

with DAG("mlp_test_no_wait", **COMMON):
    AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        experiment_name="operator-tests",
        published_pipeline_id="{{ dag_run.conf['target'] }}",
        parameters="{{ dag_run.conf.get('parameters') }}",
        wait_for_completion=False,
    )

with DAG("mlp_test_parameters_file", **COMMON):
    AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        experiment_name="operator-tests",
        published_pipeline_id="{{ dag_run.conf['target'] }}",
        parameters="params/train_parameters.json",
        poll_interval=0.5,
        timeout=120,
    )

for mode in ("poke", "reschedule", "deferrable"):
    with DAG(f"mlp_test_sensor_{mode}", **COMMON):
        AzureMLPipelineRunSensor(
            task_id="wait",
            run_id="{{ dag_run.conf['run_id'] }}",
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferrable",
            poke_interval=timedelta(seconds=1),
            timeout=120,
        )

with DAG("mlp_test_cancel", **COMMON):
    AzureMLCancelPipelineRunOperator(
        task_id="cancel", run_id="{{ dag_run.conf['run_id'] }}", poll_interval=0.5, timeout=60
    )
