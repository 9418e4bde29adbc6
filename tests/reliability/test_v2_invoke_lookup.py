"""No second v2 job, with the service as it is: an invoke's job is found without its name.

The real service names an invoked job itself (tests/fixtures/recordings/batch_invoke.json), and
what it does with the name the client asks for is not recorded. Each test runs under each of
the emulator's behaviour switches for it (docs/emulator.md), and counts the jobs in the
emulator:

- ``name-ignored-display-kept`` (the default): the requested name becomes the display name;
- ``name-ignored-display-made-up``: the service makes up the display name too, so nothing
  marks the job: where a job may be the lost invoke's, the provider says so and stops;
- ``name-honoured``: the requested name names the job (a resend of it is refused, 409).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_mlpipelines.clients.v2.calls import task_job_name
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import (
    AzureMLAmbiguousSubmissionError,
    AzureMLUndecidableSubmissionError,
)
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)
from tests.operators.conftest import RecordingTaskInstance
from tests.v2_helpers import (
    INVOKE,
    Deployed,
    RawArm,
    faults_of,
    module_v2_emulator,
    requests_named,
)

SWITCHES = {
    "name-ignored-display-kept": (),
    "name-ignored-display-made-up": ("--invoke-display-name", "generated"),
    "name-honoured": ("--invoke-job-name", "honour"),
}
#: Quick operations: this module is about invokes, not about following them.
FAST = ("--lro-seconds", "0.2", "--lro-retry-after", "0.2")
UNDECIDABLE = "name-ignored-display-made-up"


@pytest.fixture(scope="module", params=list(SWITCHES))
def switch(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def v2_emulator(
    switch: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EmulatorProcess, str]]:
    with module_v2_emulator(tmp_path_factory, *FAST, *SWITCHES[switch]) as started:
        yield started


@pytest.fixture
def endpoint(v2_emulator: tuple[EmulatorProcess, str], deployed: Deployed) -> str:
    """A batch endpoint of its own for the test: no other job on its deployment."""
    name = f"lookup-{uuid.uuid4().hex[:8]}"
    with AzureMLPipelinesHook(v2_emulator[1]) as hook:
        hook.ensure_pipeline_in_endpoint(
            name, deployed.components["simulated"], deployment_name="sim"
        )
    return name


def _identity(case: str) -> dict[str, str]:
    return {
        "airflow.dag_id": "invoke_lookup",
        "airflow.task_id": case,
        "airflow.run_id": f"manual__{time.time_ns()}",
        "airflow.map_index": "-1",
        "airflow.try_number": "1",
    }


def _lose_one_answer(emulator: EmulatorProcess, fault: str) -> threading.Thread | None:
    if fault == "503_after":
        emulator.set_faults(
            fail_next=1, fail_status=503, error_mode="after", path_contains="/inference/"
        )
        return None
    if fault == "503_before":
        emulator.set_faults(fail_next=1, fail_status=503, path_contains="/inference/")
        return None
    dropped = faults_of(emulator, "drop_after")

    def clear_after_the_first_drop() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if faults_of(emulator, "drop_after") > dropped:
                emulator.set_faults(drop_rate=0.0)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=clear_after_the_first_drop, daemon=True)
    watcher.start()
    emulator.set_faults(drop_mode="after", path_contains="/inference/", drop_rate=1.0)
    return watcher


@pytest.mark.parametrize("fault", ["drop_after", "503_after", "503_before"])
def test_an_invoke_whose_answer_is_lost_makes_one_job_or_says_it_cannot_tell(
    switch: str,
    fault: str,
    v2_emulator: tuple[EmulatorProcess, str],
    emulator_v2: EmulatorProcess,
    endpoint: str,
    raw: RawArm,
) -> None:
    jobs = len(raw.job_names())
    invokes = requests_named(emulator_v2, INVOKE)
    identity = _identity(f"lost-{fault}")
    marker = task_job_name(identity, 1)
    with AzureMLPipelinesHook(v2_emulator[1]) as hook:
        submission = hook.build_submission(
            experiment_name="invoke-lookup", parameters={"duration_seconds": 0}, tags=identity
        )
        watcher = _lose_one_answer(emulator_v2, fault)
        made_before_failing = fault != "503_before"
        if switch == UNDECIDABLE and made_before_failing:
            with pytest.raises(AzureMLUndecidableSubmissionError, match="cannot be told"):
                hook.submit_pipeline_endpoint_run(endpoint, submission)
        else:
            run = hook.submit_pipeline_endpoint_run(endpoint, submission)
            job = raw.job(run.id)["properties"]
            if switch != UNDECIDABLE:
                assert marker in (run.id, job["displayName"])
    if watcher is not None:
        watcher.join(timeout=30)
    # One job, whatever the switch; the invoke was sent again only when it had made none.
    assert len(raw.job_names()) - jobs == 1
    assert requests_named(emulator_v2, INVOKE) - invokes == (1 if made_before_failing else 2)


def _operator(conn_id: str, endpoint: str, **kwargs: Any) -> AzureMLSubmitPipelineRunOperator:
    return AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        experiment_name="invoke-lookup",
        pipeline_endpoint_name=endpoint,
        parameters={"duration_seconds": 1},
        deferrable=False,
        poll_interval=0.5,
        timeout=120,
        azure_ml_pipelines_conn_id=conn_id,
        **kwargs,
    )


class StateStore(dict[str, Any]):
    """The task state store of one task instance (Airflow 3.3's ``task_state_store``)."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value


@pytest.mark.parametrize("store", ["task state store", "none (Airflow < 3.3)"])
def test_a_retry_after_the_worker_died_between_invoke_and_first_read_makes_no_second_job(
    switch: str,
    store: str,
    v2_emulator: tuple[EmulatorProcess, str],
    emulator_v2: EmulatorProcess,
    endpoint: str,
    raw: RawArm,
) -> None:
    jobs = len(raw.job_names())
    invokes = requests_named(emulator_v2, INVOKE)
    state = StateStore() if store == "task state store" else None
    airflow_run_id = f"manual__{time.time_ns()}"
    dag_run = SimpleNamespace(start_date=datetime.now(timezone.utc) - timedelta(seconds=5))

    def context(try_number: int) -> dict[str, Any]:
        ti = RecordingTaskInstance(run_id=airflow_run_id, try_number=try_number)
        found: dict[str, Any] = {"ti": ti, "dag_run": dag_run}
        if state is not None:
            found["task_state_store"] = state
        return found

    # Try 1 invokes and dies before its first status read (returns without waiting).
    first = _operator(v2_emulator[1], endpoint, wait_for_completion=False).execute(context(1))
    second = _operator(v2_emulator[1], endpoint)
    if switch == UNDECIDABLE and state is None:
        from airflow.exceptions import AirflowFailException

        # Nothing marks try 1's job: the retry says so and fails, instead of submitting.
        with pytest.raises(AirflowFailException, match=first):
            second.execute(context(2))
    else:
        assert second.execute(context(2)) == first
    assert requests_named(emulator_v2, INVOKE) - invokes == 1
    assert len(raw.job_names()) - jobs == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_cancel_of_a_job_that_has_ended_is_nothing_to_cancel(
    switch: str,
    mode: str,
    v2_emulator: tuple[EmulatorProcess, str],
    emulator_v2: EmulatorProcess,
    endpoint: str,
    raw: RawArm,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The service refuses to cancel a job in a terminal state (400 UserError); a timeout,
    ``on_kill`` or the cancel operator that meets one has nothing to do, and says so."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesAsyncHook

    with AzureMLPipelinesHook(v2_emulator[1]) as hook:
        run = hook.submit_pipeline_endpoint_run(
            endpoint,
            hook.build_submission(
                experiment_name="invoke-lookup", parameters={"duration_seconds": 0}
            ),
        )
    raw.wait_job(run.id, ("Completed",))
    cancels = requests_named(emulator_v2, "cancel job")
    caplog.set_level("INFO")
    if mode == "sync":
        with AzureMLPipelinesHook(v2_emulator[1]) as hook:
            hook.cancel_pipeline_run(run.id)
    else:
        async with AzureMLPipelinesAsyncHook(v2_emulator[1]) as async_hook:
            await async_hook.cancel_pipeline_run(run.id)
    assert requests_named(emulator_v2, "cancel job") - cancels == 1
    assert raw.job(run.id)["properties"]["status"] == "Completed"
    assert f"Job {run.id} had already ended" in caplog.text


def test_a_lost_invoke_whose_lookup_fails_too_says_what_to_look_for(
    v2_emulator: tuple[EmulatorProcess, str],
    emulator_v2: EmulatorProcess,
    endpoint: str,
    raw: RawArm,
) -> None:
    jobs = len(raw.job_names())
    invokes = requests_named(emulator_v2, INVOKE)
    identity = _identity("lookup-fails")
    # "/jobs" is in the invoke's path and the jobs list's: the invoke is answered 503 after
    # the job was made, and the list that would find it 503 too (no retries on this hook).
    emulator_v2.set_faults(fail_next=2, fail_status=503, error_mode="after", path_contains="/jobs")
    with AzureMLPipelinesHook(v2_emulator[1], max_retries=0) as hook:
        submission = hook.build_submission(
            experiment_name="invoke-lookup", parameters={"duration_seconds": 0}, tags=identity
        )
        with pytest.raises(AzureMLAmbiguousSubmissionError) as raised:
            hook.submit_pipeline_endpoint_run(endpoint, submission)
    emulator_v2.set_faults(fail_next=0)
    assert task_job_name(identity, 1) in str(raised.value)
    assert "listing the jobs" in str(raised.value)
    assert requests_named(emulator_v2, INVOKE) - invokes == 1
    assert len(raw.job_names()) - jobs == 1
