"""The operators ride out faults of the service with ``dag.test()`` against emulators of the
tests' own: each test checks the DAG's outcome and that the emulator saw exactly one run per
logical submission.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess

from .conftest import EmulatorAdmin
from .waiting_helpers import wait_until_polled

MODES = ("sync", "deferred")


def _hook() -> Any:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    return AzureMLPipelinesHook()


def _publish_simulated(emulator: EmulatorProcess) -> str:
    hook = _hook()
    try:
        run_id = emulator.manifest["pipeline_runs"]["simulated"]
        name = f"rel-{uuid.uuid4().hex[:8]}"
        return hook.publish_pipeline_from_run(run_id, name=name, version="1").id
    finally:
        hook.close()


def _runs_of(pipeline_id: str) -> list[Any]:
    hook = _hook()
    try:
        return hook.list_pipeline_runs(pipeline_id)
    finally:
        hook.close()


@pytest.mark.parametrize("mode", MODES)
def test_publish_endpoint_submit_survive_20pct_503_and_10pct_429(
    mode: str, own_emulator: EmulatorProcess, run_reliability_dag: Callable[..., Any]
) -> None:
    admin = EmulatorAdmin(own_emulator)
    admin.set_faults(error_rate=0.2, throttle_rate=0.1, retry_after_seconds=1, seed=15)
    name = f"rel-chain-{mode}-{uuid.uuid4().hex[:6]}"

    dag_run = run_reliability_dag(
        f"mlp_rel_chain_{mode}",
        source_run_id=own_emulator.manifest["pipeline_runs"]["simulated"],
        name=name,
        parameters={"duration_seconds": 2},
    )

    stats = admin.stats()
    admin.clear_faults()
    assert dag_run.state == "success"
    assert stats["faults"].get("503", 0) > 0 and stats["faults"].get("429", 0) > 0
    hook = _hook()
    try:
        pipelines = [p for p in hook.list_published_pipelines() if p.name == name]
        assert len(pipelines) == 1
        runs = hook.list_pipeline_runs(pipelines[0].id)
        assert len(runs) == 1
        assert runs[0].status == PipelineRunStatus.FINISHED
        assert hook.get_pipeline_endpoint(name=name).pipeline_id_of("0") == pipelines[0].id
    finally:
        hook.close()


@pytest.mark.slow
def test_a_30_second_token_lifetime_during_a_long_wait_is_renewed_without_401(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, run_reliability_dag: Callable[..., Any]
) -> None:
    process = EmulatorProcess(tmp_path / "emulator", token_lifetime=30)
    try:
        process.start()
        monkeypatch.setenv(CONN_ENV_VAR, process.airflow_conn)
        pipeline_id = _publish_simulated(process)
        dag_run = run_reliability_dag(
            "mlp_rel_submit_sync",
            pipeline_id=pipeline_id,
            parameters={"duration_seconds": 100},
        )
        stats = EmulatorAdmin(process).stats()
        hook = _hook()
        try:
            runs = hook.list_pipeline_runs(pipeline_id)
        finally:
            hook.close()
    finally:
        process.stop()
    assert dag_run.state == "success"
    # Tokens of 30 s over a wait of 100 s: renewed several times, and never too late.
    assert stats["tokens_issued"] >= 3
    assert "401" not in stats["responses"]
    assert [run.status for run in runs] == [PipelineRunStatus.FINISHED]


class StoppedEmulator:
    """Stops the emulator once the task is in its wait, keeps it down, starts it again.

    A restart, not a network outage (see ``test_network_outage.py``): the emulator fails the
    runs it held in flight.

    :param emulator: the emulator.
    :param seconds: how long it stays down.
    """

    def __init__(self, emulator: EmulatorProcess, seconds: float) -> None:
        self.emulator = emulator
        self.seconds = seconds
        self.error: BaseException | None = None
        self.restarted = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> StoppedEmulator:
        self._thread.start()
        return self

    def join(self) -> None:
        self._thread.join(self.seconds + 120)

    def _run(self) -> None:
        try:
            wait_until_polled(self.emulator)
            self.emulator.stop()
            time.sleep(self.seconds)  # the time the service stays away, not a synchronisation
            self.emulator.start()
        except BaseException as exc:
            self.error = exc
        finally:
            self.restarted.set()


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_an_emulator_stopped_60_seconds_while_waiting_fails_with_the_runs_real_state(
    mode: str,
    own_emulator: EmulatorProcess,
    run_reliability_dag: Callable[..., Any],
    task_output: Callable[[], str],
) -> None:
    pipeline_id = _publish_simulated(own_emulator)
    port = own_emulator.port
    outage = StoppedEmulator(own_emulator, seconds=60).start()
    try:
        dag_run = run_reliability_dag(
            f"mlp_rel_submit_{mode}",
            pipeline_id=pipeline_id,
            parameters={"duration_seconds": 600},
        )
    finally:
        outage.join()
    assert outage.error is None, outage.error
    assert own_emulator.port == port
    runs = _runs_of(pipeline_id)
    # One run, failed by the emulator's restart (its documented behaviour): the task failed
    # because the run failed, after the outage, not because the service was away.
    assert len(runs) == 1
    assert runs[0].status == PipelineRunStatus.FAILED
    assert "restart" in (runs[0].status_info.status_detail or "").lower()
    assert dag_run.state == "failed"
    output = task_output()
    assert "AzureMLPipelineRunFailedError" in output, output[-3000:]
    assert f"Pipeline run {runs[0].id} ended Failed" in output, output[-3000:]
