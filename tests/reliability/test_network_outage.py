"""A 60 s network outage while a task waits: the service stays away (every connection reset)
but the run goes on, so the task must ride the outage out and report the run's real outcome.

Distinct from the emulator being stopped and restarted (``test_survives.py``), which fails
the runs in flight.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from tests.airflow_helpers import deferrals

from .waiting_helpers import wait_until_polled

MODES = ("sync", "deferred")
OUTAGE_SECONDS = 60


def _hook() -> Any:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    return AzureMLPipelinesHook()


class NetworkCut:
    """Cuts the emulator's network for ``seconds`` once the task is in its wait.

    Records what the emulator saw during the outage: whether the run finished inside it, and
    how many connections it reset.

    :param emulator: the emulator.
    :param seconds: how long the outage lasts.
    """

    def __init__(self, emulator: EmulatorProcess, seconds: float) -> None:
        self.emulator = emulator
        self.seconds = seconds
        self.error: BaseException | None = None
        self.run_ended_with_outage_left: float | None = None
        self.resets_during_outage = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> NetworkCut:
        self._thread.start()
        return self

    def join(self) -> None:
        self._thread.join(self.seconds + 300)

    def _run(self) -> None:
        try:
            wait_until_polled(self.emulator)
            self.emulator.network_outage(self.seconds)
            deadline = time.monotonic() + self.seconds + 120
            while (left := self.emulator.outage_left()) > 0:
                stats = self.emulator.stats()
                if self.run_ended_with_outage_left is None and stats["runs_in_flight"] == 0:
                    self.run_ended_with_outage_left = left
                self.resets_during_outage = int(stats["faults"].get("outage_reset", 0))
                if time.monotonic() > deadline:
                    raise TimeoutError("the outage never ended")
                time.sleep(0.5)
        except BaseException as exc:
            self.error = exc


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_60_second_network_outage_while_waiting_ends_finished(
    mode: str,
    own_emulator: EmulatorProcess,
    run_reliability_dag: Callable[..., Any],
    task_output: Callable[[], str],
) -> None:
    hook = _hook()
    try:
        source = own_emulator.manifest["pipeline_runs"]["simulated"]
        name = f"rel-outage-{uuid.uuid4().hex[:8]}"
        pipeline_id = hook.publish_pipeline_from_run(source, name=name, version="1").id
    finally:
        hook.close()
    pid = own_emulator.pid
    # The run (20 s) ends well inside the outage: the task sees it again only afterwards.
    cut = NetworkCut(own_emulator, OUTAGE_SECONDS).start()
    try:
        dag_run = run_reliability_dag(
            f"mlp_rel_submit_{mode}",
            pipeline_id=pipeline_id,
            parameters={"duration_seconds": 20},
        )
    finally:
        cut.join()
    assert cut.error is None, cut.error
    assert own_emulator.pid == pid, "the emulator was restarted: not a network outage"

    # The run kept executing during the outage and ended Finished inside it.
    assert cut.run_ended_with_outage_left is not None, "the run did not end during the outage"
    assert cut.run_ended_with_outage_left > 0
    # The task kept trying while the network was down: it was reset, not merely idle.
    assert cut.resets_during_outage >= 2, cut.resets_during_outage

    hook = _hook()
    try:
        runs = hook.list_pipeline_runs(pipeline_id)
    finally:
        hook.close()
    assert len(runs) == 1, f"expected one run, found {len(runs)}"
    assert runs[0].status == PipelineRunStatus.FINISHED
    output = task_output()
    assert dag_run.state == "success", output[-3000:]
    # The deferred wait went through a trigger; the sync one did not.
    assert (deferrals(dag_run, "submit", output) >= 1) == (mode == "deferred")
