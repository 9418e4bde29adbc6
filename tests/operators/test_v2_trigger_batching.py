"""v2 triggers wait without reading Azure Resource Manager: run history's ``runs:query``.

Counted at the emulator: ARM reads (its ``arm`` counters) and run-history queries while the
triggers wait, with the emulator's ARM budget on; and, for contrast, per-run polling's ARM
reads when batching is off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import AzureMLPipelineRunTrigger
from tests.v2_helpers import module_v2_emulator, requests_named

EXPERIMENT = "v2-batching"


@pytest.fixture(scope="module")
def v2_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, str]]:
    with module_v2_emulator(tmp_path_factory, "--arm-budget") as started:
        yield started


@pytest.fixture
def conn_id(v2_emulator: tuple[EmulatorProcess, str]) -> str:
    return v2_emulator[1]


@pytest.fixture(scope="module")
def component(v2_emulator: tuple[EmulatorProcess, str]) -> str:
    """The ``simulated`` pipeline as a component (no endpoint: jobs are submitted directly)."""
    job = v2_emulator[0].manifest["v2_pipeline_jobs"]["simulated"]
    with AzureMLPipelinesHook(v2_emulator[1]) as hook:
        return str(hook.publish_pipeline_once(job, name="batching_sim", version="1")[0].id)


def _jobs(conn_id: str, component: str, outcomes: list[str], seconds: float) -> list[str]:
    with AzureMLPipelinesHook(conn_id) as hook:
        return [
            hook.submit_pipeline_run(
                component,
                hook.build_submission(
                    experiment_name=EXPERIMENT,
                    parameters={"duration_seconds": seconds, "outcome": outcome},
                ),
            ).id
            for outcome in outcomes
        ]


def _arm(emulator: EmulatorProcess) -> dict[str, int]:
    return {key: int(value) for key, value in emulator.stats()["arm"].items()}


async def _events(triggers: list[AzureMLPipelineRunTrigger]) -> list[dict[str, Any]]:
    async def first(trigger: AzureMLPipelineRunTrigger) -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger fired no event")

    return list(await asyncio.gather(*(first(trigger) for trigger in triggers)))


async def test_batched_v2_waits_read_no_arm_job_and_confirm_only_failures(
    emulator_v2: EmulatorProcess, conn_id: str, component: str
) -> None:
    outcomes = ["Finished", "Failed", "Finished", "Finished", "Failed", "Finished"]
    jobs = _jobs(conn_id, component, outcomes, seconds=2)
    # The run-history host is looked up once per process (an ARM workspace read): do it first.
    await _events(
        [
            AzureMLPipelineRunTrigger(
                jobs[0],
                azure_ml_pipelines_conn_id=conn_id,
                poll_interval=0.3,
                experiment_name=EXPERIMENT,
            )
        ]
    )
    arm, queries = _arm(emulator_v2), requests_named(emulator_v2, "query runs")
    triggers = [
        AzureMLPipelineRunTrigger(
            job,
            azure_ml_pipelines_conn_id=conn_id,
            poll_interval=0.3,
            experiment_name=EXPERIMENT,
        )
        for job in jobs
    ]
    events = await _events(triggers)
    assert [(e["status"], e["run_id"], e["run_status"]) for e in events] == [
        ("terminal", job, outcome) for job, outcome in zip(jobs, outcomes, strict=True)
    ]
    after = _arm(emulator_v2)
    # ARM was read once per failed job, to confirm its outcome, and never to wait.
    assert after["reads"] - arm["reads"] == outcomes.count("Failed")
    assert after["throttled"] == arm["throttled"] == 0
    assert requests_named(emulator_v2, "query runs") - queries >= 1


async def test_per_run_v2_waits_read_arm_at_every_poll(
    emulator_v2: EmulatorProcess, conn_id: str, component: str
) -> None:
    jobs = _jobs(conn_id, component, ["Finished"] * 3, seconds=1.5)
    arm, queries = _arm(emulator_v2), requests_named(emulator_v2, "query runs")
    triggers = [
        AzureMLPipelineRunTrigger(
            job,
            azure_ml_pipelines_conn_id=conn_id,
            poll_interval=0.3,
            experiment_name=EXPERIMENT,
            batch_status_reads=False,
        )
        for job in jobs
    ]
    events = await _events(triggers)
    assert {e["run_status"] for e in events} == {"Finished"}
    assert _arm(emulator_v2)["reads"] - arm["reads"] >= 2 * len(jobs)
    assert requests_named(emulator_v2, "query runs") == queries


async def test_a_v2_trigger_without_its_experiment_reads_run_history_not_arm(
    emulator_v2: EmulatorProcess, conn_id: str, component: str
) -> None:
    (job,) = _jobs(conn_id, component, ["Finished"], seconds=1.5)
    arm, history = _arm(emulator_v2), requests_named(emulator_v2, "get run history")
    (event,) = await _events(
        [AzureMLPipelineRunTrigger(job, azure_ml_pipelines_conn_id=conn_id, poll_interval=0.3)]
    )
    assert event["run_status"] == "Finished"
    # At most the run-history host's lookup (once per process), never the job itself.
    assert _arm(emulator_v2)["reads"] - arm["reads"] <= 1
    assert requests_named(emulator_v2, "get run history") - history >= 2


async def test_many_v2_triggers_look_up_the_run_history_host_once(
    emulator_v2: EmulatorProcess, conn_id: str, component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_mlpipelines.clients.v2 import calls

    jobs = _jobs(conn_id, component, ["Finished"] * 8, seconds=1)
    monkeypatch.setattr(calls, "HISTORY_BASES", {})  # as in a triggerer that just started
    lookups = requests_named(emulator_v2, "get workspace", "discovery")
    events = await _events(
        [
            AzureMLPipelineRunTrigger(job, azure_ml_pipelines_conn_id=conn_id, poll_interval=0.3)
            for job in jobs
        ]
    )
    assert {event["run_status"] for event in events} == {"Finished"}
    # One workspace read and one discovery read for all 8, not one each.
    assert requests_named(emulator_v2, "get workspace", "discovery") - lookups == 2
