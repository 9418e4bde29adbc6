"""The DAG of the cluster's OpenLineage test (``tests/e2e/cluster/test_cluster_lineage.py``).

Only this DAG emits OpenLineage events on the cluster: the cluster tests run the provider's
listener with ``[openlineage] selective_enable`` on and the file transport, and
``enable_lineage`` marks this DAG. Both tasks wait in a triggerer: a v1 run of the published
pipeline in the run conf (``pipeline_id``) with a data path, and a v2 batch job on the endpoint
and deployment in the run conf (``v2_endpoint``, ``v2_deployment``) with a uri input.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.openlineage.utils.selective_enable import enable_lineage
from airflow.sdk import DAG

from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

DATASTORE = "workspaceblobstore"

with DAG(
    "mlp_cl_lineage",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mlpipelines-cluster"],
) as dag:
    AzureMLSubmitPipelineRunOperator(
        task_id="v1_deferred",
        experiment_name="cluster-lineage",
        published_pipeline_id="{{ dag_run.conf['pipeline_id'] }}",
        parameters={"epochs": 5},
        data_path_assignments={
            "training_data": {"datastore": DATASTORE, "path": "housing/train.csv"}
        },
        deferrable=True,
        poll_interval=2,
        timeout=600,
    )
    AzureMLSubmitPipelineRunOperator(
        task_id="v2_deferred",
        azure_ml_pipelines_conn_id="azure_ml_pipelines_v2",
        experiment_name="cluster-lineage-v2",
        pipeline_endpoint_name="{{ dag_run.conf['v2_endpoint'] }}",
        pipeline_version="{{ dag_run.conf['v2_deployment'] }}",
        data_path_assignments={
            "input_data": {"datastore": DATASTORE, "path": "scoring/2026-01-01.csv"}
        },
        deferrable=True,
        poll_interval=2,
        timeout=600,
    )
    enable_lineage(dag)
