"""Triggers of one process share batched status reads (run history's ``runs:query``), v1.

Every test counts what reached the emulator (its ``/_emulator/stats``): the queries, the
per-run reads, and the outcome each trigger reported. The v2 counterpart (no ARM read while a
job runs) is tests/operators/test_v2_trigger_batching.py.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.triggers._batched_reads import (
    BatchedStatusReader,
    readers,
)
from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import AzureMLPipelineRunTrigger
from tests.v2_helpers import requests_named

EXPERIMENT = "batching-tests"
QUERY = "query runs"
RUN_GET = "get run"


def _submit(hook: Any, pipeline_id: str, experiment: str = EXPERIMENT, **parameters: Any) -> str:
    submission = hook.build_submission(experiment_name=experiment, parameters=parameters)
    return hook.submit_pipeline_run(pipeline_id, submission).id


async def _event(trigger: AzureMLPipelineRunTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger fired no event")


def _set_query_behaviour(emulator: EmulatorProcess, **settings: Any) -> None:
    emulator.admin("PUT", "/_emulator/admin/runs-query", json=settings)


@pytest.fixture
def query_behaviour(emulator: EmulatorProcess) -> Iterator[Any]:
    """Change the emulator's ``runs:query`` switches for one test; restored afterwards."""
    try:
        yield lambda **settings: _set_query_behaviour(emulator, **settings)
    finally:
        _set_query_behaviour(emulator, max_ids=0, lag_seconds=0, max_top=500)


