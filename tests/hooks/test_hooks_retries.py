"""Retries against real sockets: the emulator's fault injection, and a fault proxy for the
failures only a network can produce (a dropped connection after the request arrived).
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hook_fault_proxy import Fault, FaultProxy
from hook_helpers import Faults, SleepRecorder, runs_tagged

from airflow_provider_mlpipelines.api.run_tags import SUBMISSION_ID_TAG
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import (
    AzureMLAmbiguousSubmissionError,
    AzureMLAuthenticationError,
    AzureMLServerError,
    AzureMLThrottledError,
)
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (
    AzureMLPipelinesAsyncHook,
    AzureMLPipelinesHook,
)

ConnMaker = Callable[..., str]
SUBMIT_PATH = r"/PipelineRuns/PipelineSubmit/"
ENDPOINT_SUBMIT_PATH = r"/PipelineRuns/PipelineEndpointSubmit/"
RUNS_OF_PIPELINE_PATH = r"/PipelineRuns/Pipeline/"


def recording_hook(conn_id: str, **kwargs: Any) -> tuple[AzureMLPipelinesHook, SleepRecorder]:
    hook = AzureMLPipelinesHook(conn_id, **kwargs)
    recorder = SleepRecorder()
    hook.sleep = recorder  # type: ignore[method-assign]
    return hook, recorder


def submission(hook: AzureMLPipelinesHook, **tags: str) -> Any:
    return hook.build_submission(
        experiment_name="retries", parameters={"duration_seconds": 0}, tags=tags or None
    )


# --------------------------------------------------------------------------------------------
# Throttling and transient errors (the emulator's fault injection)
# --------------------------------------------------------------------------------------------
def test_429_with_retry_after_is_waited_out(
    emulator: EmulatorProcess,
    make_conn: ConnMaker,
    faults: Faults,
    simulated_pipeline: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_mlpipelines")
    hook, sleeps = recording_hook(make_conn(emulator))
    with hook:
        hook.get_published_pipeline(simulated_pipeline.id)  # token first: faults hit APIs only
        faults.set(fail_next=2, fail_status=429, retry_after_seconds=1, path_contains="/Pipelines/")
        fetched = hook.get_published_pipeline(simulated_pipeline.id)
    assert fetched.id == simulated_pipeline.id
    assert sleeps.waits == [1.0, 1.0]
    retry_logs = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retry_logs == [
        f"get pipeline '{simulated_pipeline.id}': HTTP 429 on attempt 1 of 6; retrying in 1.00 s",
        f"get pipeline '{simulated_pipeline.id}': HTTP 429 on attempt 2 of 6; retrying in 1.00 s",
    ]


def test_503_backs_off_exponentially_within_bounds(
    emulator: EmulatorProcess, make_conn: ConnMaker, faults: Faults, simulated_pipeline: Any
) -> None:
    hook, sleeps = recording_hook(make_conn(emulator), retry_backoff=0.05)
    with hook:
        hook.get_published_pipeline(simulated_pipeline.id)
        faults.set(fail_next=3, fail_status=503, path_contains="/Pipelines/")
        assert hook.get_published_pipeline(simulated_pipeline.id).id == simulated_pipeline.id
    assert len(sleeps.waits) == 3
    for attempt, wait in enumerate(sleeps.waits):
        assert 0 <= wait <= 0.05 * 2**attempt


def test_throttling_beyond_the_retries_raises_throttled(
    emulator: EmulatorProcess, make_conn: ConnMaker, faults: Faults, simulated_pipeline: Any
) -> None:
    hook, sleeps = recording_hook(make_conn(emulator, max_retries="2"))
    with hook:
        hook.get_published_pipeline(simulated_pipeline.id)
        faults.set(fail_next=5, fail_status=429, retry_after_seconds=0, path_contains="/Pipelines/")
        with pytest.raises(AzureMLThrottledError) as raised:
            hook.get_published_pipeline(simulated_pipeline.id)
    assert raised.value.status_code == 429
    assert len(sleeps.waits) == 2


async def test_async_hook_honours_retry_after(
    emulator: EmulatorProcess, make_conn: ConnMaker, faults: Faults
) -> None:
    run_id = emulator.manifest["pipeline_runs"]["simulated"]
    sleeps = SleepRecorder()
    async with AzureMLPipelinesAsyncHook(make_conn(emulator)) as hook:
        hook.sleep = sleeps.asleep  # type: ignore[method-assign]
        await hook.get_pipeline_run(run_id)
        faults.set(fail_next=2, fail_status=429, retry_after_seconds=1, path_contains=run_id)
        assert (await hook.get_pipeline_run(run_id)).id == run_id
    assert sleeps.waits == [1.0, 1.0]


def test_unreachable_service_is_a_server_error_after_retries(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = f"https://127.0.0.1:{port}"
    hook, sleeps = recording_hook(make_conn(emulator, host=host), max_retries=2, retry_backoff=0.01)
    with hook, pytest.raises(AzureMLServerError) as raised:
        hook.get_pipeline_run("run-x")
    assert len(sleeps.waits) == 2
    assert "get run 'run-x' failed" in str(raised.value) and host in str(raised.value)


# --------------------------------------------------------------------------------------------
# Submissions are never resent blindly (the fault proxy)
# --------------------------------------------------------------------------------------------
def proxied_hook(
    emulator: EmulatorProcess, make_conn: ConnMaker, proxy: FaultProxy, **kwargs: Any
) -> tuple[AzureMLPipelinesHook, SleepRecorder]:
    kwargs.setdefault("retry_backoff", 0.01)
    return recording_hook(make_conn(emulator, host=proxy.base_url), **kwargs)


@pytest.mark.parametrize("action", ["forward_then_drop", "forward_then_respond"])
def test_run_created_despite_a_failed_response_is_found_not_duplicated(
    emulator: EmulatorProcess,
    make_conn: ConnMaker,
    proxy: FaultProxy,
    simulated_pipeline: Any,
    action: str,
) -> None:
    proxy.add(Fault("POST", SUBMIT_PATH, action, status=500))
    case = uuid.uuid4().hex
    hook, _ = proxied_hook(emulator, make_conn, proxy)
    with hook:
        run = hook.submit_pipeline_run(simulated_pipeline.id, submission(hook, case=case))
        created = runs_tagged(hook, simulated_pipeline, "case", case)
    assert [r.id for r in created] == [run.id]
    posts = proxy.requests_to("POST", SUBMIT_PATH)
    assert len(posts) == 1 and posts[0].forwarded
    sent_id = posts[0].json()["tags"][SUBMISSION_ID_TAG]
    assert run.tags[SUBMISSION_ID_TAG] == sent_id
    assert proxy.requests_to("GET", RUNS_OF_PIPELINE_PATH)


def test_read_timeout_after_the_request_arrived_is_resolved_by_lookup(
    emulator: EmulatorProcess, make_conn: ConnMaker, proxy: FaultProxy, simulated_pipeline: Any
) -> None:
    proxy.add(Fault("POST", SUBMIT_PATH, "forward_then_stall", stall_seconds=3))
    case = uuid.uuid4().hex
    hook, _ = proxied_hook(emulator, make_conn, proxy, request_timeout=1)
    with hook:
        run = hook.submit_pipeline_run(simulated_pipeline.id, submission(hook, case=case))
        created = runs_tagged(hook, simulated_pipeline, "case", case)
    assert [r.id for r in created] == [run.id]
    assert len(proxy.requests_to("POST", SUBMIT_PATH)) == 1


def test_submission_that_never_arrived_is_resent_once_the_lookup_finds_nothing(
    emulator: EmulatorProcess, make_conn: ConnMaker, proxy: FaultProxy, simulated_pipeline: Any
) -> None:
    proxy.add(Fault("POST", SUBMIT_PATH, "drop"))
    case = uuid.uuid4().hex
    hook, sleeps = proxied_hook(emulator, make_conn, proxy)
    # This emulator lists new runs at once; waiting out a lagging list is tested in
    # test_hooks_submit_lookup.py.
    hook.runs_list_lag_seconds = 0
    with hook:
        run = hook.submit_pipeline_run(simulated_pipeline.id, submission(hook, case=case))
        created = runs_tagged(hook, simulated_pipeline, "case", case)
    assert [r.id for r in created] == [run.id]
    posts = proxy.requests_to("POST", SUBMIT_PATH)
    assert [p.forwarded for p in posts] == [False, True]
    # Both attempts carried the same submission id: the resend is the same submission.
    assert len({p.json()["tags"][SUBMISSION_ID_TAG] for p in posts}) == 1
    assert len(sleeps.waits) == 1


def test_throttled_submission_is_retried_directly(
    emulator: EmulatorProcess, make_conn: ConnMaker, proxy: FaultProxy, simulated_pipeline: Any
) -> None:
    proxy.add(Fault("POST", SUBMIT_PATH, "respond", status=429, headers={"Retry-After": "0"}))
    case = uuid.uuid4().hex
    hook, _ = proxied_hook(emulator, make_conn, proxy)
    with hook:
        run = hook.submit_pipeline_run(simulated_pipeline.id, submission(hook, case=case))
        created = runs_tagged(hook, simulated_pipeline, "case", case)
    assert [r.id for r in created] == [run.id]
    assert len(proxy.requests_to("POST", SUBMIT_PATH)) == 2
    # Nothing ambiguous happened (a 429 proves the refusal; a 503 would not, see
    # test_hooks_submit_lookup.py), so nothing was looked up before resending.
    assert len(proxy.requests_to("GET", RUNS_OF_PIPELINE_PATH)) == 1


def test_undecidable_submission_raises_ambiguous_naming_the_submission_id(
    emulator: EmulatorProcess, make_conn: ConnMaker, proxy: FaultProxy, simulated_pipeline: Any
) -> None:
    proxy.add(Fault("POST", SUBMIT_PATH, "forward_then_drop"))
    proxy.add(Fault("GET", RUNS_OF_PIPELINE_PATH, "respond", status=503, times=None))
    hook, _ = proxied_hook(emulator, make_conn, proxy, max_retries=1)
    with hook, pytest.raises(AzureMLAmbiguousSubmissionError) as raised:
        hook.submit_pipeline_run(
            simulated_pipeline.id, submission(hook, **{SUBMISSION_ID_TAG: "caller-chosen-id"})
        )
    assert "caller-chosen-id" in str(raised.value)
    assert f"submit to pipeline '{simulated_pipeline.id}'" in str(raised.value)
    assert len(proxy.requests_to("POST", SUBMIT_PATH)) == 1


def test_ambiguous_endpoint_submission_is_looked_up_behind_the_version(
    emulator: EmulatorProcess,
    make_conn: ConnMaker,
    proxy: FaultProxy,
    simulated_pipeline: Any,
    session_hook: AzureMLPipelinesHook,
) -> None:
    endpoint = session_hook.create_pipeline_endpoint(
        f"ambiguous-{uuid.uuid4().hex[:8]}", simulated_pipeline.id
    )
    proxy.add(Fault("POST", ENDPOINT_SUBMIT_PATH, "forward_then_respond", status=502))
    case = uuid.uuid4().hex
    hook, _ = proxied_hook(emulator, make_conn, proxy)
    with hook:
        run = hook.submit_pipeline_endpoint_run(
            endpoint.id, submission(hook, case=case), pipeline_version="0"
        )
        created = runs_tagged(hook, simulated_pipeline, "case", case)
    assert [r.id for r in created] == [run.id]
    assert len(proxy.requests_to("POST", ENDPOINT_SUBMIT_PATH)) == 1


def test_a_token_refused_twice_is_an_authentication_error(
    emulator: EmulatorProcess, make_conn: ConnMaker, proxy: FaultProxy
) -> None:
    proxy.add(Fault("GET", r"/PipelineRuns/", "respond", status=401, times=None))
    before = emulator.stats()["tokens_issued"]
    hook, sleeps = proxied_hook(emulator, make_conn, proxy)
    with hook, pytest.raises(AzureMLAuthenticationError) as raised:
        hook.get_pipeline_run("run-x")
    assert raised.value.status_code == 401
    assert len(proxy.requests_to("GET", r"/PipelineRuns/")) == 2
    # The first token, then exactly one renewal after the first 401.
    assert emulator.stats()["tokens_issued"] - before == 2
    assert sleeps.waits == []


def test_a_200_that_is_not_json_is_a_server_error(
    emulator: EmulatorProcess, make_conn: ConnMaker, proxy: FaultProxy
) -> None:
    page = b"<html><body>Sign in to continue</body></html>"
    proxy.add(Fault("GET", r"/PipelineRuns/run-x$", "respond", status=200, body=page))
    hook, _ = proxied_hook(emulator, make_conn, proxy)
    with hook, pytest.raises(AzureMLServerError) as raised:
        hook.get_pipeline_run("run-x")
    assert raised.value.code == "InvalidResponse"
    assert "get run 'run-x' failed: 200 InvalidResponse" in str(raised.value)
