"""DAGs of the publish-reuse tests: one publish task whose run, name and version come from the
run conf (``run_id``, ``name`` and ``version``; an empty or missing version publishes none)."""

from __future__ import annotations

from datetime import datetime

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLPublishPipelineOperator,
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
    "tags": ["mlpipelines-tests"],
}

for if_exists in ("reuse", "fail"):
    with DAG(f"mlp_test_publish_only_{if_exists}", **COMMON):
        AzureMLPublishPipelineOperator(
            task_id="publish",
            pipeline_run_id="{{ dag_run.conf['run_id'] }}",
            pipeline_name="{{ dag_run.conf['name'] }}",
            version="{{ dag_run.conf.get('version') or '' }}",
            if_exists=if_exists,
        )