@pytest.fixture
def no_retry_conn(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session emulator's v1 connection under a new id, with no retries."""
    conn = json.loads(emulator.airflow_conn)
    conn["extra"]["max_retries"] = 0
    conn_id = f"aml_batch_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


async def test_many_triggers_are_answered_by_few_queries_with_the_right_outcomes(
    hook: Any, published: dict[str, Any], emulator: EmulatorProcess
) -> None:
    outcomes = ["Finished", "Failed"] * 10
    run_ids = [
        _submit(hook, published["simulated"], duration_seconds=1.5, outcome=outcome)
        for outcome in outcomes
    ]
    queries, gets = requests_named(emulator, QUERY), requests_named(emulator, RUN_GET)
    triggers = [
        AzureMLPipelineRunTrigger(run_id, poll_interval=0.5, experiment_name=EXPERIMENT)
        for run_id in run_ids
    ]
    started = time.monotonic()
    events = await asyncio.gather(*(_event(trigger) for trigger in triggers))
    rounds = (time.monotonic() - started) / 0.5 + 2
    assert [(e["status"], e["run_id"], e["run_status"]) for e in events] == [
        ("terminal", run_id, outcome) for run_id, outcome in zip(run_ids, outcomes, strict=True)
    ]
    queries = requests_named(emulator, QUERY) - queries
    gets = requests_named(emulator, RUN_GET) - gets
    # One query per gathering for all 20 runs (never one per run), and a run's own read only
    # to confirm each failure with the pipelines API.
    assert 1 <= queries <= rounds, (queries, rounds)
    assert gets == outcomes.count("Failed")
    assert readers() == []  # the last trigger to finish closed the shared reader


async def test_triggers_that_read_per_run_send_one_read_per_run_and_poll(
    hook: Any, published: dict[str, Any], emulator: EmulatorProcess
) -> None:
    run_ids = [_submit(hook, published["simulated"], duration_seconds=1.5) for _ in range(5)]
    queries, gets = requests_named(emulator, QUERY), requests_named(emulator, RUN_GET)
    triggers = [
        AzureMLPipelineRunTrigger(
            run_id, poll_interval=0.5, experiment_name=EXPERIMENT, batch_status_reads=False
        )
        for run_id in run_ids
    ]
    events = await asyncio.gather(*(_event(trigger) for trigger in triggers))
    assert {e["run_status"] for e in events} == {"Finished"}
    assert requests_named(emulator, QUERY) == queries
    assert requests_named(emulator, RUN_GET) - gets >= 2 * len(run_ids)


async def test_chunks_are_queried_apart(
    hook: Any, published: dict[str, Any], emulator: EmulatorProcess, session_conn: Any
) -> None:
    run_ids = [_submit(hook, published["simulated"], duration_seconds=0.2) for _ in range(10)]
    await asyncio.sleep(1.5)
    reader = BatchedStatusReader("azure_ml_pipelines_default", chunk_size=4)
    try:
        readings = await asyncio.gather(*(reader.read(r, EXPERIMENT, 0.1) for r in run_ids))
    finally:
        await reader.close()
    assert {(r.status.value, r.batched) for r in readings} == {("Finished", True)}
    assert reader.counters["queries"] == 3  # 4 + 4 + 2
    assert reader.counters["per_run_reads"] == 0


async def test_a_refused_query_is_asked_again_in_halves(
    hook: Any, published: dict[str, Any], emulator: EmulatorProcess, query_behaviour: Any
) -> None:
    run_ids = [_submit(hook, published["simulated"], duration_seconds=0.2) for _ in range(10)]
    await asyncio.sleep(1.5)
    query_behaviour(max_ids=3)
    reader = BatchedStatusReader("azure_ml_pipelines_default")
    try:
        readings = await asyncio.gather(*(reader.read(r, EXPERIMENT, 0.1) for r in run_ids))
        again = await asyncio.gather(*(reader.read(r, EXPERIMENT, 0.1) for r in run_ids))
    finally:
        await reader.close()
    assert all(r.batched and r.status.value == "Finished" for r in [*readings, *again])
    assert reader.chunk_size <= 3
    # 10 refused, 5 + 5 refused, then 2 + 3 + 2 + 3; the second round starts at the smaller size.
    assert reader.counters["query_failures"] == 3
    assert reader.counters["per_run_reads"] == 0


async def test_runs_the_query_does_not_return_are_read_on_their_own(
    hook: Any, published: dict[str, Any], emulator: EmulatorProcess, query_behaviour: Any
) -> None:
    elsewhere = _submit(hook, published["simulated"], "another-experiment", duration_seconds=0.2)
    await asyncio.sleep(1.5)
    query_behaviour(lag_seconds=60)
    fresh = _submit(hook, published["simulated"], duration_seconds=30)
    reader = BatchedStatusReader("azure_ml_pipelines_default")
    try:
        lagging, wrong_experiment = await asyncio.gather(
            reader.read(fresh, EXPERIMENT, 0.1), reader.read(elsewhere, EXPERIMENT, 0.1)
        )
    finally:
        await reader.close()
    assert (lagging.status.value, lagging.batched) in {("Running", False), ("NotStarted", False)}
    assert (wrong_experiment.status.value, wrong_experiment.batched) == ("Finished", False)
    assert wrong_experiment.experiment_name == "another-experiment"
    assert reader.counters["per_run_reads"] == 2
    hook.cancel_pipeline_run(fresh)


async def test_a_failing_query_falls_back_to_per_run_reads_and_rests(
    hook: Any, published: dict[str, Any], emulator: EmulatorProcess, no_retry_conn: str
) -> None:
    run_ids = [_submit(hook, published["simulated"], duration_seconds=0.2) for _ in range(4)]
    await asyncio.sleep(1.5)
    reader = BatchedStatusReader(no_retry_conn)
    try:
        with emulator.faults(fail_next=1, fail_status=503, path_contains="runs:query"):
            first = await asyncio.gather(*(reader.read(r, EXPERIMENT, 0.1) for r in run_ids))
        second = await asyncio.gather(*(reader.read(r, EXPERIMENT, 0.1) for r in run_ids))
    finally:
        await reader.close()
    assert [r.status.value for r in [*first, *second]] == ["Finished"] * 8
    assert not any(r.batched for r in [*first, *second])  # resting: no second query
    assert (reader.counters["queries"], reader.counters["query_failures"]) == (1, 1)
    assert reader.counters["per_run_reads"] == 8


async def test_runs_of_different_connections_never_share_a_query(
    hook: Any, published: dict[str, Any], emulator: EmulatorProcess, no_retry_conn: str
) -> None:
    ours, theirs = (_submit(hook, published["simulated"], duration_seconds=0.2) for _ in range(2))
    await asyncio.sleep(1.5)
    queries = requests_named(emulator, QUERY)
    triggers = [
        AzureMLPipelineRunTrigger(ours, poll_interval=0.2, experiment_name=EXPERIMENT),
        AzureMLPipelineRunTrigger(
            theirs,
            azure_ml_pipelines_conn_id=no_retry_conn,
            poll_interval=0.2,
            experiment_name=EXPERIMENT,
        ),
    ]
    events = await asyncio.gather(*(_event(trigger) for trigger in triggers))
    assert [e["run_status"] for e in events] == ["Finished", "Finished"]
    assert requests_named(emulator, QUERY) - queries == 2


async def test_a_trigger_without_its_experiment_learns_it_from_its_first_read(
    hook: Any, published: dict[str, Any], emulator: EmulatorProcess
) -> None:
    run_id = _submit(hook, published["simulated"], duration_seconds=2)
    queries, gets = requests_named(emulator, QUERY), requests_named(emulator, RUN_GET)
    trigger = AzureMLPipelineRunTrigger(run_id, poll_interval=0.4)
    event = await _event(trigger)
    assert event["run_status"] == "Finished"
    assert trigger.experiment_name == EXPERIMENT
    assert requests_named(emulator, RUN_GET) - gets == 1
    assert requests_named(emulator, QUERY) - queries >= 2
