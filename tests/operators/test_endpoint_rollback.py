"""Rollback targets of the endpoint operators, concurrent DAG tasks on one endpoint, and the
task's ``execution_timeout`` as the hook's deadline; operators executed against the session
emulator (real HTTPS, real credential)."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import AzureMLThrottledError
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLPipelineEndpointOperator,
    AzureMLSetPipelineEndpointDefaultVersionOperator,
)

from .conftest import RecordingTaskInstance


def _publish(hook: Any, session_conn: dict[str, Any], count: int) -> list[str]:
    run_id = session_conn["pipeline_runs"]["simulated"]
    name = f"rollback-{uuid.uuid4().hex[:8]}"
    return [
        hook.publish_pipeline_from_run(run_id, name=name, version=str(n)).id for n in range(count)
    ]


def _put_endpoint(name: str, pipeline_id: str, set_default: bool = True) -> dict[str, Any]:
    operator = AzureMLPipelineEndpointOperator(
        task_id="endpoint",
        pipeline_id=pipeline_id,
        pipeline_endpoint_name=name,
        set_default=set_default,
    )
    ti = RecordingTaskInstance()
    result = operator.execute({"ti": ti})
    assert ti.xcoms["previous_default_version"] == result["previous_default_version"]
    return result


def _set_default(name: str, version: str, **kwargs: Any) -> tuple[str, Any]:
    operator = AzureMLSetPipelineEndpointDefaultVersionOperator(
        task_id="set_default", pipeline_endpoint_name=name, version=version, **kwargs
    )
    ti = RecordingTaskInstance()
    return operator.execute({"ti": ti}), ti.xcoms["previous_default_version"]


def _puts(emulator: EmulatorProcess) -> int:
    return int(emulator.admin("GET", "/_emulator/stats")["requests"].get("update endpoint", 0))


def test_previous_default_is_only_a_default_the_task_replaced(
    hook: Any, session_conn: dict[str, Any], emulator: EmulatorProcess
) -> None:
    first, second, third = _publish(hook, session_conn, 3)
    name = f"rollback-{uuid.uuid4().hex[:8]}"

    created = _put_endpoint(name, first)
    assert (created["version"], created["previous_default_version"]) == ("0", None)

    puts = _puts(emulator)
    again = _put_endpoint(name, first)
    assert (again["version"], again["default_version"]) == ("0", "0")
    assert again["previous_default_version"] is None, "the default did not change"
    assert _puts(emulator) == puts, "nothing changed, so nothing may be written"

    beside = _put_endpoint(name, second, set_default=False)
    assert (beside["version"], beside["default_version"]) == ("1", "0")
    assert beside["previous_default_version"] is None

    promoted = _put_endpoint(name, second)
    assert (promoted["default_version"], promoted["previous_default_version"]) == ("1", "0")

    newest = _put_endpoint(name, third)
    assert (newest["version"], newest["previous_default_version"]) == ("2", "1")


def test_rolling_back_to_the_current_default_writes_nothing_and_offers_no_target(
    hook: Any, session_conn: dict[str, Any], emulator: EmulatorProcess
) -> None:
    first, second = _publish(hook, session_conn, 2)
    name = f"rollback-{uuid.uuid4().hex[:8]}"
    endpoint = hook.create_pipeline_endpoint(name, first)
    hook.add_pipeline_to_endpoint(endpoint.id, second, set_default=True)
    etag = hook.get_pipeline_endpoint(endpoint.id).etag

    puts = _puts(emulator)
    assert _set_default(name, "1") == ("1", None)
    assert _puts(emulator) == puts
    assert hook.get_pipeline_endpoint(endpoint.id).etag == etag

    assert _set_default(name, "0") == ("0", "1")
    assert hook.get_pipeline_endpoint(endpoint.id).default_version == "0"


def _task_process(name: str, pipeline_id: str, barrier: Any, results: Any) -> None:
    """One endpoint task in a process of its own, as on two workers."""
    try:
        barrier.wait()
        results.put((pipeline_id, _put_endpoint(name, pipeline_id)))
    except BaseException as exc:
        results.put((pipeline_id, repr(exc)))


def test_two_tasks_putting_pipelines_behind_a_new_endpoint_at_once_both_succeed(
    hook: Any, session_conn: dict[str, Any], emulator: EmulatorProcess
) -> None:
    pipelines = _publish(hook, session_conn, 2)
    name = f"rollback-race-{uuid.uuid4().hex[:8]}"
    # Both tasks look the endpoint up before either creates it.
    emulator.set_faults(latency_seconds=0.3, path_contains="PipelineEndpoints")
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2, timeout=120)
    queue = context.Queue()
    processes = [
        context.Process(target=_task_process, args=(name, p, barrier, queue)) for p in pipelines
    ]
    try:
        for process in processes:
            process.start()
        results = dict(queue.get(timeout=300) for _ in processes)
    finally:
        for process in processes:
            process.join(60)
            if process.is_alive():
                process.kill()
        emulator.set_faults(latency_seconds=0.0, path_contains="")

    assert all(isinstance(r, dict) for r in results.values()), results
    assert sorted(r["version"] for r in results.values()) == ["0", "1"]
    stored = hook.get_pipeline_endpoint(name=name)
    assert sorted(v.pipeline_id for v in stored.versions) == sorted(pipelines)
    # The task that created the endpoint has nothing to roll back to; the other one replaced
    # the creator's version, never its own.
    targets = {r["version"]: r["previous_default_version"] for r in results.values()}
    assert targets == {"0": None, "1": "0"}


def test_a_retry_after_beyond_the_execution_timeout_fails_the_task_at_once(
    hook: Any, published: dict[str, Any], emulator: EmulatorProcess
) -> None:
    name = published["endpoint"].name
    emulator.set_faults(
        fail_next=1, fail_status=429, retry_after_seconds=90, path_contains="PipelineEndpoints/Name"
    )
    started = time.monotonic()
    try:
        with pytest.raises(AzureMLThrottledError) as raised:
            _set_default(name, "0", execution_timeout=timedelta(seconds=30))
    finally:
        emulator.set_faults(fail_next=0, fail_status=503, retry_after_seconds=1, path_contains="")
    assert "asked to retry after 90 s, beyond the task's deadline" in str(raised.value)
    # It failed on the first answer instead of waiting (a wait would have taken 90 s).
    assert time.monotonic() - started < 30
