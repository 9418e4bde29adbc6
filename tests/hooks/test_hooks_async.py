"""The async hook against the emulator: run state, steps, logs, cancel, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from hook_helpers import ASYNC_RENEWABLE_TOKEN_LIFETIME, await_past_renewal_point, wait_for_run

from airflow_provider_mlpipelines.api.status import PipelineRunStatus, StepRunStatus
from airflow_provider_mlpipelines.clients.core.async_transport import CONNECTION_LIMIT
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import (
    AzureMLInvalidInputError,
    AzureMLNotFoundError,
)
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (
    AzureMLPipelinesAsyncHook,
    AzureMLPipelinesHook,
)

ConnMaker = Callable[..., str]
POLL_SECONDS = 0.3
RUN_TIMEOUT_SECONDS = 180.0


async def wait_async(hook: AzureMLPipelinesAsyncHook, run_id: str) -> Any:
    async def poll() -> Any:
        while True:
            run = await hook.get_pipeline_run(run_id)
            if run.status.is_terminal:
                return run
            await asyncio.sleep(POLL_SECONDS)

    return await asyncio.wait_for(poll(), RUN_TIMEOUT_SECONDS)


async def test_reads_a_finished_run_like_the_sync_hook(
    emulator: EmulatorProcess,
    make_conn: ConnMaker,
    session_hook: AzureMLPipelinesHook,
    finished_train_run: Any,
) -> None:
    run_id = finished_train_run.id
    async with AzureMLPipelinesAsyncHook(make_conn(emulator)) as hook:
        run = await hook.get_pipeline_run(run_id)
        steps = await hook.get_step_statuses(run_id)
        logs = {node: await hook.get_step_log(run_id, node, "STDOUT") for node in steps}
        children = await hook.list_child_runs(run_id, run.experiment_name or "", page_size=1)
        url = hook.get_run_url(run_id)
    assert run == session_hook.get_pipeline_run(run_id)
    assert steps == session_hook.get_step_statuses(run_id)
    assert all(step.status is StepRunStatus.FINISHED for step in steps.values())
    assert any("train_mse=" in text for text in logs.values())
    assert {c.node_id for c in children} == set(steps)
    assert url == session_hook.get_run_url(run_id)


async def test_cancel_and_describe_failures(
    emulator: EmulatorProcess,
    make_conn: ConnMaker,
    session_hook: AzureMLPipelinesHook,
    train_pipeline: Any,
) -> None:
    long_run = session_hook.submit_pipeline_run(
        train_pipeline.id,
        session_hook.build_submission(experiment_name="async", parameters={"sleep_seconds": 60}),
    )
    failing_run = session_hook.submit_pipeline_run(
        train_pipeline.id,
        session_hook.build_submission(experiment_name="async", parameters={"epochs": 0}),
    )
    async with AzureMLPipelinesAsyncHook(make_conn(emulator)) as hook:
        await hook.cancel_pipeline_run(long_run.id)
        assert (await wait_async(hook, long_run.id)).status is PipelineRunStatus.CANCELED
        assert (await wait_async(hook, failing_run.id)).status is PipelineRunStatus.FAILED
        report = await hook.describe_run_failure(failing_run.id, max_log_lines=3)
    assert report == session_hook.describe_run_failure(failing_run.id, max_log_lines=3)
    assert "(train) Failed" in report and "--epochs must be at least 1" in report


async def test_errors_are_mapped_like_the_sync_hook(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    async with AzureMLPipelinesAsyncHook(make_conn(emulator)) as hook:
        with pytest.raises(AzureMLNotFoundError, match="get run 'missing-run' failed: 404"):
            await hook.get_pipeline_run("missing-run")
        with pytest.raises(AzureMLInvalidInputError):
            await hook.get_step_log("run", "node", "STDWHAT")


async def test_many_concurrent_polls_share_one_session_and_one_token(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    run_id = emulator.manifest["pipeline_runs"]["simulated"]
    before = emulator.stats()
    hook = AzureMLPipelinesAsyncHook(make_conn(emulator))
    try:
        runs = await asyncio.gather(*(hook.get_pipeline_run(run_id) for _ in range(200)))
        transport = hook._transport
        assert transport is not None
        session = transport.session
        await asyncio.gather(*(hook.get_pipeline_run(run_id) for _ in range(50)))
        assert transport.session is session
        assert session.connector.limit == CONNECTION_LIMIT
    finally:
        await hook.close()
    assert session.closed
    after = emulator.stats()
    assert {run.id for run in runs} == {run_id}
    assert after["tokens_issued"] - before["tokens_issued"] == 1
    assert after["requests"]["get run"] - before["requests"].get("get run", 0) == 250


async def test_hook_works_again_after_close(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    run_id = emulator.manifest["pipeline_runs"]["simulated"]
    hook = AzureMLPipelinesAsyncHook(make_conn(emulator))
    try:
        await hook.get_pipeline_run(run_id)
        await hook.close()
        assert (await hook.get_pipeline_run(run_id)).id == run_id
    finally:
        await hook.close()


async def test_async_token_is_reacquired_before_it_expires(
    emulator_factory: Callable[..., EmulatorProcess], make_conn: ConnMaker
) -> None:
    # Renewed in their last 8 s: 20 concurrent calls then get one new token.
    short = emulator_factory(token_lifetime=ASYNC_RENEWABLE_TOKEN_LIFETIME)
    run_id = short.manifest["pipeline_runs"]["simulated"]
    async with AzureMLPipelinesAsyncHook(make_conn(short)) as hook:
        await hook.get_pipeline_run(run_id)
        first = short.stats()["tokens_issued"]
        await await_past_renewal_point((await hook._get_transport()).tokens._cache)
        await asyncio.gather(*(hook.get_pipeline_run(run_id) for _ in range(20)))
    stats = short.stats()
    assert stats["tokens_issued"] == first + 1
    assert set(stats["responses"]) == {"200"}, stats["responses"]


def test_sync_and_async_hooks_agree_on_a_submitted_run(
    session_hook: AzureMLPipelinesHook, simulated_pipeline: Any, emulator: EmulatorProcess
) -> None:
    run = session_hook.submit_pipeline_run(
        simulated_pipeline.id,
        session_hook.build_submission(experiment_name="agree", parameters={"duration_seconds": 0}),
    )
    finished = wait_for_run(session_hook, run.id)

    async def read() -> Any:
        async with AzureMLPipelinesAsyncHook(session_hook.azure_ml_pipelines_conn_id) as hook:
            return await hook.get_pipeline_run(run.id)

    assert asyncio.run(read()) == finished
