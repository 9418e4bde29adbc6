"""DAGs of the cluster lifecycle tests (``tests/e2e/cluster/test_cluster_lifecycle.py``).

Each DAG has one task, ``submit``, that runs the published pipeline named in the run conf
(``pipeline_id``) with the run conf's ``parameters``; they differ in how the wait is done (in the
worker or in a triggerer) and bounded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG

from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

COMMON = {
    "schedule": None,
    "start_date": datetime(2026, 1, 1),
    "catchup": False,
    "render_template_as_native_obj": True,
    "tags": ["mlpipelines-cluster"],
}

#: Seconds after which ``execution_timeout`` or the operator's ``timeout`` ends the wait.
SHORT_TIMEOUT_SECONDS = 20

#: dag_id -> keyword arguments of its submit task. A retry re-attaches to the run of the lost try.
VARIANTS: dict[str, dict[str, Any]] = {
    "mlp_cl_sync": {"deferrable": False, "retries": 1, "retry_delay": timedelta(seconds=2)},
    "mlp_cl_deferred": {"deferrable": True, "retries": 1, "retry_delay": timedelta(seconds=2)},
    "mlp_cl_sync_execution_timeout": {
        "deferrable": False,
        "execution_timeout": timedelta(seconds=SHORT_TIMEOUT_SECONDS),
    },
    # The operator's own ``timeout``; no retries, which would submit a fresh run after it.
    "mlp_cl_sync_timeout": {"deferrable": False, "timeout": SHORT_TIMEOUT_SECONDS},
    "mlp_cl_deferred_timeout": {"deferrable": True, "timeout": SHORT_TIMEOUT_SECONDS},
}

for dag_id, task_kwargs in VARIANTS.items():
    with DAG(dag_id, **COMMON):
        AzureMLSubmitPipelineRunOperator(
            task_id="submit",
            experiment_name="cluster-lifecycle",
            published_pipeline_id="{{ dag_run.conf['pipeline_id'] }}",
            parameters="{{ dag_run.conf['parameters'] }}",
            tags={"suite": "cluster-lifecycle"},
            poll_interval=2,
            **task_kwargs,
        )
