"""DAGs of ``tests/e2e/test_clear_reruns.py``: a user's clear versus an automatic retry.

Each DAG has one task, ``submit``, that runs the published pipeline named in the run conf
(``pipeline_id``) with the run conf's ``parameters``, synchronously, with one retry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
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
    "tags": ["mlpipelines-e2e", "clear-reruns"],
}
SUBMIT = {
    "task_id": "submit",
    "experiment_name": "clear-reruns",
    "published_pipeline_id": "{{ dag_run.conf['pipeline_id'] }}",
    "parameters": "{{ dag_run.conf['parameters'] }}",
    "deferrable": False,
    "poll_interval": 1,
    "retries": 1,
}

# Succeeds on its first try; the test then clears it through the REST API.
with DAG("mlp_clear_rerun", **COMMON):
    AzureMLSubmitPipelineRunOperator(retry_delay=timedelta(seconds=2), **SUBMIT)

# The first try stops waiting after 1 s (``timeout``) and fails without canceling the run; the
# automatic retry comes 20 s later, after the run finished, and must report that run.
with DAG("mlp_retry_reports_finished_run", **COMMON):
    AzureMLSubmitPipelineRunOperator(
        retry_delay=timedelta(seconds=20),
        timeout=1,
        cancel_on_kill=False,
        # Spare tries for a loaded machine, where a try can fail before the task starts.
        **{**SUBMIT, "retries": 3},
    )
