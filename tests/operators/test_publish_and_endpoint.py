"""Publishing, endpoint versions, default version and statuses, through real DAG runs."""

from __future__ import annotations

import uuid
from typing import Any

from airflow_provider_mlpipelines.api.status import EntityStatus

from .conftest import task_state, xcom


def test_publish_then_endpoint_versions_without_duplicates(
    run_dag: Any, hook: Any, session_conn: dict[str, Any]
) -> None:
    name = f"train-{uuid.uuid4().hex[:8]}"
    conf = {
        "training_run_id": session_conn["pipeline_runs"]["train"],
        "name": name,
        "version": "1",
        "endpoint_name": f"{name}-endpoint",
    }
    first = run_dag("mlp_test_publish_reuse", **conf)
    assert first.state == "success"
    pipeline_id = xcom(first, "publish")
    assert xcom(first, "publish", "pipeline_id") == pipeline_id
    assert pipeline_id in xcom(first, "publish", "pipeline_url")
    # The operator's templated description reached the service (set in the test DAG).
    assert hook.get_published_pipeline(pipeline_id).description == "published by the operator tests"
    endpoint = xcom(first, "endpoint")
    assert endpoint["version"] == "0" and endpoint["previous_default_version"] is None

    again = run_dag("mlp_test_publish_reuse", **conf)
    assert again.state == "success"
    assert xcom(again, "publish") == pipeline_id, "reuse must not publish a duplicate"
    assert xcom(again, "endpoint")["version"] == "0", "the same pipeline must not be added twice"
    assert [p.id for p in hook.list_published_pipelines() if p.name == name] == [pipeline_id]

    refused = run_dag("mlp_test_publish_fail", **conf)
    assert refused.state == "failed"
    assert task_state(refused, "publish") == "failed"

    second = run_dag("mlp_test_publish_reuse", **{**conf, "version": "2"})
    assert second.state == "success"
    new_id = xcom(second, "publish")
    assert new_id != pipeline_id
    result = xcom(second, "endpoint")
    assert result["version"] == "1"
    assert result["default_version"] == "1"
    assert result["previous_default_version"] == "0"
    stored = hook.get_pipeline_endpoint(name=f"{name}-endpoint")
    assert stored.pipeline_id_of("0") == pipeline_id
    assert stored.pipeline_id_of("1") == new_id


def test_rollback_and_status_operators(
    run_dag: Any, hook: Any, session_conn: dict[str, Any]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    run_id = session_conn["pipeline_runs"]["score"]
    old = hook.publish_pipeline_from_run(run_id, name=f"score-{suffix}", version="1")
    new = hook.publish_pipeline_from_run(run_id, name=f"score-{suffix}", version="2")
    endpoint = hook.create_pipeline_endpoint(f"ep-{suffix}", old.id)
    hook.add_pipeline_to_endpoint(endpoint.id, new.id, set_default=True)

    dag_run = run_dag(
        "mlp_test_manage",
        endpoint_name=f"ep-{suffix}",
        default_version="0",
        endpoint_status="Disabled",
        pipeline_id=new.id,
        pipeline_status="Deprecated",
    )
    assert dag_run.state == "success"
    assert xcom(dag_run, "set_default") == "0"
    assert xcom(dag_run, "set_default", "previous_default_version") == "1"
    stored = hook.get_pipeline_endpoint(endpoint.id)
    assert stored.default_version == "0"
    assert stored.status == EntityStatus.DISABLED
    assert hook.get_published_pipeline(new.id).status == EntityStatus.DEPRECATED

    unknown = run_dag(
        "mlp_test_manage",
        endpoint_name=f"ep-{suffix}",
        default_version="7",
        endpoint_status="Active",
        pipeline_id=new.id,
        pipeline_status="Active",
    )
    assert unknown.state == "failed"
    assert task_state(unknown, "set_default") == "failed"
    assert hook.get_pipeline_endpoint(endpoint.id).default_version == "0"
