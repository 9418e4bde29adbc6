"""Reliability on a v2 connection: throttling, lost answers to a submission, token expiry.

Each test runs the real hook against an emulator of this module's own (or, for token expiry,
of the test's own) with faults switched on through its admin route, and counts what reached
the emulator: requests per route, jobs in the workspace, tokens per scope. The job names are
derived from the task instance identity and try, so a resent submission meets the job of the
first attempt instead of creating a second one; these tests check that exactly one job results.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.clients.v2.calls import task_job_name
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from tests.airflow_helpers import deferrals, task_state, xcom
from tests.operators.conftest import dagbag  # noqa: F401  (the DAGs of tests/dags)
from tests.v2_helpers import (
    ARM_SCOPE,
    INVOKE,
    JOB_PUT,
    ML_SCOPE,
    Deployed,
    RawArm,
    deploy,
    faults_of,
    module_v2_emulator,
    recording_hook,
    register_v2_conn,
    requests_named,
    token_requests,
    v2_conn_json,
    wait_until,
)

RETRY_AFTER = 2


@pytest.fixture(scope="module")
def v2_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, str]]:
    with module_v2_emulator(tmp_path_factory) as started:
        yield started


def _identity(case: str) -> dict[str, str]:
    """The tags the submit operator puts on a submission of try 1 of a task instance."""
    return {
        "airflow.dag_id": "v2_reliability",
        "airflow.task_id": case,
        "airflow.run_id": f"manual__{time.time_ns()}",
        "airflow.map_index": "-1",
        "airflow.try_number": "1",
    }


def _submission(hook: AzureMLPipelinesHook, case: str, **parameters: Any) -> Any:
    return hook.build_submission(
        experiment_name="v2-reliability",
        parameters={"duration_seconds": 0, **parameters},
        tags=_identity(case),
    )


def _job_name(submission: Any) -> str:
    """The name the submission asks for; the emulator, as the service, names the job itself
    and keeps this as the job's display name (its default behaviour switches)."""
    return task_job_name(submission.tags, 1)


def _display_name(raw: RawArm, job_name: str) -> str:
    return str(raw.job(job_name)["properties"]["displayName"])


# --------------------------------------------------------------------------------------------
# Throttling
# --------------------------------------------------------------------------------------------
def test_a_429_on_an_arm_route_is_retried_after_its_retry_after(
    emulator_v2: EmulatorProcess, v2_hook: AzureMLPipelinesHook, deployed: Deployed
) -> None:
    emulator_v2.set_faults(
        fail_next=1,
        fail_status=429,
        retry_after_seconds=RETRY_AFTER,
        path_contains=f"/batchEndpoints/{deployed.endpoint}",
    )
    reads = requests_named(emulator_v2, "get batch endpoint")
    throttled = faults_of(emulator_v2, "429")
    endpoint = v2_hook.get_pipeline_endpoint(name=deployed.endpoint)
    assert endpoint.default_version == deployed.deployment
    assert faults_of(emulator_v2, "429") - throttled == 1
    assert requests_named(emulator_v2, "get batch endpoint") - reads == 2
    assert v2_hook.waits == [RETRY_AFTER]  # type: ignore[attr-defined]


def test_a_429_on_invoke_is_retried_after_its_retry_after_and_makes_one_job(
    emulator_v2: EmulatorProcess, v2_hook: AzureMLPipelinesHook, deployed: Deployed, raw: RawArm
) -> None:
    jobs = len(raw.job_names())
    invokes = requests_named(emulator_v2, INVOKE)
    throttled = faults_of(emulator_v2, "429")
    emulator_v2.set_faults(
        fail_next=1, fail_status=429, retry_after_seconds=RETRY_AFTER, path_contains="/inference/"
    )
    submission = _submission(v2_hook, "throttled")
    run = v2_hook.submit_pipeline_endpoint_run(deployed.endpoint, submission)
    assert _display_name(raw, run.id) == _job_name(submission)
    assert faults_of(emulator_v2, "429") - throttled == 1
    assert requests_named(emulator_v2, INVOKE) - invokes == 2
    assert v2_hook.waits == [RETRY_AFTER]  # type: ignore[attr-defined]
    assert len(raw.job_names()) - jobs == 1


