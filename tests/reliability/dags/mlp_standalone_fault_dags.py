"""DAGs of the fault tests on a real ``airflow standalone`` (``test_standalone_faults.py``).

Each DAG has one task, ``submit``, that runs the published pipeline named in the run conf
(``pipeline_id``) with the run conf's ``parameters``; they differ only in how the wait is done
and bounded (sync or deferred, retries, ``execution_timeout``, the operator's ``timeout``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

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
    "tags": ["mlpipelines-reliability", "standalone-faults"],
}

#: Seconds after which ``execution_timeout`` / the operator's ``timeout`` end the wait.
SHORT_TIMEOUT_SECONDS = 6

#: dag_id -> keyword arguments of its submit task.
VARIANTS: dict[str, dict[str, Any]] = {
    "mlp_sa_deferred": {"deferrable": True},
    "mlp_sa_sync": {"deferrable": False},
    # A lost worker is noticed through the heartbeat timeout, then the retry re-attaches.
    "mlp_sa_sync_retry": {
        "deferrable": False,
        "retries": 1,
        "retry_delay": timedelta(seconds=2),
    },
    "mlp_sa_sync_execution_timeout": {
        "deferrable": False,
        "execution_timeout": timedelta(seconds=SHORT_TIMEOUT_SECONDS),
    },
    "mlp_sa_deferred_execution_timeout": {
        "deferrable": True,
        "execution_timeout": timedelta(seconds=SHORT_TIMEOUT_SECONDS),
    },
    "mlp_sa_deferred_timeout": {"deferrable": True, "timeout": SHORT_TIMEOUT_SECONDS},
}

for dag_id, task_kwargs in VARIANTS.items():
    with DAG(dag_id, **COMMON):
        AzureMLSubmitPipelineRunOperator(
            task_id="submit",
            experiment_name="standalone-faults",
            published_pipeline_id="{{ dag_run.conf['pipeline_id'] }}",
            parameters="{{ dag_run.conf['parameters'] }}",
            tags={"suite": "standalone-faults"},
            poll_interval=1,
            **task_kwargs,
        )
