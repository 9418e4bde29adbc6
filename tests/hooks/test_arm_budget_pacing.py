"""The hooks slow down before ARM's budget is empty (the emulator's token bucket).

Counted at the emulator: the reads ARM answered and the 429s its budget sent, with pacing
on (the connection's ``ratelimit_floor`` reached) and off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mlpipelines.clients.core.budget import BUDGETS
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (
    AzureMLPipelinesAsyncHook,
    AzureMLPipelinesHook,
)
from tests.v2_helpers import module_v2_emulator, register_v2_conn, v2_conn_json

READS = 14
#: Small and quickly refilled, so that the test shows both outcomes in seconds.
BUCKET = {"enabled": True, "reads": {"bucket": 12, "refill": 5}}


@pytest.fixture(scope="module")
def v2_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, str]]:
    with module_v2_emulator(tmp_path_factory) as started:
        yield started


@pytest.fixture(scope="module")
def job(v2_emulator: tuple[EmulatorProcess, str]) -> str:
    """A finished job the emulator made at its start (nothing to deploy)."""
    return str(v2_emulator[0].manifest["v2_pipeline_jobs"]["simulated"])


def _conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorProcess, **extras: Any) -> str:
    conn_id = register_v2_conn(monkeypatch, emulator)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", v2_conn_json(emulator, **extras))
    return conn_id


def _reads_left(emulator: EmulatorProcess) -> int:
    """What the hooks last heard ARM say is left of the reads (the process-wide reading)."""
    conn = emulator.manifest["airflow_conn_v2"]
    budget = BUDGETS.for_url(conn["host"], conn["extra"]["subscription_id"])
    return int(budget.remaining("read") or -1)


def _throttled(emulator: EmulatorProcess) -> int:
    return int(emulator.stats()["arm"]["throttled"])


@pytest.fixture(autouse=True)
def fresh_readings() -> Iterator[None]:
    BUDGETS.clear()
    yield
    BUDGETS.clear()


def test_a_paced_hook_never_empties_the_budget(
    emulator_v2: EmulatorProcess, job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = _conn(monkeypatch, emulator_v2, ratelimit_floor=6, ratelimit_pace=4)
    throttled = _throttled(emulator_v2)
    with emulator_v2.arm_budget(**BUCKET), AzureMLPipelinesHook(conn_id) as hook:
        read = {hook.get_pipeline_run(job).id for _ in range(READS)}
    assert read == {job}
    assert _throttled(emulator_v2) == throttled
    # It did get down to the floor, where it paced instead of emptying the bucket.
    assert 0 < _reads_left(emulator_v2) <= 6


def test_an_unpaced_hook_draws_429s_and_waits_them_out(
    emulator_v2: EmulatorProcess, job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = _conn(monkeypatch, emulator_v2, ratelimit_floor=0, ratelimit_pace=1000)
    throttled = _throttled(emulator_v2)
    with emulator_v2.arm_budget(**BUCKET), AzureMLPipelinesHook(conn_id) as hook:
        read = {hook.get_pipeline_run(job).id for _ in range(READS)}
    assert read == {job}
    assert _throttled(emulator_v2) > throttled


async def test_the_async_hook_paces_the_same_way(
    emulator_v2: EmulatorProcess, job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = _conn(monkeypatch, emulator_v2, ratelimit_floor=6, ratelimit_pace=4)
    throttled = _throttled(emulator_v2)
    with emulator_v2.arm_budget(**BUCKET):
        async with AzureMLPipelinesAsyncHook(conn_id) as hook:
            read = {(await hook.get_pipeline_run(job)).id for _ in range(READS)}
    assert read == {job}
    assert _throttled(emulator_v2) == throttled
    assert 0 < _reads_left(emulator_v2) <= 6


async def test_concurrent_requests_count_against_the_last_reading(
    emulator_v2: EmulatorProcess, job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A triggerer sends dozens of requests at once: each one sent counts against what ARM
    last said was left, so a burst stops at the floor instead of emptying the bucket."""
    import asyncio

    conn_id = _conn(monkeypatch, emulator_v2, ratelimit_floor=6, ratelimit_pace=4)
    throttled = _throttled(emulator_v2)
    with emulator_v2.arm_budget(**BUCKET):
        async with AzureMLPipelinesAsyncHook(conn_id) as hook:
            await hook.get_pipeline_run(job)  # one answer to read the budget from
            runs = await asyncio.gather(*(hook.get_pipeline_run(job) for _ in range(READS)))
    assert {run.id for run in runs} == {job}
    assert _throttled(emulator_v2) == throttled