async def test_a_429_on_the_triggers_job_read_is_retried_after_its_retry_after(
    emulator_v2: EmulatorProcess, v2_emulator: tuple[EmulatorProcess, str], deployed: Deployed
) -> None:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesAsyncHook

    with AzureMLPipelinesHook(v2_emulator[1]) as hook:
        job = hook.submit_pipeline_endpoint_run(
            deployed.endpoint, hook.build_submission(experiment_name="v2-reliability")
        )
    reads = requests_named(emulator_v2, "get job")
    throttled = faults_of(emulator_v2, "429")
    emulator_v2.set_faults(
        fail_next=1, fail_status=429, retry_after_seconds=RETRY_AFTER, path_contains="/jobs/"
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    async with AzureMLPipelinesAsyncHook(v2_emulator[1]) as async_hook:
        async_hook.sleep = sleep  # type: ignore[method-assign]
        run = await async_hook.get_pipeline_run(job.id)
    assert run.id == job.id
    assert faults_of(emulator_v2, "429") - throttled == 1
    assert requests_named(emulator_v2, "get job") - reads == 2
    assert waits == [RETRY_AFTER]


# --------------------------------------------------------------------------------------------
# Lost answers to a submission
# --------------------------------------------------------------------------------------------
def test_an_invoke_answered_503_after_the_job_was_created_yields_one_job(
    emulator_v2: EmulatorProcess, v2_hook: AzureMLPipelinesHook, deployed: Deployed, raw: RawArm
) -> None:
    jobs = len(raw.job_names())
    invokes = requests_named(emulator_v2, INVOKE)
    failed = faults_of(emulator_v2, "503_after")
    emulator_v2.set_faults(
        fail_next=1, fail_status=503, error_mode="after", path_contains="/inference/"
    )
    submission = _submission(v2_hook, "invoke_503_after")
    run = v2_hook.submit_pipeline_endpoint_run(deployed.endpoint, submission)
    assert faults_of(emulator_v2, "503_after") - failed == 1
    # The emulator created the job and answered 503; the hook found the job by the name it
    # asked for (kept as the display name) instead of sending the invoke again.
    assert requests_named(emulator_v2, INVOKE) - invokes == 1
    assert _display_name(raw, run.id) == _job_name(submission)
    assert len(raw.job_names()) - jobs == 1
    assert raw.wait_job(run.id, ("Completed",))["properties"]["status"] == "Completed"


def _drop_once_then_clear(emulator: EmulatorProcess) -> threading.Thread:
    # A rate of 1 with a watcher that clears it after the first drop: the number of drops does
    # not depend on the order of the hook's requests.
    dropped = faults_of(emulator, "drop_after")

    def clear_after_first_drop() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if faults_of(emulator, "drop_after") > dropped:
                emulator.set_faults(drop_rate=0.0)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=clear_after_first_drop, daemon=True)
    watcher.start()
    return watcher


def test_an_invoke_whose_connection_drops_after_the_job_was_created_yields_one_job(
    emulator_v2: EmulatorProcess, v2_hook: AzureMLPipelinesHook, deployed: Deployed, raw: RawArm
) -> None:
    jobs = len(raw.job_names())
    invokes = requests_named(emulator_v2, INVOKE)
    dropped = faults_of(emulator_v2, "drop_after")
    emulator_v2.set_faults(drop_mode="after", path_contains="/inference/")
    watcher = _drop_once_then_clear(emulator_v2)
    emulator_v2.set_faults(drop_rate=1.0)
    submission = _submission(v2_hook, "invoke_dropped_after")
    run = v2_hook.submit_pipeline_endpoint_run(deployed.endpoint, submission)
    watcher.join(timeout=30)
    assert faults_of(emulator_v2, "drop_after") - dropped == 1
    assert requests_named(emulator_v2, INVOKE) - invokes == 1
    assert _display_name(raw, run.id) == _job_name(submission)
    assert len(raw.job_names()) - jobs == 1


def test_a_pipeline_job_put_answered_503_after_creation_yields_one_job(
    emulator_v2: EmulatorProcess, v2_hook: AzureMLPipelinesHook, deployed: Deployed, raw: RawArm
) -> None:
    jobs = len(raw.job_names())
    puts = requests_named(emulator_v2, JOB_PUT)
    failed = faults_of(emulator_v2, "503_after")
    submission = _submission(v2_hook, "job_put_503_after")
    name = _job_name(submission)
    # Only the PUT of this job is hit (the first request on its path).
    emulator_v2.set_faults(fail_next=1, fail_status=503, error_mode="after", path_contains=name)
    run = v2_hook.submit_pipeline_run(deployed.components["simulated"], submission)
    assert faults_of(emulator_v2, "503_after") - failed == 1
    # Resent under the same name: the PUT of an existing job answers that job (a create or
    # update), so no second job.
    assert requests_named(emulator_v2, JOB_PUT) - puts == 2
    assert run.id == name
    assert len(raw.job_names()) - jobs == 1


# --------------------------------------------------------------------------------------------
# Token expiry of both audiences
# --------------------------------------------------------------------------------------------
TOKEN_LIFETIME = 5


