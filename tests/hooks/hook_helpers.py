"""Helpers of the hook tests (the fixtures are in ``conftest.py``)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.models import PipelineRun, PublishedPipeline
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

RUN_TIMEOUT_SECONDS = 180.0
#: A token lifetime whose renewal point (its last 20%) comes more than 30 s after it was
#: issued. ``azure.identity.aio`` credentials hand back the token they hold, without asking
#: the service, within 30 s of their last request while it is valid: the async hook renews a
#: shorter-lived token only once it has expired.
ASYNC_RENEWABLE_TOKEN_LIFETIME = 40


def conn_json(emulator: EmulatorProcess, **changes: Any) -> str:
    """The emulator's Airflow connection as JSON, with top-level fields or extras changed.

    :param changes: ``host``/``login``/``password`` replace those fields; any other key
        replaces (or, with ``None``, removes) an extra.
    """
    conn = json.loads(emulator.airflow_conn)
    for key, value in changes.items():
        if key in ("host", "login", "password", "port"):
            conn[key] = value
        elif value is None:
            conn["extra"].pop(key, None)
        else:
            conn["extra"][key] = value
    return json.dumps(conn)


def publish(hook: AzureMLPipelinesHook, emulator: EmulatorProcess, pipeline: str) -> Any:
    """Publish the manifest's finished run of ``pipeline`` under a unique name."""
    run_id = emulator.manifest["pipeline_runs"][pipeline]
    name = f"hooks-{pipeline}-{uuid.uuid4().hex[:8]}"
    return hook.publish_pipeline_from_run(run_id, name=name, version="1", description=pipeline)


def wait_for_run(
    hook: AzureMLPipelinesHook, run_id: str, timeout: float = RUN_TIMEOUT_SECONDS
) -> PipelineRun:
    """Poll until the run is terminal; fail the test if it is not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        run = hook.get_pipeline_run(run_id)
        if run.status.is_terminal:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still {run.status.value} after {timeout} s")
        time.sleep(0.3)


def runs_tagged(
    hook: AzureMLPipelinesHook, pipeline: PublishedPipeline, key: str, value: str
) -> list[PipelineRun]:
    """The runs of ``pipeline`` whose tag ``key`` is ``value``."""
    return [r for r in hook.list_pipeline_runs(pipeline.id) if r.tags.get(key) == value]


class Faults:
    """The emulator's fault injection (``POST /_emulator/admin/faults``)."""

    def __init__(self, emulator: EmulatorProcess) -> None:
        self.emulator = emulator

    def set(self, **settings: Any) -> dict[str, Any]:
        return self.emulator.set_faults(**settings)

    def reset(self) -> None:
        self.set(
            error_rate=0.0,
            throttle_rate=0.0,
            retry_after_seconds=1,
            latency_seconds=0.0,
            queue_seconds=0.0,
            fail_next=0,
            fail_status=503,
            path_contains="",
            seed=None,
        )


class SleepRecorder:
    """Records the waits a hook asks for, and really waits (the hook's ``sleep``)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds)


def _renewal_wait(cache: Any, timeout: float) -> tuple[Any, float]:
    cached = cache.cached
    assert cached is not None, "no token is cached yet"
    return cached, time.monotonic() + timeout


def wait_past_renewal_point(cache: Any, timeout: float = 60) -> Any:
    """Poll until the cached token of a ``TokenCache`` is due for renewal; returns it.

    :param cache: the token cache (``hook.tokens._cache``).
    :param timeout: seconds before the test fails.
    """
    cached, deadline = _renewal_wait(cache, timeout)
    while cache.now() < cached.renew_at:
        assert time.monotonic() < deadline, f"the token never came due within {timeout:g} s"
        time.sleep(0.05)
    return cached


async def await_past_renewal_point(cache: Any, timeout: float = 60) -> Any:
    """:func:`wait_past_renewal_point` for an event loop."""
    cached, deadline = _renewal_wait(cache, timeout)
    while cache.now() < cached.renew_at:
        assert time.monotonic() < deadline, f"the token never came due within {timeout:g} s"
        await asyncio.sleep(0.05)
    return cached