def test_both_tokens_are_renewed_during_a_wait_that_outlives_several_of_them(
    emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = emulator_factory(token_lifetime=TOKEN_LIFETIME)
    conn_id = register_v2_conn(monkeypatch, emulator)
    with AzureMLPipelinesHook(conn_id) as setup:
        deployed = deploy(setup, emulator)
    hook = recording_hook(conn_id)
    try:
        arm_before = token_requests(emulator, ARM_SCOPE)
        ml_before = token_requests(emulator, ML_SCOPE)
        long_run = hook.submit_pipeline_endpoint_run(
            deployed.endpoint,
            hook.build_submission(
                experiment_name="token-expiry", parameters={"duration_seconds": 4 * TOKEN_LIFETIME}
            ),
        )
        started = time.monotonic()
        invoked_at = started
        short_runs = []

        def finished() -> bool:
            nonlocal invoked_at
            # An invoke every token lifetime or so: each one needs a live ML-audience token.
            if time.monotonic() - invoked_at >= TOKEN_LIFETIME - 1:
                invoked_at = time.monotonic()
                short_runs.append(
                    hook.submit_pipeline_endpoint_run(
                        deployed.endpoint,
                        hook.build_submission(
                            experiment_name="token-expiry", parameters={"duration_seconds": 0}
                        ),
                    ).id
                )
            time.sleep(0.5)
            return hook.get_pipeline_run(long_run.id).status.is_terminal

        wait_until(finished, 180, f"job {long_run.id} to end")
        elapsed = time.monotonic() - started
        assert hook.get_pipeline_run(long_run.id).status == PipelineRunStatus.FINISHED
        for name in short_runs:
            assert hook.get_pipeline_run(name).status != PipelineRunStatus.FAILED
        stats = emulator.stats()
    finally:
        hook.close()
    assert elapsed >= 3 * TOKEN_LIFETIME
    assert len(short_runs) >= 3
    arm_tokens = token_requests(emulator, ARM_SCOPE) - arm_before
    ml_tokens = token_requests(emulator, ML_SCOPE) - ml_before
    # Renewed: several of each audience over the wait...
    assert arm_tokens >= 3, stats["token_scopes"]
    assert ml_tokens >= 3, stats["token_scopes"]
    # ...but cached between renewals, not fetched per request.
    assert arm_tokens < requests_named(emulator, "get job") / 2
    # Nothing was refused for an expired token (or for any other reason).
    assert "401" not in stats["responses"], stats["responses"]
    assert hook.waits == []  # type: ignore[attr-defined]


def test_the_trigger_renews_the_arm_token_during_a_deferred_wait(
    emulator_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    dagbag: Any,  # noqa: F811
    task_output: Any,
) -> None:
    emulator = emulator_factory(token_lifetime=TOKEN_LIFETIME)
    conn_id = register_v2_conn(monkeypatch, emulator)
    with AzureMLPipelinesHook(conn_id) as setup:
        deployed = deploy(setup, emulator)
    # The DAGs of tests/dags use the default connection.
    monkeypatch.setenv(CONN_ENV_VAR, v2_conn_json(emulator))
    arm_before = token_requests(emulator, ARM_SCOPE)
    dag_run = dagbag.get_dag("mlp_test_submit_deferred_endpoint_name").test(
        run_conf={
            "target": deployed.endpoint,
            "parameters": {"duration_seconds": 4 * TOKEN_LIFETIME},
        }
    )
    assert task_state(dag_run, "submit") == "success"
    assert deferrals(dag_run, "submit", task_output()) >= 1
    assert xcom(dag_run, "submit", "run_status") == "Finished"
    stats = emulator.stats()
    # The trigger polled the job for 4 token lifetimes with the async hook's own credential.
    renewals = token_requests(emulator, ARM_SCOPE) - arm_before
    assert renewals >= 3, stats["token_scopes"]
    assert token_requests(emulator, ML_SCOPE) >= 1, stats["token_scopes"]
    # azure.identity.aio hands back a cached token within 30 s of its last request, so with
    # 5 s tokens a poll may carry one that has just expired: the service refuses it (401) and
    # the hook renews it and resends, which the task's success shows. Each refusal costs one
    # renewal, never more.
    assert int(stats["responses"].get("401", 0)) <= renewals, stats["responses"]


# --------------------------------------------------------------------------------------------
# What v2 has no equivalent for (a taken job name: test_v2_invoke_lookup.py)
# --------------------------------------------------------------------------------------------
def test_parent_run_id_is_refused_before_anything_is_sent(
    emulator_v2: EmulatorProcess, v2_hook: AzureMLPipelinesHook, deployed: Deployed
) -> None:
    from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError

    sent = requests_named(emulator_v2, INVOKE, JOB_PUT)
    with pytest.raises(AzureMLInvalidInputError, match="parent_run_id is not available on a v2"):
        v2_hook.submit_pipeline_endpoint_run(
            deployed.endpoint, _submission(v2_hook, "parent"), parent_run_id="abc"
        )
    with pytest.raises(AzureMLInvalidInputError, match="v2 jobs have no parent run"):
        v2_hook.submit_pipeline_run(
            deployed.components["score"], _submission(v2_hook, "parent"), parent_run_id="abc"
        )
    assert requests_named(emulator_v2, INVOKE, JOB_PUT) == sent
